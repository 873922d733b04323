"""NirspecMast without a network: payloads (Simbad style) and parsing of stored replies."""
import json
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astroquery.exceptions import (InvalidQueryError, MaxResultsWarning, NoResultsWarning,
                                   RemoteServiceError, ResolverError)
from astroquery.utils.mocks import MockResponse

from astroquery_nirspec import NirspecMast, NirspecMastClass, conf

DATA = Path(__file__).parent / "data"


class FakeMast:
    """Answers invoke requests from fixture files, in order, and records them."""

    def __init__(self, *names):
        self.replies = [(DATA / n).read_bytes() for n in names]
        self.requests = []
        self.urls = []

    def __call__(self, method, url, data=None, **kwargs):
        self.urls.append(url)
        self.requests.append(json.loads(urllib.parse.unquote(data[len("request="):])))
        return MockResponse(content=self.replies.pop(0), url=url)


@pytest.fixture
def fake(monkeypatch):
    def install(*names):
        fake = FakeMast(*names)
        monkeypatch.setattr(NirspecMastClass, "_request", lambda self, *a, **k: fake(*a, **k))
        return fake
    return install


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a request was sent")
    monkeypatch.setattr(NirspecMastClass, "_request", refuse)


def test_payload_of_the_documented_example(no_network):
    payload = NirspecMast.query_filtered(exp_type="NRS_IFU", grating="G395H", filter="F290LP",
                                         effexptm=(1000, None), filename="*_s3d.fits",
                                         get_query_payload=True)
    assert payload["service"] == "Mast.Jwst.Filtered.Nirspec"
    assert payload["format"] == "json" and payload["page"] == 1 and payload["pagesize"] == conf.pagesize
    assert payload["params"]["columns"] == "*"
    assert payload["params"]["filters"] == [
        {"paramName": "exp_type", "values": ["NRS_IFU"]},
        {"paramName": "grating", "values": ["G395H"]},
        {"paramName": "filter", "values": ["F290LP"]},
        {"paramName": "effexptm", "values": [{"min": 1000, "max": 1e300}]},
        {"paramName": "filename", "values": [], "freeText": "%[_]s3d.fits"}]
    json.dumps(payload)                              # JSON-ready


def test_payload_columns_pagesize_and_count(no_network):
    p = NirspecMast.query_filtered("filename, targname", pagesize=1000, page=3,
                                   program=1345, get_query_payload=True)
    assert p["params"]["columns"] == "filename, targname"
    assert (p["pagesize"], p["page"]) == (1000, 3)
    c = NirspecMast.query_filtered_count(exp_type="NRS_MSASPEC", program="1345", get_query_payload=True)
    assert c["params"] == {"columns": "COUNT_BIG(*)", "filters": [
        {"paramName": "exp_type", "values": ["NRS_MSASPEC"]}, {"paramName": "program", "values": [1345]}]}
    v = NirspecMast.get_parameter_values("GRATING", exp_type="NRS_FIXEDSLIT", get_query_payload=True)
    assert v["params"]["columns"] == "grating"


def test_positional_payload_is_a_box_with_cos_dec(no_network):
    p = NirspecMast.query_filtered(coordinates="53.16 -27.79", radius=2 * u.arcmin, grating="PRISM",
                                   columns=["filename"], get_query_payload=True)
    filters = {f["paramName"]: f["values"][0] for f in p["params"]["filters"]}
    half_ra = (filters["targ_ra"]["max"] - filters["targ_ra"]["min"]) / 2
    assert half_ra * 3600 == pytest.approx(120 / np.cos(np.radians(27.79)), rel=1e-4)
    assert p["params"]["columns"] == "filename, targ_ra, targ_dec"


def test_server_setting_is_read_at_call_time(fake):
    f = fake("nirspec_three_rows.json")
    with conf.set_temp("server", "http://127.0.0.1:8123"):
        NirspecMast.query_filtered(program=5716)
    assert f.urls == ["http://127.0.0.1:8123/api/v0/invoke"]


@pytest.mark.parametrize("kwargs, message", [
    ({"gratng": "G395H"}, "Unknown field 'gratng'.*Did you mean 'grating'"),
    ({"coordinates": "10 20", "radius": 5}, "bare number has no unit"),
    ({"radius": 5 * u.arcsec}, "radius= was given without coordinates="),
    ({"coordinates": "10 20", "radius": 1 * u.arcsec, "targ_ra": (1, 2)}, "not both"),
    ({"columns": "filename,gratin"}, "Unknown field 'gratin'"),
    ({"pagesize": 0}, "Invalid pagesize 0"),
    ({"page": 0}, "Invalid page 0"),
    ({"row_limit": 0}, "Invalid row_limit 0"),
    ({"effexptm": (5, 1)}, "inverted"),
    ({"exp_type": []}, "empty"),
])
def test_bad_input_never_reaches_the_network(no_network, kwargs, message):
    with pytest.raises(InvalidQueryError, match=message):
        NirspecMast.query_filtered(**kwargs)


def test_query_builds_a_table_from_all_pages(fake):
    f = fake("nirspec_page1_of2.json", "nirspec_page2_of2.json")
    t = NirspecMast.query_filtered(program=[5716, 9180, 4713], pagesize=2)
    assert isinstance(t, Table) and len(t) == 3
    assert [r["page"] for r in f.requests] == [1, 2]
    assert f.requests[0]["cacheBreaker"] == f.requests[1]["cacheBreaker"]
    assert list(t["program"]) == [5716, 9180, 4713]
    assert t.meta["service"] == "Mast.Jwst.Filtered.Nirspec"


def test_async_returns_one_raw_response_per_page(fake):
    fake("nirspec_page1_of2.json", "nirspec_page2_of2.json")
    responses = NirspecMast.query_filtered_async(program=5716, pagesize=2)
    assert isinstance(responses, list) and len(responses) == 2
    assert all(r.status_code == 200 for r in responses)


def test_cone_cut_adds_separation(fake):
    fake("nirspec_three_rows.json")
    center = SkyCoord(14.45368 * u.deg, 30.35245 * u.deg)
    t = NirspecMast.query_filtered(coordinates=center, radius=10 * u.arcsec, columns="filename")
    assert list(t["filename"]) == ["jw05716001001_02101_00001_nrs1_cal.fits"]
    assert t.colnames[-1] == "separation"
    assert t["separation"][0] == pytest.approx(0, abs=1e-6)


def test_count(fake):
    fake("count_599.json")
    assert NirspecMast.query_filtered_count(program=1345) == 599


def test_parameter_values_most_frequent_first(fake):
    fake("nirspec_three_rows.json")
    t = NirspecMast.get_parameter_values("filter")
    assert t.colnames == ["filter", "count"]
    assert list(t["filter"]) == ["F070LP", "F170LP"] and list(t["count"]) == [2, 1]


def test_parameter_values_counts_nulls(fake):
    fake("nirspec_three_rows.json")
    t = NirspecMast.get_parameter_values("fxd_slit")
    assert int(t["count"].sum()) == 3
    assert t["fxd_slit"].mask.tolist().count(True) == 1


def test_no_rows_warns_and_keeps_columns(fake):
    fake("nirspec_empty.json")
    with pytest.warns(NoResultsWarning):
        t = NirspecMast.query_filtered(program=1)
    assert len(t) == 0 and "grating" in t.colnames


def test_row_limit_warns(fake):
    fake("nirspec_three_rows.json")
    with pytest.warns(MaxResultsWarning, match="first 2 of 3 rows"):
        t = NirspecMast.query_filtered(program=5716, row_limit=2)
    assert len(t) == 2


def test_error_reply_raises_with_the_server_message(fake):
    fake("error_invalid_column.json")
    with pytest.raises(RemoteServiceError, match="Invalid column name 'gratng'"):
        NirspecMast.query_filtered(program=5716)


def test_name_lookup(fake):
    f = fake("name_lookup_ngc1068.json", "nirspec_empty.json")
    with pytest.warns(NoResultsWarning):
        NirspecMast.query_filtered(coordinates="NGC 1068", radius=30 * u.arcsec)
    assert f.requests[0]["service"] == "Mast.Name.Lookup"
    assert f.requests[0]["params"]["input"] == "NGC 1068"
    dec = [x for x in f.requests[1]["params"]["filters"] if x["paramName"] == "targ_dec"][0]
    assert dec["values"][0]["min"] == pytest.approx(-0.01328 - 30 / 3600, abs=1e-6)


def test_unresolvable_name(monkeypatch, tmp_path):
    empty = tmp_path / "empty_lookup.json"
    empty.write_text('{"resolvedCoordinate": [], "status": ""}')
    monkeypatch.setattr(NirspecMastClass, "_request",
                        lambda self, method, url, **k: MockResponse(content=empty.read_bytes(), url=url))
    with pytest.raises(ResolverError, match='Could not resolve "Nowhere 123"'):
        NirspecMast.resolve_object("Nowhere 123")


def test_list_fields():
    t = NirspecMast.list_fields()
    assert t.colnames == ["name", "type", "unit", "description"]
    assert len(t) > 200
    row = t[list(t["name"]).index("effexptm")]
    assert (row["type"], row["unit"]) == ("float", "s")


def test_parameter_values_of_a_column_with_only_nulls(monkeypatch, tmp_path):
    reply = tmp_path / "nulls.json"
    reply.write_text(json.dumps({
        "status": "COMPLETE", "msg": "", "fields": [{"name": "fileSize", "type": "int"}],
        "data": [{"fileSize": None}, {"fileSize": None}],
        "paging": {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": 2, "rowsFiltered": 2,
                   "rowsTotal": 2}}))
    monkeypatch.setattr(NirspecMastClass, "_request",
                        lambda self, method, url, **k: MockResponse(content=reply.read_bytes(), url=url))
    t = NirspecMast.get_parameter_values("fileSize")
    assert len(t) == 1 and t["fileSize"].mask[0] and t["count"][0] == 2


def test_pages_whose_kinds_differ_give_the_table_of_all_rows_as_one(fake):
    """A number on page 1 and text on page 2 of a text column: one text column, as one reply gives."""
    fields = [{"name": "filename", "type": "string"}, {"name": "checksum", "type": "string"}]
    rows = [{"filename": "a.fits", "checksum": 547966661}, {"filename": "b.fits", "checksum": "a1b2c3"}]
    f = fake()
    f.replies = [json.dumps({"status": "COMPLETE", "msg": "", "fields": fields, "data": [row],
                             "paging": {"page": page, "pageSize": 1, "pagesFiltered": 2, "rows": 1,
                                        "rowsFiltered": 2, "rowsTotal": 2}}).encode()
                 for page, row in enumerate(rows, 1)]
    t = NirspecMast.query_filtered(columns=["filename", "checksum"], pagesize=1)
    assert [r["page"] for r in f.requests] == [1, 2]
    assert t["checksum"].tolist() == ["547966661", "a1b2c3"] and t["filename"].tolist() == ["a.fits", "b.fits"]


def test_the_page_tables_are_joined_without_comparing_tables(fake, monkeypatch):
    """`None in pages` would compare every page Table with None, row by row (Table.__eq__)."""
    fake("nirspec_page1_of2.json", "nirspec_page2_of2.json")
    monkeypatch.setattr(Table, "__eq__", lambda self, other: pytest.fail("a Table was compared"))
    t = NirspecMast.query_filtered(program=[5716, 9180, 4713], pagesize=2)
    assert list(t["program"]) == [5716, 9180, 4713]
