"""
MOS at the shutter: which sources an executed NIRSpec MSA observation put in an open shutter.

A MOS observation within 180" of a target says only that the target's *field* was observed.
Each executed MOS exposure names its MSA metadata file (``msametfl``, e.g.
``jw01345063001_01_msa.fits``); that file lists the shutters the observation opened and the
sources placed in them. This module holds the pure pieces of that source-level check (no
network access): the metadata lookup requests and their replies (`msa_lookup_requests`,
`msa_files`), reading a metadata file (`read_msa_sources`), and the evidence it adds to a
duplication report (`apply_source_evidence`, in `~astroquery_nirspec.duplication.evidence` and
importable here).

The MSA metadata format
-----------------------
As written by the ground system and read by the jwst calibration pipeline (checked against
``spacetelescope/jwst``: ``docs/jwst/data_products/msa_metadata.rst``,
``jwst/assign_wcs/nirspec.py`` ``get_open_msa_slits`` and the test helper
``create_msa_hdul`` of ``jwst/extract_2d/tests/test_nirspec.py``):

- file name ``jw<ppppp><ooo><vvv>_<cfg>_msa.fits`` (program, observation, visit, MSA
  configuration);
- ``SHUTTER_INFO`` binary table, one row per shutter, per MSA configuration
  (``msa_metadata_id``) and per dither/nod point (``dither_point_index``): ``slitlet_id``,
  ``msa_metadata_id``, ``shutter_quadrant``, ``shutter_row``, ``shutter_column`` (int16),
  ``source_id`` (int32; 0 in background-only shutters, negative for "virtual" sources),
  ``background`` (``'Y'``/``'N'``), ``shutter_state`` (``'OPEN'`` in every pipeline test
  file), ``estimated_source_in_shutter_x``/``_y`` (float32, NaN without a source),
  ``dither_point_index`` (int16), ``primary_source`` (``'Y'``/``'N'``: the pipeline takes
  the shutter flagged ``'Y'`` as the slitlet's source, and a slitlet with none as
  background) and, in newer files, ``fixed_slit`` (``'NONE'`` or the fixed slit, e.g.
  ``'S200A1'``, used for a source placed in a fixed slit during the MOS exposure);
- ``SOURCE_INFO`` binary table, one row per source of the catalogue: ``program``,
  ``source_id`` (int32), ``source_name``, ``alias`` (str), ``ra``, ``dec`` (float64, deg),
  ``preimage_id`` (str), ``stellarity`` (float64).

A source counts as observed when some row of ``SHUTTER_INFO`` has it as ``primary_source``
``'Y'`` with ``shutter_state`` ``'OPEN'`` (compared case-insensitively, blanks stripped), in
any configuration or dither point. Its position is the ``ra``/``dec`` of its ``SOURCE_INFO``
row.
"""
import os
import re

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Column, MaskedColumn, Table, unique, vstack
from astroquery.exceptions import InvalidQueryError

from .. import sky
from ..fields import SERVICE as NIRSPEC_SERVICE
from ..filters import build_filters
from ..tables import rows_to_table
from .evidence import apply_source_evidence
from .nirspec import SOURCE_RADIUS

__all__ = [
    "SOURCE_RADIUS",
    "MSA_LOOKUP_COLUMNS",
    "MsaMetadataError",
    "msa_file_observation",
    "read_msa_sources",
    "msa_lookup_requests",
    "msa_files",
    "sources_by_observation",
    "apply_source_evidence",
]


#: Columns of ``Mast.Jwst.Filtered.Nirspec`` that name each executed MOS exposure's MSA file.
MSA_LOOKUP_COLUMNS = "program, observtn, visit, msametfl, targ_ra, targ_dec"

_MSA_FILE_NAME = re.compile(r"^jw(\d{5})(\d{3})(\d{3})_(\d+)_msa\.fits(?:\.gz)?$", re.IGNORECASE)


class MsaMetadataError(ValueError):
    """An MSA metadata file that cannot be read: missing table or column, or not FITS."""


def msa_file_observation(name):
    """
    Program, observation and visit of an MSA metadata file name.

    Parameters
    ----------
    name : str or path-like
        A file name of the form ``jw<ppppp><ooo><vvv>_<cfg>_msa.fits``; a directory part is
        ignored.

    Returns
    -------
    program, observation, visit : tuple of int, or None
        None when the name is not of that form (or is empty or masked).

    Examples
    --------
    >>> from astroquery_nirspec.duplication.msa import msa_file_observation
    >>> msa_file_observation('jw01345063001_01_msa.fits')
    (1345, 63, 1)
    >>> msa_file_observation('jw12529013001_02_msa.fits')
    (12529, 13, 1)
    >>> msa_file_observation('jw01345063001_03101_00001_nrs1_cal.fits') is None
    True
    """
    if name is None or name is np.ma.masked:
        return None
    match = _MSA_FILE_NAME.match(os.path.basename(os.fspath(name)).strip()) if name else None
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


# ---------------------------------------------------------------------------------------------
# Reading a metadata file
# ---------------------------------------------------------------------------------------------

def _table_data(hdulist, extname, columns, label):
    """The named binary table's columns as arrays (FITS column names are case-insensitive)."""
    try:
        data = hdulist[extname].data
    except KeyError:
        raise MsaMetadataError(f"{label} has no {extname} table; an MSA metadata file has "
                               "SHUTTER_INFO and SOURCE_INFO binary tables.") from None
    names = {name.lower(): name for name in (data.names if data is not None else [])}
    missing = [c for c in columns if c not in names]
    if missing:
        raise MsaMetadataError(f"{label}: the {extname} table lacks the column(s) "
                               f"{', '.join(missing)}; required: {', '.join(columns)}.")
    return {c: np.asarray(data[names[c]]) for c in columns}, names


def _flags(values):
    """Upper-case, stripped strings of a FITS character column."""
    return np.char.upper(np.char.strip(np.asarray(values).astype(str)))


def _selected_sources(shutters):
    """The source ids of primary sources in open shutters, with their fixed slit ('' in the MSA)."""
    is_open = _flags(shutters["shutter_state"]) == "OPEN"
    primary = _flags(shutters["primary_source"]) == "Y"
    chosen = is_open & primary
    ids = np.asarray(shutters["source_id"], dtype=np.int64)[chosen]
    slits = (_flags(shutters["fixed_slit"])[chosen] if "fixed_slit" in shutters
             else np.full(len(ids), "NONE"))
    ids, first = np.unique(ids, return_index=True)
    slits = np.where(slits[first] == "NONE", "", slits[first]) if len(ids) else slits[first]
    counts = {"shutter_rows": int(len(is_open)), "open_primary_rows": int(chosen.sum()),
              "not_open_rows": int((~is_open).sum())}
    return ids, slits, counts


def read_msa_sources(msa_file):
    """
    The primary sources of the open shutters of an MSA metadata file, with their positions.

    Parameters
    ----------
    msa_file : str, path-like or `~astropy.io.fits.HDUList`
        An MSA metadata file (``msametfl``) in the jwst pipeline's format (see the module
        documentation), or the file already opened.

    Returns
    -------
    sources : `~astropy.table.Table`
        One row per source, sorted by ``source_id``: ``source_id`` (int), ``source_name``,
        ``alias`` (str), ``ra``, ``dec`` (deg), ``fixed_slit`` (the fixed slit for a source
        placed in one, '' for an MSA shutter). ``meta`` holds ``msa_file`` (the file name, ''
        for an HDUList), ``shutter_rows``, ``open_primary_rows``, ``not_open_rows`` (rows of
        SHUTTER_INFO whose ``shutter_state`` is not OPEN) and ``unlocated`` (ids of selected
        sources without a SOURCE_INFO row or a finite position, left out of the table).

    Raises
    ------
    MsaMetadataError
        When the file is not FITS or lacks a required table or column.
    astroquery.exceptions.InvalidQueryError
        When ``msa_file`` is neither a path nor an HDUList.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astroquery_nirspec.duplication.msa import read_msa_sources
    >>> shutters = fits.BinTableHDU.from_columns([
    ...     fits.Column(name='source_id', format='J', array=[7, 0, 9]),
    ...     fits.Column(name='shutter_state', format='A6', array=['OPEN', 'OPEN', 'OPEN']),
    ...     fits.Column(name='primary_source', format='A1', array=['Y', 'N', 'N'])],
    ...     name='SHUTTER_INFO')
    >>> catalogue = fits.BinTableHDU.from_columns([
    ...     fits.Column(name='source_id', format='J', array=[7, 9]),
    ...     fits.Column(name='source_name', format='A20', array=['1345_7', '1345_9']),
    ...     fits.Column(name='alias', format='A20', array=['a', 'b']),
    ...     fits.Column(name='ra', format='D', array=[53.1, 53.2]),
    ...     fits.Column(name='dec', format='D', array=[-27.8, -27.9])], name='SOURCE_INFO')
    >>> sources = read_msa_sources(fits.HDUList([fits.PrimaryHDU(), shutters, catalogue]))
    >>> print(sources['source_id', 'source_name', 'ra', 'dec'])
    source_id source_name  ra   dec 
                          deg   deg 
    --------- ----------- ---- -----
            7      1345_7 53.1 -27.8
    """
    if isinstance(msa_file, fits.HDUList):
        return _read_hdulist(msa_file, "the MSA metadata HDUList", "")
    if not isinstance(msa_file, (str, os.PathLike)):
        raise InvalidQueryError(f"msa_file must be a path or an astropy.io.fits.HDUList, got "
                                f"{type(msa_file).__name__}.")
    label = os.fspath(msa_file)
    try:
        with fits.open(label, memmap=False) as hdulist:
            return _read_hdulist(hdulist, label, os.path.basename(label))
    except OSError as err:
        raise MsaMetadataError(f"Cannot read the MSA metadata file {label}: {err}") from None


def _read_hdulist(hdulist, label, file_name):
    shutters, names = _table_data(hdulist, "SHUTTER_INFO",
                                  ("source_id", "shutter_state", "primary_source"), label)
    if "fixed_slit" in names:
        shutters["fixed_slit"] = np.asarray(hdulist["SHUTTER_INFO"].data[names["fixed_slit"]])
    catalogue, _ = _table_data(hdulist, "SOURCE_INFO",
                               ("source_id", "source_name", "alias", "ra", "dec"), label)
    ids, slits, counts = _selected_sources(shutters)

    catalogue_ids, first = np.unique(np.asarray(catalogue["source_id"], dtype=np.int64),
                                     return_index=True)
    where = np.searchsorted(catalogue_ids, ids)
    where = np.minimum(where, max(len(catalogue_ids) - 1, 0))
    listed = (catalogue_ids[where] == ids) if len(catalogue_ids) else np.zeros(len(ids), bool)
    rows = first[where[listed]] if len(catalogue_ids) else np.zeros(0, int)
    ra = np.asarray(catalogue["ra"], dtype=float)[rows]
    dec = np.asarray(catalogue["dec"], dtype=float)[rows]
    located = np.isfinite(ra) & np.isfinite(dec)
    keep = np.flatnonzero(listed)[located]

    sources = Table(meta={"msa_file": file_name, **counts,
                          "unlocated": sorted(set(ids.tolist()) - set(ids[keep].tolist()))})
    sources["source_id"] = Column(ids[keep], dtype=np.int64)
    for name in ("source_name", "alias"):
        values = np.char.strip(np.asarray(catalogue[name]).astype(str)[rows][located])
        sources[name] = Column(values if len(values) else values.astype("U1"))
    sources["ra"] = Column(ra[located], unit=u.deg)
    sources["dec"] = Column(dec[located], unit=u.deg)
    sources["fixed_slit"] = Column(slits[keep] if len(keep) else np.zeros(0, "U1"))
    return sources


# ---------------------------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------------------------

def msa_lookup_requests(centers, radii, *, pagesize):
    """
    The ``Mast.Jwst.Filtered.Nirspec`` requests naming the MSA files of MOS exposures, one per field.

    Each request asks for `MSA_LOOKUP_COLUMNS` of the executed MOS exposures
    (``exp_type`` NRS_MSASPEC) whose ``targ_ra``/``targ_dec`` lie in the box enclosing the
    field's cone (`~astroquery_nirspec.sky.cone_filters`). For MOS, ``targ_ra``/``targ_dec`` is
    the pointing's catalogue reference, not the MSA centre that CAOM gives as ``s_ra``/``s_dec``:
    the radius should cover the field's extent, the MOS reach (``near_factor`` times the MSA
    radius) and the MSA's own size (about 3.6' x 3.4').

    Parameters
    ----------
    centers : `~astropy.coordinates.SkyCoord`
        Field centres (scalar or array).
    radii : `~astropy.units.Quantity`
        One angle per field (or one for all).
    pagesize : int
        Rows per page, already checked (e.g. ``conf.pagesize``).

    Returns
    -------
    requests : list of dict
        Mashup requests, in field order.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a radius that is not a positive angle, or radii that do not match the centres.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.coordinates import SkyCoord
    >>> from astroquery_nirspec.duplication.msa import msa_lookup_requests
    >>> requests = msa_lookup_requests(SkyCoord([53.16, 34.4] * u.deg, [-27.78, -5.2] * u.deg),
    ...                                10 * u.arcmin, pagesize=50000)
    >>> len(requests), requests[0]['service'], requests[0]['params']['columns']
    (2, 'Mast.Jwst.Filtered.Nirspec', 'program, observtn, visit, msametfl, targ_ra, targ_dec')
    >>> [f['paramName'] for f in requests[0]['params']['filters']]
    ['exp_type', 'targ_ra', 'targ_dec']
    """
    if not isinstance(centers, SkyCoord):
        raise InvalidQueryError(f"centers must be a SkyCoord, got {type(centers).__name__}.")
    centers = centers.reshape(-1)
    if not isinstance(radii, u.Quantity):
        raise InvalidQueryError(f"radii must be angle Quantities (e.g. 10 * u.arcmin), got {radii!r}.")
    radii = radii * np.ones(len(centers)) if radii.isscalar else radii.reshape(-1)
    if len(radii) != len(centers):
        raise InvalidQueryError(f"Give one radius per field: {len(radii)} radii for "
                                f"{len(centers)} centres.")
    exp_type = build_filters({"exp_type": "NRS_MSASPEC"})
    requests = []
    for center, radius in zip(centers, radii):
        filters = [dict(f) for f in exp_type] + sky.cone_filters(center, sky.parse_radius(radius))
        requests.append({"service": NIRSPEC_SERVICE,
                         "params": {"columns": MSA_LOOKUP_COLUMNS, "filters": filters},
                         "format": "json", "pagesize": int(pagesize), "page": 1})
    return requests


def _int_values(table, name):
    """An int array and its mask (masked or missing values)."""
    if name not in table.colnames:
        return np.zeros(len(table), dtype=np.int64), np.ones(len(table), dtype=bool)
    column = table[name]
    return (np.asarray(np.ma.filled(column, 0), dtype=np.int64),
            np.ma.getmaskarray(column).copy())


def msa_files(results):
    """
    The distinct MSA metadata files named in the replies of `msa_lookup_requests`.

    Rows repeat per exposure, detector and product file; fields overlap near their edges.
    Rows whose ``msametfl`` is null or empty name no file: their count is in
    ``meta['no_msametfl']`` and the observations that only have such rows are listed in
    ``meta['observations_without_file']``.

    Parameters
    ----------
    results : list of dict
        Parsed replies (``fields`` and ``data``) of every page of every request.

    Returns
    -------
    files : `~astropy.table.Table`
        One row per (program, observation, msametfl), sorted: ``program``, ``observation``,
        ``visit`` (int; from the file name), ``msametfl`` (str) and ``n_rows`` (rows of the
        replies that name it). ``program`` and ``observation`` are the row's ``program`` and
        ``observtn``, or read from the file name where those are null.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.msa import msa_files
    >>> reply = {'fields': [{'name': 'program', 'type': 'int'}, {'name': 'observtn', 'type': 'int'},
    ...                     {'name': 'msametfl', 'type': 'string'}],
    ...          'data': [{'program': 4713, 'observtn': 2, 'msametfl': 'jw04713002001_01_msa.fits'},
    ...                   {'program': 4713, 'observtn': 2, 'msametfl': 'jw04713002001_01_msa.fits'},
    ...                   {'program': 4713, 'observtn': 3, 'msametfl': None}]}
    >>> files = msa_files([reply])
    >>> print(files['program', 'observation', 'msametfl', 'n_rows'])
    program observation          msametfl         n_rows
    ------- ----------- ------------------------- ------
       4713           2 jw04713002001_01_msa.fits      2
    >>> files.meta['no_msametfl'], files.meta['observations_without_file']
    (1, [(4713, 3)])
    """

    fields = next((r["fields"] for r in results if r.get("fields")), None)
    rows = [row for r in results for row in (r.get("data") or [])]
    table = rows_to_table(fields, rows) if fields else Table()
    n = len(table)
    names = (np.char.strip(np.asarray(np.ma.filled(table["msametfl"], ""), dtype=str))
             if "msametfl" in table.colnames else np.full(n, ""))
    program, program_masked = _int_values(table, "program")
    observation, observation_masked = _int_values(table, "observtn")
    parsed = [msa_file_observation(name) for name in names]
    for i in np.flatnonzero(program_masked | observation_masked):
        if parsed[i] is not None:
            program[i], observation[i] = parsed[i][:2]
            program_masked[i] = observation_masked[i] = False
    named = names != ""
    known = ~(program_masked | observation_masked)
    keys = {}
    for i in np.flatnonzero(named & known):
        key = (int(program[i]), int(observation[i]), str(names[i]))
        keys[key] = keys.get(key, 0) + 1
    with_file = {key[:2] for key in keys}
    without = sorted({(int(p), int(o)) for p, o in zip(program[~named & known], observation[~named & known])}
                     - with_file)
    ordered = sorted(keys)
    visits = [(msa_file_observation(k[2]) or (0, 0, 0))[2] for k in ordered]
    files = Table(meta={"no_msametfl": int((~named).sum()), "observations_without_file": without,
                        "unidentified": int((named & ~known).sum())})
    files["program"] = Column([k[0] for k in ordered], dtype=np.int64)
    files["observation"] = Column([k[1] for k in ordered], dtype=np.int64)
    files["visit"] = MaskedColumn(visits, dtype=np.int64,
                                  mask=[msa_file_observation(k[2]) is None for k in ordered])
    files["msametfl"] = Column([k[2] for k in ordered] or np.zeros(0, "U1"), dtype=str)
    files["n_rows"] = Column([keys[k] for k in ordered], dtype=np.int64)
    return files


def sources_by_observation(files, sources):
    """
    The observed sources of each MOS observation, from the sources of its MSA files.

    An observation is given only when every one of its files was read: with a file missing
    (not downloaded, exclusive access, unreadable) the absence of a source proves nothing.

    Parameters
    ----------
    files : `~astropy.table.Table`
        The output of `msa_files`.
    sources : dict
        ``{msametfl: Table}``, the `read_msa_sources` table of each file read.

    Returns
    -------
    observed : dict
        ``{(program, observation): Table}``: the sources of all its files, each source once
        (by ``source_id`` and ``source_name``); ``meta['msa_files']`` lists the files.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication.msa import sources_by_observation
    >>> files = Table({'program': [4713, 4713], 'observation': [2, 2],
    ...                'msametfl': ['jw04713002001_01_msa.fits', 'jw04713002001_02_msa.fits']})
    >>> one = Table({'source_id': [1], 'source_name': ['4713_1'], 'ra': [15.0], 'dec': [28.0]})
    >>> sources_by_observation(files, {'jw04713002001_01_msa.fits': one})
    {}
    >>> both = sources_by_observation(files, {'jw04713002001_01_msa.fits': one,
    ...                                        'jw04713002001_02_msa.fits': one})
    >>> list(both), len(both[(4713, 2)])
    ([(4713, 2)], 1)
    """
    grouped = {}
    for program, observation, name in zip(files["program"], files["observation"], files["msametfl"]):
        grouped.setdefault((int(program), int(observation)), []).append(str(name))
    observed = {}
    for key, names in grouped.items():
        if not all(name in sources for name in names):
            continue
        tables = [sources[name] for name in names]
        combined = unique(vstack(tables, metadata_conflicts="silent"),
                          keys=["source_id", "source_name"]) if len(tables) > 1 else tables[0].copy()
        combined.meta = {"msa_files": names}
        observed[key] = combined
    return observed
