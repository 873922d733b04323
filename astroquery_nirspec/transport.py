"""
The MAST Mashup ``invoke`` transport: encoding, EXECUTING polls, paging, retries.

One place decides how a request reaches MAST (``POST <server>/api/v0/invoke`` with
the form body ``request=<url-quoted JSON>``, see ``mast-protocol.md`` §1.2), how an
``EXECUTING`` reply is polled, which failures are retried and how often, and how
the pages of a result are walked and checked. Every request goes through
`astroquery.query.BaseQuery._request`, so astroquery's session, logging and cache
are used; a reply that is not a complete, valid result is removed from the cache
at once, so a failure is never served from it.
"""
import email.utils
import gc
import hashlib
import json
import math
import time
import urllib.parse
import uuid
import requests
from astroquery import log
from astroquery.exceptions import RemoteServiceError, TimeoutError

from . import conf

try:  # a dependency: 1.5x faster than json here (benchmarks/bench_reply.py, docs/performance.rst)
    import orjson as _orjson
except ImportError:  # pragma: no cover - a platform without an orjson wheel
    _orjson = None

__all__ = ["invoke_url", "encode_request", "loads", "reply_json", "retry_after", "invoke",
           "PageProgress"]

#: The headers astroquery.mast sends with every invoke request (mast-protocol.md §1.2).
HEADERS = {"Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain"}

#: HTTP status codes worth another try: the service is busy or briefly down.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})

_MAX_POLL_SLEEP = 5.0


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


def loads(content):
    """
    Parse JSON bytes with orjson (the standard library where orjson cannot be installed).

    Examples
    --------
    >>> loads(b'{"status": "COMPLETE", "data": [{"a": 1}]}')["data"]
    [{'a': 1}]
    """
    enabled = gc.isenabled()
    gc.disable()                  # parsing makes no cycles; collections would rescan every row
    try:
        if _orjson is not None:
            return _orjson.loads(content)
        return json.loads(content)
    finally:
        if enabled:
            gc.enable()


def reply_json(response):
    """
    The parsed JSON of a reply, parsed once and kept on the response.

    Parameters
    ----------
    response : `requests.Response`

    Returns
    -------
    result : dict

    Examples
    --------
    >>> from astroquery.utils.mocks import MockResponse
    >>> response = MockResponse(content=b'{"status": "COMPLETE", "msg": ""}')
    >>> reply_json(response)["status"]
    'COMPLETE'
    >>> reply_json(response) is response._mast_json      # parsed once
    True
    """
    result = getattr(response, "_mast_json", None)
    if result is None:
        result = loads(response.content)
        response._mast_json = result
    return result


def _forget(query):
    """Remove the reply just received from astroquery's cache."""
    last = getattr(query, "_last_query", None)
    if last is None:
        return
    try:
        last.remove_cache_file(query.cache_location)
    except (FileNotFoundError, OSError):
        pass


def retry_after(response):
    """
    Seconds asked for by a reply's ``Retry-After`` header (seconds or an HTTP date), or None.

    Examples
    --------
    >>> from astroquery.utils.mocks import MockResponse
    >>> reply = MockResponse(content=b"busy")
    >>> reply.headers = {"Retry-After": "5"}
    >>> retry_after(reply)
    5.0
    """
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


def _fetch_page(query, request, *, cache, headers, is_complete=_is_complete):
    """
    Send one page's request until it is COMPLETE; return the response.

    EXECUTING replies are polled with a growing sleep; transient failures are
    retried up to ``conf.max_retries`` times; all of it within ``conf.timeout``.
    """
    url = invoke_url()
    body = encode_request(request)
    budget = float(conf.timeout)
    max_retries = int(conf.max_retries)
    deadline = time.monotonic() + budget
    poll_sleep = float(conf.poll_interval)
    retries = 0
    page = request.get("page", 1)

    def fail_or_wait(message, response=None):
        nonlocal retries
        if retries >= max_retries:
            raise RemoteServiceError(
                f"{message} (page {page} of {request['service']} at {url}; "
                f"gave up after {max_retries} retries)")
        retries += 1
        wait = retry_after(response)
        if wait is None:
            wait = float(conf.retry_backoff) * 2 ** (retries - 1)
        remaining = deadline - time.monotonic()
        if wait >= remaining:
            raise TimeoutError(
                f"Timeout limit of {budget} s exceeded: {message}; the next retry "
                f"would start after {wait:.1f} s (page {page} at {url}).")
        time.sleep(wait)

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"Timeout limit of {budget} s exceeded while waiting for page {page} "
                               f"of {request['service']} at {url}.")
        try:
            response = query._request("POST", url, data=body, headers=headers,
                                      timeout=budget if cache else remaining, cache=cache)
        except requests.Timeout:
            raise TimeoutError(f"Timeout limit of {budget} s exceeded: no reply from {url} "
                               f"for page {page} of {request['service']}.") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # refused, reset, or closed in the middle of the reply
            fail_or_wait(f"Connection to MAST failed: {exc}")
            continue

        if response.status_code != 200:
            _forget(query)
            message = f"HTTP {response.status_code} from MAST: {_server_message(response)}"
            if response.status_code in TRANSIENT_STATUS:
                fail_or_wait(message, response)
                continue
            raise RemoteServiceError(f"{message} ({url})")

        try:
            result = reply_json(response)
        except ValueError as exc:
            _forget(query)
            fail_or_wait(f"MAST sent a truncated or invalid JSON reply ({exc})")
            continue
        if not isinstance(result, dict):
            result = {}
        status = result.get("status")
        if is_complete(result):
            return response
        _forget(query)
        if status == "EXECUTING":
            time.sleep(min(poll_sleep, max(0.0, deadline - time.monotonic())))
            poll_sleep = min(poll_sleep * 1.5, _MAX_POLL_SLEEP)
            continue
        if status == "ERROR":
            message = result.get("msg") or "There was an error with your request."
            raise RemoteServiceError(f"MAST returned an error: {message}")
        raise RemoteServiceError(f"MAST reply has no valid status ({status!r}) for page {page} "
                                 f"of {request['service']} at {url}.")


def _paging(response):
    result = reply_json(response)
    data = result.get("data") or []
    paging = result.get("paging") or {}
    return data, paging


def invoke(query, request, *, cache=False, retrieve_all=True, row_limit=None,
           headers=None, progress=None, is_complete=_is_complete):
    """
    Run a Mashup request and return every page's response.

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
        Called with a `PageProgress` after each page.
    is_complete : callable
        Tells a finished reply from its JSON; by default ``status == "COMPLETE"``
        (a service such as ``Mast.Name.Lookup`` answers without that status).

    Returns
    -------
    responses : list of `requests.Response`
        One per page, each COMPLETE; ``response._mast_json`` holds its parsed JSON.

    Raises
    ------
    astroquery.exceptions.RemoteServiceError
        For an ``ERROR`` reply, a non-transient HTTP error, transient failures beyond
        ``conf.max_retries``, pages whose ``rowsFiltered`` disagree (the data changed
        during the query), or a result that stays short of ``rowsFiltered``.
    astroquery.exceptions.TimeoutError
        When a page does not complete within ``conf.timeout`` seconds.

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
    request = dict(request)
    request.setdefault("format", "json")
    request.setdefault("page", 1)
    request.setdefault("pagesize", int(conf.pagesize))
    if "cacheBreaker" not in request:
        # Polls must repeat the request exactly, cacheBreaker included (MashupRequest docs).
        # With caching on it is derived from the request so that equal queries hit the cache.
        request["cacheBreaker"] = (hashlib.sha1(json.dumps(request, sort_keys=True).encode()).hexdigest()
                                   if cache else str(uuid.uuid4()))
    all_headers = dict(HEADERS, **(headers or {}))

    response = _fetch_page(query, request, cache=cache, headers=all_headers, is_complete=is_complete)
    responses = [response]
    data, paging = _paging(response)
    received = len(data)
    if not retrieve_all:
        return responses

    rows_filtered = paging.get("rowsFiltered")
    pages = int(paging.get("pagesFiltered") or 1)
    size = int(request["pagesize"])
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

    while page < pages and not limit_reached():
        page += 1
        req = dict(request, page=page, pagesize=size)
        resp = _fetch_page(query, req, cache=cache, headers=all_headers, is_complete=is_complete)
        page_data, page_paging = _paging(resp)
        if rows_filtered is not None and page_paging.get("rowsFiltered") not in (None, rows_filtered):
            _forget(query)
            raise RemoteServiceError(
                f"The result changed during the query: page 1 reported {rows_filtered} rows "
                f"but page {page} reports {page_paging.get('rowsFiltered')}. Run the query again.")
        expected = None if rows_filtered is None else min(size, rows_filtered - (page - 1) * size)
        if expected is not None and len(page_data) != expected:
            _forget(query)
            raise RemoteServiceError(
                f"Page {page} of {request['service']} has {len(page_data)} rows where {expected} "
                f"were expected ({rows_filtered} rows in pages of {size}); the result would be "
                "incomplete. Narrow the query or lower conf.pagesize.")
        received += len(page_data)
        responses.append(resp)
        if progress:
            progress(PageProgress(page, pages, received, rows_filtered))

    if rows_filtered is not None and not limit_reached() and received != rows_filtered:
        raise RemoteServiceError(
            f"MAST announced {rows_filtered} rows (rowsFiltered) but sent {received} in "
            f"{len(responses)} pages; the result would be incomplete or duplicated. Narrow "
            "the query or lower conf.pagesize.")
    return responses
