"""
The replies of the local MAST server, apart from the HTTP plumbing: JSON bodies,
request decoding, name lookups, columns configs and file downloads with ranges.

Examples
--------
>>> decode_invoke({"Content-Type": "application/x-www-form-urlencoded"}, {}, b"request=%7B%7D", "POST")
({}, None)
>>> download_reply({"mast:JWST/product/a.fits": b"0123456789"}, set(), set(),
...                {"Range": "bytes=-4"}, "mast:JWST/product/a.fits").body
b'6789'
"""
from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse

import numpy as np

from .fields import CAOM_FILTERED_SERVICE

try:  # much faster for 100 000-row pages; the json fallback is tested
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency of the package
    _orjson = None

__all__ = ["Reply", "dumps", "json_reply", "text_reply", "decode_invoke", "form_fields", "name_lookup_reply",
           "columns_config_reply", "download_reply"]

_TEXT = "text/plain; charset=utf-8"


@dataclasses.dataclass
class Reply:
    """An HTTP reply, and how to (mis)deliver it."""
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)
    mast_status: str | None = None
    rows: int | None = None
    action: str | None = None       # None, "reset", "truncate", "drop_after"
    nbytes: int = 0
    head_only: bool = False


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(o)}")


def dumps(obj) -> bytes:
    """JSON bytes (orjson when importable: NaN and inf become null)."""
    if _orjson is not None:
        return _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY, default=_json_default)
    return json.dumps(obj, default=_json_default).encode("utf-8")


def json_reply(result: dict) -> Reply:
    """HTTP 200 with a Mashup JSON body (its status and row count noted for the log)."""
    paging = result.get("paging")
    return Reply(200, dumps(result), "application/json", mast_status=result.get("status"),
                 rows=paging.get("rows") if isinstance(paging, dict) else None)


def text_reply(status: int, text: str, **headers) -> Reply:
    return Reply(status, text.encode("utf-8"), _TEXT, dict(headers))


def _header(headers: dict, name: str, default=None):
    return next((v for k, v in headers.items() if k.lower() == name.lower()), default)


def form_fields(headers: dict, query: dict, body: bytes, method: str) -> dict:
    """The URL query fields, and those of a form-urlencoded POST body (which win).
    A POST of another Content-Type has no form fields (ASP.NET parses forms only)."""
    ctype = _header(headers, "Content-Type", "")
    form = dict(query)
    if method == "POST" and ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return form


def decode_invoke(headers: dict, query: dict, body: bytes, method: str) -> tuple[dict | None, str | None]:
    """(request JSON object, None) or (None, the ERROR message) of an invoke request."""
    raw = (form_fields(headers, query, body, method).get("request") or [None])[0]
    if raw is None:
        return None, "Request Object is Missing Required Parameter : request"
    try:
        req = json.loads(raw)
    except ValueError as exc:
        return None, f"Invalid request object (not JSON): {exc}"
    if not isinstance(req, dict):
        return None, "Invalid request object (not a JSON object)"
    return req, None


def name_lookup_reply(names: dict, req: dict) -> dict:
    """``Mast.Name.Lookup``: ``names`` maps a name to ``(ra, dec)`` or to ``{"ra", "decl",
    "canonicalName"?, "resolver"?, "objectType"?}``; matching ignores case and spacing."""
    params = req.get("params")
    if not isinstance(params, dict) or not isinstance(params.get("input"), str):
        return {"status": "ERROR", "msg": "Request Object is Missing Required Parameter : input"}
    text = params["input"]
    norm = " ".join(text.split()).casefold()
    for name, value in names.items():
        if " ".join(name.split()).casefold() != norm:
            continue
        extra = value if isinstance(value, dict) else {}
        ra, dec = (value["ra"], value.get("decl", value.get("dec"))) if extra else value
        entry = {"searchString": text.lower(), "resolver": extra.get("resolver", "NED"),
                 "cached": True, "resolverTime": 1, "searchRadius": -1.0,
                 "canonicalName": extra.get("canonicalName", name), "ra": float(ra), "decl": float(dec)}
        if extra.get("objectType"):
            entry["objectType"] = extra["objectType"]
        return {"resolvedCoordinate": [entry], "status": ""}
    return {"resolvedCoordinate": [], "status": ""}


def columns_config_reply(archive, form: dict) -> tuple[str | None, Reply]:
    """(service, reply) of the columns-config endpoint: ``colConfigId=<service>``;
    ``Mast.Caom.Cone`` (astroquery validates CAOM criteria with it) is the CAOM
    table; an unknown service gives ``{}``."""
    name = (form.get("colConfigId") or [""])[0]
    table = archive.table(name)
    if table is None and name == "Mast.Caom.Cone":
        table = archive.table(CAOM_FILTERED_SERVICE)
    return name or None, Reply(200, dumps(table.column_config() if table is not None else {}))


def _byte_range(header: str | None, size: int):
    """(first, last) of a single ``Range: bytes=`` header, "bad" when unsatisfiable,
    None for no (or a malformed or multi-range) header: a full reply (RFC 9110 allows)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not m or not (m.group(1) or m.group(2)):
        return None
    if m.group(1):
        first = int(m.group(1))
        last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:   # suffix range: the last N bytes
        first, last = max(size - int(m.group(2)), 0), size - 1
    return "bad" if first >= size or first > last else (first, last)


def download_reply(files: dict, restricted: set, tokens: set, headers: dict, uri: str | None,
                   method: str = "GET") -> Reply:
    """``/api/v0.1/Download/file?uri=``: 400 without uri, 404 unknown, 401/403 for a
    restricted uri without a valid ``Authorization: token <t>``, else 200 or 206."""
    if uri is None:
        return text_reply(400, "Missing required parameter: uri")
    if uri not in files:
        return text_reply(404, f"File not found: {uri}")
    if uri in restricted:
        auth = _header(headers, "Authorization") or ""
        if not auth.lower().startswith("token ") or not auth[6:].strip():
            return text_reply(401, "Unauthorized: this file requires an authentication token",
                              **{"WWW-Authenticate": "token"})
        if auth[6:].strip() not in tokens:
            return text_reply(403, "Forbidden: token not authorized for this file")
    data = bytes(files[uri])
    hdrs = {"Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{uri.rsplit("/", 1)[-1]}"'}
    span = _byte_range(_header(headers, "Range"), len(data))
    if span == "bad":
        return text_reply(416, "Requested Range Not Satisfiable", **{"Content-Range": f"bytes */{len(data)}"})
    if span is None:
        return Reply(200, data, "application/octet-stream", hdrs, head_only=method == "HEAD")
    hdrs["Content-Range"] = f"bytes {span[0]}-{span[1]}/{len(data)}"
    return Reply(206, data[span[0]:span[1] + 1], "application/octet-stream", hdrs, head_only=method == "HEAD")
