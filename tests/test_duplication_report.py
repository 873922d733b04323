"""build_report: the report of a duplicate check from parsed CAOM replies (pure, no HTTP)."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
from astroquery.utils.mocks import MockResponse

from astroquery_nirspec import NirspecMast, NirspecMastClass
from astroquery_nirspec.duplication import DuplicationRules, read_targets
from astroquery_nirspec.duplication.report import build_report
from astroquery_nirspec.duplication.search import field_requests

DATA = Path(__file__).parent / "data"
TARGET = {"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "S200A1",
          "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}
FAR = dict(TARGET, name="far", ra=150.1, dec=2.2)


def reply():
    return json.loads((DATA / "caom_field_goods_s.json").read_text())


def test_report_of_one_field():
    report = build_report([reply()], [TARGET], DuplicationRules(), np.array([0]), 1)
    assert report.colnames[:4] == ["target", "target_ra", "target_dec", "field"]
    assert report.colnames[-2:] == ["obsid", "s_region"]
    fs = report[report["proposal_id"] == "1345"]
    assert fs["verdict"][0] == "DUPLICATE" and fs["obsid"][0] == "1001"
    assert fs["s_region"][0].startswith(("POLYGON", "CIRCLE"))
    assert report["target_ra"].unit == "deg" and report["target_ra"][0] == pytest.approx(53.16)
    assert set(report["field"]) == {0}
    assert report.meta["service"] == "Mast.Caom.Filtered.Position"
    assert report.meta["requests"] == 1
    assert report.meta["dropped"]["not_science"] == 1                # the calibration row
    assert report.meta["radii_arcsec"]["S200A1"] == pytest.approx(3.3)


def test_targets_of_two_fields_keep_their_field_and_position():
    targets = read_targets([TARGET, FAR])
    requests, labels = field_requests(targets, DuplicationRules(), pagesize=50000)
    report = build_report([reply()], targets, None, labels, len(requests))
    far = report[report["target"] == "far"]
    assert len(far) == 1 and far["verdict"][0] == "NOT_DUPLICATE"
    assert far["field"][0] == 1 and far["target_ra"][0] == pytest.approx(150.1)
    assert np.ma.is_masked(far["obsid"][0]) and np.ma.is_masked(far["s_region"][0])
    assert report.meta["requests"] == 2


def test_no_reply_rows_give_one_row_per_target():
    empty = {"fields": reply()["fields"], "data": []}
    report = build_report([empty], [TARGET, FAR], None, [0, 1], 2)
    assert list(report["target"]) == ["SN1", "far"]
    assert list(report["verdict"]) == ["NOT_DUPLICATE"] * 2
    assert report["obsid"].mask.all()
    assert build_report([{}], [TARGET], None, [0], 1)["verdict"][0] == "NOT_DUPLICATE"


def test_pages_repeating_rows_count_once():
    page = reply()
    again = copy.deepcopy(page)
    for row in again["data"]:
        row["distance"] = 99.0
    once = build_report([page], [TARGET], None, [0], 1)
    twice = build_report([page, again], [TARGET], None, [0], 1)
    assert list(twice["n_rows"]) == list(once["n_rows"])


def test_same_report_as_check_duplicates(monkeypatch):
    """check_duplicates reports exactly what build_report makes of the same replies."""
    def fake(self, method, url, data=None, **kwargs):
        return MockResponse(content=(DATA / "caom_field_goods_s.json").read_bytes(), url=url)
    monkeypatch.setattr(NirspecMastClass, "_request", fake)
    targets = [TARGET, dict(TARGET, name="SN2", grating="G395M")]
    expected = NirspecMast.check_duplicates(targets, msa_sources=False)
    requests = NirspecMast.check_duplicates(targets, get_query_payload=True)
    labels = field_requests(read_targets(targets), DuplicationRules(), pagesize=50000)[1]
    report = build_report([reply()], targets, DuplicationRules(), labels, len(requests))
    assert report.colnames == expected.colnames
    for name in report.colnames:
        assert report[name].tolist() == expected[name].tolist(), name
    assert dict(report.meta) == dict(expected.meta)


def test_obsid_and_region_come_from_the_first_row_of_each_obs_id():
    # a masked CAOM obs_id matches no report row (not even one reading '--')
    from astropy.table import MaskedColumn, Table

    from astroquery_nirspec.duplication.report import _add_row_columns

    rows = Table({"obs_id": MaskedColumn(["b", "a", "b", "x", "c"], mask=[0, 0, 0, 1, 0]),
                  "obsid": MaskedColumn(["1", "2", "3", "4", "5"], mask=[0, 0, 0, 0, 1]),
                  "s_region": ["B1", "A", "B2", "X", "C"]})
    report = Table({"obs_id": MaskedColumn(["a", "b", "c", "zz", "b", "--"], mask=[0, 0, 0, 0, 1, 0])})
    _add_row_columns(report, rows)
    assert report["obsid"].tolist() == ["2", "1", None, None, None, None]
    assert report["s_region"].tolist() == ["A", "B1", "C", None, None, None]
    assert report["s_region"].dtype == object and report["obsid"].dtype.kind == "U"
