"""
The MAST Mashup ``invoke`` transport: encoding, EXECUTING polls, paging, retries.

One place decides how a request reaches MAST (``POST <server>/api/v0/invoke`` with
the form body ``request=<url-quoted JSON>``, see ``mast-protocol.md`` §1.2), how an
``EXECUTING`` reply is polled, which failures are retried and how often, and how
the pages of a result are walked and checked (the pages after the first
``conf.max_concurrent_pages`` at a time). Which failures are retried is
`RetryPolicy` (``astroquery_nirspec.retry``); who may receive the MAST token is
`may_send_token` (``astroquery_nirspec.hosts``). Every request goes through
`astroquery.query.BaseQuery._request`, so astroquery's session, logging and cache
are used; a reply that is not a complete, valid result is removed from the cache
at once, so a failure is never served from it.
"""
import dataclasses
import hashlib
import json
import math
import threading
import time
import urllib.parse
import uuid

import requests
from astroquery import log
from astroquery.exceptions import RemoteServiceError, TimeoutError
from astroquery.query import AstroQuery

from . import conf
# The retry policy and the token rule have their own modules; they are named here too, as
# parts of the transport's API.
from .hosts import MAST_DOMAIN, is_loopback, may_send_token
from .retry import (TRANSIENT_ERRORS, TRANSIENT_STATUS, GiveUp, RetryPolicy,
                    RetryWait, retry_after)
from .window import Window, max_concurrent
# Reading a reply (parsed once, kept on the response) is `astroquery_nirspec.decoding`'s.
from .decoding import loads, reply_json

__all__ = ["invoke_url", "encode_request", "loads", "reply_json", "converted", "retry_after", "invoke",
           "invoke_many", "max_concurrent", "may_send_token", "is_loopback", "PageProgress",
           "RetryPolicy", "RetryWait", "GiveUp", "TRANSIENT_STATUS", "TRANSIENT_ERRORS", "MAST_DOMAIN"]

#: The headers astroquery.mast sends with every invoke request (mast-protocol.md §1.2).
HEADERS = {"Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain"}

_MAX_POLL_SLEEP = 5.0

#: One page is converted at a time: conversions are CPU-bound and hold the GIL, so run
#: together they would only trade it (and their memory) while the other pages download.
_CONVERTING = threading.Lock()


def invoke_url():
    """
    The invoke endpoint of the configured server, read at call time.

    Examples
    --------
    >>> from astroquery_nirspec import conf
    >>> with conf.set_temp("server", "http://127.0.0.1:8123/"):
    ...     invoke_url()
    'http://127.0.0.1:8123/api/v0/invoke'
    """
    return conf.server.rstrip("/") + "/api/v0/invoke"


def encode_request(request):
    """
    The form body of an invoke request: ``request=<url-quoted JSON>``.

    Parameters
    ----------
    request : dict
        The Mashup request (``service``, ``params``, ``format``, ``pagesize``, ``page``, ...).

    Returns
    -------
    body : str

    Examples
    --------
    >>> encode_request({"service": "Mast.Jwst.Filtered.Nirspec", "page": 1})
    'request=%7B%22service%22%3A%20%22Mast.Jwst.Filtered.Nirspec%22%2C%20%22page%22%3A%201%7D'
    """
    return "request=" + urllib.parse.quote(json.dumps(request))


def _cache_entry(url, body, headers):
    """The astroquery cache key of an invoke request (what ``BaseQuery._request`` builds)."""
    return AstroQuery("POST", url, data=body, headers=headers)


def _forget(query, entry):
    """Remove one request's reply from astroquery's cache (safe with pages in flight)."""
    if entry is None or getattr(query, "cache_location", None) is None:
        return
    try:
        entry.request_file(query.cache_location).unlink(missing_ok=True)
    except OSError:
        pass


def _server_message(response):
    """The most useful text of an error reply: its JSON ``msg`` or the start of its body."""
    try:
        result = loads(response.content)
        if isinstance(result, dict) and result.get("msg"):
            return str(result["msg"])
    except ValueError:
        pass
    text = response.text.strip()
    return text[:500] if text else response.reason or "no message"


class PageProgress:
    """
    What the transport reports after each page, for progress bars.

    Attributes
    ----------
    page, pages : int
        The page just fetched and the number of pages the server announced.
    rows, rows_filtered : int
        Rows received so far and the number the server announced.
    """

    __slots__ = ("page", "pages", "rows", "rows_filtered")

    def __init__(self, page, pages, rows, rows_filtered):
        self.page, self.pages, self.rows, self.rows_filtered = page, pages, rows, rows_filtered

    def __repr__(self):
        return (f"PageProgress(page={self.page}, pages={self.pages}, rows={self.rows}, "
                f"rows_filtered={self.rows_filtered})")


def _is_complete(result):
    return result.get("status") == "COMPLETE"


def _parse(response, convert):
    """
    The JSON envelope of a reply, parsed once (in the thread that fetched it). With
    ``convert``, ``convert(content)`` gives ``(page, envelope)``: the page (whose length
    is its number of rows) is kept as ``response._mast_page`` and the envelope as
    ``response._mast_envelope``; otherwise the parsed JSON is kept (`reply_json`).
    """
    if convert is None:
        return reply_json(response)
    with _CONVERTING:
        page, envelope = convert(response.content)
    response._mast_page, response._mast_envelope = page, envelope
    return envelope


class _Cancelled(Exception):
    """Another page (or request) failed: this one stops retrying and polling."""


class _Transient(Exception):
    """A failure worth another try (the policy decides how long to wait, or gives up)."""

    def __init__(self, message, response=None):
        super().__init__(message)
        self.response = response


def _sleep(seconds, stop):
    if stop is None:
        time.sleep(seconds)
    elif stop.wait(seconds):
        raise _Cancelled()


@dataclasses.dataclass(frozen=True)
class _Sender:
    """
    How the pages of one request are sent: whose ``_request`` (session, cache), with
    which headers and retry policy, how a finished reply is told (``is_complete``), how
    each reply is read (``convert``, see `_parse`), and the event (``stop``) that ends
    retries and polls early when another page or request failed.
    """

    query: object
    cache: bool
    headers: dict
    policy: RetryPolicy
    is_complete: object = _is_complete
    convert: object = None
    stop: object = None


def _post(sender, url, body, timeout, where):
    """One POST; a connection failure the policy calls transient raises `_Transient`."""
    try:
        return sender.query._request("POST", url, data=body, headers=sender.headers,
                                     timeout=timeout, cache=sender.cache)
    except Exception as exc:
        if isinstance(exc, requests.Timeout):
            raise TimeoutError(f"Timeout limit of {sender.policy.timeout} s exceeded: no reply "
                               f"for {where}.") from None
        if not sender.policy.is_transient(exc):
            raise
        raise _Transient(f"Connection to MAST failed: {exc}") from None


def _status(sender, response, where):
    """
    The reply's ``status`` when it is complete (``"COMPLETE"``) or still running
    (``"EXECUTING"``); raises `_Transient` for a failure worth another try and
    `~astroquery.exceptions.RemoteServiceError` for one that is not.
    """
    if response.status_code != 200:
        message = f"HTTP {response.status_code} from MAST: {_server_message(response)}"
        if sender.policy.is_transient(response.status_code):
            raise _Transient(message, response)
        raise RemoteServiceError(f"{message} ({where})")
    try:
        result = _parse(response, sender.convert)
    except ValueError as exc:
        raise _Transient(f"MAST sent a truncated or invalid JSON reply ({exc})") from None
    result = result if isinstance(result, dict) else {}
    if sender.is_complete(result):
        return "COMPLETE"
    status = result.get("status")
    if status == "ERROR":
        message = result.get("msg") or "There was an error with your request."
        raise RemoteServiceError(f"MAST returned an error: {message}")
    if status != "EXECUTING":
        raise RemoteServiceError(f"MAST reply has no valid status ({status!r}) for {where}.")
    return status


def _fetch_page(sender, request):
    """
    Send one page's request until it is COMPLETE; return the response.

    EXECUTING replies are polled with a growing sleep; transient failures are retried
    as the sender's `RetryPolicy` says; all of it within ``conf.timeout``. The JSON is
    parsed here (in the thread that fetched it, converted by the sender's ``convert``,
    see `_parse`) and kept on the response. A reply that is not complete is removed
    from the cache at once.
    """
    url, body, policy = invoke_url(), encode_request(request), sender.policy
    deadline = time.monotonic() + policy.timeout
    poll_sleep, retries = float(conf.poll_interval), 0
    entry = _cache_entry(url, body, sender.headers) if sender.cache else None
    where = f"page {request.get('page', 1)} of {request['service']} at {url}"
    while True:
        if sender.stop is not None and sender.stop.is_set():
            raise _Cancelled()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"Timeout limit of {policy.timeout} s exceeded while waiting for {where}.")
        complete = False
        try:
            response = _post(sender, url, body, policy.timeout if sender.cache else remaining, where)
            response._mast_cache_entry = entry
            complete = _status(sender, response, where) == "COMPLETE"
            if complete:
                return response
            wait = min(poll_sleep, max(0.0, deadline - time.monotonic()))   # EXECUTING: poll
            poll_sleep = min(poll_sleep * 1.5, _MAX_POLL_SLEEP)
        except _Transient as failure:
            wait = _retry_wait(policy, retries, failure, deadline - time.monotonic(), where)
            retries += 1
        finally:
            if not complete:            # a failed or unfinished reply is never served from the cache
                _forget(sender.query, entry)
        _sleep(wait, sender.stop)


def _retry_wait(policy, retries, failure, remaining, where):
    """Seconds to wait before the next try, or the error that ends the page's tries."""
    try:
        return policy.next_wait(retries, failure.response, remaining=remaining).seconds
    except GiveUp as exc:
        if exc.exhausted:
            raise RemoteServiceError(f"{failure} ({where}; {exc.reason})") from None
        raise TimeoutError(f"Timeout limit of {policy.timeout} s exceeded: {failure}; {exc.reason} "
                           f"({where}).") from None


def converted(response):
    """
    What the ``convert`` of `invoke` gave for a response: ``(page, envelope)``, or None
    when it was not converted.

    Examples
    --------
    >>> from astroquery.utils.mocks import MockResponse
    >>> converted(MockResponse(content=b'{"status": "COMPLETE"}')) is None
    True
    """
    envelope = getattr(response, "_mast_envelope", None)
    return None if envelope is None else (response._mast_page, envelope)


def _paging(response):
    """(rows on the page, its ``paging`` block), from what `_parse` kept: nothing is parsed again."""
    page = converted(response)
    if page is not None:
        return len(page[0]), page[1].get("paging") or {}
    result = reply_json(response)
    return len(result.get("data") or []), result.get("paging") or {}


def _prepare(request, cache):
    request = dict(request)
    request.setdefault("format", "json")
    request.setdefault("page", 1)
    request.setdefault("pagesize", int(conf.pagesize))
    if "cacheBreaker" not in request:
        # Polls must repeat the request exactly, cacheBreaker included (MashupRequest docs).
        # With caching on it is derived from the request so that equal queries hit the cache.
        request["cacheBreaker"] = (hashlib.sha1(json.dumps(request, sort_keys=True).encode()).hexdigest()
                                   if cache else str(uuid.uuid4()))
    return request


def _pages_to_fetch(first, pages, size, rows_filtered, received, row_limit):
    """
    The pages after ``first`` that a query needs, when the server announced its rows.

    Each page holds exactly ``min(size, rows_filtered - (page - 1) * size)`` rows (checked
    as it arrives), so the pages needed before ``row_limit`` rows are known up front.

    Examples
    --------
    >>> _pages_to_fetch(1, 4, 300, 1000, 300, None)
    [2, 3, 4]
    >>> _pages_to_fetch(1, 4, 300, 1000, 300, 500)
    [2]
    """
    wanted = []
    page = first
    while page < pages and (row_limit is None or received < row_limit):
        page += 1
        wanted.append(page)
        received += max(0, min(size, rows_filtered - (page - 1) * size))
    return wanted


def _check_page(query, request, response, *, page, size, rows_filtered):
    """Raise when a later page disagrees with page 1 (count or row number)."""
    rows, page_paging = _paging(response)
    entry = getattr(response, "_mast_cache_entry", None)
    if rows_filtered is not None and page_paging.get("rowsFiltered") not in (None, rows_filtered):
        _forget(query, entry)
        raise RemoteServiceError(
            f"The result changed during the query: page 1 reported {rows_filtered} rows "
            f"but page {page} reports {page_paging.get('rowsFiltered')}. Run the query again.")
    expected = None if rows_filtered is None else min(size, rows_filtered - (page - 1) * size)
    if expected is not None and rows != expected:
        _forget(query, entry)
        raise RemoteServiceError(
            f"Page {page} of {request['service']} has {rows} rows where {expected} "
            f"were expected ({rows_filtered} rows in pages of {size}); the result would be "
            "incomplete. Narrow the query or lower conf.pagesize.")
    return rows


def invoke(query, request, *, cache=False, retrieve_all=True, row_limit=None,
           headers=None, progress=None, is_complete=_is_complete, convert=None):
    """
    Run a Mashup request and return every page's response.

    The first page is fetched alone (it gives ``rowsFiltered``); the others are then
    fetched ``conf.max_concurrent_pages`` at a time, each parsed (and converted, with
    ``convert``) in the thread that fetched it while the others download, and handed
    back in page order. A page that
    fails is retried alone; the first page (in page order) that fails for good fails
    the query and stops the others.

    Parameters
    ----------
    query : `~astroquery.query.BaseQuery`
        Whose ``_request`` (session, cache) is used.
    request : dict
        The Mashup request; ``page`` and ``pagesize`` are set in it. It is copied,
        never modified.
    cache : bool
        Use astroquery's cache for complete pages.
    retrieve_all : bool
        Walk every page (default), or fetch only ``request["page"]``.
    row_limit : int or None
        Stop once this many rows have arrived.
    headers : dict or None
        Extra headers (e.g. authorisation).
    progress : callable or None
        Called with a `PageProgress` after each page, in page order.
    is_complete : callable
        Tells a finished reply from its JSON; by default ``status == "COMPLETE"``
        (a service such as ``Mast.Name.Lookup`` answers without that status).
    convert : callable or None
        Parses each reply instead of `reply_json`: ``convert(content)`` returns
        ``(page, envelope)``, ``envelope`` a dict with the reply's ``status``, ``msg``
        and ``paging`` and ``len(page)`` its number of rows (e.g.
        `astroquery_nirspec.tables.reply_to_table`). It raises `ValueError` for a reply
        that is not JSON.

    Returns
    -------
    responses : list of `requests.Response`
        One per page, in page order, each COMPLETE; ``response._mast_json`` holds its
        parsed JSON, or with ``convert`` what it returned (`converted`).

    Raises
    ------
    astroquery.exceptions.RemoteServiceError
        For an ``ERROR`` reply, a non-transient HTTP error, transient failures beyond
        ``conf.max_retries``, pages whose ``rowsFiltered`` disagree (the data changed
        during the query), or a result that stays short of ``rowsFiltered``.
    astroquery.exceptions.TimeoutError
        When a page does not complete within ``conf.timeout`` seconds.
    astroquery.exceptions.InvalidQueryError
        When ``conf.max_concurrent_pages`` is not a whole number of at least 1.

    Examples
    --------
    >>> from astroquery_nirspec import NirspecMast
    >>> request = {"service": "Mast.Jwst.Filtered.Nirspec",
    ...            "params": {"columns": "COUNT_BIG(*)",
    ...                       "filters": [{"paramName": "program", "values": [1345]}]}}
    >>> pages = invoke(NirspecMast, request)  # doctest: +REMOTE_DATA
    >>> reply_json(pages[0])["data"][0]["Column1"] > 0  # doctest: +REMOTE_DATA
    True
    """
    workers = max_concurrent()
    return _invoke(_sender(query, cache, headers, is_complete, convert), _prepare(request, cache),
                   retrieve_all=retrieve_all, row_limit=row_limit, progress=progress, workers=workers)


def _sender(query, cache, headers, is_complete, convert=None):
    """The `_Sender` of one request, with astroquery.mast's headers and the policy of `conf`."""
    return _Sender(query=query, cache=cache, headers=dict(HEADERS, **(headers or {})),
                   policy=RetryPolicy.from_conf(), is_complete=is_complete, convert=convert)


def _invoke(sender, request, *, retrieve_all, row_limit, progress, workers):
    """`invoke` of a prepared request, with the concurrency given (see `invoke_many`)."""
    def fetch(page, window_stop):
        req = request if page is None else dict(request, page=page, pagesize=size)
        return _fetch_page(dataclasses.replace(sender, stop=sender.stop or window_stop), req)

    size = int(request["pagesize"])
    responses = [fetch(None, None)]
    received, paging = _paging(responses[0])
    if not retrieve_all:
        return responses

    rows_filtered = paging.get("rowsFiltered")
    pages = int(paging.get("pagesFiltered") or 1)
    page = int(request["page"])
    if rows_filtered is not None and 0 < received < min(size, rows_filtered):
        # The server sent fewer rows than asked for on a page that is not the last: it
        # caps pages (MAST's 50 000-row cap). Walk the rest in pages of that size.
        log.info(f"MAST returned {received} rows on page 1 although {size} were asked for; "
                 f"fetching all {rows_filtered} rows in pages of {received}.")
        size = received
        pages = math.ceil(rows_filtered / size)
    if progress:
        progress(PageProgress(page, pages, received, rows_filtered))

    def limit_reached():
        return row_limit is not None and received >= row_limit

    if rows_filtered is None:   # each page's length is unknown: one at a time, as asked
        wanted, workers = range(page + 1, pages + 1), 1
    else:
        wanted = _pages_to_fetch(page, pages, size, rows_filtered, received, row_limit)
    with Window(fetch, wanted, workers) as window:
        for page, response in zip(wanted, window):
            received += _check_page(sender.query, request, response, page=page, size=size,
                                    rows_filtered=rows_filtered)
            responses.append(response)
            if progress:
                progress(PageProgress(page, pages, received, rows_filtered))
            if limit_reached():
                break

    if rows_filtered is not None and not limit_reached() and received != rows_filtered:
        raise RemoteServiceError(
            f"MAST announced {rows_filtered} rows (rowsFiltered) but sent {received} in "
            f"{len(responses)} pages; the result would be incomplete or duplicated. Narrow "
            "the query or lower conf.pagesize.")
    return responses


def invoke_many(query, requests_, *, cache=False, headers=None, progress=None,
                is_complete=_is_complete):
    """
    Run independent Mashup requests, ``conf.max_concurrent_pages`` at a time.

    Each request is walked page by page as `invoke` does with one page in flight, so
    at most ``conf.max_concurrent_pages`` requests are in flight in all. Used for the
    CAOM requests of a duplicate check (one per sky field).

    Parameters
    ----------
    query : `~astroquery.query.BaseQuery`
    requests_ : list of dict
        The Mashup requests.
    cache, headers, is_complete :
        As for `invoke`.
    progress : callable or None
        Called with the number of requests finished so far, after each one (in
        request order, from the calling thread).

    Returns
    -------
    responses : list of list of `requests.Response`
        For each request, in the order given, the responses of its pages.

    Raises
    ------
    As `invoke`: the error of the first request (in the order given) that fails; the
    requests still waiting are not sent.

    Examples
    --------
    >>> from astroquery_nirspec import NirspecMast
    >>> fields = [{"service": "Mast.Caom.Filtered.Position",
    ...            "params": {"columns": "*", "filters": [],
    ...                       "position": f"{ra}, -27.79, 0.075"}} for ra in (53.16, 53.20)]
    >>> pages = invoke_many(NirspecMast, fields)  # doctest: +REMOTE_DATA
    >>> len(pages)  # doctest: +REMOTE_DATA
    2
    """
    requests_ = list(requests_)

    sender = _sender(query, cache, headers, is_complete)

    def run(request, stop):
        return _invoke(dataclasses.replace(sender, stop=stop), _prepare(request, cache),
                       retrieve_all=True, row_limit=None, progress=None, workers=1)

    results = []
    with Window(run, requests_, max_concurrent()) as window:
        for responses in window:
            results.append(responses)
            if progress:
                progress(len(results))
    return results
