"""
BOTS (bright-object time series) and rows the check cannot classify: nothing NIRSpec is dropped.

CAOM rows are built by hand in the shape MAST returns them (issue 10 item 4, issue 11 BOTS).
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.duplication import (DuplicationRules, evaluate, group_observations,
                                            read_targets)
from astroquery_nirspec.duplication.search import search_radius

RA, DEC = 150.0, 2.0
NAMES = ("obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec", "calib_level",
         "intentType", "obs_collection", "dataproduct_type")
BOTS_L3 = "jw02372-o001_t001_nirspec_f290lp-g395h-s1600a1-sub2048"


def row(obs_id=BOTS_L3, instrument_name="NIRSPEC/BOTS", filters="F290LP;G395H", t_exptime=1000.0,
        s_ra=RA, s_dec=DEC, calib_level=3, dataproduct_type="timeseries"):
    return (obs_id, instrument_name, filters, t_exptime, s_ra, s_dec, calib_level, "science", "JWST",
            dataproduct_type)


def caom(*rows):
    return Table(rows=list(rows), names=NAMES)


def target(**kwargs):
    values = dict(name="WASP-39b", ra=RA, dec=DEC, aperture="S1600A1", mode="BOTS",
                  grating="G395H", filter="F290LP", exposure_time=1000.0)
    values.update(kwargs)
    return values


def only(report):
    assert len(report) == 1, report
    return report[0]


# --- CAOM rows reach the check -----------------------------------------------------------------

@pytest.mark.parametrize("instrument, product", [("NIRSPEC/BOTS", "timeseries"),
                                                 ("NIRSPEC/SLIT", "timeseries")])
def test_bots_rows_are_grouped_as_bots(instrument, product):
    groups = group_observations(caom(row(instrument_name=instrument, dataproduct_type=product)))
    assert list(groups["mode"]) == ["BOTS"]
    assert groups["aperture"][0] == "S1600A1"
    assert groups["t_exptime"][0] == pytest.approx(1000.0)


def test_slit_spectra_stay_fixed_slit():
    groups = group_observations(caom(row(instrument_name="NIRSPEC/SLIT", dataproduct_type="spectrum")))
    assert list(groups["mode"]) == ["FS"]


def test_unrecognised_nirspec_name_is_judged_and_named():
    rows = caom(row(instrument_name="NIRSPEC/NEWMODE", dataproduct_type="spectrum"))
    report = evaluate([target(mode="", aperture="S200A1")], group_observations(rows))
    result = only(report)
    assert result["mode"] == "UNKNOWN"
    assert result["verdict"] == "POSSIBLE"
    assert "instrument_name NIRSPEC/NEWMODE not recognised" in result["reason"]


def test_nirspec_row_without_filters_is_reported():
    rows = caom(row(instrument_name="NIRSPEC/SLIT", filters=None, dataproduct_type="spectrum"))
    rows["filters"] = MaskedColumn(["x"], mask=[True])
    result = only(evaluate([target(mode="FS", aperture="S1600A1")], group_observations(rows)))
    assert not np.ma.is_masked(result["observation"])
    assert result["verdict"] == "POSSIBLE"
    assert "configuration unknown" in result["reason"]


def test_association_product_is_reported():
    rows = caom(row(obs_id="jw02372-c1001_t001_nirspec_f290lp-g395h-s1600a1"))
    result = only(evaluate([target()], group_observations(rows)))
    assert result["observation"] == "jw02372-c1001"
    assert result["verdict"] == "DUPLICATE"
    assert "names no single observation" in result["reason"]


def test_bots_observation_near_a_slit_target_is_reported():
    result = only(evaluate([target(mode=None, aperture="S200A1")], group_observations(caom(row()))))
    assert result["mode"] == "BOTS"
    assert result["verdict"] == "NOT_DUPLICATE"
    assert "different mode" in result["reason"]


# --- BOTS targets ------------------------------------------------------------------------------

def test_mode_follows_the_aperture_when_absent_or_empty():
    rows = [target(name="a", mode=None), target(name="b", mode=""), target(name="c", mode="bots")]
    assert list(read_targets(rows)["mode"]) == ["FS", "FS", "BOTS"]
    without = [{k: v for k, v in target(aperture=a).items() if k != "mode"} for a in ("MSA", "IFU")]
    without[1]["name"] = "other"
    assert list(read_targets(without)["mode"]) == ["MOS", "IFU"]


@pytest.mark.parametrize("mode, aperture, message", [
    ("BOTS", "S200A1", "mode BOTS cannot use aperture S200A1; accepted for BOTS: S1600A1"),
    ("FS", "MSA", "mode FS cannot use aperture MSA"),
    ("TSO", "S1600A1", "unknown mode 'TSO'; accepted: MOS, IFU, FS, BOTS"),
])
def test_bad_modes_are_refused(mode, aperture, message):
    with pytest.raises(InvalidQueryError, match=message):
        read_targets([target(mode=mode, aperture=aperture)])


def test_bots_needs_a_valid_pair():
    with pytest.raises(InvalidQueryError, match="G395H/F170LP"):
        read_targets([target(filter="F170LP")])


def test_bots_target_radius_is_1_6_arcsec():
    targets = read_targets([target()])
    assert search_radius(targets, DuplicationRules()).to_value(u.arcsec)[0] == pytest.approx(2.4)
    result = only(evaluate(targets, group_observations(caom(row()))))
    assert result["radius"] == pytest.approx(1.6)


def test_bots_against_bots_follows_the_normal_rules():
    result = only(evaluate([target()], group_observations(caom(row(t_exptime=3000.0)))))
    assert result["verdict"] == "DUPLICATE"
    assert result["mode_ok"] and result["config_ok"] and result["exptime_ok"]
    assert "same mode (BOTS)" in result["reason"]
    far = only(evaluate([target()], group_observations(caom(row(t_exptime=5000.0)))))
    assert far["verdict"] == "POSSIBLE"


@pytest.mark.parametrize("fs_obs_id, slit_known", [
    ("jw01345-o004_t001_nirspec_f290lp-g395h-s1600a1", True),
    ("jw01345004001_03101_00001_nrs1", False),             # the slit is not in the obs_id
])
def test_bots_target_against_fs_through_s1600a1_is_possible(fs_obs_id, slit_known):
    fs = row(obs_id=fs_obs_id, instrument_name="NIRSPEC/SLIT", dataproduct_type="spectrum",
             calib_level=3 if slit_known else 2)
    result = only(evaluate([target()], group_observations(caom(fs))))
    assert result["verdict"] == "POSSIBLE"
    assert not result["mode_ok"]
    assert "one soft failure (same aperture and elements, different template)" in result["reason"]
    assert ("slit is not recorded" in result["reason"]) is not slit_known


def test_bots_target_against_fs_through_another_slit_is_not_duplicate():
    fs = row(obs_id="jw01345-o004_t001_nirspec_f290lp-g395h-s200a1", instrument_name="NIRSPEC/SLIT",
             dataproduct_type="spectrum")
    result = only(evaluate([target()], group_observations(caom(fs))))
    assert result["verdict"] == "NOT_DUPLICATE"
    assert "different mode" in result["reason"]


def test_fs_target_through_s1600a1_against_bots_is_possible():
    result = only(evaluate([target(mode="FS")], group_observations(caom(row()))))
    assert result["verdict"] == "POSSIBLE"
    assert "same aperture and elements, different template" in result["reason"]
    other_slit = evaluate([target(mode="FS", aperture="S200A1")], group_observations(caom(row())))
    assert only(other_slit)["verdict"] == "NOT_DUPLICATE"


def test_bots_against_fs_is_at_most_possible():
    fs = row(obs_id="jw01345-o004_t001_nirspec_f290lp-g395h-s1600a1", instrument_name="NIRSPEC/SLIT",
             dataproduct_type="spectrum", t_exptime=10000.0)
    result = only(evaluate([target()], group_observations(caom(fs))))
    assert result["verdict"] == "NOT_DUPLICATE"
    assert "2 soft failures" in result["reason"]


def test_source_radius_is_a_rule():
    assert DuplicationRules().source_radius == 0.5 * u.arcsec
    rules = DuplicationRules(source_radius=1 * u.arcsec)
    assert rules.source_radius.unit == u.arcsec and rules.as_meta()["source_radius_arcsec"] == 1.0
    with pytest.raises(InvalidQueryError, match="source_radius"):
        DuplicationRules(source_radius=0.5)


def test_masked_mode_in_a_table_takes_the_aperture():
    table = Table(rows=[tuple(target(name=n).values()) for n in ("a", "b")], names=list(target()))
    table["mode"] = MaskedColumn(["BOTS", ""], mask=[False, True])
    assert list(read_targets(table)["mode"]) == ["BOTS", "FS"]
