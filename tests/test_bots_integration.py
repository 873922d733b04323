"""
Bright-object time series end to end through the local MAST server (issues 10 and 11):
``NIRSPEC/BOTS`` rows reach the check, a BOTS target against a BOTS observation follows the
normal rules, and BOTS against fixed-slit S1600A1 data is at most POSSIBLE.
"""
import pytest

from astroquery_nirspec import NirspecMast
from mast_double import caom_row, make_archive

WASP39 = {"name": "WASP-39", "ra": 217.32667, "dec": -3.44450, "aperture": "S1600A1",
          "grating": "G395H", "filter": "F290LP", "exposure_time": 30000.0}


def _observation(instrument, **extra):
    return caom_row(proposal_id="1366", instrument_name=instrument, filters="F290LP;G395H",
                    calib_level=3, s_ra=217.32668, s_dec=-3.44451, t_exptime=28000.0,
                    intentType="science", **extra)


@pytest.fixture
def check(local_mast):
    def run(rows, target):
        local_mast(make_archive(caom_rows=rows), pagesize=50000, timeout=30.0)()
        report = NirspecMast.check_duplicates([target], msa_sources=False)
        return report[report["proposal_id"] == "1366"]
    return run


@pytest.mark.parametrize("extra", [{}, {"dataproduct_type": "timeseries"}])
def test_a_bots_target_against_a_bots_observation_is_a_duplicate(check, extra):
    instrument = "NIRSPEC/SLIT" if extra else "NIRSPEC/BOTS"
    rows = check([_observation(instrument, **extra)], dict(WASP39, mode="BOTS"))
    assert len(rows) == 1 and rows["mode"][0] == "BOTS"
    assert rows["verdict"][0] == "DUPLICATE"


def test_bots_against_fixed_slit_s1600a1_is_possible(check):
    rows = check([_observation("NIRSPEC/BOTS")], dict(WASP39, mode="FS"))
    assert len(rows) == 1 and rows["verdict"][0] == "POSSIBLE"
    assert "different template" in rows["reason"][0]
