"""Tests of the local MAST server (tests/mast_double/), using plain requests.

The server must answer like MAST's recorded replies: the tests marked "recorded" compare
its envelopes, field names, types and value shapes with the recorded replies of the
shared data folder beside the repository (``../shared/data``, see its README), and skip
when that folder is absent.
"""
import concurrent.futures
import csv
import json
import math
import os
import re
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
import requests

import mast_double as ms     # the root conftest.py puts tests/ on sys.path
import mast_double.replies
from mast_double import (
    CAOM_FIELDS, CAOM_FILTERED_SERVICE, CAOM_POSITION_SERVICE, NAME_LOOKUP_SERVICE,
    NIRSPEC_FIELDS, NIRSPEC_GRATING_FILTER_PAIRS, NIRSPEC_SERVICE, Fault, MastArchive,
    MastServer, NIRSPEC_FLAG_COLUMNS, NIRSPEC_DATE_COLUMNS, caom_row, encode_invoke_body, invoke,
    astroquery_client, like_to_regex, make_archive, make_caom_rows, make_nirspec_rows, mashup_request,
    match_service, match_uri, msa_uri,
)

TOY_SERVICE = "Mast.Toy.Filtered"
TOY_FIELDS = [{"name": "name", "type": "string"}, {"name": "num", "type": "int"},
              {"name": "x", "type": "float"}, {"name": "flag", "type": "boolean"},
              {"name": "tags", "type": "string"}, {"name": "empty", "type": "string"}]


def toy_rows(n=23):
    return [{"name": f"row{i:02d}", "num": i, "x": i / 2, "flag": i % 2 == 0,
             "tags": "A;B" if i % 3 == 0 else "C", "empty": None} for i in range(n)]


@pytest.fixture(scope="module")
def nirspec_rows():
    return make_nirspec_rows(300, seed=11)


@pytest.fixture
def srv(nirspec_rows):
    archive = make_archive(nirspec_rows=nirspec_rows, caom_rows=make_caom_rows(40, seed=2))
    archive.add_service(TOY_SERVICE, TOY_FIELDS, toy_rows())
    with MastServer(archive, names={"NGC 1068": (40.669629, -0.013281)}) as server:
        yield server


def req(service=TOY_SERVICE, columns="*", filters=(), **kw):
    params = {"columns": columns, "filters": list(filters)}
    if "position" in kw:
        params["position"] = kw.pop("position")
    return mashup_request(service, params, **kw)


def call(server, request, **kw):
    r = invoke(server.url, request, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    return r.json()


def names_of(result):
    return [row["name"] for row in result["data"]]


# --------------------------------------------------------------------------- transport

def test_post_encoding_is_logged(srv):
    request = req(filters=[{"paramName": "num", "values": [3]}])
    body = encode_invoke_body(request)
    assert body.startswith("request=%7B%22service%22%3A%20%22")
    with requests.Session() as s:
        r = s.post(srv.invoke_url, data=body, headers={
            "Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain"})
    result = r.json()
    assert result["status"] == "COMPLETE" and "percent complete" not in result   # as recorded
    assert names_of(result) == ["row03"]
    rec = srv.log[-1]
    assert (rec.kind, rec.method, rec.path, rec.service, rec.status) == ("invoke", "POST", "/api/v0/invoke",
                                                                         TOY_SERVICE, 200)
    assert rec.request == request and rec.mast_status == "COMPLETE" and rec.rows == 1
    assert rec.headers["Accept"] == "text/plain"
    assert srv.count() == 1 and srv.count(TOY_SERVICE) == 1 and srv.count(NIRSPEC_SERVICE) == 0
    assert srv.requests(TOY_SERVICE) == [request]


def test_get_gives_same_answer_as_post(srv):
    request = req(filters=[{"paramName": "num", "values": [{"min": 2, "max": 4}]}])
    assert call(srv, request, method="GET") == call(srv, request)
    assert [r.method for r in srv.log] == ["GET", "POST"]


def test_post_needs_form_content_type(srv):
    with requests.Session() as s:
        r = s.post(srv.invoke_url, data=encode_invoke_body(req()),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.json()["status"] == "ERROR" and "request" in r.json()["msg"]


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"])
def test_undecodable_request(srv, bad):
    with requests.Session() as s:
        r = s.post(srv.invoke_url, data="request=" + urllib.parse.quote(bad),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["status"] == "ERROR"


def test_unknown_and_missing_service(srv):
    result = call(srv, req(service="Mast.Nope.Filtered"))
    assert result == {"status": "ERROR", "msg": "Unknown service: Mast.Nope.Filtered"}
    assert call(srv, {"params": {}, "format": "json"})["status"] == "ERROR"
    # Jwst services have no .Position variant (mast-protocol.md §0.4)
    assert call(srv, req(service=NIRSPEC_SERVICE + ".Position", position="1, 2, 3"))["status"] == "ERROR"


def test_format_must_be_json(srv):
    request = req()
    del request["format"]          # documented default is extjs
    assert call(srv, request)["status"] == "ERROR"
    assert call(srv, req(format="csv"))["status"] == "ERROR"


def test_missing_params(srv):
    assert "columns" in call(srv, mashup_request(TOY_SERVICE, {"filters": []}))["msg"]
    assert "filters" in call(srv, mashup_request(TOY_SERVICE, {"columns": "*"}))["msg"]


def test_unknown_path_and_method(srv):
    with requests.Session() as s:
        assert s.get(srv.url + "/api/v0/nothing").status_code == 404
        assert s.head(srv.invoke_url).status_code == 405


def test_keep_alive_session_and_stop_with_open_connection(nirspec_rows):
    server = MastServer(make_archive(nirspec_rows=nirspec_rows)).start()
    url = server.url
    with requests.Session() as s:
        for _ in range(3):
            r = invoke(url, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)"), session=s)
            assert r.json()["data"] == [{"Column1": 300}]
        server.stop()              # the session still holds an idle keep-alive connection
        assert not server.running
        with pytest.raises(requests.ConnectionError):
            invoke(url, req(), session=s)
    server.stop()                  # idempotent
    assert server.errors == []


# --------------------------------------------------------------------------- paging

def test_paging_math_and_order(srv):
    pages = [call(srv, req(pagesize=10, page=p)) for p in (1, 2, 3, 4)]
    assert [p["paging"] for p in pages] == [
        {"page": p, "pageSize": 10, "pagesFiltered": 3, "rows": n, "rowsFiltered": 23, "rowsTotal": 23}
        for p, n in ((1, 10), (2, 10), (3, 3), (4, 0))]
    assert pages[3]["data"] == []
    assert sum((names_of(p) for p in pages), []) == [f"row{i:02d}" for i in range(23)]
    assert pages[0]["fields"] == TOY_FIELDS


def test_default_pagesize_and_page(srv):
    request = req()
    del request["pagesize"], request["page"]
    paging = call(srv, request)["paging"]
    assert paging["pageSize"] == 50000 and paging["page"] == 1 and paging["pagesFiltered"] == 1


@pytest.mark.parametrize("bad", [0, -1, "x"])
def test_bad_pagesize(srv, bad):
    assert call(srv, req(pagesize=bad))["status"] == "ERROR"


def test_empty_result_pages(mast_server_factory):
    archive = MastArchive()
    archive.add_service(TOY_SERVICE, TOY_FIELDS, toy_rows())
    none = [{"paramName": "num", "values": [999]}]
    s0 = mast_server_factory(archive)
    s1 = mast_server_factory(archive, empty_pages_filtered=1)
    assert call(s0, req(filters=none))["paging"] == {
        "page": 1, "pageSize": 50000, "pagesFiltered": 0, "rows": 0, "rowsFiltered": 0, "rowsTotal": 0}
    assert call(s1, req(filters=none))["paging"]["pagesFiltered"] == 1


def test_rows_total_is_rows_filtered(srv):
    # every recorded envelope has rowsTotal == rowsFiltered (advSearchPos.json: 12 of all CAOM)
    flt = [{"paramName": "num", "values": [1, 2]}]
    assert call(srv, req(filters=flt))["paging"]["rowsTotal"] == 2


def test_page_cap_silently_truncates(mast_server_factory):
    archive = MastArchive()
    archive.add_service(TOY_SERVICE, TOY_FIELDS, toy_rows(120))
    server = mast_server_factory(archive, page_cap=20)
    first = call(server, req(pagesize=50, page=1))
    assert first["paging"] == {"page": 1, "pageSize": 50, "pagesFiltered": 3, "rows": 20,
                               "rowsFiltered": 120, "rowsTotal": 120}
    assert names_of(first) == [f"row{i:02d}" for i in range(20)]
    second = call(server, req(pagesize=50, page=2))
    assert names_of(second)[0] == "row50" and second["paging"]["rows"] == 20
    assert call(server, req(pagesize=10, page=12))["paging"]["rows"] == 10   # under the cap: exact


# --------------------------------------------------------------------------- columns

def test_count_big(srv):
    flt = [{"paramName": "flag", "values": ["true"]}]
    for columns in ("COUNT_BIG(*)", "count_big( * )"):
        result = call(srv, req(columns=columns, filters=flt))
        assert result["data"] == [{"Column1": 12}]
        assert result["fields"] == [{"name": "Column1", "type": "string"}]
        assert result["paging"] == {"page": 1, "pageSize": 50000, "pagesFiltered": 1, "rows": 1,
                                    "rowsFiltered": 1, "rowsTotal": 1}


def test_column_selection(srv):
    result = call(srv, req(columns="NAME,  x ,num as n", filters=[{"paramName": "num", "values": [4]}]))
    assert result["fields"] == [{"name": "name", "type": "string"}, {"name": "x", "type": "float"},
                                {"name": "n", "type": "int"}]
    assert result["data"] == [{"name": "row04", "x": 2.0, "n": 4}]
    assert call(srv, req(columns="c.*", pagesize=1))["fields"] == TOY_FIELDS


@pytest.mark.parametrize("columns, bad", [("name, grating", "grating"), ("nope", "nope"),
                                          ("name, bogus AS b", "bogus")])
def test_unknown_column_in_columns(srv, columns, bad):
    assert call(srv, req(columns=columns)) == {"status": "ERROR", "msg": f"Invalid column name '{bad}'."}


def test_distinct_is_refused(srv):
    refused = call(srv, req(columns="DISTINCT tags"))
    assert refused == {"status": "ERROR", "msg": "Incorrect syntax near the keyword 'DISTINCT'."}


def test_removenullcolumns(srv):
    result = call(srv, req(removenullcolumns=True))
    assert "empty" not in [f["name"] for f in result["fields"]]
    assert "empty" not in result["data"][0]
    assert "empty" in call(srv, req())["data"][0]


# --------------------------------------------------------------------------- filters

def test_discrete_filters(srv):
    flt = [{"paramName": "NAME", "values": ["ROW01", "row05", "nothing"]}]    # case-insensitive
    assert names_of(call(srv, req(filters=flt))) == ["row01", "row05"]
    numeric = [{"paramName": "num", "values": ["7", 8.0]}]
    assert names_of(call(srv, req(filters=numeric))) == ["row07", "row08"]
    assert len(call(srv, req(filters=[{"paramName": "flag", "values": [False]}]))["data"]) == 11


def test_numeric_string_value_on_nirspec_program(srv, nirspec_rows):
    program = nirspec_rows[0]["program"]
    result = call(srv, req(NIRSPEC_SERVICE, columns="program, filename",
                           filters=[{"paramName": "program", "values": [str(program)]}]))
    expected = [r["filename"] for r in nirspec_rows if r["program"] == program]
    assert [r["filename"] for r in result["data"]] == expected and expected


def test_numeric_conversion_error(srv):
    result = call(srv, req(filters=[{"paramName": "num", "values": ["abc"]}]))
    assert result["status"] == "ERROR" and "Conversion failed" in result["msg"]


def test_continuous_filters_inclusive_or_of_ranges(srv):
    flt = [{"paramName": "x", "values": [{"min": 1.0, "max": 2.0}, {"min": 10.5, "max": 10.5}]}]
    assert names_of(call(srv, req(filters=flt))) == ["row02", "row03", "row04", "row21"]
    open_max = [{"paramName": "num", "values": [{"min": 21, "max": None}]}]
    assert names_of(call(srv, req(filters=open_max))) == ["row21", "row22"]


def test_filters_are_anded(srv):
    flt = [{"paramName": "num", "values": [{"min": 0, "max": 10}]},
           {"paramName": "flag", "values": ["True"]},
           {"paramName": "tags", "values": ["C"]}]
    assert names_of(call(srv, req(filters=flt))) == ["row02", "row04", "row08", "row10"]


def test_unknown_param_name(srv):
    result = call(srv, req(CAOM_FILTERED_SERVICE, filters=[{"paramName": "grating", "values": ["G395H"]}]))
    assert result == {"status": "ERROR", "msg": "Invalid column name 'grating'."}


def test_values_must_be_a_list_and_empty_filter_is_noop(srv):
    assert call(srv, req(filters=[{"paramName": "num", "values": 3}]))["status"] == "ERROR"
    assert call(srv, req(filters=[{"paramName": "num", "values": []}]))["paging"]["rowsFiltered"] == 23


def test_like_to_regex():
    cases = {
        "%_cal.fits": (["jw_x_cal.fits", "A_CAL.FITS"], ["cal.fits", "x_cal.fitsz"]),
        "row0_": (["row01", "ROW09"], ["row1", "row010"]),
        "r[aeo]w%": (["row", "raw1"], ["riw"]),
        "[a-c]1": (["b1", "C1"], ["d1"]),
        "[^a]1": (["b1"], ["a1", "A1"]),
        "a[_]b": (["a_b"], ["axb"]),
        "a[%]b": (["a%b"], ["axb", "a%%b"]),
        "a[[]b": (["a[b"], ["ab", "a[[b"]),
        "50%": (["50%", "500"], ["5"]),
        "a[b": (["a[b"], ["ab"]),
    }
    for pattern, (yes, no) in cases.items():
        rx = like_to_regex(pattern)
        assert all(rx.fullmatch(s) for s in yes), (pattern, yes)
        assert not any(rx.fullmatch(s) for s in no), (pattern, no)


def test_free_text_filter_with_escapes(mast_server_factory):
    archive = MastArchive()
    archive.add_service(TOY_SERVICE, [{"name": "s", "type": "string"}],
                        [{"s": v} for v in ("a_b", "axb", "a%b", "a[b", None, "A_B_C")])

    def find(pattern):
        result = call(server, req(filters=[{"paramName": "s", "values": [], "freeText": pattern}]))
        return [r["s"] for r in result["data"]]

    server = mast_server_factory(archive)
    assert find("a_b") == ["a_b", "axb", "a%b", "a[b"]
    assert find("a[_]b") == ["a_b"]
    assert find("a[%]b") == ["a%b"]
    assert find("a[[]b") == ["a[b"]
    assert find("%") == ["a_b", "axb", "a%b", "a[b", "A_B_C"]      # null never matches
    assert find("a[_]b%") == ["a_b", "A_B_C"]


def test_separator_filter(srv):
    rows = [caom_row(filters="F290LP;G395H"), caom_row(filters="CLEAR;PRISM"),
            caom_row(filters="F170LP;G235H", calib_level=-1)]
    archive = MastArchive()
    archive.add_caom(rows)
    srv.archive = archive

    def obs(flt):
        return [r["filters"] for r in call(srv, req(CAOM_FILTERED_SERVICE, filters=[flt]))["data"]]

    assert obs({"paramName": "filters", "values": ["G395H"], "separator": ";"}) == ["F290LP;G395H"]
    assert obs({"paramName": "filters", "values": ["g395h"]}) == []          # no separator: whole cell
    assert obs({"paramName": "filters", "values": ["F290LP;G395H", "prism"], "separator": ";"}) == [
        "F290LP;G395H", "CLEAR;PRISM"]
    like = {"paramName": "filters", "values": [], "freeText": "G235%", "separator": ";"}
    assert obs(like) == ["F170LP;G235H"]
    assert obs({"paramName": "calib_level", "values": ["-1"]}) == ["F170LP;G235H"]


def test_obsid_typed_string_compares_numerically(srv):
    archive = MastArchive()
    archive.add_caom([caom_row(obsid=1345), caom_row(obsid=77)])
    srv.archive = archive
    result = call(srv, req(CAOM_FILTERED_SERVICE, columns="obsid", filters=[
        {"paramName": "obsid", "values": ["1345"]}]))
    assert result["data"] == [{"obsid": 1345}] and result["fields"] == [{"name": "obsid", "type": "string"}]


# --------------------------------------------------------------------------- position

def test_position_cone_across_ra_zero(srv):
    rows = [caom_row(s_ra=359.995, s_dec=0.0, target_name="west"),
            caom_row(s_ra=0.004, s_dec=0.0, target_name="east"),
            caom_row(s_ra=180.0, s_dec=0.0, target_name="far"),
            caom_row(s_ra=None, s_dec=None, target_name="nopos"),
            caom_row(s_ra=0.0, s_dec=0.009, target_name="north")]
    archive = MastArchive()
    archive.add_caom(rows)
    srv.archive = archive
    result = call(srv, req(CAOM_POSITION_SERVICE, position="0.0, 0.0, 0.01",
                           filters=[{"paramName": "obs_collection", "values": ["JWST"]}]))
    assert [r["target_name"] for r in result["data"]] == ["west", "east", "north"]
    assert result["fields"][-1] == {"name": "distance", "type": "float"}
    assert result["fields"][:-1] == CAOM_FIELDS
    dist = {r["target_name"]: r["distance"] for r in result["data"]}
    assert dist["west"] == pytest.approx(18.0, abs=1e-6)
    assert dist["east"] == pytest.approx(14.4, abs=1e-6)
    assert dist["north"] == pytest.approx(32.4, abs=1e-6)
    # the same cone seen from the other side of RA 0
    west = call(srv, req(CAOM_POSITION_SERVICE, columns="target_name, distance",
                         position="359.999, 0, 0.0055"))
    assert [r["target_name"] for r in west["data"]] == ["west", "east"]
    assert west["data"][0]["distance"] == pytest.approx(0.004 * 3600, abs=1e-6)
    # plain Filtered has no distance column
    assert "distance" not in call(srv, req(CAOM_FILTERED_SERVICE, pagesize=1))["data"][0]


def test_position_near_pole_is_great_circle(srv):
    archive = MastArchive()
    archive.add_caom([caom_row(s_ra=0.0, s_dec=89.99), caom_row(s_ra=180.0, s_dec=89.99)])
    srv.archive = archive
    result = call(srv, req(CAOM_POSITION_SERVICE, columns="s_ra, distance", position="90, 89.99, 0.0142"))
    sep = float(ms.angular_separation_deg(90, 89.99, 0, 89.99))
    assert sep == pytest.approx(0.01 * math.sqrt(2), rel=1e-4)    # 90 deg of RA is ~51" there
    assert [r["s_ra"] for r in result["data"]] == [0.0, 180.0]
    assert result["data"][0]["distance"] == pytest.approx(sep * 3600)


def test_position_errors(srv):
    assert "position" in call(srv, req(CAOM_POSITION_SERVICE))["msg"]
    assert call(srv, req(CAOM_POSITION_SERVICE, position="10 20 0.1"))["status"] == "ERROR"


def test_count_with_position(srv):
    rows = make_caom_rows(50, seed=5, center=(150.0, 2.0), spread_deg=0.3)
    archive = MastArchive()
    archive.add_caom(rows)
    srv.archive = archive
    sep = ms.angular_separation_deg(150.0, 2.0, [r["s_ra"] for r in rows], [r["s_dec"] for r in rows])
    expected = int((sep <= 0.15).sum())
    result = call(srv, req(CAOM_POSITION_SERVICE, columns="COUNT_BIG(*)", position="150.0, 2.0, 0.15"))
    assert result["data"] == [{"Column1": expected}] and 0 < expected < 50


# --------------------------------------------------------------------------- name lookup

def test_name_lookup(srv):
    request = {"service": NAME_LOOKUP_SERVICE, "params": {"input": "ngc  1068", "format": "json"},
               "format": "json"}
    result = call(srv, request)
    assert result["status"] == ""
    (coord,) = result["resolvedCoordinate"]
    assert (coord["ra"], coord["decl"], coord["canonicalName"], coord["resolver"]) == (
        40.669629, -0.013281, "NGC 1068", "NED")
    request["params"]["input"] = "Nowhere Galaxy"
    assert call(srv, request) == {"resolvedCoordinate": [], "status": ""}


# --------------------------------------------------------------------------- polling

def test_executing_polls(mast_server_factory):
    archive = MastArchive()
    archive.add_service(TOY_SERVICE, TOY_FIELDS, toy_rows())
    server = mast_server_factory(archive, executing_polls=2)
    request = req(pagesize=10)
    first, second, third = (call(server, request) for _ in range(3))
    assert first["status"] == second["status"] == "EXECUTING"
    assert first["msg"] == "" and 0 <= first["percent complete"] < 100
    assert third["status"] == "COMPLETE" and len(third["data"]) == 10
    assert call(server, request)["status"] == "COMPLETE"
    assert call(server, dict(request, cacheBreaker="other"))["status"] == "EXECUTING"   # new query
    assert call(server, dict(request, page=2))["status"] == "EXECUTING"                 # pages count too
    assert [r.mast_status for r in server.log][:3] == ["EXECUTING", "EXECUTING", "COMPLETE"]


# --------------------------------------------------------------------------- faults

def test_fault_http_503_with_and_without_retry_after(srv):
    srv.add_fault(Fault.http(503, retry_after=2))
    srv.add_fault(Fault.http(503))
    with requests.Session() as s:
        a = invoke(srv.url, req(), session=s)
        b = invoke(srv.url, req(), session=s)
        c = invoke(srv.url, req(), session=s)
    assert a.status_code == 503 and a.headers["Retry-After"] == "2"
    assert b.status_code == 503 and "Retry-After" not in b.headers
    assert c.status_code == 200 and c.json()["status"] == "COMPLETE"
    with pytest.raises(requests.HTTPError):
        a.raise_for_status()
    assert [r.status for r in srv.log] == [503, 503, 200] and srv.log[0].fault == "http"


def test_fault_http_500_text_body(srv):
    srv.add_fault(Fault.http(500, "Server Error: The wait operation timed out"))
    r = invoke(srv.url, req())
    assert r.status_code == 500 and "wait operation timed out" in r.text
    assert r.headers["Content-Type"].startswith("text/plain")


def test_fault_error_and_match(srv):
    srv.add_fault(Fault.error("Incorrect syntax near '*'."), match=match_service(NIRSPEC_SERVICE))
    assert call(srv, req())["status"] == "COMPLETE"               # other service: not consumed
    assert srv.pending_faults == 1
    assert call(srv, req(NIRSPEC_SERVICE)) == {"status": "ERROR", "msg": "Incorrect syntax near '*'."}
    assert srv.pending_faults == 0
    assert call(srv, req(NIRSPEC_SERVICE))["status"] == "COMPLETE"


def test_fault_executing(srv):
    srv.add_fault(Fault.executing(2))
    request = req()
    statuses = [call(srv, request)["status"] for _ in range(3)]
    assert statuses == ["EXECUTING", "EXECUTING", "COMPLETE"]


def test_fault_truncate(srv):
    srv.add_fault(Fault.truncate())
    r = invoke(srv.url, req())
    assert r.status_code == 200 and len(r.content) == int(r.headers["Content-Length"])
    full = json.dumps(call(srv, req()))
    assert 0 < len(r.content) < len(full)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        r.json()


def test_fault_drop_after_on_invoke(srv):
    srv.add_fault(Fault.drop_after(10), target="invoke")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        invoke(srv.url, req())
    assert call(srv, req())["status"] == "COMPLETE"


def test_fault_reset(srv):
    srv.add_fault(Fault.reset())
    with requests.Session() as s:
        with pytest.raises(requests.ConnectionError):
            invoke(srv.url, req(), session=s)
        assert invoke(srv.url, req(), session=s).status_code == 200   # the next one works
    assert srv.log[0].status is None and srv.log[0].fault == "reset"


def test_fault_delay_and_latency(srv, mast_server_factory):
    srv.add_fault(Fault.delay(0.3))
    t0 = time.monotonic()
    assert call(srv, req())["status"] == "COMPLETE"
    assert time.monotonic() - t0 >= 0.3
    slow = mast_server_factory(srv.archive, latency=0.2)
    t0 = time.monotonic()
    call(slow, req())
    assert time.monotonic() - t0 >= 0.2


def test_fault_rows_filtered(srv):
    srv.add_fault(Fault.rows_filtered(+5))
    result = call(srv, req(pagesize=10))
    assert result["paging"] == {"page": 1, "pageSize": 10, "pagesFiltered": 3, "rows": 10,
                                "rowsFiltered": 28, "rowsTotal": 28}
    assert call(srv, req(pagesize=10))["paging"]["rowsFiltered"] == 23


def test_fault_burst_is_fifo(srv):
    srv.add_faults(Fault.http(502), times=2)
    srv.add_fault(Fault.error("later"))
    assert srv.pending_faults == 3
    codes = [invoke(srv.url, req()).status_code for _ in range(2)]
    assert codes == [502, 502]
    assert call(srv, req())["msg"] == "later"
    assert call(srv, req())["status"] == "COMPLETE"
    srv.add_faults(Fault.http(503), times=4)
    srv.clear_faults()
    assert srv.pending_faults == 0


def test_fault_validation(srv):
    with pytest.raises(ValueError):
        srv.add_fault(Fault.error("x"), target="download")
    with pytest.raises(ValueError):
        Fault.executing(0)


# --------------------------------------------------------------------------- concurrency / size

def test_concurrent_requests_are_all_logged(srv):
    def one(i):
        return call(srv, req(filters=[{"paramName": "num", "values": [i]}]))["data"][0]["num"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(one, range(23))) == list(range(23))
    assert srv.count(TOY_SERVICE) == 23 and srv.errors == []


def test_large_archive_in_two_full_pages():
    # how fast is for benchmarks/ to measure; this checks that 50 000-row pages work
    rows = make_nirspec_rows(100_000, seed=3)
    with MastServer(make_archive(nirspec_rows=rows)) as server, requests.Session() as s:
        pages = [invoke(server.url, req(NIRSPEC_SERVICE, pagesize=50000, page=page), session=s).json()
                 for page in (1, 2)]
    assert [p["paging"]["rows"] for p in pages] == [50000, 50000]
    assert all(p["fields"] == NIRSPEC_FIELDS for p in pages)
    assert pages[1]["data"][-1] == rows[-1]


def test_json_fallback_without_orjson(srv, monkeypatch):
    monkeypatch.setattr(mast_double.replies, "_orjson", None)
    assert names_of(call(srv, req(pagesize=2))) == ["row00", "row01"]


# --------------------------------------------------------------------------- downloads

@pytest.fixture
def dl(srv):
    srv.files = {"mast:JWST/product/a.fits": bytes(range(256)) * 4,
                 "mast:JWST/product/secret.fits": b"secret-bytes"}
    srv.restricted = {"mast:JWST/product/secret.fits"}
    srv.tokens = {"good-token"}
    return srv


def test_download_full_and_head(dl):
    with requests.Session() as s:
        r = s.get(dl.download_url("mast:JWST/product/a.fits"))
        h = s.head(dl.download_url("mast:JWST/product/a.fits"))
    assert r.status_code == 200 and r.content == bytes(range(256)) * 4
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["Content-Type"] == "application/octet-stream"
    assert 'filename="a.fits"' in r.headers["Content-Disposition"]
    assert h.status_code == 200 and h.headers["Content-Length"] == "1024" and h.content == b""
    assert dl.downloads("mast:JWST/product/a.fits")[0].status == 200


def test_download_ranges(dl):
    url = dl.download_url("mast:JWST/product/a.fits")
    full = bytes(range(256)) * 4
    with requests.Session() as s:
        r = s.get(url, headers={"Range": "bytes=1000-"})
        assert r.status_code == 206 and r.content == full[1000:]
        assert r.headers["Content-Range"] == "bytes 1000-1023/1024"
        r = s.get(url, headers={"Range": "bytes=10-19"})
        assert r.status_code == 206 and r.content == full[10:20]
        r = s.get(url, headers={"Range": "bytes=-4"})
        assert r.content == full[-4:] and r.headers["Content-Range"] == "bytes 1020-1023/1024"
        r = s.get(url, headers={"Range": "bytes=1024-"})
        assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */1024"


def test_download_404_401_403(dl):
    url = dl.download_url("mast:JWST/product/secret.fits")
    with requests.Session() as s:
        assert s.get(dl.download_url("mast:JWST/product/missing.fits")).status_code == 404
        assert s.get(dl.url + "/api/v0.1/Download/file").status_code == 400
        assert s.get(url).status_code == 401
        assert s.get(url, headers={"Authorization": "token wrong"}).status_code == 403
        ok = s.get(url, headers={"Authorization": "token good-token"})
    assert ok.status_code == 200 and ok.content == b"secret-bytes"


def test_download_drop_after(dl):
    dl.add_fault(Fault.drop_after(100))            # downloads by default
    with requests.Session() as s:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            s.get(dl.download_url("mast:JWST/product/a.fits"))
        with s.get(dl.download_url("mast:JWST/product/a.fits"), stream=True) as r:
            assert len(r.content) == 1024
    assert dl.downloads()[0].fault == "drop_after"


def test_download_faults_by_uri(dl):
    dl.add_download_fault(Fault.http(503, retry_after=1), uri="mast:JWST/product/a.fits")
    dl.add_fault(Fault.reset(), match=match_uri("mast:JWST/product/secret.fits"), target="download")
    assert dl.pending_faults == 2
    with requests.Session() as s:
        with pytest.raises(requests.ConnectionError):
            s.get(dl.download_url("mast:JWST/product/secret.fits"),
                  headers={"Authorization": "token good-token"})
    assert dl.pending_faults == 1
    with requests.Session() as s:
        r = s.get(dl.download_url("mast:JWST/product/a.fits"))
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert s.get(dl.download_url("mast:JWST/product/a.fits")).status_code == 200
    assert call(dl, req())["status"] == "COMPLETE"    # download faults never hit invoke


def test_download_truncate(dl):
    dl.add_download_fault(Fault.truncate())
    with requests.Session() as s:
        r = s.get(dl.download_url("mast:JWST/product/a.fits"))
    assert r.status_code == 200 and len(r.content) == 512


# --------------------------------------------------------------------------- generators

def test_make_nirspec_rows(nirspec_rows):
    assert len(nirspec_rows) == 300
    assert make_nirspec_rows(300, seed=11) == nirspec_rows
    assert make_nirspec_rows(300, seed=12) != nirspec_rows
    names = [f["name"] for f in NIRSPEC_FIELDS]
    assert all(list(r) == names for r in nirspec_rows) and len(names) >= 55
    pairs = set(NIRSPEC_GRATING_FILTER_PAIRS)
    for r in nirspec_rows:
        if r["grating"] != "MIRROR":
            assert (r["filter"], r["grating"]) in pairs
        assert r["detector"] in ("NRS1", "NRS2")
        assert r["dataURI"] == "mast:JWST/product/" + r["filename"]
        assert r["s_region"].startswith("POLYGON ICRS")
        ms_ = int(r["publicReleaseDate"][6:-2])
        assert r["publicReleaseDate"] == f"/Date({ms_})/"
        assert r["publicReleaseDate_mjd"] == pytest.approx(ms_ / 86400000 + 40587)
        assert (r["fxd_slit"] is None) == (r["exp_type"] not in ("NRS_FIXEDSLIT", "NRS_BRIGHTOBJ"))
    assert {r["exp_type"] for r in nirspec_rows} >= {"NRS_IFU", "NRS_MSASPEC", "NRS_FIXEDSLIT"}
    assert any(r["targname"] is None for r in nirspec_rows)
    assert len({r["ArchiveFileID"] for r in nirspec_rows}) == 300


def test_make_nirspec_rows_options():
    rows = make_nirspec_rows(200, seed=1, center=(359.9, -30.0), spread_deg=0.2, null_fraction=0.0,
                             fields=["filename", "targ_ra", "targ_dec", "effexptm", "not_a_column"])
    assert list(rows[0]) == ["filename", "targ_ra", "targ_dec", "effexptm", "not_a_column"]
    sep = ms.angular_separation_deg(359.9, -30.0, [r["targ_ra"] for r in rows], [r["targ_dec"] for r in rows])
    assert sep.max() <= 0.2 + 1e-9
    assert all(r["effexptm"] is not None and r["not_a_column"] is None for r in rows)


def test_caom_row_helpers():
    planned = caom_row(calib_level=-1, filters="CLEAR;PRISM", proposal_id="1208")
    assert list(planned)[:len(CAOM_FIELDS)] == [f["name"] for f in CAOM_FIELDS]
    assert planned["provenance_name"] == "APT" and planned["t_min"] is None
    assert (planned["em_min"], planned["em_max"]) == (600.0, 5300.0)
    assert planned["obs_id"] == "jw01208001001_xx101_00001_nirspec"
    executed = caom_row()
    assert executed["instrument_name"] == "NIRSPEC/IFU" and executed["filters"] == "F290LP;G395H"
    with pytest.raises(KeyError):
        caom_row(grating="G395H")
    with pytest.raises(ValueError):
        MastArchive().add_caom([dict(caom_row(), grating="G395H")])
    assert len(make_caom_rows(10, seed=1)) == 10


def test_fixture_factory_starts_servers(mast_server_factory):
    server = mast_server_factory()
    assert server.running and call(server, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)"))["data"] == [
        {"Column1": 200}]


def test_columns_config_endpoint(srv):
    with requests.Session() as s:
        r = s.post(srv.url + ms.COLUMNS_CONFIG_PATH, data="colConfigId=" + CAOM_POSITION_SERVICE,
                   headers={"Content-type": "application/x-www-form-urlencoded"})
        cone = s.post(srv.url + ms.COLUMNS_CONFIG_PATH, data="colConfigId=Mast.Caom.Cone",
                      headers={"Content-type": "application/x-www-form-urlencoded"}).json()
        unknown = s.post(srv.url + ms.COLUMNS_CONFIG_PATH, data="colConfigId=Mast.Nope",
                         headers={"Content-type": "application/x-www-form-urlencoded"}).json()
    config = r.json()
    assert list(config) == [f["name"] for f in CAOM_FIELDS] and cone == config and unknown == {}
    assert config["filters"]["separator"] == ";" and config["s_ra"]["vot.datatype"] == "double"
    assert srv.log[0].kind == "columnsconfig" and srv.count() == 0


def test_astroquery_portal_api_interop(mast_server_factory):
    """astroquery 0.4.11's own PortalAPI (polling, string-replace paging, parsing) against the server."""
    from astropy.coordinates import SkyCoord
    from astroquery.mast.observations import MastClass, ObservationsClass

    rows = make_nirspec_rows(400, seed=5)
    caom = [caom_row(s_ra=53.13, s_dec=-27.8, filters="F290LP;G395H", calib_level=-1),
            caom_row(s_ra=53.131, s_dec=-27.801, filters="CLEAR;PRISM"), caom_row(s_ra=10, s_dec=10)]
    server = mast_server_factory(make_archive(nirspec_rows=rows, caom_rows=caom), executing_polls=1)
    mast, obs = astroquery_client(MastClass, server.url), astroquery_client(ObservationsClass, server.url)
    table = mast.service_request(NIRSPEC_SERVICE, {
        "columns": "filename, grating, filter, effexptm",
        "filters": [{"paramName": "exp_type", "values": ["NRS_IFU", "NRS_FIXEDSLIT"]},
                    {"paramName": "filename", "values": [], "freeText": "%_cal.fits"}]}, pagesize=20)
    expected = [r["filename"] for r in rows
                if r["exp_type"] in ("NRS_IFU", "NRS_FIXEDSLIT") and r["filename"].endswith("_cal.fits")]
    assert list(table["filename"]) == expected and len(expected) > 40
    pages = [r.request["page"] for r in server.log if r.kind == "invoke"]
    assert pages == [p for p in range(1, -(-len(expected) // 20) + 1) for _ in (0, 1)]   # EXECUTING + COMPLETE
    found = obs.query_criteria(coordinates=SkyCoord(53.13, -27.8, unit="deg"), radius=0.01,
                               obs_collection="JWST", filters=["F290LP;G395H"], calib_level=[-1, 3])
    assert list(found["filters"]) == ["F290LP;G395H"] and list(found["distance"]) == [0.0]
    assert server.errors == []


# --------------------------------------------------------------------------- recorded replies
# The recorded replies (provenance: ../shared/data/README.md): the 2018 Mast.Jwst.Filtered.Miri
# reply printed by spacetelescope/jwql (re-serialised), the 2026 Mast.Jwst.Filtered.Nirspec rows
# of dawn-cph/dja (CSV), and astroquery's recorded CAOM and count replies.

SHARED_DATA = Path(os.environ.get("NIRSPEC_SHARED_DATA") or Path(__file__).parents[1].parent / "shared" / "data")
_MS_DATE = re.compile(r"/Date\(-?\d+\)/")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_ENVELOPES = ["jwql/jwst_filtered_miri_2018_reply.json", "astroquery_mast_tests/caom.json",
              "astroquery_mast_tests/advSearch.json", "astroquery_mast_tests/advSearchPos.json",
              "astroquery_mast_tests/countsResp.json", "astroquery_mast_tests/products.json"]


def recorded_path(relative):
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"recorded reply {relative} not found beside the repository")
    return path


def recorded(relative):
    return json.loads(recorded_path(relative).read_text())


@pytest.fixture(scope="module")
def dja_columns():
    """{column: [text values]} of the 2026 Mast.Jwst.Filtered.Nirspec rows (CSV)."""
    with open(recorded_path("dja/dja_dashboard_nirspec_jwst_filtered.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return {name: [r[name] for r in rows] for name in rows[0]}


def json_shape(value):
    """Shape class of a JSON value as it arrives from MAST."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if _MS_DATE.fullmatch(value):
        return "msdate"
    if value in ("t", "f", "T", "F"):
        return "flag"
    return "hex32" if _HEX32.fullmatch(value) else "text"


def csv_shape(text):
    """Shape class of a CSV cell of the DJA rows (numbers and text are told apart by parsing)."""
    if text == "":
        return "null"
    if text in ("True", "False"):
        return "bool"
    try:
        float(text)
    except ValueError:
        return json_shape(text)
    return "number"


def test_recorded_envelopes_and_ours_have_one_shape(srv):
    ours = call(srv, req(pagesize=5))
    for name in _ENVELOPES:
        reply = recorded(name)
        assert set(reply) == set(ours) == {"status", "msg", "data", "fields", "paging"}, name
        assert (reply["status"], reply["msg"]) == (ours["status"], ours["msg"]) == ("COMPLETE", "")
        assert set(reply["paging"]) == set(ours["paging"]), name
        assert reply["paging"]["rowsTotal"] == reply["paging"]["rowsFiltered"], name
        assert all(set(f) == {"name", "type"} for f in reply["fields"] + ours["fields"]), name


def test_count_reply_is_the_recorded_one(mast_server_factory):
    archive = MastArchive()
    archive.add_service(TOY_SERVICE, TOY_FIELDS, toy_rows(599))
    server = mast_server_factory(archive)
    assert call(server, req(columns="COUNT_BIG(*)")) == recorded("astroquery_mast_tests/countsResp.json")


def test_nirspec_fields_are_2026_columns_in_their_order(dja_columns):
    names = [f["name"] for f in NIRSPEC_FIELDS]
    order = list(dja_columns)
    assert set(names) <= set(order)
    assert sorted(names, key=order.index) == names


def test_nirspec_field_types_are_the_recorded_types():
    recorded_types = {f["name"]: f["type"] for f in recorded("jwql/jwst_filtered_miri_2018_reply.json")["fields"]}
    ours = {f["name"]: f["type"] for f in NIRSPEC_FIELDS}
    shared = set(ours) & set(recorded_types)
    assert len(shared) > 50
    assert {n: ours[n] for n in shared} == {n: recorded_types[n] for n in shared}
    for name in ("ArchiveFileID", "fileSize", "FileSetId", "checksum"):
        assert ours[name] == "string"
    assert {n for n, t in ours.items() if t == "boolean"} == {"isRestricted", "isItar", "isStale"}
    assert set(NIRSPEC_DATE_COLUMNS) == {n for n, t in ours.items() if t == "date"} == {
        "date_obs", "ingestStartDate", "ingestCompletionDate", "publicReleaseDate"}
    assert all(ours[d + "_mjd"] == "float" for d in NIRSPEC_DATE_COLUMNS)


def test_nirspec_value_shapes_are_the_recorded_shapes(nirspec_rows, dja_columns):
    reply = recorded("jwql/jwst_filtered_miri_2018_reply.json")
    shapes_2018 = {f["name"]: {json_shape(r[f["name"]]) for r in reply["data"]} for f in reply["fields"]}
    shapes_2026 = {name: {csv_shape(v) for v in values} for name, values in dja_columns.items()}
    for field in NIRSPEC_FIELDS:
        name = field["name"]
        ours = {json_shape(r[name]) for r in nirspec_rows} - {"null"}
        # 2026 wins where it tells shapes apart (dates, flags, hex checksum); CSV text and
        # numbers look alike, so text columns are checked against the 2018 JSON reply
        expected = shapes_2026[name] - {"null"}
        if name in shapes_2018 and expected <= {"number", "text"}:
            expected = shapes_2018[name] - {"null"}
        assert ours <= expected, (name, ours, expected)
    assert {json_shape(r["checksum"]) for r in nirspec_rows} == shapes_2026["checksum"] == {"hex32"}
    for name in ("ArchiveFileID", "fileSize", "FileSetId"):
        assert all(type(r[name]) is int for r in reply["data"] + nirspec_rows), name


def test_flags_are_the_2026_text_flags(nirspec_rows, dja_columns):
    tf_2026 = {name for name, values in dja_columns.items()
               if {v for v in values if v} and {v for v in values if v} <= {"t", "f"}}
    assert set(NIRSPEC_FLAG_COLUMNS) == tf_2026 & {f["name"] for f in NIRSPEC_FIELDS}
    assert {"targoopp", "tsovisit", "hga_move", "is_imprt", "bkgdtarg", "intarget", "crowdfld"} <= tf_2026
    for name in NIRSPEC_FLAG_COLUMNS:
        values = {r[name] for r in nirspec_rows}
        assert values <= {"t", "f", None}, name
        assert (None in values) <= ("" in dja_columns[name]), name     # null only where 2026 has nulls
    assert {r["tsovisit"] for r in nirspec_rows if r["exp_type"] == "NRS_BRIGHTOBJ"} == {"t"}


def test_caom_fields_are_the_recorded_fields():
    planned_csv = recorded_path("jwst_planned_observations/planned_obs_caom_filtered_position_2020.csv")
    header = planned_csv.read_text().splitlines()[0].split(",")
    assert [f["name"] for f in CAOM_FIELDS] + ["distance"] == header
    ours = {f["name"]: f["type"] for f in CAOM_FIELDS + [{"name": "distance", "type": "float"}]}
    for name in ("advSearchPos.json", "advSearch.json", "caom.json"):
        for field in recorded("astroquery_mast_tests/" + name)["fields"]:
            if field["name"] != "_selected_":
                assert ours[field["name"]] == field["type"], (name, field)


def test_caom_rows_share_obsids_as_recorded(srv):
    rows = recorded("astroquery_mast_tests/advSearchPos.json")["data"]
    assert len(rows) == 12 and len({r["obsid"] for r in rows}) == 6
    ours = make_caom_rows(200, seed=3)
    for sample in (rows, ours):
        by_obsid = {}
        for r in sample:
            by_obsid.setdefault(r["obsid"], []).append(r)
        pairs = [group for group in by_obsid.values() if len(group) > 1]
        assert pairs and all(len({r["objID"] for r in g}) == len(g) for g in pairs)
        assert all(len({r["filters"] for r in g}) > 1 or len({r["t_exptime"] for r in g}) > 1 for g in pairs)
        assert all(isinstance(r["obsid"], int) and isinstance(r["objID"], int) for r in sample)
    # the server returns every row of a shared obsid
    archive = MastArchive()
    archive.add_caom(ours)
    srv.archive = archive
    repeated = Counter(r["obsid"] for r in ours).most_common(1)[0][0]
    result = call(srv, req(CAOM_FILTERED_SERVICE, filters=[{"paramName": "obsid", "values": [repeated]}]))
    assert [r["objID"] for r in result["data"]] == [r["objID"] for r in ours if r["obsid"] == repeated]
    assert result["paging"]["rowsFiltered"] >= 2


def test_caom_rows_include_bots():
    rows = make_caom_rows(300, seed=4)
    bots = [r for r in rows if r["dataproduct_type"] == "timeseries"]
    assert {r["instrument_name"] for r in bots} == {"NIRSPEC/BOTS", "NIRSPEC/SLIT"}
    assert all(r["obs_id"].endswith("-s1600a1-sub2048") and r["calib_level"] in (2, 3) for r in bots)
    assert {r["instrument_name"] for r in rows} == {"NIRSPEC", "NIRSPEC/MSA", "NIRSPEC/IFU", "NIRSPEC/SLIT",
                                                    "NIRSPEC/BOTS"}


@pytest.mark.parametrize("columns", ["*", "filename, date_obs, targoopp, isRestricted, fileSize"])
@pytest.mark.parametrize("removenull", [False, True])
def test_empty_reply_carries_every_requested_field(srv, columns, removenull):
    request = req(NIRSPEC_SERVICE, columns=columns, removenullcolumns=removenull,
                  filters=[{"paramName": "grating", "values": ["G395H"]}, {"paramName": "filter", "values": ["CLEAR"]}])
    result = call(srv, request)
    expected = NIRSPEC_FIELDS if columns == "*" else [
        f for name in columns.split(", ") for f in NIRSPEC_FIELDS if f["name"] == name]
    assert result["fields"] == expected and result["data"] == []
    assert result["paging"] == {"page": 1, "pageSize": 50000, "pagesFiltered": 0, "rows": 0,
                                "rowsFiltered": 0, "rowsTotal": 0}


@pytest.fixture(scope="module")
def flag_rows():
    rows = make_nirspec_rows(2000, seed=7)
    assert {r["targoopp"] for r in rows} == {"t", "f"}
    return rows


@pytest.mark.parametrize("values, expect", [(["t"], "t"), (["T"], "t"), (["f", "F"], "f"), (["True"], None),
                                            ([True], None), (["true", "false"], None)])
def test_flags_compare_as_text_ignoring_case(mast_server_factory, flag_rows, values, expect):
    server = mast_server_factory(make_archive(nirspec_rows=flag_rows))
    result = call(server, req(NIRSPEC_SERVICE, columns="ArchiveFileID",
                              filters=[{"paramName": "targoopp", "values": values}]))
    assert [r["ArchiveFileID"] for r in result["data"]] == [
        r["ArchiveFileID"] for r in flag_rows if r["targoopp"] == expect]


@pytest.mark.parametrize("values", [[True], ["true"], ["True"], [1]])
def test_real_booleans_compare_as_bits(srv, nirspec_rows, values):
    result = call(srv, req(NIRSPEC_SERVICE, columns="filename",
                           filters=[{"paramName": "isRestricted", "values": values}]))
    expected = [r["filename"] for r in nirspec_rows if r["isRestricted"]]
    assert [r["filename"] for r in result["data"]] == expected and expected


def test_a_one_letter_value_on_a_real_boolean_is_a_conversion_error(srv):
    result = call(srv, req(NIRSPEC_SERVICE, filters=[{"paramName": "isRestricted", "values": ["t"]}]))
    assert result == {"status": "ERROR",
                      "msg": "Conversion failed when converting the nvarchar value 't' to data type bit."}


# --------------------------------------------------------------------------- MSA files, requests in flight

def test_mos_rows_name_their_msa_files():
    rows = make_nirspec_rows(3000, seed=7)
    mos = [r for r in rows if r["exp_type"] == "NRS_MSASPEC"]
    assert mos and all(r["msametfl"] is not None for r in mos)
    for r in rows:
        visit = f"jw{r['program']:05d}{r['observtn']:03d}001"
        if r["template"] == "NIRSpec MultiObject Spectroscopy":
            assert re.fullmatch(visit + r"_0[12]_msa\.fits", r["msametfl"]), r["msametfl"]
        else:
            assert r["msametfl"] is None
    files_per_visit = Counter(name[:-12] for name in {r["msametfl"] for r in mos})
    assert set(files_per_visit.values()) == {1, 2}          # one or two MSA configurations
    assert msa_uri(mos[0]["msametfl"]) == "mast:JWST/product/" + mos[0]["msametfl"]


def test_registered_msa_files_are_served_and_counted(srv):
    one = srv.add_file(msa_uri("jw01345063001_01_msa.fits"), b"SIMPLE  = T one")
    two = srv.add_file(msa_uri("jw01345063001_02_msa.fits"), b"SIMPLE  = T two", restricted=True)
    srv.tokens.add("good-token")
    with requests.Session() as s:
        assert s.get(srv.download_url(one)).content == b"SIMPLE  = T one"
        assert s.get(srv.download_url(one)).status_code == 200
        assert s.head(srv.download_url(one)).status_code == 200          # a HEAD is no download
        assert s.get(srv.download_url(two)).status_code == 401
        assert s.get(srv.download_url(two), headers={"Authorization": "token good-token"}).content == (
            b"SIMPLE  = T two")
    assert srv.download_counts() == Counter({one: 2, two: 2})
    assert len(srv.downloads(one)) == 3


def test_requests_in_flight_are_counted(nirspec_rows, monkeypatch):
    with MastServer(make_archive(nirspec_rows=nirspec_rows)) as server:
        assert (server.in_flight, server.max_in_flight) == (0, 0)
        # every reply waits (where the latency is slept) until five requests are in flight
        together = threading.Barrier(5, timeout=30)
        monkeypatch.setattr(server, "_sleep", lambda seconds: together.wait())

        def one(_):
            return call(server, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)"))["status"]

        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            assert list(pool.map(one, range(5))) == ["COMPLETE"] * 5
        assert (server.in_flight, server.max_in_flight) == (0, 5)
        monkeypatch.undo()
        server.reset_in_flight()
        assert server.max_in_flight == 0
        with requests.Session() as s:
            for _ in range(3):
                invoke(server.url, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)"), session=s)
            s.get(server.download_url("mast:JWST/product/none.fits"))
        assert (server.in_flight, server.max_in_flight) == (0, 1)
        assert server.errors == []


def test_a_range_on_a_date_column_is_ignored_as_recorded(srv, nirspec_rows):
    # 2018: a date_obs range with string bounds came back with every row; the _mjd twin filters
    date_range = [{"paramName": "date_obs", "values": [{"min": "2030-01-01", "max": "2031-01-01"}]}]
    assert call(srv, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)", filters=date_range))["data"] == [
        {"Column1": len(nirspec_rows)}]
    mjd_range = [{"paramName": "date_obs_mjd", "values": [{"min": 60000, "max": 60500}]}]
    expected = sum(60000 <= r["date_obs_mjd"] <= 60500 for r in nirspec_rows)
    assert 0 < expected < len(nirspec_rows)
    assert call(srv, req(NIRSPEC_SERVICE, columns="COUNT_BIG(*)", filters=mjd_range))["data"] == [
        {"Column1": expected}]
