"""
How MAST's CAOM encodes JWST NIRSpec: ``instrument_name`` modes, ``filters`` values, ``obs_id``
forms, program pages, tolerant column access, and the rows of several replies as one table.

Pure functions, no I/O.
"""
import re

import numpy as np
from astropy import units as u
from astropy.table import Table

from ..tables import rows_to_table

__all__ = [
    "INSTRUMENT_MODE",
    "APT_URL",
    "row_mode",
    "parse_aperture",
    "product_label",
    "parse_filters",
    "parse_observation",
    "observation_label",
    "apt_url",
    "caom_rows_table",
]

#: Observing mode of each CAOM ``instrument_name``. Bright-object time series are
#: ``NIRSPEC/BOTS`` (``exp_type`` NRS_BRIGHTOBJ), or ``NIRSPEC/SLIT`` rows whose
#: ``dataproduct_type`` is ``timeseries`` (`row_mode`). ``IMAGE`` rows are not spectroscopy; a
#: bare ``NIRSPEC`` (older or planned rows) does not say its mode: it is ``UNKNOWN`` and counts
#: as spectroscopy only when its ``filters`` name a disperser.
INSTRUMENT_MODE = {
    "NIRSPEC/MSA": "MOS",
    "NIRSPEC/IFU": "IFU",
    "NIRSPEC/SLIT": "FS",
    "NIRSPEC/BOTS": "BOTS",
    "NIRSPEC/IMAGE": "IMAGE",
    "NIRSPEC": "UNKNOWN",
}


#: Public APT page of a JWST program.
APT_URL = "https://www.stsci.edu/jwst-program-info/program/?program={program}"

_GRATING_TOKEN = re.compile(r"^(PRISM|G\d{3}[MH])$")
_FILTER_TOKEN = re.compile(r"^(CLEAR|F\d{3}[A-Z]+)$")
# Level-3 (and other combined) products: jw02736-o007_s06355_nirspec_f290lp-g395m
_L3_OBS_ID = re.compile(r"^jw(\d{5})-o(\d{3})(?:_|$)", re.IGNORECASE)
# Exposure-level products, executed or planned: jw02736007001_03103_00001_nrs1,
# jw01208016001_xx106_00006_nirspec (program 5 digits, observation 3, visit 3)
_EXPOSURE_OBS_ID = re.compile(r"^jw(\d{5})(\d{3})(\d{3})_", re.IGNORECASE)
# The slit of a fixed-slit or BOTS level-3 product: jw01345-o004_t001_nirspec_f290lp-g395h-s200a1
_SLIT_SUFFIX = re.compile(r"-(s200a1|s200a2|s200b1|s400a1|s1600a1)(?:[-_]|$)", re.IGNORECASE)
# The program of any JWST obs_id, also of products that name no single observation
_PROGRAM = re.compile(r"^jw(\d{5})", re.IGNORECASE)
_DETECTOR_SUFFIX = re.compile(r"_nrs[12]$", re.IGNORECASE)


def row_mode(instrument_name, dataproduct_type=""):
    """
    The NIRSpec observing mode of a CAOM row.

    Parameters
    ----------
    instrument_name : str
        CAOM ``instrument_name``, case-insensitive.
    dataproduct_type : str, optional
        CAOM ``dataproduct_type``: a ``NIRSPEC/SLIT`` ``timeseries`` row is BOTS.

    Returns
    -------
    mode : str or None
        ``MOS``, ``IFU``, ``FS``, ``BOTS``, ``IMAGE``, ``UNKNOWN`` (bare ``NIRSPEC``, or a
        ``NIRSPEC/...`` name this package does not know), or None for another instrument.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import row_mode
    >>> row_mode('NIRSPEC/BOTS'), row_mode('nirspec/slit', 'timeseries'), row_mode('NIRSPEC/SLIT')
    ('BOTS', 'BOTS', 'FS')
    >>> row_mode('NIRSPEC/NEWMODE'), row_mode('NIRCAM/IMAGE') is None
    ('UNKNOWN', True)
    """
    name = str(instrument_name).strip().upper()
    mode = INSTRUMENT_MODE.get(name)
    if mode is None:
        return "UNKNOWN" if name.startswith("NIRSPEC/") else None
    if mode == "FS" and str(dataproduct_type).strip().lower() == "timeseries":
        return "BOTS"
    return mode


def parse_aperture(obs_id):
    """
    The fixed slit a level-3 ``obs_id`` names, if any.

    Parameters
    ----------
    obs_id : str
        A CAOM ``obs_id``.

    Returns
    -------
    aperture : str
        Upper case (e.g. ``'S1600A1'``), or ``''`` when the value names none (exposure-level
        and planned products do not).

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import parse_aperture
    >>> parse_aperture('jw02372-o001_t001_nirspec_f290lp-g395h-s1600a1-sub2048')
    'S1600A1'
    >>> parse_aperture('jw02736007001_03103_00001_nrs1')
    ''
    """
    match = _SLIT_SUFFIX.search(str(obs_id))
    return match.group(1).upper() if match else ""


def product_label(obs_id):
    """
    A label and program for a JWST ``obs_id`` that names no single observation.

    Parameters
    ----------
    obs_id : str
        A CAOM ``obs_id`` such as an association product ``jw01345-c1001_...``.

    Returns
    -------
    label : str
        The ``obs_id`` up to its first ``_``.
    program : int
        The program number, or 0 when the value names none.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import product_label
    >>> product_label('jw01345-c1001_t001_nirspec_f290lp-g395h')
    ('jw01345-c1001', 1345)
    """
    text = str(obs_id).strip()
    match = _PROGRAM.match(text)
    return text.split("_")[0], int(match.group(1)) if match else 0


def parse_filters(filters):
    """
    Split a CAOM ``filters`` value into its disperser and its filter.

    The tokens are separated by ``;`` and classified by their shape, in any order:
    ``PRISM`` or ``G<nnn><M|H>`` is the disperser; ``CLEAR`` or ``F<nnn>...`` is the filter.
    Other tokens (``MIRROR``, ``OPAQUE``, ...) are ignored, so an imaging or target-acquisition
    row has no disperser. If a value names two dispersers (or filters) the first one is used.

    Parameters
    ----------
    filters : str or None
        The CAOM ``filters`` value, e.g. ``'F290LP;G395H'``.

    Returns
    -------
    grating, filter : str or None
        Upper-case names, or None where the value names none.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import parse_filters
    >>> parse_filters('F290LP;G395H')
    ('G395H', 'F290LP')
    >>> parse_filters('prism;clear')
    ('PRISM', 'CLEAR')
    >>> parse_filters('F140X;MIRROR')
    (None, 'F140X')
    """
    grating = filt = None
    if filters is None or filters is np.ma.masked:
        return grating, filt
    for token in str(filters).replace(",", ";").split(";"):
        token = token.strip().upper()
        if grating is None and _GRATING_TOKEN.match(token):
            grating = token
        elif filt is None and _FILTER_TOKEN.match(token):
            filt = token
    return grating, filt


def parse_observation(obs_id):
    """
    Program and observation numbers of a JWST CAOM ``obs_id``.

    Both forms are understood: level-3 ``jwPPPPP-oOOO_...`` and exposure level
    ``jwPPPPPOOOVVV_...`` (executed, or planned with an ``xx`` placeholder).

    Parameters
    ----------
    obs_id : str
        A CAOM ``obs_id``.

    Returns
    -------
    program, observation : tuple of int, or None
        None when the value names no single observation (e.g. ``jw01345-c1001_...``
        association products that combine several observations).

    Examples
    --------
    >>> from astroquery_nirspec.duplication import parse_observation
    >>> parse_observation('jw02736-o007_s06355_nirspec_f290lp-g395m')
    (2736, 7)
    >>> parse_observation('jw01208016001_xx106_00006_nirspec')
    (1208, 16)
    >>> parse_observation('jw02736007001_03103_00001_nrs1')
    (2736, 7)
    >>> parse_observation('hst_12345_01_wfc3') is None
    True
    """
    if obs_id is None or obs_id is np.ma.masked:
        return None
    text = str(obs_id).strip()
    match = _L3_OBS_ID.match(text) or _EXPOSURE_OBS_ID.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def observation_label(program, observation):
    """
    The conventional label of a JWST observation, ``jwPPPPP-oOOO``.

    Parameters
    ----------
    program, observation : int
        Program (proposal) and observation numbers.

    Returns
    -------
    label : str

    Examples
    --------
    >>> from astroquery_nirspec.duplication import observation_label
    >>> observation_label(1345, 4)
    'jw01345-o004'
    """
    return f"jw{int(program):05d}-o{int(observation):03d}"


def apt_url(program):
    """
    The public program-information (APT) page of a JWST program.

    Parameters
    ----------
    program : int or str
        Program (proposal) ID.

    Returns
    -------
    url : str

    Examples
    --------
    >>> from astroquery_nirspec.duplication import apt_url
    >>> apt_url('01345')
    'https://www.stsci.edu/jwst-program-info/program/?program=1345'
    """
    return APT_URL.format(program=int(program))


def exposure_key(obs_id):
    """
    The exposure an exposure-level ``obs_id`` names: the value without its detector suffix.

    Parameters
    ----------
    obs_id : str
        A CAOM ``obs_id``.

    Returns
    -------
    key : str
        Lower case, without ``_nrs1``/``_nrs2``: both detectors of one exposure give one key.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import exposure_key
    >>> exposure_key('jw01345004001_03101_00001_NRS2')
    'jw01345004001_03101_00001'
    """
    return _DETECTOR_SUFFIX.sub("", str(obs_id)).lower()


# Column helpers: CAOM columns may be masked, mixed case, or Quantities

def find_column(table, name):
    """The column of ``table`` whose name matches ``name`` case-insensitively, or None."""
    for colname in table.colnames:
        if colname.lower() == name.lower():
            return table[colname]
    return None


def str_values(col, n):
    """A list of stripped strings ('' for masked or missing)."""
    if col is None:
        return [""] * n
    mask = np.ma.getmaskarray(col)
    data = np.ma.getdata(col)
    return ["" if masked else str(value).strip() for value, masked in zip(data, mask)]


def float_values(col, n, unit=None):
    """A float array (NaN for masked or missing), converted to ``unit`` if it carries one."""
    if col is None:
        return np.full(n, np.nan)
    if isinstance(col, u.Quantity):
        return np.asarray(col.to_value(unit) if unit is not None else col.value, dtype=float)
    values = np.ma.filled(np.ma.asanyarray(col).astype(float), np.nan)
    values = np.asarray(values, dtype=float)
    col_unit = getattr(col, "unit", None)
    if unit is not None and col_unit is not None:
        values = (values * u.Unit(col_unit)).to_value(unit)
    return values


#: Columns whose value depends on the request, not on the row: ``distance`` (from the search
#: position, added by the Position service) and the portal's ``_selected_`` flag.
REQUEST_COLUMNS = ("distance", "_selected_")


def row_identity(row):
    """
    What makes two CAOM rows the same row: every value except the request-dependent ones.

    CAOM repeats an ``obsid`` across rows that differ in other columns (one row per filter of
    a GALEX visit, for example), so ``obsid`` alone does not identify a row.

    Parameters
    ----------
    row : dict
        One row of a reply's ``data``.

    Returns
    -------
    key : tuple
        Hashable; equal for rows that differ at most in `REQUEST_COLUMNS`.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import row_identity
    >>> a = {"obsid": "1", "filters": "NUV", "distance": 0.0}
    >>> row_identity(a) == row_identity(dict(a, distance=12.5))
    True
    >>> row_identity(a) == row_identity(dict(a, filters="FUV"))
    False
    """
    return tuple(sorted((key, repr(value)) for key, value in row.items()
                        if key not in REQUEST_COLUMNS))


def caom_rows_table(results):
    """
    One table of the CAOM rows of several replies, each row once.

    Fields overlap near their edges, so a row can come back from two requests (with a
    different ``distance``, which depends on the request): such repeats are kept once
    (`row_identity`). Rows that share an ``obsid`` but differ in any other column are
    different rows and are all kept.

    Parameters
    ----------
    results : list of dict
        Parsed replies (``fields`` and ``data``).

    Returns
    -------
    rows : `~astropy.table.Table`
        In the order first seen.

    Examples
    --------
    >>> from astroquery_nirspec.duplication.caom import caom_rows_table
    >>> page = {"fields": [{"name": "obsid", "type": "string"}, {"name": "filters", "type": "string"}],
    ...         "data": [{"obsid": 1, "filters": "NUV"}, {"obsid": 1, "filters": "FUV"}]}
    >>> len(caom_rows_table([page, page]))
    2
    """
    fields = next((r["fields"] for r in results if r.get("fields")), None)
    if fields is None:
        return Table()
    seen, rows = set(), []
    for result in results:
        for row in result.get("data") or []:
            key = row_identity(row)
            if key not in seen:
                seen.add(key)
                rows.append(row)
    return rows_to_table(fields, rows, describe=False)
