"""
Offline tests of the per-target summary of a duplication report.
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.duplication import evaluate, group_observations, read_targets
from astroquery_nirspec.duplication.msa import apply_source_evidence
from astroquery_nirspec.duplication.summary import summarize_duplicates


def report_of(rows):
    """A report with the columns summarize_duplicates reads; '' is a row with no observation."""
    targets, observations, verdicts = zip(*rows)
    return Table({"target": list(targets),
                  "target_ra": np.arange(len(rows), dtype=float) * u.deg,
                  "field": np.zeros(len(rows), dtype=int),
                  "observation": MaskedColumn(list(observations), mask=[o == "" for o in observations]),
                  "verdict": list(verdicts)}, meta={"service": "test"})


def test_worst_verdict_and_counts_per_target():
    report = report_of([
        ("B", "jw01345-o004", "POSSIBLE"),
        ("B", "jw01345-o005", "NOT_DUPLICATE"),
        ("A", "jw01345-o004", "DUPLICATE"),
        ("A", "jw01345-o004", "POSSIBLE"),          # a second configuration of the same observation
        ("A", "jw02736-o007", "DUPLICATE"),
        ("A", "jw02736-o008", "POSSIBLE"),
        ("C", "", "NOT_DUPLICATE"),                 # nothing near C
    ])
    summary = summarize_duplicates(report)
    assert list(summary["target"]) == ["B", "A", "C"]                      # the report's order
    assert list(summary["verdict"]) == ["POSSIBLE", "DUPLICATE", "NOT_DUPLICATE"]
    assert list(summary["n_duplicate"]) == [0, 2, 0]
    assert list(summary["n_possible"]) == [1, 1, 0]                        # o004 counts once, as DUPLICATE
    assert list(summary["n_observations"]) == [2, 3, 0]
    assert list(summary["observations"]) == ["jw01345-o004", "jw01345-o004, jw02736-o007", ""]
    assert list(summary["target_ra"]) == [0.0, 2.0, 6.0] and summary["target_ra"].unit == u.deg
    assert "field" in summary.colnames
    assert summary.meta["service"] == "test"


def test_not_duplicate_targets_list_no_observation():
    summary = summarize_duplicates(report_of([("A", "jw01345-o004", "NOT_DUPLICATE"),
                                              ("A", "jw01345-o005", "NOT_DUPLICATE")]))
    assert list(summary["verdict"]) == ["NOT_DUPLICATE"]
    assert list(summary["n_observations"]) == [2] and list(summary["observations"]) == [""]


def test_many_targets_match_a_direct_count():
    rng = np.random.default_rng(3)
    verdicts = ("DUPLICATE", "POSSIBLE", "NOT_DUPLICATE")
    rows = [(f"t{rng.integers(0, 300)}", f"jw01345-o{rng.integers(1, 40):03d}", verdicts[rng.integers(0, 3)])
            for _ in range(3000)]
    summary = summarize_duplicates(report_of(rows))
    for line in summary[rng.integers(0, len(summary), 30)]:
        mine = [(o, v) for t, o, v in rows if t == line["target"]]
        worst_per_obs = {}
        for obs, verdict in mine:
            worst_per_obs[obs] = min(worst_per_obs.get(obs, 2), verdicts.index(verdict))
        assert line["verdict"] == verdicts[min(worst_per_obs.values())]
        assert line["n_duplicate"] == sum(v == 0 for v in worst_per_obs.values())
        assert line["n_possible"] == sum(v == 1 for v in worst_per_obs.values())
        assert line["n_observations"] == len(worst_per_obs)


def test_summary_of_a_report_with_source_evidence():
    """A MOS 'duplicate' whose target got no shutter is counted as POSSIBLE."""
    targets = read_targets([dict(name=n, ra=53.16, dec=dec, aperture="MSA", grating="G395M",
                                 filter="F290LP", exposure_time=1000.0)
                            for n, dec in (("in", -27.78), ("out", -27.79))])
    caom = Table(rows=[("jw01345-o063_s00007_nirspec_f290lp-g395m", "NIRSPEC/MSA", "F290LP;G395M",
                        1000.0, 53.16, -27.78, 3, "science")],
                 names=["obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec",
                        "calib_level", "intentType"])
    report = evaluate(targets, group_observations(caom))
    report["target_ra"] = [53.16, 53.16] * u.deg
    report["target_dec"] = [-27.78, -27.79] * u.deg
    sources = Table({"source_name": ["1345_7"], "ra": [53.16] * u.deg, "dec": [-27.78] * u.deg})
    field_only = summarize_duplicates(report)
    assert list(field_only["verdict"]) == ["DUPLICATE", "DUPLICATE"]
    summary = summarize_duplicates(apply_source_evidence(report, {(1345, 63): sources}))
    assert list(summary["verdict"]) == ["DUPLICATE", "POSSIBLE"]
    assert list(summary["n_duplicate"]) == [1, 0] and list(summary["n_possible"]) == [0, 1]


def test_empty_report():
    empty = Table({"target": np.zeros(0, str), "observation": MaskedColumn(np.zeros(0, str)),
                   "verdict": np.zeros(0, str)})
    summary = summarize_duplicates(empty)
    assert len(summary) == 0
    assert summary.colnames == ["target", "verdict", "n_duplicate", "n_possible", "n_observations",
                                "observations"]


def test_bad_reports():
    with pytest.raises(InvalidQueryError, match="lacks the column.*observation"):
        summarize_duplicates(Table({"target": ["A"], "verdict": ["DUPLICATE"]}))
    with pytest.raises(InvalidQueryError, match="Unknown verdict.*MAYBE.*accepted: DUPLICATE"):
        summarize_duplicates(report_of([("A", "jw01345-o004", "MAYBE")]))
    with pytest.raises(InvalidQueryError, match="astropy Table"):
        summarize_duplicates([{"target": "A"}])
