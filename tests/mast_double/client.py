"""
Client side of the local MAST server: requests encoded exactly as astroquery 0.4.11
encodes them, and astroquery's own MAST clients pointed at the server.

Examples
--------
>>> encode_invoke_body({"service": "Mast.Name.Lookup"})
'request=%7B%22service%22%3A%20%22Mast.Name.Lookup%22%7D'
"""
from __future__ import annotations

import json
import urllib.parse
import uuid

from .fields import COLUMNS_CONFIG_PATH, DEFAULT_PAGESIZE, INVOKE_PATH

__all__ = ["mashup_request", "encode_invoke_body", "invoke", "astroquery_client"]


def mashup_request(service: str, params: dict, *, pagesize: int | None = DEFAULT_PAGESIZE,
                   page: int | None = 1, **kwargs) -> dict:
    """Build a Mashup request dict the way astroquery does (key order included)."""
    req = {"service": service, "params": params, "format": "json"}
    if pagesize is not None:
        req["pagesize"] = pagesize
    if page is not None:
        req["page"] = page
    req.update(kwargs)
    req.setdefault("cacheBreaker", str(uuid.uuid4()))
    return req


def encode_invoke_body(request: dict) -> str:
    """``request=<urllib.parse.quote(json.dumps(request))>`` (astroquery's encoding)."""
    return "request=" + urllib.parse.quote(json.dumps(request))


def invoke(url: str, request: dict, *, method: str = "POST", session=None, timeout: float = 30.0):
    """POST (or GET) ``request`` to ``<url>/api/v0/invoke``; returns a `requests.Response`.

    ``url`` is the server base URL (``srv.url``) or the full invoke URL.
    """
    import requests
    target = url if url.endswith(INVOKE_PATH) else url.rstrip("/") + INVOKE_PATH
    body = encode_invoke_body(request)
    headers = {"Content-type": "application/x-www-form-urlencoded", "Accept": "text/plain"}
    if session is None:
        with requests.Session() as s:
            return _send(s, method, target, body, headers, timeout)
    return _send(session, method, target, body, headers, timeout)


def _send(session, method, target, body, headers, timeout):
    if method.upper() == "GET":
        return session.get(target + "?" + body, headers={"Accept": "text/plain"}, timeout=timeout)
    return session.post(target, data=body, headers=headers, timeout=timeout)


def astroquery_client(cls, url: str):
    """
    An astroquery MAST client (``MastClass``, ``ObservationsClass``) whose portal
    requests go to the server at ``url``: astroquery 0.4.11 binds its service URLs when
    ``astroquery.mast`` is imported, so ``astroquery.mast.conf.set_temp`` cannot.

    Examples
    --------
    >>> from astroquery.mast import MastClass
    >>> client = astroquery_client(MastClass, "http://127.0.0.1:9")
    >>> client._portal_api_connection.MAST_REQUEST_URL
    'http://127.0.0.1:9/api/v0/invoke'
    """
    client = cls()
    portal = client._portal_api_connection
    portal.MAST_REQUEST_URL = url + INVOKE_PATH
    portal.COLUMNS_CONFIG_URL = url + COLUMNS_CONFIG_PATH
    return client
