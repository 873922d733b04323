"""
Crowded field: `~astroquery_nirspec.duplication.evaluate` on one sky field where ~1 000
planned targets (every aperture, within 4' of the centre) meet ~850 grouped NIRSpec
observations (executed and planned, within ~5' of it): ~170 000 near (target, observation)
pairs, each judged and worded.

The baseline, in the same run, judges the same pairs one target at a time (the notebook's
way: one ``evaluate`` per target against the field's observations); both give the same
verdicts and reasons, row for row.
"""
import numpy as np

from common import add_paths, fmt_seconds, main, median, print_table, timed_rounds, traced_memory

add_paths()

from astropy.table import Table, vstack  # noqa: E402

from astroquery_nirspec.duplication import evaluate, group_observations, read_targets  # noqa: E402
from bench_duplicates import make_caom, make_targets, print_targets  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_PAIRS = (170_000, 185_000)


def crowded_field(n_targets=1000, n_rows=850):
    """(targets, groups) of one crowded field."""
    targets = read_targets(make_targets(1, n_targets))
    caom = make_caom(targets, per_field=n_rows)
    names = list(caom[0])
    rows = Table(rows=[[row[name] for name in names] for row in caom], names=names)
    return targets, group_observations(rows)


def one_target_at_a_time(targets, groups):
    return vstack([evaluate(targets[i:i + 1], groups) for i in range(len(targets))],
                  metadata_conflicts="silent")


def run(quick=False):
    n_targets, n_rows, rounds = (200, 300, 1) if quick else (1000, 850, 5)
    targets, groups = crowded_field(n_targets, n_rows)
    report = evaluate(targets, groups)
    pairs = int(np.sum(~report["observation"].mask))
    baseline = one_target_at_a_time(targets, groups)
    for name in ("target", "observation", "verdict", "reason"):
        assert report[name].tolist() == baseline[name].tolist(), name
    print(f"\n## Crowded field: {len(targets)} targets, {len(groups)} observation groups, "
          f"{pairs} near pairs, {len(report)} report rows")
    times = timed_rounds({"evaluate": lambda: evaluate(targets, groups),
                          "per target": lambda: one_target_at_a_time(targets, groups)},
                         {"evaluate": rounds, "per target": 1})
    peak, held = traced_memory(lambda: evaluate(targets, groups))
    t_ours, t_base = median(times["evaluate"]), median(times["per target"])
    results = {"targets": len(targets), "groups": len(groups), "pairs": pairs, "rows": len(report),
               "evaluate_seconds": t_ours, "per_target_seconds": t_base, "speedup": t_base / t_ours,
               "evaluate_peak_bytes": peak, "report_bytes": held,
               "times": {k: sorted(v) for k, v in times.items()}}
    print_table("Judging every near pair (median of rounds)", ("path", "time", "× evaluate"),
                [("``evaluate``, all targets at once", fmt_seconds(t_ours), "1.00"),
                 ("``evaluate`` one target at a time", fmt_seconds(t_base), f"{t_base / t_ours:.1f}")])
    print(f"\nevaluate: peak {peak / 1e6:.0f} MB (tracemalloc), report {held / 1e6:.0f} MB")
    checks = [(f"<= {TARGET_SECONDS:g} s for evaluate", fmt_seconds(t_ours), t_ours <= TARGET_SECONDS)]
    if not quick:
        lo, hi = TARGET_PAIRS
        checks.append((f"{lo} to {hi} near pairs", str(pairs), lo <= pairs <= hi))
    results["targets_met"] = print_targets(checks)
    return results


if __name__ == "__main__":
    main(run)
