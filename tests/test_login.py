"""
Login and token hygiene, against a real local MAST server.

The token goes out as ``Authorization: token <t>`` only while logged in, only to an
https:// or loopback server (refused before any socket is opened otherwise), and it
never appears in astroquery's log (DEBUG and TRACE), in warnings, in exception
messages, in ``get_query_payload`` output, or in the cache (logged-in queries are
not cached).
"""
import json
import logging
import socket
import traceback
import warnings

import pytest
import astropy.units as u
from astroquery import log
from astroquery.exceptions import LoginError, RemoteServiceError, TimeoutError

from astroquery_nirspec import NirspecMast, NirspecMastClass, conf
from mast_double import (CAOM_POSITION_SERVICE, NAME_LOOKUP_SERVICE, NIRSPEC_SERVICE, Fault, MastServer,
                         caom_row, make_archive)

TOKEN = "tok-9f8e7d6c5b4a-SECRET-0123456789abcdef"
ENV_TOKEN = "env-tok-1a2b3c4d-SECRET-fedcba9876543210"
POSITION = (53.16, -27.79)
TARGETS = [{"name": "SN1", "ra": POSITION[0], "dec": POSITION[1], "aperture": "IFU", "grating": "G395H",
            "filter": "F290LP", "exposure_time": 1000}]
ARCHIVE = make_archive(n_nirspec=250, seed=4, center=POSITION, spread_deg=0.01,
                       caom_rows=[caom_row(s_ra=POSITION[0], s_dec=POSITION[1], proposal_id="1345")])


@pytest.fixture
def server(local_mast):
    """A local server, fast settings, a private cache directory; logged out afterwards."""
    return local_mast(ARCHIVE, pagesize=100, max_retries=2)(names={"NGC 1068": POSITION})


def authorizations(srv):
    """The Authorization header of every request the server saw (None when absent)."""
    return [next((v for k, v in r.headers.items() if k.lower() == "authorization"), None) for r in srv.log]


def run_every_kind_of_request():
    """Rows (3 pages), a count, value counts, a name lookup and a CAOM duplicate check."""
    NirspecMast.query_filtered(["filename", "grating"], cache=False)
    NirspecMast.query_filtered_count(grating="G395H", cache=False)
    NirspecMast.get_parameter_values("grating", cache=False)
    NirspecMast.query_filtered("filename", coordinates="NGC 1068", radius=30 * u.arcmin, cache=False)
    NirspecMast.check_duplicates(TARGETS, cache=False)


# --------------------------------------------------------------------------- the header

def test_the_token_reaches_the_server_only_while_logged_in(server):
    run_every_kind_of_request()
    assert set(authorizations(server)) == {None}
    services = {r.service for r in server.log}
    assert {NIRSPEC_SERVICE, NAME_LOOKUP_SERVICE, CAOM_POSITION_SERVICE} <= services

    server.clear_log()
    NirspecMast.login(token=TOKEN)
    run_every_kind_of_request()
    assert len(server.log) >= 7
    assert set(authorizations(server)) == {f"token {TOKEN}"}

    server.clear_log()
    NirspecMast.logout()
    run_every_kind_of_request()
    assert set(authorizations(server)) == {None}


def test_login_reads_mast_api_token(server, monkeypatch):
    monkeypatch.setenv("MAST_API_TOKEN", ENV_TOKEN)
    NirspecMast.login()
    NirspecMast.query_filtered_count(cache=False)
    NirspecMast.login(token=TOKEN)                   # an explicit token wins
    NirspecMast.query_filtered_count(cache=False)
    NirspecMast.login(token=f"  {TOKEN}\n")          # pasted with blanks
    NirspecMast.query_filtered_count(cache=False)
    assert authorizations(server) == [f"token {ENV_TOKEN}", f"token {TOKEN}", f"token {TOKEN}"]


@pytest.mark.parametrize("token", [None, "", "   "])
def test_login_without_a_token_is_refused(server, token):
    with pytest.raises(LoginError, match=r"MAST_API_TOKEN"):
        NirspecMast.login(token=token)
    NirspecMast.query_filtered_count()
    assert authorizations(server) == [None]


def test_an_empty_environment_token_is_refused(server, monkeypatch):
    monkeypatch.setenv("MAST_API_TOKEN", "  ")
    with pytest.raises(LoginError):
        NirspecMast.login()


def test_localhost_is_a_loopback_server(server):
    NirspecMast.login(token=TOKEN)
    with conf.set_temp("server", f"http://localhost:{server.port}"):
        NirspecMast.query_filtered_count()
    assert authorizations(server) == [f"token {TOKEN}"]


# --------------------------------------------------------------------------- plain http

@pytest.fixture
def no_sockets(monkeypatch):
    """Fail on any name lookup, socket connection or request."""
    attempts = []

    def refuse(what):
        def fail(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"{what} was used")
        return fail

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(NirspecMastClass, "_request", refuse("_request"))
    return attempts


CALLS = [
    ("query_filtered", lambda: NirspecMast.query_filtered(grating="G395H")),
    ("query_filtered_count", lambda: NirspecMast.query_filtered_count()),
    ("get_parameter_values", lambda: NirspecMast.get_parameter_values("grating")),
    ("a cone around a name", lambda: NirspecMast.query_filtered(coordinates="NGC 1068", radius=1 * u.arcmin)),
    ("resolve_object", lambda: NirspecMast.resolve_object("NGC 1068")),
    ("check_duplicates", lambda: NirspecMast.check_duplicates(TARGETS)),
]


@pytest.mark.parametrize("url", ["http://example.invalid", "http://mast.stsci.edu",
                                 "http://localhost.example.invalid:8080", "http://127.0.0.1.nip.io",
                                 "http://127.0.0.1@example.invalid", "HTTP://EXAMPLE.INVALID/"])
@pytest.mark.parametrize("call", [c[1] for c in CALLS], ids=[c[0] for c in CALLS])
def test_plain_http_to_a_remote_server_is_refused_before_any_socket(monkeypatch, no_sockets, url, call):
    monkeypatch.delenv("MAST_API_TOKEN", raising=False)
    NirspecMast.login(token=TOKEN)
    try:
        with conf.set_temp("server", url), conf.set_temp("progress", False):
            with pytest.raises(LoginError, match=r"https://") as info:
                call()
    finally:
        NirspecMast.logout()
    assert TOKEN not in str(info.value)
    assert no_sockets == []


def test_plain_http_is_fine_while_logged_out(no_sockets):
    NirspecMast.logout()
    with conf.set_temp("server", "http://example.invalid"), pytest.raises(AssertionError, match="_request"):
        NirspecMast.query_filtered_count()
    assert no_sockets == ["_request"]


def test_https_servers_get_the_token(monkeypatch):
    sent = []

    def record(self, method, url, data=None, headers=None, **kwargs):
        sent.append((url, dict(headers or {})))
        raise RemoteServiceError("stop here")

    monkeypatch.setattr(NirspecMastClass, "_request", record)
    NirspecMast.login(token=TOKEN)
    try:
        with conf.set_temp("server", "https://mast.stsci.edu"), pytest.raises(RemoteServiceError):
            NirspecMast.query_filtered_count()
        with conf.set_temp("server", "https://mast.example.invalid"), pytest.raises(LoginError):
            NirspecMast.query_filtered_count()         # https, but not a MAST host: refused
    finally:
        NirspecMast.logout()
    assert sent == [("https://mast.stsci.edu/api/v0/invoke",
                     {"Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain",
                      "Authorization": f"token {TOKEN}"})]


# --------------------------------------------------------------------------- no leaks

@pytest.mark.parametrize("level", [logging.DEBUG, 5], ids=["DEBUG", "TRACE"])
def test_the_token_never_appears_in_logs_warnings_errors_or_payloads(server, level):
    NirspecMast.login(token=TOKEN)
    texts = []
    old_level = log.level
    log.setLevel(level)         # DEBUG: astroquery logs each request; TRACE (5): each reply
    try:
        with log.log_to_list() as records, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # successes: pages, polls, retries, a name lookup, a CAOM check, a limited query
            server.add_fault(Fault.executing(2))
            server.add_fault(Fault.http(503, retry_after=0))
            server.add_fault(Fault.truncate())
            run_every_kind_of_request()
            NirspecMast.query_filtered("filename", row_limit=5)
            # failures: an ERROR reply, 503s until the retries run out, a time-out
            failures = []
            server.add_fault(Fault.error("Incorrect syntax near '*'."))
            server.add_faults(Fault.http(503, "Service busy"), 10)
            for _ in range(2):
                with pytest.raises(RemoteServiceError) as info:
                    NirspecMast.query_filtered_count()
                failures.append(info.value)
            server.clear_faults()
            server.add_fault(Fault.delay(10))
            with conf.set_temp("timeout", 0.5), pytest.raises(TimeoutError) as info:
                NirspecMast.query_filtered_count()
            failures.append(info.value)
    finally:
        log.setLevel(old_level)
    assert "Incorrect syntax" in str(failures[0]) and "Service busy" in str(failures[1])
    texts += [record.getMessage() for record in records]
    texts += [str(w.message) for w in caught]
    texts += ["".join(traceback.format_exception(exc)) for exc in failures]
    texts += [repr(exc) for exc in failures]
    for payload in (NirspecMast.query_filtered(grating="G395H", get_query_payload=True),
                    NirspecMast.query_filtered_count(get_query_payload=True),
                    NirspecMast.get_parameter_values("grating", get_query_payload=True),
                    NirspecMast.check_duplicates(TARGETS, get_query_payload=True)):
        texts.append(json.dumps(payload))
    # the log really holds the requests (with the header redacted) or the replies
    if level == logging.DEBUG:
        requests_logged = [r.getMessage() for r in records if "HTTP request" in r.getMessage()]
        assert len(requests_logged) >= len(server.log) - 1      # all but the one that timed out
        assert all("Authorization: token [redacted]" in text for text in requests_logged)
    else:
        assert sum("HTTP response" in r.getMessage() for r in records) >= 10
    assert any("MaxResultsWarning" in type(w.message).__name__ for w in caught)
    leaks = [text for text in texts if TOKEN in text or TOKEN[-16:] in text]
    assert leaks == []
    # the server did get the token all along
    assert set(authorizations(server)) == {f"token {TOKEN}"}


def test_logged_in_queries_are_not_cached(server):
    cache = NirspecMast.cache_location
    NirspecMast.login(token=TOKEN)
    sent = []
    for _ in range(2):
        NirspecMast.query_filtered(["filename"], cache=True)
        NirspecMast.query_filtered_count(cache=True)
        NirspecMast.query_filtered("filename", coordinates="NGC 1068", radius=1 * u.arcmin, cache=True)
        NirspecMast.check_duplicates(TARGETS, cache=True)
        sent.append(len(server.log))
    assert sent[1] == 2 * sent[0]                       # the second round was sent again
    server.add_fault(Fault.error("failed"))
    with pytest.raises(RemoteServiceError):
        NirspecMast.query_filtered_count(cache=True)
    files = [p for p in cache.rglob("*")]
    assert files == []
    NirspecMast.logout()
    NirspecMast.query_filtered(["filename"], cache=True)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert len(files) == 3                              # caching is back once logged out
    for path in files:
        assert TOKEN not in path.name
        assert TOKEN.encode() not in path.read_bytes()


def test_a_cross_host_redirect_drops_the_token(server):
    with MastServer(ARCHIVE) as other:
        target = f"http://localhost:{other.port}/api/v0/invoke"
        server.add_fault(Fault.http(307, "moved", headers={"Location": target}))
        NirspecMast.login(token=TOKEN)
        assert NirspecMast.query_filtered_count() == len(ARCHIVE[NIRSPEC_SERVICE])
        assert authorizations(server) == [f"token {TOKEN}"]
        assert authorizations(other) == [None]
