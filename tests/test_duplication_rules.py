"""
Offline tests of the NIRSpec duplication rules (no HTTP at all).

CAOM rows are built by hand in the shape MAST returns them; offsets on the sky are made with
`SkyCoord.directional_offset_by` so the tests never do angle arithmetic themselves.
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.duplication import (
    DUPLICATION_RADII,
    GRATING_FILTER_PAIRS,
    MSA_CROSS_RADIUS,
    DuplicationRules,
    apt_url,
    evaluate,
    group_observations,
    parse_filters,
    parse_observation,
)

RA, DEC = 150.0, 2.0
CAOM_NAMES = ("obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec",
              "calib_level", "intentType", "dataRights", "obs_collection", "proposal_id")


def caom_row(obs_id="jw01345-o004_t001_nirspec_f290lp-g395h-s200a1", instrument_name="NIRSPEC/SLIT",
             filters="F290LP;G395H", t_exptime=1000.0, s_ra=RA, s_dec=DEC, calib_level=3,
             intentType="science", dataRights="PUBLIC", obs_collection="JWST", proposal_id=None):
    if proposal_id is None:
        parsed = parse_observation(obs_id)
        proposal_id = str(parsed[0]) if parsed else ""
    return dict(obs_id=obs_id, instrument_name=instrument_name, filters=filters,
                t_exptime=t_exptime, s_ra=s_ra, s_dec=s_dec, calib_level=calib_level,
                intentType=intentType, dataRights=dataRights, obs_collection=obs_collection,
                proposal_id=proposal_id)


def caom(*rows):
    return Table(rows=[[row[name] for name in CAOM_NAMES] for row in rows], names=CAOM_NAMES)


def target(**kwargs):
    values = dict(name="T1", ra=RA, dec=DEC, aperture="S200A1", grating="G395H", filter="F290LP",
                  exposure_time=1000.0)
    values.update(kwargs)
    return values


def offset(ra, dec, position_angle, separation):
    """Position at ``separation`` from (ra, dec) towards ``position_angle`` (east of north)."""
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(position_angle, separation)
    return moved.ra.deg, moved.dec.deg


def check(targets, *rows, rules=None):
    if isinstance(targets, dict):
        targets = [targets]
    return evaluate(targets, group_observations(caom(*rows)), rules=rules)


def only_row(result):
    assert len(result) == 1, result
    return result[0]


# --- required cases -------------------------------------------------------------------------

def test_exact_match():
    row = only_row(check(target(), caom_row()))
    assert row["verdict"] == "DUPLICATE"
    assert row["position_ok"] and row["config_ok"] and row["exptime_ok"] and row["mode_ok"]
    assert row["observation"] == "jw01345-o004"
    assert row["proposal_id"] == "1345"
    assert row["apt_url"] == "https://www.stsci.edu/jwst-program-info/program/?program=1345"
    assert row["separation"] == pytest.approx(0.0, abs=1e-6)
    assert row["radius"] == pytest.approx(3.3)
    assert row["exptime_ratio"] == pytest.approx(1.0)
    assert not row["planned"]
    assert "all criteria met" in row["reason"]


def test_inside_and_deeper_x3():
    ra, dec = offset(RA, DEC, 30 * u.deg, 0.5 * 3.3 * u.arcsec)
    row = only_row(check(target(), caom_row(t_exptime=3000.0, s_ra=ra, s_dec=dec)))
    assert row["separation"] == pytest.approx(1.65)
    assert row["exptime_ratio"] == pytest.approx(3.0)
    assert row["verdict"] == "DUPLICATE"


def test_shallower_x0_3():
    row = only_row(check(target(), caom_row(t_exptime=300.0)))
    assert row["exptime_ratio"] == pytest.approx(0.3)
    assert row["exptime_ok"]
    assert row["verdict"] == "DUPLICATE"


@pytest.mark.parametrize("ratio", [0.25, 4.0])
def test_ratio_at_the_bounds_is_inside(ratio):
    row = only_row(check(target(exposure_time=1000.0), caom_row(t_exptime=1000.0 * ratio)))
    assert row["exptime_ok"]
    assert row["verdict"] == "DUPLICATE"


@pytest.mark.parametrize("ratio", [0.24, 4.1])
def test_ratio_beyond_the_bounds_is_outside(ratio):
    row = only_row(check(target(exposure_time=1000.0), caom_row(t_exptime=1000.0 * ratio)))
    assert not row["exptime_ok"]
    assert row["position_ok"] and row["config_ok"]
    assert row["verdict"] == "POSSIBLE"
    assert "exposure ratio outside the factor" in row["reason"]


@pytest.mark.parametrize("dec", [70.0, -70.0])
def test_due_east_at_0_8_radius_at_high_declination(dec):
    radius = DUPLICATION_RADII["S200A1"]
    ra, cand_dec = offset(RA, dec, 90 * u.deg, 0.8 * radius)
    # In RA coordinate the offset is ~2.9 radii: a box without cos(dec) would miss it.
    delta_ra = SkyCoord(ra * u.deg, cand_dec * u.deg).ra - SkyCoord(RA * u.deg, dec * u.deg).ra
    assert abs(delta_ra.wrap_at(180 * u.deg)) > 2 * radius
    row = only_row(check(target(dec=dec), caom_row(s_ra=ra, s_dec=cand_dec)))
    assert row["separation"] == pytest.approx(0.8 * radius.value)
    assert row["position_ok"]
    assert row["verdict"] == "DUPLICATE"


def test_box_corner_at_1_25_radius_is_possible_not_duplicate():
    radius = DUPLICATION_RADII["S200A1"]
    ra, dec = offset(RA, DEC, 45 * u.deg, 1.25 * radius)
    # inside a +-R box (both offsets ~0.88 R) but outside the circle
    east, north = SkyCoord(RA * u.deg, DEC * u.deg).spherical_offsets_to(SkyCoord(ra * u.deg, dec * u.deg))
    assert abs(east) < radius and abs(north) < radius
    row = only_row(check(target(), caom_row(s_ra=ra, s_dec=dec)))
    assert row["separation"] == pytest.approx(1.25 * radius.value)
    assert not row["position_ok"]
    assert row["verdict"] == "POSSIBLE"
    assert "centre just outside the radius" in row["reason"]


def test_other_resolution_same_band_is_possible():
    row = only_row(check(target(grating="G395H"), caom_row(filters="F290LP;G395M")))
    assert not row["config_ok"]
    assert row["mode_ok"]
    assert row["verdict"] == "POSSIBLE"
    assert "other resolution" in row["reason"]


def test_other_band_is_not_duplicate():
    row = only_row(check(target(grating="G395H", filter="F290LP"), caom_row(filters="F170LP;G235H")))
    assert not row["config_ok"]
    assert row["verdict"] == "NOT_DUPLICATE"
    assert "different configuration" in row["reason"]


def test_planned_observation_counts_and_is_flagged():
    rows = [caom_row(obs_id=f"jw01208016001_xx106_0000{i}_nirspec", calib_level=-1, t_exptime=500.0,
                     dataRights="") for i in (1, 2)]
    row = only_row(check(target(), *rows))
    assert row["planned"]
    assert row["calib_level"] == -1
    assert row["observation"] == "jw01208-o016"
    assert row["t_exptime"] == pytest.approx(1000.0)
    assert row["verdict"] == "DUPLICATE"
    assert "planned (not yet executed)" in row["reason"]


def test_msa_field_90_arcsec_from_fs_target_is_duplicate():
    ra, dec = offset(RA, DEC, 120 * u.deg, 90 * u.arcsec)
    msa = caom_row(obs_id="jw02736007001_03103_00001_nrs1", instrument_name="NIRSPEC/MSA",
                   calib_level=2, s_ra=ra, s_dec=dec)
    row = only_row(check(target(aperture="S200A1"), msa))
    assert row["mode"] == "MOS"
    assert row["separation"] == pytest.approx(90.0)
    assert row["radius"] == pytest.approx(MSA_CROSS_RADIUS.value)
    assert row["position_ok"] and row["mode_ok"] and row["config_ok"]
    assert row["verdict"] == "DUPLICATE"


def test_msa_observation_200_arcsec_from_msa_target_is_out_of_radius():
    ra, dec = offset(RA, DEC, 0 * u.deg, 200 * u.arcsec)
    msa = caom_row(obs_id="jw02736007001_03103_00001_nrs1", instrument_name="NIRSPEC/MSA",
                   calib_level=2, s_ra=ra, s_dec=dec)
    row = only_row(check(target(aperture="MSA"), msa))
    assert row["separation"] == pytest.approx(200.0)
    assert row["radius"] == pytest.approx(180.0)
    assert not row["position_ok"]
    # 200" is within 1.5 x 180", so it is a single soft failure: worth a look, never DUPLICATE
    assert row["verdict"] == "POSSIBLE"


def test_nircam_at_the_same_place_is_ignored():
    nircam = caom_row(obs_id="jw01345004001_03101_00001_nrcalong", instrument_name="NIRCAM/GRISM",
                      filters="F322W2;GRISMR", calib_level=2)
    row = only_row(check(target(), nircam))
    assert row["verdict"] == "NOT_DUPLICATE"
    assert np.ma.is_masked(row["observation"])
    assert not row["position_ok"]
    assert "no NIRSpec science spectroscopy" in row["reason"]


def test_ra_wrap_at_zero():
    result = check(target(ra=359.99, dec=0.0, aperture="MSA"), caom_row(
        instrument_name="NIRSPEC/MSA", obs_id="jw02736-o007_s06355_nirspec_f290lp-g395h",
        s_ra=0.01, s_dec=0.0))
    row = only_row(result)
    assert row["separation"] == pytest.approx(72.0, rel=1e-6)
    assert row["verdict"] == "DUPLICATE"


# --- grouping --------------------------------------------------------------------------------

def test_group_counts_nrs1_and_nrs2_of_one_exposure_once():
    rows = caom(
        caom_row(obs_id="jw02736007001_03103_00001_nrs1", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00001_nrs2", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00002_nrs1", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00002_nrs2", calib_level=2, t_exptime=700.0))
    groups = group_observations(rows)
    assert len(groups) == 1
    assert groups["observation"][0] == "jw02736-o007"
    assert groups["t_exptime"][0] == pytest.approx(1400.0)
    assert groups["exptime_from"][0] == "exposures"
    assert groups["n_rows"][0] == 4
    assert groups["n_exposures"][0] == 2


def test_group_prefers_level3_total_over_summed_level2():
    rows = caom(
        caom_row(obs_id="jw02736-o007_s06355_nirspec_f290lp-g395h", calib_level=3, t_exptime=2100.0),
        caom_row(obs_id="jw02736-o007_s06356_nirspec_f290lp-g395h", calib_level=3, t_exptime=1400.0),
        caom_row(obs_id="jw02736007001_03103_00001_nrs1", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00002_nrs1", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00003_nrs1", calib_level=2, t_exptime=700.0),
        caom_row(obs_id="jw02736007001_03103_00004_nrs1", calib_level=2, t_exptime=700.0))
    groups = group_observations(rows)
    assert len(groups) == 1
    assert groups["t_exptime"][0] == pytest.approx(2100.0)  # the max of the L3 rows, not 2800
    assert groups["exptime_from"][0] == "L3"
    assert groups["obs_id"][0] == "jw02736-o007_s06355_nirspec_f290lp-g395h"
    assert groups["calib_level"][0] == 3
    assert groups["n_rows"][0] == 6


def test_group_sums_planned_per_exposure_rows():
    rows = caom(*[caom_row(obs_id=f"jw01208016001_xx106_0000{i}_nirspec", calib_level=-1,
                           t_exptime=250.0, dataRights="") for i in range(1, 5)])
    groups = group_observations(rows)
    assert len(groups) == 1
    assert groups["t_exptime"][0] == pytest.approx(1000.0)
    assert groups["planned"][0]
    assert groups["n_exposures"][0] == 4


def test_group_separates_configurations_and_observations():
    rows = caom(
        caom_row(obs_id="jw01345004001_03101_00001_nrs1", calib_level=2, filters="F290LP;G395H"),
        caom_row(obs_id="jw01345004001_03103_00001_nrs1", calib_level=2, filters="G235H;F170LP"),
        caom_row(obs_id="jw01345005001_03101_00001_nrs1", calib_level=2, filters="F290LP;G395H"))
    groups = group_observations(rows)
    assert list(groups["observation"]) == ["jw01345-o004", "jw01345-o004", "jw01345-o005"]
    assert list(groups["grating"]) == ["G235H", "G395H", "G395H"]
    assert list(groups["filter"]) == ["F170LP", "F290LP", "F290LP"]


def test_group_drops_calibration_imaging_and_other_instruments():
    rows = caom(
        caom_row(intentType="CALIBRATION"),
        caom_row(instrument_name="NIRSPEC/IMAGE", filters="F140X;MIRROR"),
        caom_row(instrument_name="NIRSPEC", filters="F110W;MIRROR",
                 obs_id="jw01345004001_02101_00001_nrs1", calib_level=2),
        caom_row(instrument_name="NIRCAM/IMAGE", filters="F200W"),
        caom_row(obs_collection="HST"),
        caom_row(obs_id="jw01345-c1001_t001_nirspec_f290lp-g395h"),
        caom_row(intentType="Science"))
    groups = group_observations(rows)
    # the association product names no single observation: kept (and reported), not dropped
    assert list(groups["observation"]) == ["jw01345-c1001", "jw01345-o004"]
    assert "names no single observation" in groups["note"][0] and groups["note"][1] == ""
    assert groups.meta["dropped"] == {"not_nirspec": 2, "not_science": 1, "not_spectroscopy": 2}


def test_group_bare_nirspec_adopts_the_known_mode():
    rows = caom(
        caom_row(obs_id="jw01345-o004_t001_nirspec_f290lp-g395h-s200a1", instrument_name="NIRSPEC/SLIT"),
        caom_row(obs_id="jw01345004001_03101_00001_nrs1", instrument_name="NIRSPEC", calib_level=2))
    groups = group_observations(rows)
    assert len(groups) == 1
    assert groups["mode"][0] == "FS"


def test_group_mos_position_comes_from_the_pointing():
    ra, dec = offset(RA, DEC, 0 * u.deg, 100 * u.arcsec)
    rows = caom(
        caom_row(obs_id="jw02736-o007_s06355_nirspec_f290lp-g395h", instrument_name="NIRSPEC/MSA",
                 s_ra=ra, s_dec=dec),
        caom_row(obs_id="jw02736007001_03103_00001_nrs1", instrument_name="NIRSPEC/MSA", calib_level=2))
    groups = group_observations(rows)
    assert groups["obs_id"][0] == "jw02736-o007_s06355_nirspec_f290lp-g395h"
    assert groups["s_ra"][0] == pytest.approx(RA)
    assert groups["s_dec"][0] == pytest.approx(DEC)


def test_group_reports_most_restrictive_data_rights():
    rows = caom(caom_row(dataRights="PUBLIC"),
                caom_row(obs_id="jw01345004001_03101_00001_nrs1", calib_level=2,
                         dataRights="EXCLUSIVE_ACCESS"))
    assert group_observations(rows)["dataRights"][0] == "EXCLUSIVE_ACCESS"


def test_group_requires_columns():
    rows = caom(caom_row())
    rows.remove_column("filters")
    with pytest.raises(InvalidQueryError, match="lack the column 'filters'"):
        group_observations(rows)


def test_group_of_no_rows_is_an_empty_table():
    groups = group_observations(caom(caom_row())[:0])
    assert len(groups) == 0
    assert "t_exptime" in groups.colnames


# --- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("F290LP;G395H", ("G395H", "F290LP")),
    ("G395H;F290LP", ("G395H", "F290LP")),
    (" clear ; prism ", ("PRISM", "CLEAR")),
    ("F140X;MIRROR", (None, "F140X")),
    ("F200W", (None, "F200W")),
    ("", (None, None)),
    (None, (None, None)),
])
def test_parse_filters(value, expected):
    assert parse_filters(value) == expected


@pytest.mark.parametrize("obs_id, expected", [
    ("jw02736-o007_s06355_nirspec_f290lp-g395m", (2736, 7)),
    ("jw01538-o160_t002-s000000001_nirspec_f290lp-g395m-s1600a1-sub2048", (1538, 160)),
    ("jw01208016001_xx106_00006_nirspec", (1208, 16)),
    ("jw02736007001_03103_00001_nrs1", (2736, 7)),
    ("JW02736007001_03103_00001_NRS2", (2736, 7)),
    ("jw01345-c1001_t001_nirspec_f290lp-g395h", None),
    ("hst_12345_01_wfc3_ir", None),
    ("", None),
])
def test_parse_observation(obs_id, expected):
    assert parse_observation(obs_id) == expected


def test_nine_grating_filter_pairs():
    assert len(set(GRATING_FILTER_PAIRS)) == 9
    assert ("G395H", "F290LP") in GRATING_FILTER_PAIRS
    assert ("G395H", "F170LP") not in GRATING_FILTER_PAIRS


def test_apt_url():
    assert apt_url("01345") == "https://www.stsci.edu/jwst-program-info/program/?program=1345"


# --- rules object ----------------------------------------------------------------------------

def test_rules_radius_override_keeps_other_defaults():
    rules = DuplicationRules(radii={"ifu": 5 * u.arcsec, "S400A1": 0.1 * u.arcmin})
    assert rules.radius_for("IFU") == 5 * u.arcsec
    assert rules.radius_for("S400A1").to_value(u.arcsec) == pytest.approx(6.0)
    assert rules.radius_for("MSA") == 180 * u.arcsec
    assert DUPLICATION_RADII["IFU"] == 4 * u.arcsec  # the module default is untouched
    meta = rules.as_meta()
    assert meta["radii_arcsec"]["IFU"] == 5.0
    assert meta["exptime_ratio_min"] == 0.25 and meta["exptime_ratio_max"] == 4.0


def test_rules_override_changes_the_verdict():
    ra, dec = offset(RA, DEC, 0 * u.deg, 4.5 * u.arcsec)
    ifu = caom_row(instrument_name="NIRSPEC/IFU", s_ra=ra, s_dec=dec,
                   obs_id="jw01345-o004_t001_nirspec_g395h-f290lp")
    assert only_row(check(target(aperture="IFU"), ifu))["verdict"] == "POSSIBLE"
    rules = DuplicationRules(radii={"IFU": 5 * u.arcsec})
    result = check(target(aperture="IFU"), ifu, rules=rules)
    assert only_row(result)["verdict"] == "DUPLICATE"
    assert result.meta["radii_arcsec"]["IFU"] == 5.0


def test_rules_exptime_factor_override():
    rules = DuplicationRules(exptime_factor=2)
    row = only_row(check(target(), caom_row(t_exptime=3000.0), rules=rules))
    assert row["verdict"] == "POSSIBLE"
    assert "[0.5, 2]" in row["reason"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(radii={"S300A1": 3 * u.arcsec}), "Unknown aperture 'S300A1'.*accepted: MSA, IFU"),
    (dict(radii={"IFU": 4}), r"radii\['IFU'\] must be an angle Quantity"),
    (dict(radii={"IFU": 4 * u.s}), "must be an angle, got unit 's'"),
    (dict(radii={"IFU": -1 * u.arcsec}), "positive finite angle"),
    (dict(exptime_factor=0.5), "exptime_factor must be a finite number >= 1"),
    (dict(near_factor="wide"), "near_factor must be a number"),
    (dict(msa_cross_radius=180), "msa_cross_radius must be an angle Quantity"),
])
def test_rules_reject_bad_values(kwargs, message):
    with pytest.raises(InvalidQueryError, match=message):
        DuplicationRules(**kwargs)


def test_radius_for_unknown_aperture():
    with pytest.raises(InvalidQueryError, match="Unknown aperture 'S999'; accepted: MSA, IFU, S200A1"):
        DuplicationRules().radius_for("S999")


# --- evaluation details ----------------------------------------------------------------------

def test_result_columns_and_meta():
    result = check(target(), caom_row())
    for name in ("target", "observation", "obs_id", "proposal_id", "instrument_name", "grating",
                 "filter", "t_exptime", "exptime_ratio", "separation", "radius", "planned",
                 "position_ok", "config_ok", "exptime_ok", "verdict", "reason", "mode",
                 "calib_level", "dataRights", "apt_url", "s_ra", "s_dec", "n_rows"):
        assert name in result.colnames
    assert result["separation"].unit == u.arcsec
    assert result["radius"].unit == u.arcsec
    assert result["t_exptime"].unit == u.s
    assert result.meta["radii_arcsec"]["S200A1"] == 3.3
    assert result.meta["msa_cross_radius_arcsec"] == 180.0


def test_every_target_appears_in_order_and_rows_sorted_by_severity_then_separation():
    near_ra, near_dec = offset(RA, DEC, 0 * u.deg, 1 * u.arcsec)
    rows = [
        caom_row(obs_id="jw01111-o001_t001_nirspec_f170lp-g235h", filters="F170LP;G235H"),  # NOT
        caom_row(obs_id="jw01112-o001_t001_nirspec_f290lp-g395m", filters="F290LP;G395M",
                 s_ra=near_ra, s_dec=near_dec),  # POSSIBLE at 1"
        caom_row(obs_id="jw01113-o001_t001_nirspec_f290lp-g395h", t_exptime=5000.0),  # POSSIBLE at 0"
        caom_row(obs_id="jw01114-o001_t001_nirspec_f290lp-g395h", s_ra=near_ra, s_dec=near_dec),  # DUP
    ]
    targets = [target(name="Z-first", ra=10.0, dec=-5.0), target(name="A-second")]
    result = check(targets, *rows)
    assert list(result["target"]) == ["Z-first"] + ["A-second"] * 4
    second = result[result["target"] == "A-second"]
    assert list(second["verdict"]) == ["DUPLICATE", "POSSIBLE", "POSSIBLE", "NOT_DUPLICATE"]
    assert list(second["observation"]) == ["jw01114-o001", "jw01113-o001", "jw01112-o001", "jw01111-o001"]


def test_two_soft_failures_are_not_duplicate():
    row = only_row(check(target(), caom_row(filters="F290LP;G395M", t_exptime=10000.0)))
    assert row["verdict"] == "NOT_DUPLICATE"
    assert "2 soft failures" in row["reason"]


def test_fs_observation_for_an_msa_target_is_a_different_mode():
    row = only_row(check(target(aperture="MSA"), caom_row()))
    assert not row["mode_ok"] and not row["config_ok"]
    assert row["verdict"] == "NOT_DUPLICATE"
    assert "different mode" in row["reason"]


def test_msa_cross_check_does_not_apply_between_fs_and_ifu():
    ifu = caom_row(instrument_name="NIRSPEC/IFU", obs_id="jw01345-o004_t001_nirspec_g395h-f290lp")
    row = only_row(check(target(aperture="S200A1"), ifu))
    assert row["verdict"] == "NOT_DUPLICATE"
    assert row["radius"] == pytest.approx(3.3)


def test_beyond_the_near_factor_is_not_reported():
    ra, dec = offset(RA, DEC, 0 * u.deg, 1.6 * 3.3 * u.arcsec)
    row = only_row(check(target(), caom_row(s_ra=ra, s_dec=dec)))
    assert np.ma.is_masked(row["observation"])
    assert row["verdict"] == "NOT_DUPLICATE"


def test_bare_nirspec_of_unknown_mode_is_possible():
    bare = caom_row(instrument_name="NIRSPEC", obs_id="jw01208016001_xx106_00006_nirspec", calib_level=-1)
    row = only_row(check(target(), bare))
    assert row["mode"] == "UNKNOWN"
    assert row["verdict"] == "POSSIBLE"
    assert "mode unknown" in row["reason"]


def test_unknown_exposure_time_is_a_soft_failure():
    row = only_row(check(target(), caom_row(t_exptime=np.nan)))
    assert not row["exptime_ok"]
    assert np.isnan(row["exptime_ratio"])
    assert row["verdict"] == "POSSIBLE"


def test_evaluate_accepts_raw_caom_rows():
    result = evaluate([target()], caom(caom_row()))
    assert only_row(result)["verdict"] == "DUPLICATE"


def test_evaluate_without_any_groups():
    result = evaluate([target(name="a"), target(name="b")], group_observations(caom(caom_row())[:0]))
    assert list(result["verdict"]) == ["NOT_DUPLICATE", "NOT_DUPLICATE"]
    assert list(result["target"]) == ["a", "b"]


def test_evaluate_validates_targets_before_anything():
    with pytest.raises(InvalidQueryError, match="valid filters for G395H: F290LP"):
        evaluate([target(filter="F170LP")], caom(caom_row()))


def test_result_round_trips_through_ecsv(tmp_path):
    result = check([target(name="a"), target(name="b", ra=10.0)], caom_row())
    path = tmp_path / "result.ecsv"
    result.write(path)
    back = Table.read(path)
    assert list(back["verdict"]) == ["DUPLICATE", "NOT_DUPLICATE"]
    assert back.meta["radii_arcsec"]["MSA"] == 180.0
