"""
Against the live MAST (``python -m pytest --remote-data``).

Selections are kept small and are chosen from public programmes that will stay in
the archive: 1345 (CEERS, NIRSpec MOS) and 2736 (ERO SMACS J0723, MOS with
G395M/F290LP). Assertions are about what must hold in any future state of the
archive (present fields, non-zero counts, consistency between methods), never about
exact numbers of files.
"""
import contextlib

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord

from astroquery_nirspec import NirspecMast, conf

pytestmark = pytest.mark.remote_data

#: A small, stable selection: ERO SMACS 0723 MOS cal files of one detector.
SMALL = {"program": 2736, "exp_type": "NRS_MSASPEC", "grating": "G395M", "filter": "F290LP",
         "detector": "NRS1", "filename": "*_cal.fits"}


@pytest.fixture(autouse=True)
def live_mast():
    NirspecMast.logout()
    with contextlib.ExitStack() as stack:
        for name, value in (("server", "https://mast.stsci.edu"), ("timeout", 600.0), ("pagesize", 50000),
                            ("row_limit", -1), ("max_retries", 3), ("retry_backoff", 1.0),
                            ("progress", False)):
            stack.enter_context(conf.set_temp(name, value))
        yield


@pytest.fixture(scope="module")
def small_selection():
    with conf.set_temp("server", "https://mast.stsci.edu"), conf.set_temp("row_limit", -1):
        return NirspecMast.query_filtered(cache=False, **SMALL)


def test_a_real_reply_has_the_fields_used(small_selection):
    table = small_selection
    assert len(table) > 0
    for name in ("filename", "grating", "filter", "exp_type", "effexptm", "targ_ra", "targ_dec",
                 "dataURI", "program", "observtn", "fileSetName"):
        assert name in table.colnames, name
    assert set(table["grating"]) == {"G395M"}
    assert set(table["filter"]) == {"F290LP"}
    assert set(table["exp_type"]) == {"NRS_MSASPEC"}
    assert set(int(p) for p in table["program"]) == {2736}
    assert all(str(f).endswith("_cal.fits") for f in table["filename"])
    assert all(str(uri).startswith("mast:JWST/product/") for uri in table["dataURI"])
    assert table["effexptm"].unit == u.s
    assert np.all((table["targ_ra"] >= 0) & (table["targ_ra"] < 360))


@pytest.mark.parametrize("filters", [
    {"program": 1345, "exp_type": "NRS_MSASPEC"},                                      # CEERS MOS
    {"program": 2736, "exp_type": "NRS_MSASPEC", "grating": "G395M", "filter": "F290LP"},  # ERO SMACS0723
])
def test_known_public_programmes_are_found(filters):
    assert NirspecMast.query_filtered_count(cache=False, **filters) > 0


def test_count_equals_the_number_of_rows(small_selection):
    assert NirspecMast.query_filtered_count(cache=False, **SMALL) == len(small_selection)


def test_gratings_of_fixed_slit_data():
    values = NirspecMast.get_parameter_values("grating", exp_type="NRS_FIXEDSLIT", cache=False)
    gratings = {str(g) for g in values["grating"].filled("")}
    assert gratings & {"G395H", "G140H"}
    assert np.all(np.asarray(values["count"]) > 0)


def test_a_cone_near_a_known_target(small_selection):
    row = small_selection[0]
    center = SkyCoord(float(row["targ_ra"]) * u.deg, float(row["targ_dec"]) * u.deg)
    radius = 10 * u.arcsec
    table = NirspecMast.query_filtered(["filename", "targ_ra", "targ_dec"], coordinates=center,
                                       radius=radius, program=2736, cache=False)
    assert len(table) > 0
    assert str(row["filename"]) in set(str(f) for f in table["filename"])
    assert np.all(u.Quantity(table["separation"]) <= radius)
    positions = SkyCoord(np.asarray(table["targ_ra"]) * u.deg, np.asarray(table["targ_dec"]) * u.deg)
    assert np.all(positions.separation(center) <= radius)


def test_a_name_is_resolved_by_mast():
    coord = NirspecMast.resolve_object("NGC 1068", cache=False)
    assert coord.separation(SkyCoord(40.6696 * u.deg, -0.0133 * u.deg)) < 10 * u.arcsec


def test_a_programme_s_own_target_is_its_own_duplicate(small_selection):
    row = small_selection[0]
    same_observation = small_selection[small_selection["observtn"] == row["observtn"]]
    # the observation's total: one effective exposure time per exposure (file set)
    per_exposure = {}
    for name, exptime in zip(same_observation["fileSetName"], same_observation["effexptm"].filled(np.nan)):
        if np.isfinite(exptime):
            per_exposure[str(name)] = float(exptime)
    total = sum(per_exposure.values())
    assert total > 0
    targets = [{"name": "SMACS0723-self", "ra": float(row["targ_ra"]), "dec": float(row["targ_dec"]),
                "aperture": "MSA", "grating": "G395M", "filter": "F290LP", "exposure_time": total}]
    report = NirspecMast.check_duplicates(targets, cache=False)
    assert len(report) > 0
    own = [r for r in report if not np.ma.is_masked(r["proposal_id"]) and str(r["proposal_id"]).strip()
           and int(str(r["proposal_id"]).strip()) == 2736]
    assert own, "programme 2736 was not found near its own target"
    assert "DUPLICATE" in {str(r["verdict"]) for r in own}
