"""
The local MAST server: a real HTTP server on 127.0.0.1 that answers the Mashup
invoke, columns-config and download endpoints from a `MastArchive`, with latency,
EXECUTING polls, a silent page cap and queued faults (tests/PROTOCOL.md).

Examples
--------
>>> from .archive import make_archive
>>> from .client import invoke, mashup_request
>>> with MastServer(make_archive(n_nirspec=30, seed=1)) as srv:
...     reply = invoke(srv.url, mashup_request("Mast.Jwst.Filtered.Nirspec",
...                                            {"columns": "COUNT_BIG(*)", "filters": []})).json()
...     reply["data"], srv.count()
([{'Column1': 30}], 1)
"""
from __future__ import annotations

import collections
import dataclasses
import http.server
import json
import socket
import struct
import threading
import time
import traceback
import urllib.parse
from typing import Callable, Iterable

from .archive import MastArchive, MastError
from .faults import Fault, FaultQueue, LogRecord, match_uri
from .fields import COLUMNS_CONFIG_PATH, DOWNLOAD_PATH, INVOKE_PATH, NAME_LOOKUP_SERVICE
from .query import filtered_reply
from .replies import (Reply, columns_config_reply, decode_invoke, download_reply, form_fields, json_reply,
                      name_lookup_reply, text_reply)

__all__ = ["MastServer"]

_KINDS = {INVOKE_PATH: "invoke", DOWNLOAD_PATH: "download", COLUMNS_CONFIG_PATH: "columnsconfig"}
_METHODS = {"invoke": ("GET", "POST"), "download": ("GET", "HEAD"), "columnsconfig": ("GET", "POST")}


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True   # server_close() joins every handler thread
    request_queue_size = 128   # listen backlog (default 5 drops SYNs under concurrent clients)
    mast: "MastServer"

    def handle_error(self, request, client_address):   # no stderr noise; keep for tests
        self.mast._record_error(traceback.format_exc())


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MastTestServer/1.0"
    timeout = 30.0   # idle keep-alive connections are closed after this
    # Reply headers and body go out in separate writes: without this, Nagle's algorithm and
    # the client's delayed ACK hold every reply ~40 ms (real MAST is not slowed so).
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.server.mast._register(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.mast._unregister(self.connection)

    def log_message(self, format, *args):   # silence the default stderr log
        pass

    def do_GET(self):
        self.server.mast._dispatch(self, "GET")

    def do_POST(self):
        self.server.mast._dispatch(self, "POST")

    def do_HEAD(self):
        self.server.mast._dispatch(self, "HEAD")


def _reset(h: _Handler) -> None:
    """Close the connection with RST (SO_LINGER 0), without a reply."""
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    h.connection.close()


def _write(h: _Handler, reply: Reply) -> None:
    """Send ``reply``; ``truncate`` sends half the body under its own length,
    ``drop_after`` the announced length but ``nbytes`` of body, then FIN."""
    body = reply.body[: len(reply.body) // 2] if reply.action == "truncate" else reply.body
    try:
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in reply.headers.items():
            h.send_header(k, v)
        if reply.action == "drop_after":
            h.send_header("Connection", "close")
        h.end_headers()
        if not reply.head_only:
            h.wfile.write(body[: reply.nbytes] if reply.action == "drop_after" else body)
            h.wfile.flush()
        if reply.action == "drop_after":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_WR)
    except OSError:   # the client went away (broken pipe, reset, shutdown of a closed socket)
        h.close_connection = True


class MastServer:
    """Local MAST Mashup invoke + download server (tests/PROTOCOL.md).

    Parameters
    ----------
    archive : MastArchive, optional
        Tables to serve (default: empty archive).
    latency : float
        Seconds slept before every reply.
    page_cap : int, optional
        Never return more than ``page_cap`` rows per page (reported ``pageSize`` and
        ``pagesFiltered`` still use the requested size).
    executing_polls : int
        The first ``executing_polls`` identical requests answer EXECUTING.
    names : dict, optional
        ``Mast.Name.Lookup`` table: ``name -> (ra, dec)`` or ``name -> {"ra",
        "decl", "canonicalName"?, "resolver"?, "objectType"?}``.
    empty_pages_filtered : int
        ``pagesFiltered`` reported for an empty result (0 or 1).
    files, restricted, tokens :
        Download endpoint content ``{uri: bytes}``, uris needing a token, valid tokens.
    """

    def __init__(self, archive: MastArchive | None = None, *, latency: float = 0.0,
                 page_cap: int | None = None, executing_polls: int = 0, names: dict | None = None,
                 empty_pages_filtered: int = 0, files: dict | None = None,
                 restricted: Iterable[str] | None = None, tokens: Iterable[str] | None = None):
        if empty_pages_filtered not in (0, 1):
            raise ValueError("empty_pages_filtered must be 0 or 1")
        self.archive = archive if archive is not None else MastArchive()
        self.latency = float(latency)
        self.page_cap = page_cap
        self.executing_polls = int(executing_polls)
        self.names = dict(names or {})
        self.empty_pages_filtered = int(empty_pages_filtered)
        self.files: dict[str, bytes] = dict(files or {})
        self.restricted: set[str] = set(restricted or ())
        self.tokens: set[str] = set(tokens or ())
        self.errors: list[str] = []
        self.faults = FaultQueue(self.errors)
        self._log: list[LogRecord] = []
        self._exec_counts: dict[str, int] = {}
        self._in_flight = self._max_in_flight = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stop_event = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "MastServer":
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.mast = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"MastServer:{httpd.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every handler thread (idempotent)."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()          # joins handler threads
        self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "MastServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (base URL, i.e. the ``conf.server`` equivalent)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def invoke_url(self) -> str:
        return self.url + INVOKE_PATH

    def download_url(self, uri: str | None = None) -> str:
        base = self.url + DOWNLOAD_PATH
        return base if uri is None else base + "?uri=" + urllib.parse.quote(uri, safe="")

    # -- log ---------------------------------------------------------------------
    @property
    def log(self) -> list[LogRecord]:
        """Snapshot of the request log (records in arrival order)."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def count(self, service: str | None = None) -> int:
        """Number of invoke requests (for ``service`` if given)."""
        return sum(1 for r in self.log if r.kind == "invoke" and (service is None or r.service == service))

    def requests(self, service: str | None = None) -> list[dict]:
        """Decoded request JSON of every invoke request (for ``service`` if given)."""
        return [r.request for r in self.log
                if r.kind == "invoke" and (service is None or r.service == service)]

    def downloads(self, uri: str | None = None) -> list[LogRecord]:
        """Download requests (GET and HEAD), for ``uri`` if given."""
        return [r for r in self.log if r.kind == "download" and (uri is None or r.uri == uri)]

    def download_counts(self) -> collections.Counter:
        """``{uri: number of GET requests}`` of the download endpoint (any status).

        Examples
        --------
        >>> with MastServer(files={"mast:JWST/product/a_msa.fits": b"x"}) as srv:
        ...     srv.download_counts()
        Counter()
        """
        return collections.Counter(r.uri for r in self.downloads() if r.method == "GET")

    def add_file(self, uri: str, data: bytes, *, restricted: bool = False) -> str:
        """Serve ``data`` for ``uri`` at the download endpoint (a token needed when
        ``restricted``); returns ``uri``."""
        with self._lock:
            self.files[uri] = bytes(data)
            if restricted:
                self.restricted.add(uri)
        return uri

    # -- requests in flight --------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Requests being answered now (any endpoint; a request counts from the end of
        its headers until its reply is written, latency included)."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests in flight at once since the start or `reset_in_flight`."""
        with self._lock:
            return self._max_in_flight

    def reset_in_flight(self) -> None:
        """Start a new `max_in_flight` measure (from the requests in flight now)."""
        with self._lock:
            self._max_in_flight = self._in_flight

    # -- faults ------------------------------------------------------------------
    def add_fault(self, fault: Fault, *, match: Callable | None = None, target: str | None = None) -> None:
        """Queue a one-shot fault for the next request for which ``match`` is true.

        ``target="invoke"`` (default; ``match(request_json_dict)``) or
        ``target="download"`` (default for drop_after; ``match(raw_path_str)``, see
        `match_uri`). ``match=None`` matches every request of the target kind.
        Faults are consumed FIFO; one fault per request.
        """
        self.faults.add(fault, match=match, target=target)

    def add_faults(self, fault: Fault, times: int = 1, *, match: Callable | None = None,
                   target: str | None = None) -> None:
        """Queue ``fault`` ``times`` times (a burst)."""
        for _ in range(int(times)):
            self.faults.add(dataclasses.replace(fault), match=match, target=target)

    def add_download_fault(self, fault: Fault, *, uri: str | None = None, times: int = 1) -> None:
        """Queue a download fault, optionally only for ``uri``."""
        self.add_faults(fault, times, match=match_uri(uri) if uri is not None else None, target="download")

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def pending_faults(self) -> int:
        """Number of queued fault uses not yet consumed."""
        return self.faults.pending

    # -- connections -------------------------------------------------------------
    def _register(self, conn):
        with self._lock:
            stopping = self._stop_event.is_set()
            if not stopping:
                self._conns.add(conn)
        if stopping:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _unregister(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def _record_error(self, text: str):
        with self._lock:
            self.errors.append(text)

    def _sleep(self, seconds: float):
        if seconds > 0:
            self._stop_event.wait(seconds)

    # -- dispatch ------------------------------------------------------------------
    def _dispatch(self, h: _Handler, method: str):
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            self._answer(h, method)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, h: _Handler, method: str):
        parts = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        rec = LogRecord(kind=_KINDS.get(parts.path, "other"), method=method, path=h.path,
                        headers=dict(h.headers.items()), time=time.time(),
                        query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                        body=h.rfile.read(length) if length > 0 else b"")
        with self._lock:
            self._log.append(rec)
        try:
            reply = self._route(rec)
        except Exception:
            tb = traceback.format_exc()
            self._record_error(tb)
            reply = text_reply(500, "Internal test-server error\n" + tb)
        if reply.action == "reset":
            rec.status = None
            _reset(h)
            return
        self._sleep(self.latency)
        rec.status, rec.mast_status, rec.rows = reply.status, reply.mast_status, reply.rows
        _write(h, reply)

    def _route(self, rec: LogRecord) -> Reply:
        if rec.kind == "other":
            return text_reply(404, "Not Found")
        if rec.method not in _METHODS[rec.kind]:
            return text_reply(405, "Method Not Allowed", Allow=", ".join(_METHODS[rec.kind]))
        if rec.kind == "invoke":
            return self._handle_invoke(rec)
        if rec.kind == "download":
            return self._handle_download(rec)
        form = form_fields(rec.headers, rec.query, rec.body, rec.method)
        rec.service, reply = columns_config_reply(self.archive, form)
        return reply

    def _take_fault(self, rec: LogRecord, payload) -> Fault | None:
        """The queued fault for this request; applies http/reset/delay ones that
        do not depend on the request kind (None after a delay: answer normally)."""
        fault = self.faults.take(rec.kind, payload)
        rec.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "delay":
            self._sleep(fault.seconds)
        return fault

    def _fault_reply(self, fault: Fault | None, head_only: bool = False) -> Reply | None:
        if fault is None:
            return None
        if fault.kind == "http":
            return Reply(fault.status, fault.body, fault.content_type, dict(fault.headers or {}), head_only=head_only)
        if fault.kind == "reset":
            return Reply(0, b"", action="reset")
        if fault.kind == "error":
            return json_reply({"status": "ERROR", "msg": fault.msg})
        if fault.kind == "executing":
            return json_reply({"status": "EXECUTING", "msg": "", "percent complete": 50})
        return None

    @staticmethod
    def _deliver(reply: Reply, fault: Fault | None) -> Reply:
        """``reply``, cut short when the fault says so."""
        if fault is not None and fault.kind in ("truncate", "drop_after"):
            reply.action, reply.nbytes = fault.kind, fault.nbytes
        return reply

    # -- invoke ------------------------------------------------------------------
    def _handle_invoke(self, rec: LogRecord) -> Reply:
        req, decode_error = decode_invoke(rec.headers, rec.query, rec.body, rec.method)
        rec.request = req
        rec.service = req.get("service") if req else None
        fault = self._take_fault(rec, req)
        early = self._fault_reply(fault)
        if early is not None:
            return early
        if decode_error is not None:
            return json_reply({"status": "ERROR", "msg": decode_error})
        return self._deliver(json_reply(self._invoke_result(req, fault=fault, polling=True)), fault)

    def process_request(self, request: dict) -> dict:
        """The reply dict for a decoded Mashup request, without faults, latency or
        EXECUTING polls (handy for unit tests)."""
        return self._invoke_result(request, fault=None, polling=False)

    def _executing(self, req: dict) -> dict | None:
        """An EXECUTING reply while this identical request has been polled
        ``executing_polls`` times or fewer."""
        key = json.dumps(req, sort_keys=True)
        with self._lock:
            k = self._exec_counts[key] = self._exec_counts.get(key, 0) + 1
        if k > self.executing_polls:
            return None
        return {"status": "EXECUTING", "msg": "", "percent complete": int(100 * k / (self.executing_polls + 1))}

    def _invoke_result(self, req: dict, *, fault: Fault | None, polling: bool) -> dict:
        try:
            service = req.get("service")
            if not isinstance(service, str) or not service:
                raise MastError("Request Object is Missing Required Parameter : service")
            if service == NAME_LOOKUP_SERVICE:
                return name_lookup_reply(self.names, req)
            table = self.archive.table(service)
            if table is None:
                raise MastError(f"Unknown service: {service}")
            executing = self._executing(req) if polling and self.executing_polls > 0 else None
            if executing is not None:
                return executing
            delta = fault.delta if fault is not None and fault.kind == "rows_filtered" else 0
            return filtered_reply(table, service, req, delta=delta, page_cap=self.page_cap,
                                  empty_pages_filtered=self.empty_pages_filtered)
        except MastError as exc:
            return {"status": "ERROR", "msg": str(exc)}

    # -- download ----------------------------------------------------------------
    def _handle_download(self, rec: LogRecord) -> Reply:
        rec.uri = (rec.query.get("uri") or [None])[0]
        fault = self._take_fault(rec, rec.path)
        early = self._fault_reply(fault, head_only=rec.method == "HEAD")
        if early is not None:
            return early
        with self._lock:
            files, restricted, tokens = dict(self.files), set(self.restricted), set(self.tokens)
        return self._deliver(download_reply(files, restricted, tokens, rec.headers, rec.uri, rec.method), fault)
