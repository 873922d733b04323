"""
The duplicate-check report: CAOM replies and a validated target list in, one Table out.

`build_report` is what `~astroquery_nirspec.NirspecMastClass.check_duplicates` returns once its
requests are answered: the rows of every reply (each row once), grouped and judged, with
each target's position and sky field and, per observation, CAOM's product-group id
(``obsid``) and footprint (``s_region``) for downloads and plots. Pure, no I/O.
"""
import numpy as np
from astropy import units as u

from .caom import caom_rows_table
from .grouping import group_observations
from .judge import evaluate
from .search import CAOM_SERVICE
from .targets import read_targets

__all__ = ["build_report"]


def build_report(results, targets, rules, labels, n_requests):
    """
    The report of a duplicate check from its parsed CAOM replies.

    Parameters
    ----------
    results : list of dict
        The parsed ``Mast.Caom.Filtered.Position`` replies (``fields`` and ``data``), every
        page of every field's request.
    targets : `~astroquery_nirspec.duplication.TargetList` or anything `read_targets` accepts
        The planned targets (validated once: a `~astroquery_nirspec.duplication.TargetList`
        is used as it is).
    rules : `~astroquery_nirspec.duplication.DuplicationRules` or None
        The rules of the check (None: the defaults).
    labels : array of int
        The sky field of each target, in target order (from
        `~astroquery_nirspec.duplication.search.field_requests`).
    n_requests : int
        The number of field requests sent, recorded in ``meta['requests']``.

    Returns
    -------
    report : `~astropy.table.Table`
        The table of `~astroquery_nirspec.duplication.evaluate`, with ``target_ra``,
        ``target_dec`` (deg) and ``field`` after ``target``, and ``obsid`` and ``s_region``
        of the CAOM row each observation is represented by (masked when unknown). ``meta``
        adds ``service``, ``requests`` and ``dropped`` (the CAOM rows that are not NIRSpec
        science spectroscopy, counted by reason).

    Examples
    --------
    >>> from astroquery_nirspec.duplication.report import build_report
    >>> reply = {"fields": [{"name": n, "type": "string"} for n in
    ...                     ("obs_id", "instrument_name", "filters", "obsid", "s_region")]
    ...                    + [{"name": n, "type": "float"} for n in ("t_exptime", "s_ra", "s_dec")]
    ...                    + [{"name": "calib_level", "type": "int"}],
    ...          "data": [{"obs_id": "jw01345-o004_t001_nirspec_f290lp-g395h-s200a1",
    ...                    "instrument_name": "NIRSPEC/SLIT", "filters": "F290LP;G395H",
    ...                    "obsid": "1001", "s_region": "CIRCLE 150 2 0.001", "t_exptime": 3000.0,
    ...                    "s_ra": 150.0, "s_dec": 2.0, "calib_level": 3}]}
    >>> targets = [dict(name="A", ra=150.0, dec=2.0, aperture="S200A1", grating="G395H",
    ...                 filter="F290LP", exposure_time=1000)]
    >>> report = build_report([reply], targets, None, [0], 1)
    >>> print(report["target"][0], report["field"][0], report["obsid"][0], report["verdict"][0])
    A 0 1001 DUPLICATE
    """
    targets = read_targets(targets)
    rows = caom_rows_table(results)
    groups = group_observations(rows)
    report = evaluate(targets, groups, rules)
    _add_target_columns(report, targets, np.asarray(labels, dtype=int))
    _add_row_columns(report, rows)
    report.meta["service"] = CAOM_SERVICE
    report.meta["requests"] = int(n_requests)
    report.meta["dropped"] = dict(groups.meta["dropped"])
    return report


def _add_target_columns(report, targets, labels):
    """Where each reported target is and which request covered it, after ``target``."""
    position = {name: i for i, name in enumerate(targets["name"])}
    where = np.array([position[str(name)] for name in report["target"]], dtype=int)
    at = report.colnames.index("target") + 1
    report.add_column(np.asarray(targets["ra"])[where] * u.deg, name="target_ra", index=at)
    report.add_column(np.asarray(targets["dec"])[where] * u.deg, name="target_dec", index=at + 1)
    report.add_column(labels[where], name="field", index=at + 2)


def _add_row_columns(report, rows):
    """CAOM's ``obsid`` and ``s_region`` of the row each reported observation is represented by."""
    index = _first_rows(report["obs_id"], rows["obs_id"] if "obs_id" in rows.colnames else None)
    for name, dtype in (("obsid", str), ("s_region", object)):
        values = np.full(len(report), "", dtype=object)
        mask = np.ones(len(report), dtype=bool)
        if name in rows.colnames:
            column = rows[name]
            found = np.flatnonzero(index >= 0)
            found = found[~np.ma.getmaskarray(column)[index[found]]]
            values[found] = [str(v) for v in np.asarray(np.ma.getdata(column))[index[found]].tolist()]
            mask[found] = False
        report[name] = np.ma.MaskedArray(values.astype(dtype), mask=mask)


def _first_rows(wanted, obs_ids):
    """The first row of ``obs_ids`` with each ``wanted`` obs_id (-1: none; masked ones match none)."""
    index = np.full(len(wanted), -1)
    if obs_ids is None:
        return index
    rows = np.flatnonzero(~np.ma.getmaskarray(obs_ids))
    if len(rows) == 0 or len(wanted) == 0:
        return index
    distinct, first = np.unique(np.asarray(np.ma.getdata(obs_ids)).astype(str)[rows], return_index=True)
    keys = np.asarray(np.ma.getdata(wanted)).astype(str)
    at = np.searchsorted(distinct, keys).clip(max=len(distinct) - 1)
    known = (distinct[at] == keys) & ~np.ma.getmaskarray(wanted)
    index[known] = rows[first[at[known]]]
    return index
