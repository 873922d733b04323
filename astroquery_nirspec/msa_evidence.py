"""
Evidence at the shutter for the MOS rows of a duplicate check.

For the executed MOS observations a report reached, the MSA metadata files are found
with one ``Mast.Jwst.Filtered.Nirspec`` lookup per sky field, each distinct file is
fetched once and read as soon as it arrives (while the next ones download), and the
primary sources of the open shutters are compared with the targets
(`~astroquery_nirspec.duplication.apply_source_evidence`). The steps are the pure
functions of `astroquery_nirspec.duplication`; the two kinds of I/O (sending requests,
downloading files) are given by the caller, so this runs, and is tested, without a server.
"""
import functools
import warnings

import numpy as np
from astropy import units as u
from astropy.utils.exceptions import AstropyUserWarning

from .duplication import (MsaMetadataError, apply_source_evidence, msa_files, msa_lookup_requests,
                          read_msa_sources, sources_by_observation)

__all__ = ["MSA_EXTENT", "add_source_evidence"]

#: Added to a sky field's CAOM radius for the MSA-file lookup: MOS exposures are listed at
#: their catalogue reference position, up to about the MSA's own size (3.6' x 3.4') away.
MSA_EXTENT = 4 * u.arcmin


def _executed_mos_fields(report):
    """The sky fields (indices) in which the report has executed MOS rows."""
    mos = (np.asarray(report["mode"]) == "MOS") & ~np.asarray(report["planned"], dtype=bool)
    return np.unique(np.asarray(report["field"])[mos]).astype(int)


def _read_into(sources, name, path):
    """Read one MSA file into ``sources[name]``; an unreadable one is named in a warning."""
    try:
        sources[name] = read_msa_sources(str(path))
    except MsaMetadataError as err:
        warnings.warn(f"MSA metadata {name} is unreadable ({err}); its observation is "
                      "judged at the field level.", AstropyUserWarning)


def add_source_evidence(report, fields, rules, *, fetch, download, pagesize):
    """
    The report with evidence at the shutter for its executed MOS observations.

    Parameters
    ----------
    report : `~astropy.table.Table`
        The field-level report (`~astroquery_nirspec.duplication.build_report`).
    fields : `~astroquery_nirspec.duplication.SkyFields`
        The sky fields of the check (their centres and radii bound the lookups).
    rules : `~astroquery_nirspec.duplication.DuplicationRules`
        ``source_radius`` is the largest target-to-source distance that counts.
    fetch : callable
        ``fetch(requests)`` sends Mashup requests and returns every page's parsed JSON.
    download : callable
        ``download(names, arrived)`` fetches MSA metadata files by name and calls
        ``arrived(name, local_path)`` for each one on disk as soon as it is there, so
        that each file is read while the next ones download.
    pagesize : int
        Rows per page of the lookups.

    Returns
    -------
    report : `~astropy.table.Table`
        With ``source_observed``, ``source_separation`` and ``source_name``
        (`~astroquery_nirspec.duplication.apply_source_evidence`).

    Examples
    --------
    A report without executed MOS rows sends nothing:

    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication import DuplicationRules
    >>> report = Table({"target": ["A"], "mode": ["FS"], "planned": [False], "field": [0],
    ...                 "verdict": ["NOT_DUPLICATE"], "reason": [""], "observation": ["o1"],
    ...                 "target_ra": [53.1], "target_dec": [-27.8]})
    >>> def nothing(*args):
    ...     raise AssertionError("no request expected")
    >>> out = add_source_evidence(report, None, DuplicationRules(), fetch=nothing, download=nothing,
    ...                           pagesize=50000)
    >>> out["source_observed"].mask.tolist()
    [True]
    """
    wanted = _executed_mos_fields(report)
    if not len(wanted):
        return apply_source_evidence(report, {}, rules.source_radius)
    lookups = msa_lookup_requests(fields.centers[wanted], fields.radii[wanted] + MSA_EXTENT,
                                  pagesize=pagesize)
    files = msa_files(fetch(lookups))
    names = sorted(set(str(n) for n in files["msametfl"]))
    sources = {}
    if names:
        download(names, functools.partial(_read_into, sources))
    return apply_source_evidence(report, sources_by_observation(files, sources), rules.source_radius)
