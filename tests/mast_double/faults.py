"""
Faults the local MAST server injects (one-shot failures queued by a test) and the
record of each request it saw.

Examples
--------
>>> queue = FaultQueue()
>>> queue.add(Fault.http(503, retry_after=2), match=match_service("Mast.Jwst.Filtered.Nirspec"))
>>> queue.take("invoke", {"service": "Mast.Caom.Filtered"}) is None
True
>>> queue.take("invoke", {"service": "Mast.Jwst.Filtered.Nirspec"}).headers
{'Retry-After': '2'}
"""
from __future__ import annotations

import dataclasses
import http.server
import threading
import traceback
import urllib.parse
from typing import Callable

__all__ = ["Fault", "LogRecord", "FaultQueue", "match_service", "match_uri"]

#: Fault kinds that only make sense for invoke requests.
_INVOKE_ONLY = {"error", "executing", "rows_filtered"}


@dataclasses.dataclass
class Fault:
    """A one-shot failure injected into the next matching request.

    Build with the class methods; queue with `MastServer.add_fault`.
    """
    kind: str
    status: int | None = None
    body: bytes | None = None
    content_type: str = "text/plain; charset=utf-8"
    headers: dict | None = None
    msg: str | None = None
    count: int = 1
    seconds: float = 0.0
    delta: int = 0
    nbytes: int = 0

    @classmethod
    def http(cls, status: int, body: str | bytes | None = None, *, retry_after=None,
             content_type: str = "text/plain; charset=utf-8", headers: dict | None = None) -> "Fault":
        """Reply with HTTP ``status`` and a text body (default: the reason phrase);
        ``retry_after`` (seconds or HTTP-date string) adds a ``Retry-After`` header."""
        if body is None:
            reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("Error",))[0]
            body = f"{status} {reason}"
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        hdrs = dict(headers or {})
        if retry_after is not None:
            if not isinstance(retry_after, str) and float(retry_after).is_integer():
                retry_after = int(retry_after)
            hdrs["Retry-After"] = str(retry_after)
        return cls("http", status=int(status), body=body, content_type=content_type, headers=hdrs)

    @classmethod
    def error(cls, msg: str) -> "Fault":
        """HTTP 200 ``{"status": "ERROR", "msg": msg}``."""
        return cls("error", msg=str(msg))

    @classmethod
    def executing(cls, n: int = 1) -> "Fault":
        """``n`` EXECUTING replies (one per matching request)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        return cls("executing", count=int(n))

    @classmethod
    def truncate(cls) -> "Fault":
        """The real reply cut at half its length (Content-Length = bytes sent)."""
        return cls("truncate")

    @classmethod
    def reset(cls) -> "Fault":
        """Close the TCP connection with RST (SO_LINGER 0) without any response."""
        return cls("reset")

    @classmethod
    def delay(cls, seconds: float) -> "Fault":
        """Reply normally, ``seconds`` late."""
        return cls("delay", seconds=float(seconds))

    @classmethod
    def rows_filtered(cls, delta: int) -> "Fault":
        """Real rows, but ``paging.rowsFiltered`` (and pagesFiltered, and rowsTotal when
        it mirrors rowsFiltered) computed from ``rowsFiltered + delta``."""
        return cls("rows_filtered", delta=int(delta))

    @classmethod
    def drop_after(cls, nbytes: int) -> "Fault":
        """Send headers with the full Content-Length, then ``nbytes`` of body, then
        close the connection (FIN)."""
        return cls("drop_after", nbytes=int(nbytes))


@dataclasses.dataclass
class LogRecord:
    """One request seen by the server (appended on arrival, completed before the
    response bytes are written)."""
    kind: str                       # "invoke", "download", "columnsconfig" or "other"
    method: str
    path: str                       # raw request target, query string included
    headers: dict
    query: dict                     # parse_qs of the URL query string
    request: dict | None = None     # decoded Mashup request JSON (invoke)
    service: str | None = None
    uri: str | None = None          # download uri
    time: float = 0.0               # time.time() on arrival
    status: int | None = None       # HTTP status sent; None for a reset
    mast_status: str | None = None  # COMPLETE / EXECUTING / ERROR
    fault: str | None = None        # kind of the fault applied, if any
    rows: int | None = None         # paging.rows of a COMPLETE reply
    body: bytes = b""


class FaultQueue:
    """Queued faults, consumed first in, first out: one per matching request.

    Each entry is ``[fault, match, target, uses left]``; ``match(payload)`` (the
    decoded request of an invoke, the raw path of a download) selects the requests it
    applies to, None selects all of its ``target`` kind. An exception in ``match`` is
    kept in `errors` and counts as no match.
    """

    def __init__(self, errors: list | None = None):
        self._entries: list[list] = []
        self._lock = threading.Lock()
        self.errors: list[str] = [] if errors is None else errors

    def add(self, fault: Fault, *, match: Callable | None = None, target: str | None = None) -> None:
        """Queue ``fault`` for the next request of ``target`` (``"invoke"``, default, or
        ``"download"``, default for drop_after) for which ``match`` is true."""
        if target is None:
            target = "download" if fault.kind == "drop_after" else "invoke"
        if target not in ("invoke", "download"):
            raise ValueError("target must be 'invoke' or 'download'")
        if target == "download" and fault.kind in _INVOKE_ONLY:
            raise ValueError(f"fault {fault.kind!r} applies to invoke requests only")
        with self._lock:
            self._entries.append([fault, match, target, max(1, fault.count)])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def pending(self) -> int:
        """Number of queued fault uses not yet consumed."""
        with self._lock:
            return sum(entry[3] for entry in self._entries)

    def _matches(self, match: Callable | None, payload) -> bool:
        if match is None:
            return True
        if payload is None:
            return False
        try:
            return bool(match(payload))
        except Exception:
            self.errors.append("fault match raised:\n" + traceback.format_exc())
            return False

    def take(self, target: str, payload) -> Fault | None:
        """The fault for this request (one use of it), or None."""
        with self._lock:
            for idx, entry in enumerate(self._entries):
                if entry[2] != target or not self._matches(entry[1], payload):
                    continue
                entry[3] -= 1
                if entry[3] <= 0:
                    del self._entries[idx]
                return entry[0]
        return None


def match_service(*services: str) -> Callable[[dict], bool]:
    """Fault matcher: invoke requests for one of ``services``."""
    wanted = set(services)
    return lambda req: isinstance(req, dict) and req.get("service") in wanted


def match_uri(uri: str) -> Callable[[str], bool]:
    """Fault matcher for downloads: requests whose ``uri`` query parameter is ``uri``."""
    def _match(path: str) -> bool:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        return uri in q.get("uri", [])
    return _match
