"""
The array judge: order of the report rows, and every verdict and reason of a mixed scene equal
to those of the per-pair implementation it replaced (tests/data/evaluate_golden.ecsv).
"""
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from astroquery_nirspec.duplication import GRATING_FILTER_PAIRS, evaluate, group_observations

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "evaluate_golden.ecsv"
COMPARED = ("target", "observation", "mode", "grating", "filter", "calib_level", "planned",
            "separation", "radius", "exptime_ratio", "position_ok", "mode_ok", "config_ok",
            "exptime_ok", "verdict", "reason")


def scene(n_targets=16, n_rows=30, seed=7):
    """Targets of every mode and CAOM rows of every kind around one field, some far away."""
    rng = np.random.default_rng(seed)
    center = SkyCoord(53.13 * u.deg, -27.8 * u.deg)
    where = center.directional_offset_by(rng.uniform(0, 360, n_targets) * u.deg,
                                         rng.uniform(0, 200, n_targets) * u.arcsec)
    pairs = [GRATING_FILTER_PAIRS[i] for i in rng.integers(0, 9, n_targets)]
    apertures = rng.choice(["MSA", "IFU", "S200A1", "S400A1", "S1600A1"], n_targets)
    modes = [("BOTS" if a == "S1600A1" and rng.random() < 0.5 else "") for a in apertures]
    targets = Table(dict(name=[f"T{i:02d}" for i in range(n_targets)], ra=where.ra.deg,
                         dec=where.dec.deg, aperture=apertures, mode=modes,
                         grating=[p[0] for p in pairs], filter=[p[1] for p in pairs],
                         exposure_time=rng.uniform(300, 3000, n_targets)))
    # rows close to targets (a few arcsec) and spread over the field
    near = rng.integers(0, n_targets, n_rows)
    spread = np.where(rng.random(n_rows) < 0.6, rng.uniform(0, 6, n_rows), rng.uniform(0, 250, n_rows))
    at = where[near].directional_offset_by(rng.uniform(0, 360, n_rows) * u.deg, spread * u.arcsec)
    row_pairs = [GRATING_FILTER_PAIRS[i] for i in rng.integers(0, 9, n_rows)]
    instruments = rng.choice(["NIRSPEC/MSA", "NIRSPEC/IFU", "NIRSPEC/SLIT", "NIRSPEC/BOTS", "NIRSPEC"],
                             n_rows)
    slits = rng.choice(["", "-s1600a1", "-s200a1"], n_rows)
    rows = Table(dict(
        obs_id=[f"jw{1000 + i:05d}-o{1 + i % 3:03d}_t001_nirspec_{p[1].lower()}-{p[0].lower()}{s}"
                for i, (p, s) in enumerate(zip(row_pairs, slits))],
        instrument_name=instruments, filters=[f"{p[1]};{p[0]}" for p in row_pairs],
        t_exptime=np.where(rng.random(n_rows) < 0.1, np.nan, rng.uniform(100, 8000, n_rows)),
        s_ra=at.ra.deg, s_dec=at.dec.deg, calib_level=rng.choice([-1, 2, 3], n_rows)))
    return targets, rows


def test_mixed_scene_matches_the_per_pair_implementation():
    targets, rows = scene()
    report = evaluate(targets, group_observations(rows))
    golden = Table.read(GOLDEN, format="ascii.ecsv")
    assert len(report) == len(golden)
    assert len(set(report["verdict"])) == 3               # the scene exercises every verdict
    for name in COMPARED:
        mine, theirs = report[name], golden[name]
        if mine.dtype.kind == "f":
            assert np.allclose(np.ma.filled(mine, np.nan), np.ma.filled(theirs, np.nan),
                               rtol=1e-12, equal_nan=True), name
        else:
            assert mine.tolist() == theirs.tolist(), name


def test_rows_keep_target_order_then_severity_then_separation():
    targets, rows = scene()
    report = evaluate(targets, group_observations(rows))
    index = {name: i for i, name in enumerate(targets["name"])}
    positions = [index[name] for name in report["target"]]
    assert positions == sorted(positions)
    assert set(report["target"]) == set(targets["name"])   # every target, near groups or not
    rank = {"DUPLICATE": 0, "POSSIBLE": 1, "NOT_DUPLICATE": 2}
    for name in targets["name"]:
        mine = report[report["target"] == name]
        keys = [(rank[v], s) for v, s in zip(mine["verdict"], np.ma.filled(mine["separation"], 0))]
        assert keys == sorted(keys)


def test_verdict_columns_agree_with_the_criteria():
    targets, rows = scene(seed=11)
    report = evaluate(targets, group_observations(rows))
    paired = ~np.ma.getmaskarray(report["observation"])
    all_ok = report["position_ok"] & report["config_ok"] & report["exptime_ok"]
    assert np.array_equal(np.asarray(report["verdict"] == "DUPLICATE")[paired], np.asarray(all_ok)[paired])
    alone = report[~paired]
    assert all(v == "NOT_DUPLICATE" for v in alone["verdict"])
    assert all(r.startswith("no NIRSpec science spectroscopy within") for r in alone["reason"])


@pytest.mark.parametrize("n_targets", [1, 300])
def test_blocks_of_targets_find_every_pair(n_targets):
    """Targets are compared in declination blocks of 256: no pair is lost at a block's edge."""
    targets, rows = scene(n_targets=n_targets, n_rows=80, seed=3)
    targets["aperture"], targets["mode"] = "MSA", ""       # one reach for every pair: 1.5 x 180"
    rows["instrument_name"] = "NIRSPEC/MSA"
    groups = group_observations(rows)
    report = evaluate(targets, groups)
    sep = SkyCoord(targets["ra"] * u.deg, targets["dec"] * u.deg)[:, np.newaxis].separation(
        SkyCoord(groups["s_ra"], groups["s_dec"])[np.newaxis, :]).arcsec
    expected = sorted((str(targets["name"][i]), str(groups["observation"][j]), str(groups["grating"][j]),
                       str(groups["filter"][j]), round(float(sep[i, j]), 6))
                      for i, j in zip(*np.nonzero(sep <= 1.5 * 180)))
    paired = report[~np.ma.getmaskarray(report["observation"])]
    found = sorted((str(r["target"]), str(r["observation"]), str(r["grating"]), str(r["filter"]),
                    round(float(r["separation"]), 6)) for r in paired)
    assert found == expected
    assert len(found) > n_targets / 2


def test_reason_templates_become_printf_templates_that_format_alike():
    from astroquery_nirspec.duplication.judge import _printf

    template = 'centre {sep:.2f}" within {radius}"; ratio {ratio:.3g} (100% {note})'
    fmt, names = _printf(template)
    assert names == ["sep", "radius", "ratio", "note"]
    values = dict(sep=2.345, radius="3.3", ratio=0.99951, note="50%s {x}")
    assert fmt % tuple(values[n] for n in names) == template.format(**values)
    with pytest.raises(ValueError, match="sep"):
        _printf("{sep:>8}")


def test_targets_alone_and_pairs_keep_masks_and_types():
    targets, rows = scene()
    far = Table(targets[:1])
    far["name"], far["ra"] = ["FAR"], [200.0]
    from astropy.table import vstack
    report = evaluate(vstack([targets, far]), group_observations(rows))
    alone = report[report["target"] == "FAR"]
    assert len(alone) == 1 and alone["verdict"][0] == "NOT_DUPLICATE"
    for name in ("observation", "calib_level", "n_rows", "separation", "exptime_ratio", "s_ra"):
        assert alone[name].mask[0], name
    paired = ~report["observation"].mask
    assert paired.any() and not report["separation"].mask[paired].any()
    assert report["calib_level"].dtype.kind == "i" and report["planned"].dtype == bool
    # the reasons are str objects, each as long as it is (not a fixed-width array)
    assert report["reason"].dtype == object and all(type(r) is str for r in report["reason"])
    assert alone["radius"][0] > 0
