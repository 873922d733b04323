"""
Grouping CAOM rows into NIRSpec observations and configurations with their total exposure time.

Pure functions, no I/O. `group_observations` runs four named steps: read the columns it uses,
classify each row (kept, or dropped with a reason), let bare ``NIRSPEC`` rows adopt the known
mode of their observation, and summarise each (observation, mode, grating, filter) bucket.
"""
import math

import numpy as np
from astropy import units as u
from astropy.table import Column, Table
from astroquery.exceptions import InvalidQueryError

from .caom import (INSTRUMENT_MODE, exposure_key, find_column, float_values, observation_label,
                   parse_aperture, parse_filters, parse_observation, product_label, row_mode,
                   str_values)

__all__ = ["group_observations"]

_REQUIRED = ("obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec", "calib_level")

_RIGHTS_PRIORITY = {"RESTRICTED": 0, "EXCLUSIVE_ACCESS": 1, "PUBLIC": 2}

_GROUP_COLUMNS = (
    ("observation", str), ("obs_id", str), ("proposal_id", str), ("program", int),
    ("instrument_name", str), ("mode", str), ("grating", str), ("filter", str),
    ("t_exptime", float), ("exptime_from", str), ("planned", bool), ("calib_level", int),
    ("s_ra", float), ("s_dec", float), ("dataRights", str), ("n_rows", int), ("n_exposures", int),
    ("aperture", str), ("note", str),
)
_GROUP_UNITS = {"t_exptime": u.s, "s_ra": u.deg, "s_dec": u.deg}


def group_observations(caom_rows):
    """
    Group CAOM rows into NIRSpec observations and configurations with a total exposure time.

    Rows that are known not to be NIRSpec science spectroscopy are dropped first: other
    instruments or collections, ``intentType`` other than science (case-insensitive; a table
    without the column is taken as science only), ``NIRSPEC/IMAGE``, and rows whose ``filters``
    name no disperser (imaging, target acquisition). The number dropped for each reason is in
    the result's ``meta['dropped']``.

    Nothing NIRSpec is dropped for being unclassifiable: such a row is kept and its group's
    ``note`` says what is unknown (an unrecognised ``NIRSPEC/...`` name, whose mode is then
    ``UNKNOWN``; no ``filters``, an unknown configuration; an ``obs_id`` naming no single
    observation, e.g. an association ``jw01345-c1001_...``, grouped under that label).

    The rows are grouped by observation (program + observation number, from ``obs_id``),
    mode, grating and filter. ``NIRSPEC/BOTS`` rows, and ``NIRSPEC/SLIT`` rows whose
    ``dataproduct_type`` is ``timeseries``, are bright-object time series (``BOTS``). A bare
    ``NIRSPEC`` row adopts the mode of the other rows of its observation and configuration
    when they agree on one; otherwise its mode is ``UNKNOWN``.

    The total exposure time of a group is the largest level-3 ``t_exptime`` of the group (each
    level-3 row, e.g. one per MOS source, carries the total), or, without level-3 rows, the sum
    over distinct exposures of the level-1/2 and planned (``calib_level`` -1) rows, each
    exposure counted once (its ``obs_id`` without the ``_nrs1``/``_nrs2`` detector suffix).

    Parameters
    ----------
    caom_rows : `~astropy.table.Table`
        CAOM observation rows, e.g. from ``Observations.query_criteria``. Columns used
        (case-insensitive): ``obs_id``, ``instrument_name``, ``filters``, ``t_exptime``, ``s_ra``,
        ``s_dec``, ``calib_level``; optional: ``intentType``, ``obs_collection``,
        ``proposal_id``, ``dataRights``, ``dataproduct_type``.

    Returns
    -------
    groups : `~astropy.table.Table`
        One row per observation and configuration, sorted by observation: ``observation``
        (``jwPPPPP-oOOO``), ``obs_id`` (a representative: the level-3 one if any),
        ``proposal_id``, ``program``, ``instrument_name``, ``mode`` (MOS/IFU/FS/BOTS/UNKNOWN),
        ``grating``, ``filter``, ``t_exptime`` (total, s), ``exptime_from`` (``L3`` or
        ``exposures``), ``planned`` (only planned rows), ``calib_level`` (max), ``s_ra``,
        ``s_dec`` (deg, of the representative row; for MOS, of an exposure row when there is one,
        as the MSA radius is about the pointing), ``dataRights`` (the most restrictive),
        ``n_rows``, ``n_exposures``, ``aperture`` (the slit that level-3 ``obs_id`` values name,
        ``''`` when unknown) and ``note`` (what could not be classified, ``''`` normally).

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        If a required column is missing (a table without rows needs none).

    Examples
    --------
    Two detectors of one exposure count once:

    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication import group_observations
    >>> rows = Table(rows=[
    ...     ('jw01345004001_03101_00001_nrs1', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2),
    ...     ('jw01345004001_03101_00001_nrs2', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2),
    ...     ('jw01345004001_03101_00002_nrs1', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2)],
    ...     names=['obs_id', 'instrument_name', 'filters', 't_exptime', 's_ra', 's_dec',
    ...            'calib_level'])
    >>> groups = group_observations(rows)
    >>> print(groups['observation'][0], groups['mode'][0], groups['t_exptime'][0])
    jw01345-o004 FS 1000.0
    """
    columns = _read_columns(caom_rows)
    kept, dropped = _classify_rows(columns)
    _adopt_known_modes(kept)
    buckets = {}
    for row in kept:
        buckets.setdefault((row["observation"], row["mode"], row["grating"], row["filter"]),
                           []).append(row)
    records = [_summarise(key, buckets[key], columns) for key in sorted(buckets)]
    groups = Table()
    for name, dtype in _GROUP_COLUMNS:
        groups[name] = Column(np.array([record[name] for record in records],
                                       dtype=dtype if dtype is not str else str),
                              unit=_GROUP_UNITS.get(name))
    groups.meta["dropped"] = dropped
    return groups


def _read_columns(caom_rows):
    """The CAOM columns used, as plain lists and float arrays (case-insensitive names)."""
    if not isinstance(caom_rows, Table):
        raise InvalidQueryError(f"caom_rows must be an astropy Table, got {type(caom_rows).__name__}.")
    n = len(caom_rows)
    for name in _REQUIRED:
        if n and find_column(caom_rows, name) is None:   # no rows: nothing to group
            raise InvalidQueryError(
                f"CAOM rows lack the column '{name}'; required: {', '.join(_REQUIRED)}.")

    def strings(name, case=None, default=None):
        col = find_column(caom_rows, name)
        if col is None and default is not None:
            return [default] * n
        values = str_values(col, n)
        return [getattr(s, case)() for s in values] if case else values

    return {
        "n": n,
        "obs_id": strings("obs_id"),
        "instrument_name": strings("instrument_name", "upper"),
        "filters": strings("filters"),
        "t_exptime": float_values(find_column(caom_rows, "t_exptime"), n, u.s),
        "s_ra": float_values(find_column(caom_rows, "s_ra"), n, u.deg),
        "s_dec": float_values(find_column(caom_rows, "s_dec"), n, u.deg),
        "calib_level": float_values(find_column(caom_rows, "calib_level"), n),
        # a table without intentType is taken as science only, without obs_collection as JWST
        "intentType": strings("intentType", "lower", default="science"),
        "obs_collection": strings("obs_collection", "upper", default="JWST"),
        "proposal_id": strings("proposal_id"),
        "dataRights": strings("dataRights", "upper"),
        "dataproduct_type": strings("dataproduct_type", "lower"),
    }


def _classify_rows(columns):
    """
    The rows kept (one dict each) and the number dropped for each reason.

    Only rows that are classified as something other than NIRSpec science spectroscopy are
    dropped. A NIRSpec science row that cannot be fully classified is kept with a ``note``
    saying what is unknown, so that the judge reports it: an unknown ``NIRSPEC/...`` name
    (mode ``UNKNOWN``), no ``filters`` at all (configuration unknown), or an ``obs_id`` that
    names no single observation (grouped under its own product label).
    """
    dropped = {"not_nirspec": 0, "not_science": 0, "not_spectroscopy": 0}
    kept = []
    for i in range(columns["n"]):
        instrument = columns["instrument_name"][i]
        mode = row_mode(instrument, columns["dataproduct_type"][i])
        if columns["obs_collection"][i] != "JWST" or mode is None:
            dropped["not_nirspec"] += 1
            continue
        if columns["intentType"][i] != "science":
            dropped["not_science"] += 1
            continue
        grating, filt = parse_filters(columns["filters"][i])
        if mode == "IMAGE" or (grating is None and columns["filters"][i]):
            dropped["not_spectroscopy"] += 1
            continue
        notes = []
        if mode == "UNKNOWN" and instrument not in INSTRUMENT_MODE:
            notes.append(f"instrument_name {instrument} not recognised")
        if grating is None:
            notes.append("configuration not recorded (no filters)")
        parsed = parse_observation(columns["obs_id"][i])
        if parsed is None:
            label, program = product_label(columns["obs_id"][i])
            notes.append(f"obs_id {columns['obs_id'][i]} names no single observation")
        else:
            label, program = observation_label(*parsed), parsed[0]
        level = columns["calib_level"][i]
        kept.append(dict(index=i, program=program, observation=label, mode=mode,
                         grating=grating or "", filter=filt or "",
                         level=int(level) if math.isfinite(level) else 0, note="; ".join(notes)))
    return kept, dropped


def _adopt_known_modes(kept):
    """A bare NIRSPEC row adopts the single known mode of its observation and configuration."""
    known_modes = {}
    for row in kept:
        if row["mode"] != "UNKNOWN":
            key = (row["observation"], row["grating"], row["filter"])
            known_modes.setdefault(key, set()).add(row["mode"])
    for row in kept:
        modes = known_modes.get((row["observation"], row["grating"], row["filter"]), set())
        if row["mode"] == "UNKNOWN" and len(modes) == 1:
            row["mode"] = next(iter(modes))


def _finite_max(values):
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _total_exposure(rows, columns):
    """(total, source, number of exposures): the largest level-3 time, else the exposures' sum."""
    obs_ids, exptimes = columns["obs_id"], columns["t_exptime"]
    exposures = {}  # one value per exposure: its obs_id without the detector suffix
    for r in rows:
        if r["level"] < 3:
            exposures.setdefault(exposure_key(obs_ids[r["index"]]), []).append(exptimes[r["index"]])
    total_l3 = _finite_max([exptimes[r["index"]] for r in rows if r["level"] >= 3])
    if math.isfinite(total_l3):
        return total_l3, "L3", len(exposures)
    finite = [v for v in map(_finite_max, exposures.values()) if math.isfinite(v)]
    return (math.fsum(finite) if finite else math.nan), "exposures", len(exposures)


def _representatives(rows, mode, columns):
    """
    The row that represents a group (the longest level-3 one, else the first by obs_id) and
    the row giving its position (for MOS an exposure row: the MSA radius is about the pointing).
    """
    obs_ids, exptimes = columns["obs_id"], columns["t_exptime"]
    by_obs_id = sorted(rows, key=lambda r: obs_ids[r["index"]])
    level3 = [r for r in by_obs_id if r["level"] >= 3]
    exposure_rows = [r for r in by_obs_id if r["level"] < 3]
    if level3:
        representative = max(level3, key=lambda r: (exptimes[r["index"]]
                                                    if math.isfinite(exptimes[r["index"]]) else -math.inf))
    else:
        representative = by_obs_id[0]
    position_row = exposure_rows[0] if mode == "MOS" and exposure_rows else representative
    return representative["index"], position_row["index"]


def _summarise(key, rows, columns):
    """One group's record, in the columns of `_GROUP_COLUMNS`."""
    observation, mode, grating, filt = key
    total, source, n_exposures = _total_exposure(rows, columns)
    rep, pos = _representatives(rows, mode, columns)
    rights = [columns["dataRights"][r["index"]] for r in rows if columns["dataRights"][r["index"]]]
    return {
        "observation": observation, "obs_id": columns["obs_id"][rep],
        "proposal_id": columns["proposal_id"][rep] or str(rows[0]["program"]),
        "program": rows[0]["program"], "instrument_name": columns["instrument_name"][rep],
        "mode": mode, "grating": grating, "filter": filt,
        "t_exptime": total, "exptime_from": source,
        "planned": all(r["level"] == -1 for r in rows),
        "calib_level": max(r["level"] for r in rows),
        "s_ra": columns["s_ra"][pos], "s_dec": columns["s_dec"][pos],
        "dataRights": min(rights, key=lambda s: _RIGHTS_PRIORITY.get(s, 3)) if rights else "",
        "n_rows": len(rows), "n_exposures": n_exposures,
        "aperture": _single({parse_aperture(columns["obs_id"][r["index"]]) for r in rows} - {""}),
        "note": "; ".join(sorted({r["note"] for r in rows} - {""})),
    }


def _single(values):
    """The one value of a set, or '' when it holds none or several."""
    return next(iter(values)) if len(values) == 1 else ""
