"""
One line per target: the worst verdict of a duplication report and how many observations gave it.

A report of `~astroquery_nirspec.NirspecMastClass.check_duplicates` has one row per target,
observation and configuration; for a long target list it is read target by target through
`summarize_duplicates`. Pure function, no I/O.
"""
import numpy as np
from astropy.table import Column, Table
from astroquery.exceptions import InvalidQueryError

from .rules import VERDICTS

__all__ = ["summarize_duplicates"]

#: Columns of the report carried into the summary, when present (the first row of each target).
_CARRIED = ("target_ra", "target_dec", "field", "target_aperture", "target_mode")


def _severity(verdicts):
    rank = {verdict: i for i, verdict in enumerate(VERDICTS)}
    values = np.asarray(verdicts, dtype=str)
    unknown = sorted(set(values.tolist()) - set(rank))
    if unknown:
        raise InvalidQueryError(f"Unknown verdict(s) {', '.join(unknown)} in the report; "
                                f"accepted: {', '.join(VERDICTS)}.")
    return np.array([rank[v] for v in values], dtype=int)


def summarize_duplicates(report):
    """
    The worst verdict of each target and the number of observations behind it.

    A target's observations are counted once each: an observation that gives a target several
    rows (one per configuration) counts with the worst of them.

    Parameters
    ----------
    report : `~astropy.table.Table`
        The table `~astroquery_nirspec.NirspecMastClass.check_duplicates` returns. Columns
        used: ``target``, ``verdict``, ``observation`` (masked in a row that names none);
        ``target_ra``, ``target_dec``, ``field``, ``target_aperture`` and ``target_mode`` are
        carried over when present.

    Returns
    -------
    summary : `~astropy.table.Table`
        One row per target, in the report's order: ``target``, the carried columns,
        ``verdict`` (the worst), ``n_duplicate``, ``n_possible`` (observations with that
        worst verdict), ``n_observations`` (observations reported for the target) and
        ``observations`` (comma-separated labels of the observations that give a DUPLICATE or
        POSSIBLE worst verdict, '' otherwise). ``meta`` is the report's.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a report without ``target``, ``verdict`` or ``observation``, or with an unknown
        verdict.

    Examples
    --------
    >>> from astropy.table import MaskedColumn, Table
    >>> from astroquery_nirspec.duplication.summary import summarize_duplicates
    >>> report = Table({
    ...     'target': ['A', 'A', 'A', 'B'],
    ...     'observation': MaskedColumn(['jw01345-o004', 'jw01345-o004', 'jw02736-o007', ''],
    ...                                 mask=[False, False, False, True]),
    ...     'verdict': ['DUPLICATE', 'POSSIBLE', 'POSSIBLE', 'NOT_DUPLICATE']})
    >>> print(summarize_duplicates(report))
    target    verdict    n_duplicate n_possible n_observations observations
    ------ ------------- ----------- ---------- -------------- ------------
         A     DUPLICATE           1          1              2 jw01345-o004
         B NOT_DUPLICATE           0          0              0             
    """
    if not isinstance(report, Table):
        raise InvalidQueryError(f"report must be an astropy Table, got {type(report).__name__}.")
    missing = [name for name in ("target", "verdict", "observation") if name not in report.colnames]
    if missing:
        raise InvalidQueryError(f"The report lacks the column(s) {', '.join(missing)}; pass the "
                                "table that check_duplicates returns.")
    severity = _severity(report["verdict"])
    names = np.asarray(report["target"], dtype=str)
    _, first, target_index = np.unique(names, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")        # targets in the report's order
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    target_index = position[target_index.reshape(-1)]
    first = first[order]
    n_targets = len(first)

    worst = np.full(n_targets, len(VERDICTS) - 1)
    np.minimum.at(worst, target_index, severity)

    # worst verdict of each (target, observation) pair, rows without an observation left out
    has_observation = ~np.ma.getmaskarray(report["observation"])
    labels = np.asarray(np.ma.filled(report["observation"], ""), dtype=str)
    has_observation &= labels != ""
    obs_labels, obs_index = np.unique(labels[has_observation], return_inverse=True)
    pairs, pair_index = np.unique(target_index[has_observation] * max(len(obs_labels), 1)
                                  + obs_index.reshape(-1), return_inverse=True)
    pair_worst = np.full(len(pairs), len(VERDICTS) - 1)
    np.minimum.at(pair_worst, pair_index.reshape(-1), severity[has_observation])
    pair_target = pairs // max(len(obs_labels), 1)
    pair_label = obs_labels[pairs % max(len(obs_labels), 1)] if len(pairs) else np.zeros(0, str)

    def count(verdict):
        chosen = pair_worst == VERDICTS.index(verdict)
        return np.bincount(pair_target[chosen], minlength=n_targets)

    listed = pair_worst == worst[pair_target]
    listed &= pair_worst < VERDICTS.index("NOT_DUPLICATE")
    chosen_labels, chosen_targets = pair_label[listed], pair_target[listed]   # sorted by target
    bounds = np.searchsorted(chosen_targets, np.arange(n_targets + 1))
    observations = [", ".join(chosen_labels[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]

    summary = Table(meta=dict(report.meta))
    summary["target"] = Column(names[first] if n_targets else np.zeros(0, "U1"))
    for name in _CARRIED:
        if name in report.colnames:
            summary[name] = report[name][first]
    summary["verdict"] = Column(np.array(VERDICTS)[worst] if n_targets else np.zeros(0, "U1"))
    summary["n_duplicate"] = Column(count("DUPLICATE"), dtype=np.int64)
    summary["n_possible"] = Column(count("POSSIBLE"), dtype=np.int64)
    summary["n_observations"] = Column(np.bincount(pair_target, minlength=n_targets), dtype=np.int64)
    summary["observations"] = Column(np.array(observations, dtype=str) if n_targets
                                     else np.zeros(0, "U1"))
    return summary
