"""
Pages fetched ``conf.max_concurrent_pages`` at a time (issue 12, "Pages" and "Fields").

- Concurrency on and off give identical Tables (the local MAST server of
  ``tests/mast_double/``);
- a fault on page k, with concurrency, retries page k alone;
- the bound on requests in flight holds, counted by the server: a tiny invoke server
  of this file holds each reply briefly and counts the requests it is answering at
  once (no timing is asserted: only counts);
- `transport.invoke_many` (the CAOM requests of a duplicate check, one per sky field)
  keeps the request order, the same bound, and fails on the first failing request.
"""
import collections
import http.server
import json
import threading
import time
import urllib.parse

import astropy.units as u
import pytest
from astroquery.exceptions import InvalidQueryError, RemoteServiceError

from astroquery_nirspec import NirspecMast, NirspecMastClass, conf, transport
from mast_double import NIRSPEC_SERVICE, Fault, make_archive
from table_checks import DECODERS, assert_same_table, use_decoder

ARCHIVE = make_archive(n_nirspec=1000, seed=21)
COLUMNS = ["ArchiveFileID", "filename", "targ_ra", "targ_dec", "grating", "date_obs"]


@pytest.fixture
def server(local_mast):
    return local_mast(ARCHIVE, pagesize=90)


def table_text(table):
    return (table.pformat(max_lines=-1, max_width=-1),
            [str(getattr(table[c], "dtype", type(table[c]).__name__)) for c in table.colnames],
            dict(table.meta))


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_concurrency_on_and_off_give_identical_tables(server, workers):
    srv = server()
    with conf.set_temp("max_concurrent_pages", 1):
        sequential = NirspecMast.query_filtered(columns=COLUMNS, cache=False)
    with conf.set_temp("max_concurrent_pages", workers):
        concurrent = NirspecMast.query_filtered(columns=COLUMNS, cache=False)
    assert len(sequential) == 1000
    assert table_text(concurrent) == table_text(sequential)
    pages = collections.Counter(r["page"] for r in srv.requests(NIRSPEC_SERVICE))
    assert pages == {page: 2 for page in range(1, 13)}            # 12 pages, each once per query


def test_a_row_limit_with_concurrency_fetches_only_the_pages_it_needs(server):
    srv = server()
    with conf.set_temp("max_concurrent_pages", 4), pytest.warns(Warning, match="first 200 of 1000"):
        table = NirspecMast.query_filtered(columns="ArchiveFileID", row_limit=200, cache=False)
    assert list(table["ArchiveFileID"]) == list(ARCHIVE[NIRSPEC_SERVICE].column("ArchiveFileID"))[:200]
    assert sorted(r["page"] for r in srv.requests(NIRSPEC_SERVICE)) == [1, 2, 3]


@pytest.mark.parametrize("page", [2, 5, 12])
def test_a_fault_on_one_page_retries_that_page_alone(server, page):
    srv = server()
    srv.add_faults(Fault.http(503), 2, match=lambda r: r.get("page") == page)
    srv.add_fault(Fault.truncate(), match=lambda r: r.get("page") == page)
    with conf.set_temp("max_concurrent_pages", 3):
        table = NirspecMast.query_filtered(columns="ArchiveFileID", cache=False)
    assert list(table["ArchiveFileID"]) == list(ARCHIVE[NIRSPEC_SERVICE].column("ArchiveFileID"))
    counts = collections.Counter(r["page"] for r in srv.requests(NIRSPEC_SERVICE))
    assert counts == {p: (4 if p == page else 1) for p in range(1, 13)}
    assert srv.pending_faults == 0


def test_the_first_failing_page_in_page_order_fails_the_query(server):
    srv = server()
    srv.add_fault(Fault.error("page four is broken"), match=lambda r: r.get("page") == 4)
    srv.add_fault(Fault.error("page three is broken"), match=lambda r: r.get("page") == 3)
    with conf.set_temp("max_concurrent_pages", 4), \
            pytest.raises(RemoteServiceError, match="page three is broken"):
        NirspecMast.query_filtered(columns="ArchiveFileID", cache=False)
    assert max(r["page"] for r in srv.requests(NIRSPEC_SERVICE)) <= 3 + 4   # the window stopped


@pytest.mark.parametrize("value", [0, -3])
def test_a_bad_setting_is_refused_before_any_request(server, value):
    srv = server()
    with conf.set_temp("max_concurrent_pages", value), \
            pytest.raises(InvalidQueryError, match=rf"max_concurrent_pages {value}.*at least 1"):
        NirspecMast.query_filtered(columns="ArchiveFileID", cache=False)
    assert srv.log == []


# ---------------------------------------------------------------------- requests in flight
class CountingServer:
    """
    A tiny invoke server of ``rows`` integer rows, answering each request after ``hold``
    seconds and counting the requests it is answering at once (``peak``), per service.
    """

    def __init__(self, rows, hold=0.1):
        self.rows, self.hold = rows, hold
        self.in_flight, self.peak, self.pages = 0, 0, []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(urllib.parse.unquote(body.decode().split("=", 1)[1]))
                with owner.lock:
                    owner.in_flight += 1
                    owner.peak = max(owner.peak, owner.in_flight)
                    owner.pages.append((request["service"], request["page"]))
                time.sleep(owner.hold)
                reply = json.dumps(owner.reply(request)).encode()
                with owner.lock:
                    owner.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def reply(self, request):
        size, page = int(request["pagesize"]), int(request["page"])
        offset = int(request["service"].rsplit(".", 1)[-1]) * 10_000   # one range per "field"
        data = [{"n": offset + i} for i in range((page - 1) * size, min(page * size, self.rows))]
        return {"status": "COMPLETE", "msg": "", "fields": [{"name": "n", "type": "int"}], "data": data,
                "paging": {"page": page, "pageSize": size, "pagesFiltered": -(-self.rows // size),
                           "rows": len(data), "rowsFiltered": self.rows, "rowsTotal": self.rows}}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def counting():
    srv = CountingServer(rows=100)
    with conf.set_temp("server", srv.url), conf.set_temp("progress", False):
        yield srv
    srv.close()


def rows_of(responses):
    return [row["n"] for r in responses for row in transport.reply_json(r)["data"]]


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_the_bound_on_pages_in_flight_holds(counting, workers):
    with conf.set_temp("max_concurrent_pages", workers):
        responses = transport.invoke(NirspecMastClass(), {"service": "Test.Paged.0", "pagesize": 10})
    assert rows_of(responses) == list(range(100))
    assert sorted(page for _, page in counting.pages) == list(range(1, 11))
    assert counting.pages[0] == ("Test.Paged.0", 1)               # page 1 first, alone
    assert counting.peak <= workers
    if workers > 1:
        assert counting.peak >= 2         # 9 pages held 0.1 s each, `workers` sent at once


def test_progress_is_reported_in_page_order(counting):
    seen = []
    with conf.set_temp("max_concurrent_pages", 4):
        transport.invoke(NirspecMastClass(), {"service": "Test.Paged.0", "pagesize": 10},
                         progress=seen.append)
    assert [p.page for p in seen] == list(range(1, 11))
    assert [p.rows for p in seen] == list(range(10, 101, 10))


def test_each_page_is_parsed_in_the_thread_that_fetched_it(counting, monkeypatch):
    parsed_in = []
    from astroquery_nirspec import decoding
    real = decoding.loads

    def recording(content):
        parsed_in.append(threading.current_thread().name)
        return real(content)

    monkeypatch.setattr(decoding, "loads", recording)
    with conf.set_temp("max_concurrent_pages", 3):
        responses = transport.invoke(NirspecMastClass(), {"service": "Test.Paged.0", "pagesize": 10})
    assert all(getattr(r, "_mast_json", None) is not None for r in responses)
    assert parsed_in[0] == threading.main_thread().name              # page 1, alone
    assert len(parsed_in) == 10 and all(n.startswith("nirspec-pages") for n in parsed_in[1:])


@pytest.mark.parametrize("workers", [1, 3])
def test_invoke_many_keeps_order_and_the_bound(counting, workers):
    requests_ = [{"service": f"Test.Field.{k}", "pagesize": 40} for k in range(7)]  # 3 pages each
    done = []
    with conf.set_temp("max_concurrent_pages", workers):
        results = transport.invoke_many(NirspecMastClass(), requests_, progress=done.append)
    assert [rows_of(r) for r in results] == [list(range(k * 10_000, k * 10_000 + 100)) for k in range(7)]
    assert done == list(range(1, 8))
    assert len(counting.pages) == 21
    assert counting.peak <= workers
    if workers > 1:
        assert counting.peak >= 2


def test_invoke_many_fails_on_the_first_failing_request(counting):
    calls = []
    real = counting.reply

    def reply(request):
        calls.append(request["service"])
        if request["service"] == "Test.Field.2":
            return {"status": "ERROR", "msg": "field two is broken"}
        return real(request)

    counting.reply = reply
    requests_ = [{"service": f"Test.Field.{k}", "pagesize": 100} for k in range(10)]
    with conf.set_temp("max_concurrent_pages", 2), pytest.raises(RemoteServiceError, match="field two"):
        transport.invoke_many(NirspecMastClass(), requests_)
    assert "Test.Field.9" not in calls                           # the rest were not sent


# --- each page converted in the thread that fetched it (issue 12, "convert each page while the
# next downloads") ---------------------------------------------------------------------------

@pytest.fixture(params=DECODERS)
def decoder(request, monkeypatch):
    return use_decoder(request.param, monkeypatch)


def whole_reply_table(responses, **options):
    """The former path: every page parsed to rows, all rows converted at the end."""
    from astroquery_nirspec import tables
    return tables.pages_to_table([transport.loads(r.content) for r in responses], **options)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("columns", [COLUMNS, None])
def test_page_by_page_conversion_gives_the_whole_reply_table(server, decoder, workers, columns):
    server()
    with conf.set_temp("max_concurrent_pages", workers):
        responses = NirspecMast.query_filtered_async(columns=columns, cache=False)
        table = NirspecMast._parse_result(responses)
    assert len(responses) == 12 and len(table) == 1000
    assert all(transport.converted(r) is not None for r in responses)
    expected = whole_reply_table(responses, columns=columns, request=responses.context["request"])
    assert table_text(table) == table_text(expected)
    assert_same_table(table, expected)


def test_each_page_is_decoded_once_in_its_fetch_thread_and_never_parsed_to_rows(server, monkeypatch):
    from astroquery_nirspec import decoding, tables
    server()
    decoded_in, real = [], decoding.decode_reply

    def recording(content):
        decoded_in.append(threading.current_thread().name)
        return real(content)

    def refuse(content):
        raise AssertionError("a page was parsed to row dicts")

    monkeypatch.setattr(tables, "decode_reply", recording)
    monkeypatch.setattr(transport, "reply_json", refuse)
    with conf.set_temp("max_concurrent_pages", 3):
        table = NirspecMast.query_filtered(columns=COLUMNS, cache=False)
    assert len(table) == 1000
    assert len(decoded_in) == 12 and decoded_in[0] == threading.main_thread().name
    assert all(name.startswith("nirspec-pages") for name in decoded_in[1:])


def test_counts_in_a_cone_and_value_lists_use_the_page_tables(server, monkeypatch):
    srv = server()
    monkeypatch.setattr(transport, "reply_json", lambda r: pytest.fail("a page was parsed to row dicts"))
    with conf.set_temp("max_concurrent_pages", 3):
        values = NirspecMast.get_parameter_values("grating", cache=False)
        count = NirspecMast.query_filtered_count(coordinates="0 0", radius=180 * u.deg, cache=False)
    assert int(values["count"].sum()) == 1000
    assert count == 1000
    assert srv.requests(NIRSPEC_SERVICE)


def test_pages_download_together_but_are_converted_one_at_a_time(counting):
    """Conversions hold the GIL: run together they would only trade it (and their memory)."""
    active, most, lock = [0], [0], threading.Lock()

    def convert(content):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.02)                  # long enough for another page to arrive meanwhile
        reply = transport.loads(content)
        with lock:
            active[0] -= 1
        return reply["data"], reply

    with conf.set_temp("max_concurrent_pages", 3):
        responses = transport.invoke(NirspecMastClass(), {"service": "Test.Paged.0", "pagesize": 10},
                                     convert=convert)
    assert [row["n"] for r in responses for row in transport.converted(r)[0]] == list(range(100))
    assert counting.peak >= 2 and most[0] == 1
