"""
A local MAST: a real HTTP server on 127.0.0.1 that answers like MAST's recorded
replies, for the integration tests and the benchmarks. The protocol it implements,
and which recording shows each part of it, is written in tests/PROTOCOL.md.

Modules: `fields` (services, endpoints, field lists), `synthetic` (made-up rows),
`archive` (tables per service), `query` (filters, columns, pages), `faults` (injected
failures, request log), `replies` (bodies, lookups, downloads), `server` (the HTTP
server), `client` (requests as astroquery sends them, astroquery pointed at it).
tests/conftest.py has the ``mast_server_factory`` and ``local_mast`` fixtures.

Examples
--------
>>> with MastServer(make_archive(n_nirspec=20, seed=1)) as srv:
...     reply = invoke(srv.url, mashup_request(NIRSPEC_SERVICE, {"columns": "filename", "filters": []},
...                                            pagesize=5)).json()
>>> reply["paging"]["pagesFiltered"], len(reply["data"])
(4, 5)
"""
from .archive import MastArchive, MastError, ServiceTable, angular_separation_deg, make_archive
from .client import astroquery_client, encode_invoke_body, invoke, mashup_request
from .faults import Fault, FaultQueue, LogRecord, match_service, match_uri
from .fields import (BOOLEAN_TYPES, CAOM_FIELDS, CAOM_FILTERED_SERVICE, CAOM_POSITION_SERVICE,
                     CAOM_SEPARATORS, COLUMNS_CONFIG_PATH, DEFAULT_PAGESIZE, DOWNLOAD_PATH, INVOKE_PATH,
                     NAME_LOOKUP_SERVICE, NIRSPEC_DATE_COLUMNS, NIRSPEC_FIELDS, NIRSPEC_FLAG_COLUMNS,
                     NIRSPEC_GRATING_FILTER_PAIRS, NIRSPEC_SERVICE, NUMERIC_TYPES)
from .query import compile_filter, filtered_reply, like_to_regex
from .server import MastServer
from .synthetic import CAOM_NIRSPEC_MODES, caom_row, make_caom_rows, make_nirspec_rows, msa_uri

__all__ = [
    "INVOKE_PATH", "DOWNLOAD_PATH", "COLUMNS_CONFIG_PATH", "NIRSPEC_SERVICE", "CAOM_FILTERED_SERVICE",
    "CAOM_POSITION_SERVICE", "NAME_LOOKUP_SERVICE", "DEFAULT_PAGESIZE", "NUMERIC_TYPES", "BOOLEAN_TYPES",
    "NIRSPEC_FIELDS", "NIRSPEC_DATE_COLUMNS", "NIRSPEC_FLAG_COLUMNS", "NIRSPEC_GRATING_FILTER_PAIRS",
    "CAOM_FIELDS", "CAOM_SEPARATORS", "CAOM_NIRSPEC_MODES",
    "make_nirspec_rows", "msa_uri", "caom_row", "make_caom_rows",
    "ServiceTable", "MastArchive", "MastError", "make_archive", "angular_separation_deg",
    "like_to_regex", "compile_filter", "filtered_reply",
    "Fault", "FaultQueue", "LogRecord", "match_service", "match_uri", "MastServer",
    "mashup_request", "encode_invoke_body", "invoke", "astroquery_client",
]
