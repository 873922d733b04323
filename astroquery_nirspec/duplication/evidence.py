"""
MOS at the shutter, the evidence: what the MSA metadata of executed MOS observations says
about the rows of a duplication report.

`apply_source_evidence` compares each target with the primary sources of open shutters of the
executed MOS observations near it (read by `~astroquery_nirspec.duplication.msa`) and adds
``source_observed``, ``source_separation`` and ``source_name`` to the report; a field-level
DUPLICATE whose target was in no open shutter becomes POSSIBLE. Pure, no I/O.
"""
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Column, MaskedColumn, Table
from astroquery.exceptions import InvalidQueryError

from .. import sky
from .caom import parse_observation
from .nirspec import SOURCE_RADIUS
from .rules import VERDICTS

__all__ = ["apply_source_evidence"]


def _nearest(targets, catalogue, chunk=512):
    """Index of the nearest catalogue position of each target and its separation (arcsec)."""
    index = np.empty(len(targets), dtype=int)
    separation = np.empty(len(targets))
    for start in range(0, len(targets), chunk):
        block = targets[start:start + chunk]
        matrix = block[:, np.newaxis].separation(catalogue[np.newaxis, :]).arcsec
        index[start:start + chunk] = np.argmin(matrix, axis=1)
        separation[start:start + chunk] = matrix[np.arange(len(block)), index[start:start + chunk]]
    return index, separation


def _require(report, names):
    if not isinstance(report, Table):
        raise InvalidQueryError(f"report must be an astropy Table, got {type(report).__name__}.")
    missing = [name for name in names if name not in report.colnames]
    if missing:
        raise InvalidQueryError(f"The report lacks the column(s) {', '.join(missing)}; pass the "
                                "table that check_duplicates returns.")


def _source_coords(table, key):
    if not isinstance(table, Table) or not {"ra", "dec", "source_name"} <= set(table.colnames):
        raise InvalidQueryError(f"sources_by_observation[{key}] must be a read_msa_sources Table "
                                "(with source_name, ra and dec).")
    return SkyCoord(u.Quantity(table["ra"], u.deg), u.Quantity(table["dec"], u.deg), frame="icrs")


def _match_observations(report, rows, sources_by_observation):
    """Per MOS row: (checked, separation arcsec or NaN, nearest source name or '')."""
    n = len(report)
    checked = np.zeros(n, dtype=bool)
    separation = np.full(n, np.nan)
    name = np.full(n, "", dtype=object)
    labels, code = np.unique(np.asarray(np.ma.filled(report["observation"], ""), dtype=str)[rows],
                             return_inverse=True)
    targets = SkyCoord(u.Quantity(report["target_ra"], u.deg)[rows],
                       u.Quantity(report["target_dec"], u.deg)[rows], frame="icrs")
    for number, label in enumerate(labels):
        key = parse_observation(label)
        if key is None or key not in sources_by_observation:
            continue
        members = code.reshape(-1) == number
        index = rows[members]
        checked[index] = True
        table = sources_by_observation[key]
        if len(table) == 0:
            continue
        nearest, sep = _nearest(targets[members], _source_coords(table, key))
        separation[index] = sep
        name[index] = np.asarray(table["source_name"]).astype(str)[nearest]
    return checked, separation, name


def _evidence_reason(reason, verdict, observed, sep, name, planned):
    """The new (verdict, reason) of one MOS row."""
    nearest = (f'nearest observed source {name} at {sep:.2f}"' if name
               else "no primary source in an open shutter")
    if observed is None:
        why = "planned, no MSA metadata yet" if planned else "no MSA metadata read for this observation"
        return verdict, f"{reason}; source not checked ({why})"
    if observed:
        return verdict, f'{reason}; the target was in an open shutter (source {name} at {sep:.2f}")'
    if verdict == "DUPLICATE":
        return ("POSSIBLE", f"same field, but the target was not in an open shutter ({nearest}); "
                            f"field rules: {reason}")
    return verdict, f"{reason}; the target was not in an open shutter ({nearest})"


def apply_source_evidence(report, sources_by_observation, radius=SOURCE_RADIUS):
    """
    Add source-level evidence from MSA metadata to the MOS rows of a duplication report.

    For each row whose ``mode`` is MOS and that is not planned, the target is compared with
    the primary sources of open shutters of that observation (its entry in
    ``sources_by_observation``, see `sources_by_observation` and `read_msa_sources`). New
    columns:

    - ``source_observed``: True when such a source lies within ``radius`` of the target,
      False when the metadata was read and none does, masked without metadata (planned
      observations, observations without an entry, rows of other modes);
    - ``source_separation``: arcsec to the nearest such source (masked when unknown or when the
      observation put no source in a shutter);
    - ``source_name``: that source's name.

    A row with ``source_observed`` False that the field rules call DUPLICATE becomes POSSIBLE;
    every other verdict stands. The reason of each MOS row says what the metadata showed.
    Rows are then reordered by verdict within each target (targets keep their order).

    Parameters
    ----------
    report : `~astropy.table.Table`
        The table `~astroquery_nirspec.NirspecMastClass.check_duplicates` returns. Columns
        used: ``target``, ``target_ra``, ``target_dec``, ``observation``, ``mode``,
        ``planned``, ``verdict``, ``reason``.
    sources_by_observation : dict
        ``{(program, observation): Table}`` with ``source_name``, ``ra`` and ``dec`` (deg).
    radius : `~astropy.units.Quantity`, optional
        Largest target-source distance for the target to count as observed; default 0.5".

    Returns
    -------
    report : `~astropy.table.Table`
        A new table; ``meta['source_radius_arcsec']`` and ``meta['source_evidence']`` (counts
        of rows ``observed``, ``not_observed``, ``unchecked``) are added.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a report without the columns used or a radius that is not a positive angle.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication.msa import apply_source_evidence
    >>> report = Table({'target': ['A', 'B'], 'target_ra': [53.1, 53.1] * u.deg,
    ...                 'target_dec': [-27.8, -27.8003] * u.deg,
    ...                 'observation': ['jw01345-o063', 'jw01345-o063'], 'mode': ['MOS', 'MOS'],
    ...                 'planned': [False, False], 'verdict': ['DUPLICATE', 'DUPLICATE'],
    ...                 'reason': ['all criteria met', 'all criteria met']})
    >>> sources = Table({'source_name': ['1345_7'], 'ra': [53.1] * u.deg, 'dec': [-27.8] * u.deg})
    >>> out = apply_source_evidence(report, {(1345, 63): sources})
    >>> print(out['target', 'verdict', 'source_observed', 'source_name'])
    target  verdict  source_observed source_name
    ------ --------- --------------- -----------
         A DUPLICATE            True      1345_7
         B  POSSIBLE           False      1345_7
    >>> print(out['reason'][1])  # doctest: +NORMALIZE_WHITESPACE
    same field, but the target was not in an open shutter (nearest observed source 1345_7
    at 1.08"); field rules: all criteria met
    """
    _require(report, ("target", "target_ra", "target_dec", "observation", "mode", "planned",
                      "verdict", "reason"))
    limit = sky.parse_radius(radius).to_value(u.arcsec)
    if not isinstance(sources_by_observation, dict):
        raise InvalidQueryError("sources_by_observation must be a dict {(program, observation): "
                                f"Table}}, got {type(sources_by_observation).__name__}.")
    out = report.copy(copy_data=False)          # the columns replaced below are new ones
    n = len(out)
    modes = np.char.upper(np.asarray(np.ma.filled(out["mode"], ""), dtype=str))
    planned = np.asarray(np.ma.filled(out["planned"], False), dtype=bool)
    mos = modes == "MOS"
    rows = np.flatnonzero(mos & ~planned)
    checked, separation, name = _match_observations(out, rows, sources_by_observation)
    observed = checked & (separation <= limit)

    verdicts, reasons = np.asarray(out["verdict"], dtype=str), np.asarray(out["reason"])
    changed = [_evidence_reason(reasons[i], verdicts[i], None if not checked[i] else bool(observed[i]),
                                separation[i], name[i], planned[i]) for i in np.flatnonzero(mos)]
    out["verdict"] = _replaced(verdicts, mos, [verdict for verdict, _ in changed])
    out["reason"] = _replaced(reasons, mos, [reason for _, reason in changed])
    at = out.colnames.index("reason") + 1
    out.add_column(MaskedColumn(observed, mask=~checked), name="source_observed", index=at)
    has_source = checked & np.isfinite(separation)
    out.add_column(MaskedColumn(np.where(has_source, separation, np.nan), mask=~has_source,
                                unit=u.arcsec), name="source_separation", index=at + 1)
    out.add_column(MaskedColumn(name.astype(str) if n else np.zeros(0, "U1"), mask=~has_source),
                   name="source_name", index=at + 2)
    out.meta["source_radius_arcsec"] = float(limit)
    out.meta["source_evidence"] = {"observed": int(observed.sum()),
                                   "not_observed": int((checked & ~observed).sum()),
                                   "unchecked": int((mos & ~checked).sum())}
    return _by_target_and_verdict(out)


def _replaced(values, where, new):
    """
    A Column of ``values`` with ``new`` where ``where`` is True: of str objects for an object
    array (the report's reasons), else a str array as wide as needed.
    """
    if values.dtype == object:
        data = values.copy()
    else:
        data = values.astype(f"U{max([len(value) for value in new] + [values.dtype.itemsize // 4, 1])}")
    data[where] = new
    return Column(data)


def _by_target_and_verdict(report):
    """Rows grouped by target (first-appearance order), most severe verdict first, else stable."""
    if len(report) == 0:
        return report
    verdicts = np.asarray(report["verdict"], dtype=str)
    severity = np.full(len(report), len(VERDICTS))
    for rank, verdict in enumerate(VERDICTS):
        severity[verdicts == verdict] = rank
    _, first, inverse = np.unique(np.asarray(report["target"], dtype=str), return_index=True,
                                  return_inverse=True)
    target_order = first[inverse.reshape(-1)]
    return report[np.lexsort((severity, target_order))]
