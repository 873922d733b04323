"""
Fault injection through a real local MAST server (``tests/mast_double/``).

Every transient failure (HTTP 429/5xx, a TCP reset, a reply cut short, EXECUTING
polls) must be retried and still give the exact result: every row of the archive
once, in order. Permanent failures (an ERROR status, HTTP 4xx) must fail at once;
persistent ones after exactly ``conf.max_retries`` retries; slow ones within the
time limit. A failed reply must never be left in astroquery's cache.

Every test runs twice: one page at a time (``conf.max_concurrent_pages = 1``) and with
the pages after the first fetched three at a time; the guarantees are the same.
"""
import email.utils
import json
import pickle
import time

import pytest
import requests
from astroquery.exceptions import MaxResultsWarning, RemoteServiceError, TimeoutError
from astroquery.query import cache_conf

from astroquery_nirspec import NirspecMast, conf
from mast_double import (CAOM_POSITION_SERVICE, NAME_LOOKUP_SERVICE, NIRSPEC_SERVICE, Fault,
                         make_archive, make_caom_rows, match_service)

#: 1000 rows; with PAGESIZE 300 a query takes 4 pages (300, 300, 300, 100).
ARCHIVE = make_archive(n_nirspec=1000, seed=11)
ALL_IDS = list(ARCHIVE[NIRSPEC_SERVICE].column("ArchiveFileID"))
ALL_FILENAMES = list(ARCHIVE[NIRSPEC_SERVICE].column("filename"))
PAGESIZE = 300
PAGES = 4
COLUMNS = ["ArchiveFileID", "filename"]


@pytest.fixture(autouse=True, params=[1, 3], ids=["sequential", "3 pages in flight"])
def concurrency(request):
    with conf.set_temp("max_concurrent_pages", request.param):
        yield request.param


@pytest.fixture
def server(local_mast):
    """Start local servers on demand; conf points at the last one; fast retries."""
    return local_mast(ARCHIVE, pagesize=PAGESIZE)


def on_page(number):
    """Fault matcher: the NIRSpec request for one page."""
    return lambda request: request.get("service") == NIRSPEC_SERVICE and request.get("page") == number


def query(**kwargs):
    kwargs.setdefault("cache", False)
    return NirspecMast.query_filtered(columns=COLUMNS, **kwargs)


def assert_exact(table):
    """Every archive row once, in archive order, with its own values."""
    assert list(table["ArchiveFileID"]) == ALL_IDS
    assert list(table["filename"]) == ALL_FILENAMES


def pages_requested(srv):
    return [r["page"] for r in srv.requests(NIRSPEC_SERVICE)]


def http_date(seconds_from_now):
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# --------------------------------------------------------------------------- transient faults

# (id, [(fault, page, times)], extra requests caused)
TRANSIENT = [
    ("503 burst", [(Fault.http(503), 1, 3)], 3),
    ("503 burst on a later page", [(Fault.http(503, "Service Unavailable"), 3, 2)], 2),
    ("503 Retry-After 0", [(Fault.http(503, retry_after=0), 2, 3)], 3),
    ("503 Retry-After HTTP-date in the past", [(Fault.http(503, retry_after=http_date(-60)), 1, 1)], 1),
    ("502 and 504", [(Fault.http(502), 1, 1), (Fault.http(504), 2, 1)], 2),
    ("429 Too Many Requests", [(Fault.http(429, retry_after=0), 4, 1)], 1),
    ("500 once per page", [(Fault.http(500), page, 1) for page in range(1, PAGES + 1)], PAGES),
    ("EXECUTING for several polls", [(Fault.executing(5), 1, 1)], 5),
    ("EXECUTING on every page", [(Fault.executing(2), page, 1) for page in range(1, PAGES + 1)], 2 * PAGES),
    ("truncated JSON", [(Fault.truncate(), 2, 1)], 1),
    ("truncated JSON, max_retries times", [(Fault.truncate(), 4, 3)], 3),
    ("TCP reset", [(Fault.reset(), 1, 1), (Fault.reset(), 3, 1)], 2),
    ("TCP reset burst", [(Fault.reset(), 2, 3)], 3),
    ("an HTML page instead of JSON", [(Fault.http(200, "<html><body>MAST maintenance</body></html>",
                                              content_type="text/html"), 2, 1)], 1),
    ("mixed", [(Fault.reset(), 1, 1), (Fault.http(503), 1, 1), (Fault.truncate(), 1, 1),
               (Fault.executing(2), 3, 1), (Fault.http(500), 4, 1)], 6),
]


@pytest.mark.parametrize("faults, extra", [case[1:] for case in TRANSIENT], ids=[c[0] for c in TRANSIENT])
def test_transient_faults_are_retried_and_the_result_is_exact(server, faults, extra):
    srv = server()
    for fault, page, times in faults:
        srv.add_faults(fault, times, match=on_page(page))
    table = query()
    assert_exact(table)
    assert srv.pending_faults == 0                      # every fault was met
    assert srv.count() == PAGES + extra                 # and retried, not more
    assert sorted(set(pages_requested(srv))) == list(range(1, PAGES + 1))
    assert not srv.errors


def test_each_page_retried_once_after_a_500(server):
    srv = server()
    for page in range(1, PAGES + 1):
        srv.add_fault(Fault.http(500, "Internal Server Error"), match=on_page(page))
    assert_exact(query())
    statuses = {}
    for record in srv.log:
        statuses.setdefault(record.request["page"], []).append(record.status)
    assert statuses == {page: [500, 200] for page in range(1, PAGES + 1)}


def test_polls_repeat_the_request_exactly_until_complete(server):
    srv = server(executing_polls=3)
    assert_exact(query())
    records = srv.log
    assert len(records) == PAGES * 4
    for page in range(1, PAGES + 1):
        mine = [r for r in records if r.request["page"] == page]
        assert [r.mast_status for r in mine] == ["EXECUTING"] * 3 + ["COMPLETE"]
        assert all(r.request == mine[0].request for r in mine)   # cacheBreaker included
        assert all(r.body == mine[0].body for r in mine)
    assert len({r.request["cacheBreaker"] for r in records}) == 1


def test_retry_after_is_honoured(server):
    srv = server()
    srv.add_fault(Fault.http(503, retry_after=1), match=on_page(1))
    assert_exact(query())
    first, second = srv.log[:2]
    assert second.time - first.time >= 0.9     # a lower bound only: the server asked for 1 s


def test_retry_after_beyond_the_time_limit_fails_at_once(server):
    srv = server()
    srv.add_faults(Fault.http(503, retry_after=3600), 5, match=on_page(1))
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"(?i)timeout"):
        query()
    assert time.monotonic() - start < conf.timeout
    assert srv.count() == 1


@pytest.mark.parametrize("fault", [Fault.drop_after(100), Fault.drop_after(0)],
                         ids=["connection closed mid-reply", "connection closed after the headers"])
def test_a_reply_cut_by_a_closed_connection_is_retried(server, fault):
    srv = server()
    srv.add_fault(fault, match=on_page(2), target="invoke")
    assert_exact(query())
    assert srv.pending_faults == 0
    assert srv.count() == PAGES + 1


# --------------------------------------------------------------------------- time limit

@pytest.mark.parametrize("kind", ["slow reply", "EXECUTING forever"])
def test_a_reply_slower_than_the_timeout_raises_timeout_error(server, kind):
    srv = server(executing_polls=10**9) if kind == "EXECUTING forever" else server()
    if kind == "slow reply":
        srv.add_fault(Fault.delay(30), match=on_page(1))
    with conf.set_temp("timeout", 1.0):
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=r"(?i)timeout limit of 1\.0 s"):
            query()
        assert time.monotonic() - start < 3 * conf.timeout + 2


# --------------------------------------------------------------------------- page cap and paging checks

def test_a_server_capping_pages_still_gives_every_row_once(server):
    archive = make_archive(n_nirspec=12345, seed=5)
    expected = list(archive[NIRSPEC_SERVICE].column("ArchiveFileID"))
    srv = server(archive, page_cap=1000)
    with conf.set_temp("pagesize", 5000):
        table = NirspecMast.query_filtered(columns="ArchiveFileID", cache=False)
    ids = list(table["ArchiveFileID"])
    assert len(ids) == len(set(ids)) == 12345           # every row once
    assert ids == expected                              # in the archive's order
    assert all(r.rows <= 1000 for r in srv.log)


def test_the_real_50000_row_cap(server):
    """MAST's cap at its real size: pages of 100 000 asked for, 50 000 sent (jwql #941)."""
    archive = make_archive(n_nirspec=120_000, seed=8, fields=[{"name": "ArchiveFileID", "type": "int"}])
    expected = list(archive[NIRSPEC_SERVICE].column("ArchiveFileID"))
    srv = server(archive, page_cap=50_000)
    with conf.set_temp("pagesize", 100_000):
        table = NirspecMast.query_filtered(columns="ArchiveFileID", cache=False)
    assert list(table["ArchiveFileID"]) == expected
    by_page = sorted(srv.log, key=lambda r: r.request["page"])   # pages 2 and 3 may cross
    assert [(r.request["page"], r.rows) for r in by_page] == [(1, 50_000), (2, 50_000), (3, 20_000)]


def test_capped_pages_and_a_row_limit(server):
    archive = make_archive(n_nirspec=5000, seed=6)
    expected = list(archive[NIRSPEC_SERVICE].column("ArchiveFileID"))
    srv = server(archive, page_cap=400)
    with conf.set_temp("pagesize", 2000), pytest.warns(MaxResultsWarning, match="first 1000 of 5000"):
        table = NirspecMast.query_filtered(columns="ArchiveFileID", row_limit=1000, cache=False)
    assert list(table["ArchiveFileID"]) == expected[:1000]
    assert srv.count() == 3                             # 400 + 400 + 400 rows, then stop


def test_name_lookup_and_caom_requests_are_retried_too(server):
    archive = make_archive(n_nirspec=200, seed=2, center=(53.16, -27.79), spread_deg=0.01,
                           caom_rows=make_caom_rows(50, seed=3, center=(53.16, -27.79), spread_deg=0.01))
    srv = server(archive, names={"NGC 1068": (53.16, -27.79)})
    targets = [{"name": "T", "ra": 53.16, "dec": -27.79, "aperture": "MSA", "grating": "G395M",
                "filter": "F290LP", "exposure_time": 2000}]
    clean = NirspecMast.check_duplicates(targets, cache=False)
    position = NirspecMast.resolve_object("NGC 1068", cache=False)
    srv.clear_log()
    srv.add_fault(Fault.http(503), match=match_service(NAME_LOOKUP_SERVICE))
    srv.add_fault(Fault.reset(), match=match_service(NAME_LOOKUP_SERVICE))
    srv.add_fault(Fault.executing(2), match=match_service(CAOM_POSITION_SERVICE))
    srv.add_fault(Fault.truncate(), match=match_service(CAOM_POSITION_SERVICE))
    assert NirspecMast.resolve_object("NGC 1068", cache=False).separation(position).arcsec < 1e-6
    faulty = NirspecMast.check_duplicates(targets, cache=False)
    assert srv.pending_faults == 0
    assert srv.count(NAME_LOOKUP_SERVICE) == 3 and srv.count(CAOM_POSITION_SERVICE) == 4
    assert faulty.pformat(max_lines=-1, max_width=-1) == clean.pformat(max_lines=-1, max_width=-1)


@pytest.mark.parametrize("page, delta", [(2, 7), (4, -3), (1, 5)])
def test_rows_filtered_changing_between_pages_is_an_error(server, page, delta):
    srv = server()
    srv.add_fault(Fault.rows_filtered(delta), match=on_page(page))
    first, other = (1000 + delta, 1000) if page == 1 else (1000, 1000 + delta)
    with pytest.raises(RemoteServiceError) as info:
        query()
    message = str(info.value)
    assert str(first) in message and str(other) in message
    assert "changed" in message


# --------------------------------------------------------------------------- permanent failures

@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_persistent_503_fails_after_exactly_max_retries(server, max_retries):
    srv = server()
    srv.add_faults(Fault.http(503, "MAST is down for maintenance until 14:00 UTC"), 20)
    with conf.set_temp("max_retries", max_retries):
        with pytest.raises(RemoteServiceError) as info:
            query()
    message = str(info.value)
    assert "MAST is down for maintenance until 14:00 UTC" in message
    assert srv.invoke_url in message
    assert "503" in message
    assert srv.count() == max_retries + 1


def test_persistent_503_on_a_later_page(server, concurrency):
    srv = server()
    srv.add_faults(Fault.http(503, "overloaded"), 20, match=on_page(3))
    with pytest.raises(RemoteServiceError, match=r"(?s)overloaded.*page 3"):
        query()
    requested = pages_requested(srv)
    if concurrency == 1:
        assert requested == [1, 2] + [3] * (conf.max_retries + 1)
    else:       # page 4 may be in flight beside page 3: sent at most once, nothing after it
        assert sorted(requested) in ([1, 2] + [3] * (conf.max_retries + 1) + tail for tail in ([], [4]))


def test_persistent_invalid_json_fails_after_exactly_max_retries(server):
    srv = server()
    srv.add_faults(Fault.http(200, "<html>maintenance</html>", content_type="text/html"), 20)
    with pytest.raises(RemoteServiceError, match=r"(?i)json"):
        query()
    assert srv.count() == conf.max_retries + 1


def test_persistent_tcp_resets_fail_after_exactly_max_retries(server):
    srv = server()
    srv.add_faults(Fault.reset(), 20)
    with pytest.raises(RemoteServiceError, match=r"(?i)connection"):
        query()
    assert srv.count() == conf.max_retries + 1


def test_error_status_is_not_retried(server):
    srv = server()
    srv.add_fault(Fault.error("Incorrect syntax near '*'."), match=on_page(1))
    with pytest.raises(RemoteServiceError, match=r"Incorrect syntax near '\*'\."):
        query()
    assert srv.count() == 1


def test_error_status_on_a_later_page_is_not_retried(server, concurrency):
    srv = server()
    srv.add_fault(Fault.error("Invalid column name 'grating'."), match=on_page(3))
    with pytest.raises(RemoteServiceError, match=r"Invalid column name 'grating'\."):
        query()
    # one page at a time: nothing after page 3; three in flight: page 4 may have been sent
    allowed = [[1, 2, 3]] + ([[1, 2, 3, 4]] if concurrency > 1 else [])
    assert sorted(pages_requested(srv)) in allowed


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(server, status):
    srv = server()
    srv.add_fault(Fault.http(status, f"Request rejected ({status}): malformed request object"),
                  match=on_page(1))
    with pytest.raises(RemoteServiceError) as info:
        query()
    message = str(info.value)
    assert str(status) in message
    assert "malformed request object" in message
    assert srv.count() == 1


# --------------------------------------------------------------------------- cache hygiene

def cache_files():
    return sorted(NirspecMast.cache_location.glob("*"))


def assert_cache_holds_only_complete_replies():
    for path in cache_files():
        with open(path, "rb") as handle:
            response = pickle.load(handle)
        assert isinstance(response, requests.Response), path
        assert response.status_code == 200, path
        assert json.loads(response.content)["status"] == "COMPLETE", path


@pytest.mark.parametrize("faults, failure", [
    ([(Fault.http(503, "busy"), 2, 20)], RemoteServiceError),
    ([(Fault.truncate(), 3, 20)], RemoteServiceError),
    ([(Fault.error("Query failed"), 2, 1)], RemoteServiceError),
    ([(Fault.http(400, "bad"), 1, 1)], RemoteServiceError),
    ([(Fault.executing(1), 2, 1), (Fault.http(503), 2, 20)], RemoteServiceError),
    ([(Fault.rows_filtered(4), 3, 1)], RemoteServiceError),
], ids=["503", "truncated", "ERROR", "400", "EXECUTING then 503", "rowsFiltered changed"])
def test_no_failed_reply_is_cached_and_a_retry_succeeds(server, faults, failure):
    srv = server()
    for fault, page, times in faults:
        srv.add_faults(fault, times, match=on_page(page))
    with pytest.raises(failure):
        query(cache=True)
    assert_cache_holds_only_complete_replies()
    srv.clear_faults()
    assert_exact(query(cache=True))                    # not served a failed reply
    assert_cache_holds_only_complete_replies()


def test_polls_and_retries_leave_only_complete_pages_in_the_cache(server):
    srv = server(executing_polls=2)
    srv.add_fault(Fault.http(503), match=on_page(1))
    srv.add_fault(Fault.truncate(), match=on_page(2))
    assert_exact(query(cache=True))
    assert len(cache_files()) == PAGES
    assert_cache_holds_only_complete_replies()


def test_a_repeated_query_is_served_from_the_cache(server):
    srv = server()
    assert_exact(query(cache=True))
    sent = srv.count()
    assert sent == PAGES
    assert_exact(query(cache=True))
    assert srv.count() == sent                         # nothing sent the second time
    assert_exact(query(cache=False))                   # cache=False still asks the server
    assert srv.count() == sent + PAGES


def test_default_cache_setting_follows_astroquery_cache_active(server):
    srv = server()
    with cache_conf.set_temp("cache_active", True):
        assert_exact(query(cache=None))
        assert_exact(query(cache=None))
    assert srv.count() == PAGES                        # the second query came from the cache
    with cache_conf.set_temp("cache_active", False):
        for path in cache_files():
            path.unlink()
        assert_exact(query(cache=None))
    assert cache_files() == []                         # caching off: nothing written
