"""
BOTS (bright-object time series) and rows the check cannot classify: nothing NIRSpec is dropped.

CAOM rows are built by hand in the shape MAST returns them (issue 10 item 4, issue 11 BOTS).
"""
import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from astroquery_nirspec.duplication import evaluate, group_observations

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
    values = dict(name="WASP-39b", ra=RA, dec=DEC, aperture="S1600A1",
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
    report = evaluate([target(aperture="S200A1")], group_observations(rows))
    result = only(report)
    assert result["mode"] == "UNKNOWN"
    assert result["verdict"] == "POSSIBLE"
    assert "instrument_name NIRSPEC/NEWMODE not recognised" in result["reason"]


def test_nirspec_row_without_filters_is_reported():
    rows = caom(row(instrument_name="NIRSPEC/SLIT", filters=None, dataproduct_type="spectrum"))
    rows["filters"] = MaskedColumn(["x"], mask=[True])
    result = only(evaluate([target()], group_observations(rows)))
    assert not np.ma.is_masked(result["observation"])
    assert result["verdict"] == "POSSIBLE"
    assert "configuration unknown" in result["reason"]


def test_association_product_is_reported():
    rows = caom(row(obs_id="jw02372-c1001_t001_nirspec_f290lp-g395h-s1600a1"))
    rows["instrument_name"] = "NIRSPEC/SLIT"
    rows["dataproduct_type"] = "spectrum"
    result = only(evaluate([target()], group_observations(rows)))
    assert result["observation"] == "jw02372-c1001"
    assert result["verdict"] == "DUPLICATE"
    assert "names no single observation" in result["reason"]


def test_bots_observation_near_a_slit_target_is_reported():
    result = only(evaluate([target(aperture="S200A1")], group_observations(caom(row()))))
    assert result["mode"] == "BOTS"
    assert result["verdict"] == "NOT_DUPLICATE"
    assert "different mode" in result["reason"]
