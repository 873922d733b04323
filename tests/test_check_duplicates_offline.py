"""check_duplicates without a network: requests per field and the report from a stored CAOM reply."""
import json
import urllib.parse
from pathlib import Path

import pytest
import astropy.units as u
from astroquery.exceptions import InvalidQueryError
from astroquery.utils.mocks import MockResponse

from astroquery_nirspec import NirspecMast, NirspecMastClass
from astroquery_nirspec.duplication import DuplicationRules

DATA = Path(__file__).parent / "data"

TARGET = {"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "S200A1",
          "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}


@pytest.fixture
def sent(monkeypatch):
    log = []

    def fake(self, method, url, data=None, **kwargs):
        log.append(json.loads(urllib.parse.unquote(data[len("request="):])))
        return MockResponse(content=(DATA / "caom_field_goods_s.json").read_bytes(), url=url)
    monkeypatch.setattr(NirspecMastClass, "_request", fake)
    return log


def test_one_request_per_field_with_the_right_radius():
    targets = [dict(TARGET, name=f"t{i}", ra=53.16 + i * 1e-3) for i in range(50)]
    targets.append(dict(TARGET, name="far", ra=150.1, dec=2.2))
    requests = NirspecMast.check_duplicates(targets, get_query_payload=True)
    assert len(requests) == 2
    assert {r["service"] for r in requests} == {"Mast.Caom.Filtered.Position"}
    ra, dec, radius = map(float, requests[1]["params"]["position"].split(","))
    assert (ra, dec) == (150.1, 2.2)
    assert radius == pytest.approx(180 * 1.5 / 3600)       # FS target: MSA cross-check x near factor
    assert {"paramName": "obs_collection", "values": ["JWST"]} in requests[0]["params"]["filters"]


def test_report_verdicts(sent):
    report = NirspecMast.check_duplicates([TARGET])
    assert len(sent) == 1
    fs = report[report["proposal_id"] == "1345"]
    assert len(fs) == 1
    assert fs["verdict"][0] == "DUPLICATE" and fs["observation"][0] == "jw01345-o004"
    assert fs["t_exptime"][0] == pytest.approx(3000)          # the level-3 total, not L2 sums
    assert fs["exptime_ratio"][0] == pytest.approx(3.0)
    assert fs["obsid"][0] == "1001"
    msa = report[report["proposal_id"] == "2000"]
    assert len(msa) == 1 and msa["planned"][0]
    assert msa["verdict"][0] == "DUPLICATE"                   # MOS within 180" of an FS target
    assert msa["t_exptime"][0] == pytest.approx(1200)
    assert "1111" not in list(report["proposal_id"])         # calibration ignored
    assert report.meta["requests"] == 1


def test_bad_targets_fail_before_any_request(sent):
    with pytest.raises(InvalidQueryError, match="grating"):
        NirspecMast.check_duplicates([dict(TARGET, grating="G395X")])
    with pytest.raises(InvalidQueryError, match="DuplicationRules"):
        NirspecMast.check_duplicates([TARGET], rules={"IFU": 5 * u.arcsec})
    assert sent == []


def test_overridden_radius_reaches_the_request():
    rules = DuplicationRules(msa_cross_radius=60 * u.arcsec, near_factor=1.0)
    request = NirspecMast.check_duplicates([TARGET], rules=rules, get_query_payload=True)[0]
    assert float(request["params"]["position"].split(",")[2]) == pytest.approx(60 / 3600)
