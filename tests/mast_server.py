"""A real local MAST Mashup "invoke" server for integration tests, with fault injection.

This module is a test utility, not a test file. It starts a
`http.server.ThreadingHTTPServer` on ``127.0.0.1`` (ephemeral port) that speaks the
MAST Mashup wire protocol described in ``/work/shared/docs/mast-protocol.md``
(cited below as "§x.y"), backed by an in-memory `MastArchive`. It also serves the
``/api/v0.1/Download/file`` endpoint from an in-memory ``{uri: bytes}`` dict.

Quick start::

    from mast_server import MastServer, make_archive, encode_invoke_body

    with MastServer(make_archive(n_nirspec=500, seed=1)) as srv:
        r = requests.post(srv.invoke_url, data=encode_invoke_body(
                {"service": "Mast.Jwst.Filtered.Nirspec", "format": "json",
                 "params": {"columns": "*", "filters": []},
                 "pagesize": 100, "page": 1}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        r.json()["paging"]   # {"page": 1, "pageSize": 100, "pagesFiltered": 5, ...}
        srv.count("Mast.Jwst.Filtered.Nirspec")   # -> 1

In a test, the ``mast_server_factory`` fixture of tests/conftest.py starts servers::

    srv = mast_server_factory(archive, page_cap=10, latency=0.01)

What is [V]erified versus assumed
=================================
Tags follow mast-protocol.md: [V] = stated in a stored MAST document / astroquery
source or seen in recorded responses; [I] = inference; [U] = unverified, chosen here.

[V] Transport (§0.1, §1.1, §1.2): one endpoint ``/api/v0/invoke``; ``POST`` with
    ``Content-Type: application/x-www-form-urlencoded`` and body
    ``request=<urllib.parse.quote(json.dumps(obj))>``; ``GET ?request=`` is also
    accepted ("supports both HTTP GET and HTTP POST"). Decoded with
    `urllib.parse.parse_qs`. A POST whose Content-Type is not form-urlencoded is
    treated as having no ``request`` form field [I: ASP.NET only parses form bodies],
    but ``?request=`` in the URL of a POST is still honoured [I].
[V] Request keys (§1.2, §1.3): ``service, params, format, pagesize, page,
    cacheBreaker, removenullcolumns, timeout, ...``. Only ``format="json"`` is
    served; the documented default ``format`` is ``extjs`` (§1.3), so a request
    without ``format`` gets an ERROR reply here, to catch clients relying on it.
    ``timeout``/``clearcache``/``removecache`` are accepted and ignored [I].
[V] Reply envelope (recorded replies): ``{"status","msg","data","fields","paging":
    {page,pageSize,pagesFiltered,rows,rowsFiltered,rowsTotal}}``, no "percent
    complete" in a COMPLETE reply, Content-Type ``application/json``. EXECUTING replies are
    ``{"status":"EXECUTING","msg":"","percent complete":x}``; ERROR replies are
    HTTP 200 ``{"status":"ERROR","msg":...}`` (§1.4, §1.6).
[V] COUNT_BIG(*) (§1.4, §1.8): ``data=[{"Column1": n}]``, ``fields=[{"name":
    "Column1","type":"string"}]``, paging of a one-row result (page 1, rows 1,
    rowsFiltered 1, rowsTotal 1, pageSize = requested size), as in countsResp.json.
[V] ``rowsTotal`` equals ``rowsFiltered`` in every recorded envelope (§1.4: both are
    "totRows"; advSearchPos.json reports rowsTotal 12 for a 12-row cone of all of
    CAOM). So it is here.
[U] ``pagesize`` default when absent: 50000 here (astroquery always sends it, §1.2;
    the MashupRequest doc default is 1000, §1.3).
[U] ``pagesFiltered`` for an empty result: ``ceil(0/ps) = 0`` by default
    (``empty_pages_filtered=0``); ``empty_pages_filtered=1`` gives "one empty page".
    Pages past the end return ``rows: 0, data: []`` with the requested page number.
[I] Paging = ``ceil(rowsFiltered / pageSize)`` pages; rows keep archive order, so
    paging is deterministic. Real Position results are not sorted by distance either
    (advSearchPos.json).
[V] Filters (§0.3, §1.8): ``{"paramName","values","separator"?,"freeText"?}``,
    ANDed. Discrete ``values`` = OR of exact matches; continuous
    ``[{"min":a,"max":b}]``; ``values=[]`` with ``freeText`` = LIKE pattern.
    Chosen semantics, all [I]/[U]:
      * column names are matched case-insensitively [I SQL Server]; output keeps the
        archive spelling [U];
      * string comparisons are case-insensitive [U: default SQL Server collation];
        numeric columns (declared int/float/... or a string-typed column whose
        non-null cells are all JSON numbers, like CAOM ``obsid`` (§1.4)) compare
        numerically, so ``"1345"`` matches ``1345``; a non-numeric value against a
        numeric column gives the SQL Server conversion ERROR text [I];
      * range bounds are inclusive (BETWEEN) [U]; a missing/None bound is open [I];
      * a filter may mix discrete values, ranges and ``freeText``: they are ORed [I,
        it is what astroquery's build_filter_set produces, §1.9];
      * a filter with ``values=[]`` and no ``freeText`` adds no constraint [U];
      * ``values`` must be a JSON list, else ERROR [I];
      * ``separator``: a value (or LIKE pattern) matches the whole cell or any
        separator-split, stripped element [I]; only the filter's own ``separator`` is
        used (the columns-config separators are client-side knowledge, §1.9);
      * ``freeText`` is SQL Server LIKE, case-insensitive: ``%`` any run, ``_`` one
        char, ``[abc]``, ``[a-z]``, ``[^a]`` classes, ``[_]``, ``[%]``, ``[[]``
        literal escapes; an unterminated ``[`` is literal [I];
      * null cells never match anything (SQL three-valued logic) [I].
[U] Unknown ``paramName`` -> ``{"status":"ERROR","msg":"Invalid column name 'x'."}``
    (§1.4 and §2.4 say the real text is unverified, probably SQL). Unknown column in
    ``columns`` -> the same message. Unknown service -> ERROR "Unknown service: X"
    [U]. A missing ``columns``/``filters``/``position`` param -> ERROR "Request Object
    is Missing Required Parameter : <name>" (format of the real "... : RA" text, §1.4).
[V] ``columns`` (§1.8): ``"*"`` (and ``"c.*"``, JWST doc wording), a comma list with
    optional spaces, ``COUNT_BIG(*)``; ``"col as alias"`` aliases (mastquery sends
    them, §1.8) are supported. ``DISTINCT`` is [U] (§1.8, §4): refused with
    ``Incorrect syntax near the keyword 'DISTINCT'.``.
[U] ``removenullcolumns`` drops columns that are null in *every* filtered row (the
    whole result, not per page, so all pages share one schema); an empty result keeps
    every requested field (an empty reply carries all of them, as every reply does).
[V] ``*.Filtered.Position`` (§1.8, §2.1): ``params.position="ra, dec, radius"``
    (degrees). The real service matches the ``s_region`` footprint against the cone
    and reports ``distance`` (arcsec) to the footprint, 0 when inside (§2.2 [V]).
    This server uses the exact great-circle distance from the cone centre to
    (``s_ra``, ``s_dec``): a row matches when ``sep <= radius``; ``distance`` =
    ``sep`` in arcsec.
    ``distance`` (type float) is appended to ``fields`` (last, as in
    advSearchPos.json). ``Mast.Jwst.Filtered.*`` have no ``.Position`` variant
    (§0.4): a ``.Position`` service exists here only if registered (``make_archive``
    registers ``Mast.Caom.Filtered`` with alias ``Mast.Caom.Filtered.Position``).
[V] Polling (§1.3, §1.5): ``executing_polls=n`` makes the first n *identical*
    requests (same JSON, cacheBreaker included) answer EXECUTING; the (n+1)th is
    COMPLETE. Each page is a different request and is counted separately [U]. The server-side ``timeout`` long-poll is
    not simulated (replies are immediate, plus ``latency``).
[V] Silent 50 000 cap (§1.5, jwql #941, astroquery #2788): ``page_cap=k`` never
    returns more than k rows per page, while ``pageSize`` echoes the requested size
    and ``pagesFiltered``/offsets use the requested size.
[V] ``Mast.Name.Lookup`` reply shape copied from astroquery's recorded resolver.json:
    ``{"resolvedCoordinate":[{"searchString","resolver","cached","resolverTime",
    "searchRadius","canonicalName","ra","decl","objectType"?}],"status":""}``;
    unknown name -> ``{"resolvedCoordinate": [], "status": ""}``. Lookup is
    case-insensitive, whitespace-normalised [I].
[V] Rows of ``Mast.Jwst.Filtered.Nirspec`` (recorded 2018 reply and 2026 rows):
    column names in the 2026 order, value sets, dates typed ``date`` holding MS-JSON
    ``"/Date(ms)/"`` with float ``_mjd`` twins, multi-POLYGON ``s_region``;
    ``ArchiveFileID``/``fileSize``/``FileSetId`` typed ``string`` holding JSON
    integers, ``checksum`` typed ``string`` holding 32 hex digits (2026); the
    one-letter FITS flags typed ``string`` holding ``"t"``/``"f"`` and compared as
    text, ignoring case (so ``"T"`` matches, ``"True"`` matches nothing);
    isRestricted/isItar/isStale typed ``boolean`` with JSON booleans. All generated
    values are synthetic.
[V] CAOM columns (§2.3) in the order of the recorded Filtered.Position CSV; types
    from advSearchPos.json / columnsconfig.json (obsid/objID typed string, JSON
    numbers). An ``obsid`` repeats across rows that differ in other columns (the
    FUV/NUV pairs of advSearchPos.json). BOTS rows are ``NIRSPEC/BOTS`` time series,
    some ``NIRSPEC/SLIT`` time series [U: both names are reported].
[U] Downloads (§1.1 lists the URL only): ``GET``/``HEAD``
    ``/api/v0.1/Download/file?uri=<dataURI>``; ``Range: bytes=a-``, ``bytes=a-b``,
    ``bytes=-n`` -> 206 + Content-Range (unsatisfiable -> 416), ``Accept-Ranges:
    bytes``; 404 for unknown uri; ``restricted`` uris need ``Authorization: token
    <t>`` (missing -> 401, unknown token -> 403).
[V/U] Columns config (§1.9): ``POST /portal/Mashup/Mashup.asmx/columnsconfig`` with
    ``colConfigId=<service>`` returns ``{col: {"text","vot.datatype","vot.ID",
    "vot.name","separator"?}}`` derived from the fields (a minimal subset of the
    recorded columnsconfig.json keys); ``Mast.Caom.Cone`` maps to the CAOM table;
    unknown -> ``{}``. This lets astroquery's own ``PortalAPI`` (which fetches it
    before the first call to each service) run against this server; the test
    ``test_astroquery_portal_api_interop`` does exactly that.
[I] Fault kinds reproduce failures reported in §1.5 and §5 (503/500, "connection
    reset by peer", truncated bodies, slow replies, result sets changing between pages).

JSON is serialised with orjson when importable (NaN/inf -> null), else `json`.
The server runs HTTP/1.1 with keep-alive; `MastServer.stop` closes every
connection and joins every handler thread, so no socket is leaked.
"""
from __future__ import annotations

import collections
import dataclasses
import http.server
import itertools
import json
import math
import re
import socket
import struct
import threading
import time
import traceback
import urllib.parse
import uuid
from typing import Any, Callable, Iterable

import numpy as np

try:  # optional, much faster for 100 000-row pages
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None

__all__ = [
    "INVOKE_PATH", "DOWNLOAD_PATH", "COLUMNS_CONFIG_PATH", "CAOM_SEPARATORS", "NIRSPEC_SERVICE",
    "CAOM_FILTERED_SERVICE",
    "CAOM_POSITION_SERVICE", "NAME_LOOKUP_SERVICE", "DEFAULT_PAGESIZE",
    "NIRSPEC_FIELDS", "NIRSPEC_DATE_COLUMNS", "NIRSPEC_GRATING_FILTER_PAIRS",
    "NIRSPEC_FLAG_COLUMNS", "CAOM_FIELDS", "make_nirspec_rows", "msa_uri", "caom_row", "make_caom_rows",
    "ServiceTable", "MastArchive", "make_archive", "Fault", "LogRecord", "MastServer",
    "encode_invoke_body", "mashup_request", "invoke", "match_service", "match_uri",
    "like_to_regex", "angular_separation_deg",
]

INVOKE_PATH = "/api/v0/invoke"
DOWNLOAD_PATH = "/api/v0.1/Download/file"
COLUMNS_CONFIG_PATH = "/portal/Mashup/Mashup.asmx/columnsconfig"
NIRSPEC_SERVICE = "Mast.Jwst.Filtered.Nirspec"
CAOM_FILTERED_SERVICE = "Mast.Caom.Filtered"
CAOM_POSITION_SERVICE = "Mast.Caom.Filtered.Position"
NAME_LOOKUP_SERVICE = "Mast.Name.Lookup"
DEFAULT_PAGESIZE = 50000

NUMERIC_TYPES = frozenset({"int", "float", "double", "long", "short", "decimal", "number",
                           "unsignedbyte", "integer"})
BOOLEAN_TYPES = frozenset({"boolean", "bool"})

# ---------------------------------------------------------------------------
# Column definitions
# ---------------------------------------------------------------------------

#: ``Mast.Jwst.Filtered.Nirspec`` fields: a subset of the 2026 reply's columns, in that
#: reply's order, typed as the recorded ``Mast.Jwst.Filtered`` replies type them: dates
#: ``date`` holding ``/Date(ms)/`` (each with a float ``_mjd`` twin); ``ArchiveFileID``,
#: ``fileSize``, ``FileSetId`` and ``checksum`` ``string`` (the first three holding JSON
#: integers, ``checksum`` 32 hex digits as in 2026); the one-letter FITS flags ``string``
#: holding ``"t"``/``"f"``; only ``isRestricted``, ``isItar``, ``isStale`` ``boolean``.
NIRSPEC_FIELDS = [{"name": n, "type": t} for n, t in [
    ("ArchiveFileID", "string"), ("filename", "string"), ("fileSetName", "string"),
    ("productLevel", "string"), ("act_id", "string"), ("apername", "string"), ("bkgdtarg", "string"),
    ("category", "string"), ("dataprob", "string"), ("date_obs", "date"), ("date_obs_mjd", "float"),
    ("detector", "string"), ("duration", "float"), ("effexptm", "float"), ("exp_type", "string"),
    ("expend", "float"), ("exposure", "int"), ("expstart", "float"), ("filter", "string"),
    ("hga_move", "string"), ("instrume", "string"), ("intarget", "string"), ("nexposur", "int"),
    ("ngroups", "int"), ("nints", "int"), ("numdthpt", "int"), ("obs_id", "string"), ("observtn", "int"),
    ("pi_name", "string"), ("program", "int"), ("readpatt", "string"), ("seq_id", "string"),
    ("subarray", "string"), ("targ_dec", "float"), ("targ_ra", "float"), ("targname", "string"),
    ("targoopp", "string"), ("targprop", "string"), ("targtype", "string"), ("template", "string"),
    ("title", "string"), ("tsovisit", "string"), ("visit", "int"), ("visit_id", "string"),
    ("visitgrp", "string"), ("zerofram", "string"), ("exp_only", "string"), ("patt_num", "int"),
    ("patttype", "string"), ("crowdfld", "string"), ("compress", "string"), ("s_region", "string"),
    ("fxd_slit", "string"), ("grating", "string"), ("is_imprt", "string"), ("msametfl", "string"),
    ("hybridff", "string"), ("fileSize", "string"), ("checksum", "string"), ("ingestStartDate", "date"),
    ("ingestStartDate_mjd", "float"), ("ingestCompletionDate", "date"), ("ingestCompletionDate_mjd", "float"),
    ("FileTypeID", "int"), ("publicReleaseDate", "date"), ("publicReleaseDate_mjd", "float"),
    ("isRestricted", "boolean"), ("isItar", "boolean"), ("isStale", "boolean"), ("FileSetId", "string"),
    ("dataURI", "string"),
]]

#: Columns holding MS-JSON dates ``"/Date(ms)/"`` (each has an ``_mjd`` float twin).
NIRSPEC_DATE_COLUMNS = tuple(f["name"] for f in NIRSPEC_FIELDS if f["type"] == "date")

#: The one-letter FITS flags (text ``"t"``/``"f"``, or null where the keyword is absent).
NIRSPEC_FLAG_COLUMNS = ("bkgdtarg", "dataprob", "hga_move", "intarget", "targoopp", "tsovisit",
                        "zerofram", "exp_only", "crowdfld", "compress", "is_imprt", "hybridff")

#: Valid (filter, grating) pairs for NIRSpec spectroscopy.
NIRSPEC_GRATING_FILTER_PAIRS = (
    ("CLEAR", "PRISM"), ("F070LP", "G140M"), ("F100LP", "G140M"), ("F170LP", "G235M"),
    ("F290LP", "G395M"), ("F070LP", "G140H"), ("F100LP", "G140H"), ("F170LP", "G235H"),
    ("F290LP", "G395H"),
)

#: Wavelength coverage (nm) per (filter, grating), used for CAOM em_min/em_max.
_EM_RANGE_NM = {
    ("CLEAR", "PRISM"): (600.0, 5300.0), ("F070LP", "G140M"): (700.0, 1270.0),
    ("F100LP", "G140M"): (970.0, 1890.0), ("F170LP", "G235M"): (1660.0, 3170.0),
    ("F290LP", "G395M"): (2870.0, 5270.0), ("F070LP", "G140H"): (700.0, 1270.0),
    ("F100LP", "G140H"): (970.0, 1890.0), ("F170LP", "G235H"): (1660.0, 3170.0),
    ("F290LP", "G395H"): (2870.0, 5270.0),
}

#: ``Mast.Caom.Filtered(.Position)`` fields, in the order of the recorded
#: Filtered.Position response (``distance`` is added by the Position service).
CAOM_FIELDS = [{"name": n, "type": t} for n, t in [
    ("dataproduct_type", "string"), ("calib_level", "int"), ("obs_collection", "string"),
    ("obs_id", "string"), ("target_name", "string"), ("s_ra", "float"), ("s_dec", "float"),
    ("t_min", "float"), ("t_max", "float"), ("t_exptime", "float"),
    ("wavelength_region", "string"), ("filters", "string"), ("em_min", "float"),
    ("em_max", "float"), ("target_classification", "string"), ("obs_title", "string"),
    ("t_obs_release", "float"), ("instrument_name", "string"), ("proposal_pi", "string"),
    ("proposal_id", "string"), ("proposal_type", "string"), ("project", "string"),
    ("sequence_number", "int"), ("provenance_name", "string"), ("s_region", "string"),
    ("jpegURL", "string"), ("dataURL", "string"), ("dataRights", "string"),
    ("mtFlag", "boolean"), ("srcDen", "float"), ("intentType", "string"),
    ("obsid", "string"), ("objID", "string"), ("objID1", "string"),
]]

_CAOM_NAMES = frozenset(f["name"] for f in CAOM_FIELDS)

#: Multi-valued CAOM columns and their separator (columnsconfig.json, §1.8).
CAOM_SEPARATORS = {"obs_collection": ";", "project": ";", "filters": ";", "wavelength_region": ";",
                   "target_classification": ";"}

_VOT_DATATYPE = {"string": "char", "char": "char", "int": "int", "long": "long", "short": "short",
                 "float": "double", "double": "double", "decimal": "double", "number": "double",
                 "boolean": "boolean", "datetime": "char", "date": "char"}

# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------


def angular_separation_deg(ra1, dec1, ra2, dec2):
    """Exact great-circle separation in degrees (Vincenty formula, numpy-vectorised)."""
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    dra = ra2 - ra1
    sd1, cd1, sd2, cd2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    num = np.hypot(cd2 * np.sin(dra), cd1 * sd2 - sd1 * cd2 * np.cos(dra))
    den = sd1 * sd2 + cd1 * cd2 * np.cos(dra)
    return np.degrees(np.arctan2(num, den))


def _offset(ra0: float, dec0: float, xi_deg: float, eta_deg: float) -> tuple[float, float]:
    """Point at tangent-plane offset (xi east, eta north, degrees) from (ra0, dec0)."""
    xi, eta, d0 = math.radians(xi_deg), math.radians(eta_deg), math.radians(dec0)
    denom = math.cos(d0) - eta * math.sin(d0)
    ra = (ra0 + math.degrees(math.atan2(xi, denom))) % 360.0
    dec = math.degrees(math.atan2(eta * math.cos(d0) + math.sin(d0), math.hypot(xi, denom)))
    return ra, dec


def _polygon(ra, dec, half_w_as, half_h_as, pa_deg, dx_as=0.0, dy_as=0.0) -> str:
    """One STC-S ``POLYGON ICRS`` rectangle (sizes/offsets in arcsec, PA in degrees)."""
    c, s = math.cos(math.radians(pa_deg)), math.sin(math.radians(pa_deg))
    pts = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * half_w_as + dx_as, sy * half_h_as + dy_as
        xr, yr = x * c - y * s, x * s + y * c
        pra, pdec = _offset(ra, dec, xr / 3600.0, yr / 3600.0)
        pts.append(f"{pra:.9f} {pdec:.9f}")
    return "POLYGON ICRS  " + " ".join(pts)


def _random_position(rng, center, spread_deg):
    if center is None:
        return float(rng.uniform(0.0, 360.0)), float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0))))
    rho = spread_deg * math.sqrt(float(rng.random()))
    theta = 2.0 * math.pi * float(rng.random())
    return _offset(float(center[0]), float(center[1]), rho * math.sin(theta), rho * math.cos(theta))


# ---------------------------------------------------------------------------
# Row generators
# ---------------------------------------------------------------------------

_MS_PER_DAY = 86400000.0
_MJD_UNIX_EPOCH = 40587.0
#: "now" used to derive isRestricted (2026-08-15T00:00:00Z).
DEFAULT_NOW_MS = 1786752000000


def _ms_date(ms: int) -> str:
    return f"/Date({int(ms)})/"


def _mjd(ms: int) -> float:
    return ms / _MS_PER_DAY + _MJD_UNIX_EPOCH


_MODES = {  # name: (exp_type, template, science suffixes)
    "IFU": ("NRS_IFU", "NIRSpec IFU Spectroscopy", ("rate", "cal", "s3d", "x1d")),
    "MOS": ("NRS_MSASPEC", "NIRSpec MultiObject Spectroscopy", ("rate", "cal", "s2d", "x1d")),
    "FS": ("NRS_FIXEDSLIT", "NIRSpec Fixed Slit Spectroscopy", ("rate", "cal", "s2d", "x1d")),
    "BOTS": ("NRS_BRIGHTOBJ", "NIRSpec Bright Object Time Series", ("rateints", "calints", "x1dints")),
}
_MODE_NAMES = ("IFU", "MOS", "FS", "BOTS")
_MODE_P = (0.35, 0.30, 0.25, 0.10)
_PATTERNS = {"IFU": ("CYCLING", "4-POINT-DITHER", "NONE"), "MOS": ("3-SHUTTER-SLITLET", "NONE"),
             "FS": ("3-POINT-NOD", "2-POINT-NOD", "NONE"), "BOTS": ("NONE",)}
_FILE_TYPE_ID = {"rate": 80, "rateints": 81, "cal": 86, "calints": 87, "s2d": 88, "s3d": 89,
                 "x1d": 90, "x1dints": 91}
_CATEGORIES = ("GO", "GTO", "DD", "ERS", "CAL", "COM")
_CATEGORY_P = (0.80, 0.08, 0.05, 0.03, 0.02, 0.02)
_PI_NAMES = ("Eilers, Anna-Christina", "Shen, Yue", "Dickinson, Mark", "Brammer, Gabriel",
             "Willott, Chris J.", "Rieke, Marcia", "Ferruit, Pierre", "Kassin, Susan")
_TITLES = ("MASQUERADE: Mapping a Super-luminous Quasar's Extended Radiative Emission",
           "NEXUS: the North ecliptic pole EXtragalactic Unified Survey",
           "The CANDELS-Area Prism Epoch of Reionization Survey",
           "Resolved kinematics of nearby galaxy nuclei",
           "Transmission spectroscopy of temperate sub-Neptunes",
           "A NIRSpec census of high-redshift quasar hosts")
_FS_SLITS = ("S200A1", "S200A2", "S400A1", "S1600A1")
_FS_OFFSETS = {"S200A1": -10.0, "S200A2": 5.0, "S400A1": -2.0, "S1600A1": 0.0}   # arcsec along x
_TA_FILTERS = ("F110W", "F140X", "CLEAR")
_DATE_OBS_RANGE_MS = (1657584000000, 1785542400000)   # 2022-07-12 .. 2026-08-01
_FRAME_S = 14.5886


def _new_program(rng, program: int) -> dict:
    category = str(rng.choice(_CATEGORIES, p=_CATEGORY_P))
    return {"program": program, "category": category, "pi_name": str(rng.choice(_PI_NAMES)),
            "title": str(rng.choice(_TITLES)),
            "exclusive_days": 0 if category in ("DD", "ERS", "CAL", "COM") else 365,
            "targoopp": "t" if rng.random() < 0.05 else "f"}


def _target(rng, mode: str, targets: list, center, spread_deg: float, shared_fraction: float):
    """(ra, dec, targprop): an earlier target (a repeat) or a new one."""
    if targets and rng.random() < shared_fraction:
        return targets[int(rng.integers(0, len(targets)))]
    ra, dec = _random_position(rng, center, spread_deg)
    ra, dec = round(ra, 8), round(dec, 8)
    if mode == "MOS":
        name = f"catalog_J{int(ra / 15):02d}{int(ra * 4 % 60):02d}_v{int(rng.integers(1, 4))}"
    else:
        ra_min, dec_min = int(ra * 4 * 60) % (24 * 60), int(abs(dec) * 60)
        name = (f"{rng.choice(('QSO', 'SDSS', 'GAL', 'WASP'))}-J{ra_min // 60:02d}{ra_min % 60:02d}"
                f"{'+' if dec >= 0 else '-'}{dec_min // 60:02d}{dec_min % 60:02d}")
    targets.append((ra, dec, name))
    return targets[-1]


def _acquisition(rng, mode: str) -> str | None:
    """Target-acquisition exp_type of an observation, or None."""
    u = rng.random()
    if mode == "MOS":
        return "NRS_MSATA" if u < 0.7 else None
    if mode in ("FS", "BOTS"):
        return "NRS_WATA" if u < 0.6 else None
    return str(rng.choice(("NRS_MSATA", "NRS_WATA"))) if u < 0.5 else None


def _new_observation(rng, prog: dict, observtn: int, targets: list, center, spread_deg: float,
                     shared_fraction: float) -> dict:
    mode = str(rng.choice(_MODE_NAMES, p=_MODE_P))
    ra, dec, targprop = _target(rng, mode, targets, center, spread_deg, shared_fraction)
    filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
    fxd_slit = {"FS": _FS_SLITS[int(rng.integers(0, 4))], "BOTS": "S1600A1"}.get(mode)
    apername = {"IFU": "NRS_FULL_IFU", "MOS": "NRS_FULL_MSA"}.get(mode, f"NRS_{fxd_slit}_SLIT")
    date0 = int(rng.integers(*_DATE_OBS_RANGE_MS))
    # a MOS observation has one or two MSA configurations, each with its metadata file
    n_msa = int(rng.integers(1, 3)) if mode == "MOS" else 0
    visit = f"jw{prog['program']:05d}{observtn:03d}001"
    return {
        **prog, "observtn": observtn, "mode": mode, "targ_ra": ra, "targ_dec": dec,
        "targprop": targprop, "targname": targprop if rng.random() < 0.3 else None,
        "filter": filt, "grating": grating, "fxd_slit": fxd_slit, "apername": apername,
        "pa": float(rng.uniform(0, 360)), "n_exp": int(rng.integers(1, 5)), "date0": date0,
        "release0": date0 + prog["exclusive_days"] * 86400000 + int(rng.integers(0, 86400000)),
        "patttype": str(rng.choice(_PATTERNS[mode])),
        "readpatt": "NRSRAPID" if mode == "BOTS" else str(rng.choice(("NRSIRS2", "NRSIRS2RAPID", "NRS"))),
        "subarray": str(rng.choice(("SUB2048", "SUB1024A"))) if mode == "BOTS" else "FULL",
        "msa_files": tuple(f"{visit}_{k:02d}_msa.fits" for k in range(1, n_msa + 1)),
        "ta": _acquisition(rng, mode),
        "crowdfld": "t" if rng.random() < {"IFU": 0.45, "FS": 0.03}.get(mode, 0.0) else "f",
        "bkgdtarg": "t" if mode == "IFU" and rng.random() < 0.03 else "f",
    }


def _science_region(rng, obs: dict, dx: float, dy: float) -> str:
    """STC-S footprint of a science exposure (MOS: a few shutters within +-60")."""
    ra, dec, pa, mode = obs["targ_ra"], obs["targ_dec"], obs["pa"], obs["mode"]
    if mode == "IFU":
        return _polygon(ra, dec, 1.5, 1.5, pa, dx, dy)
    if mode == "BOTS":
        return _polygon(ra, dec, 0.8, 0.8, pa, dx, dy)
    if mode == "FS":
        slit = obs["fxd_slit"]
        open_slits = [slit] + [s for s in _FS_SLITS[: int(rng.integers(0, 4))] if s != slit]
        return " ".join(_polygon(ra, dec, 0.1 if s != "S1600A1" else 0.8, 1.6 if s != "S1600A1" else 0.8,
                                 pa, dx + _FS_OFFSETS[s] - _FS_OFFSETS[slit], dy) for s in open_slits)
    return " ".join(_polygon(ra, dec, 0.1, 0.23, pa, float(rng.uniform(-60, 60)), float(rng.uniform(-60, 60)))
                    for _ in range(int(rng.integers(3, 9))))


def _exposure(rng, obs: dict, visitgrp: str, expnum: int, is_ta: bool) -> dict:
    """The values shared by every file of one exposure."""
    mode = obs["mode"]
    ngroups = 3 if is_ta else int(rng.integers(3, 60))
    nints = 1 if is_ta else (int(rng.integers(50, 2000)) if mode == "BOTS" else int(rng.integers(1, 4)))
    effexptm = round(ngroups * nints * _FRAME_S, 3)
    duration = round(effexptm + _FRAME_S * (1 + nints * 0.01), 3)
    date_ms = obs["date0"] + int(rng.integers(0, 6 * 3600 * 1000)) + expnum * int(duration * 1000)
    ingest_ms = date_ms + int(rng.integers(3600 * 1000, 3 * 86400000))
    done_ms = ingest_ms + int(rng.integers(60_000, 3_600_000))
    dx, dy = float(rng.normal(0, 0.3)), float(rng.normal(0, 0.3))
    act = "01" if is_ta else f"{1 + (expnum - 1) % 3:02d}"
    msa = obs["msa_files"]
    exp = {"visitgrp": visitgrp, "exposure": expnum, "act_id": act, "ngroups": ngroups, "nints": nints,
           "effexptm": effexptm, "duration": duration, "date_ms": date_ms, "ingest_ms": ingest_ms,
           "done_ms": done_ms, "release_ms": max(obs["release0"], done_ms) if obs["exclusive_days"] else done_ms,
           "msametfl": msa[(expnum - 1) % len(msa)] if msa else None,
           "fileSetName": f"jw{obs['program']:05d}{obs['observtn']:03d}001_{visitgrp}1{act}_{expnum:05d}",
           "obs_id": f"V{obs['program']:05d}{obs['observtn']:03d}001P00000000{visitgrp}1{act}"}
    if is_ta:
        exp.update(exp_type=obs["ta"], apername="NRS_FULL_MSA" if obs["ta"] == "NRS_MSATA" else "NRS_S1600A1_SLIT",
                   grating="MIRROR", filter=_TA_FILTERS[int(rng.integers(0, 3))], fxd_slit=None,
                   suffixes=("rate", "cal"), detectors=("NRS1",), readpatt="NRSRAPID",
                   subarray="SUB32" if obs["ta"] == "NRS_WATA" else "FULL",
                   s_region=_polygon(obs["targ_ra"], obs["targ_dec"], 0.8, 0.8, obs["pa"], dx, dy))
    else:
        exp.update(exp_type=_MODES[mode][0], apername=obs["apername"], grating=obs["grating"],
                   filter=obs["filter"], fxd_slit=obs["fxd_slit"], suffixes=_MODES[mode][2],
                   detectors=("NRS1", "NRS2"), readpatt=obs["readpatt"], subarray=obs["subarray"],
                   s_region=_science_region(rng, obs, dx, dy))
    return exp


def _exposures(rng, obs: dict) -> list[dict]:
    ta = [_exposure(rng, obs, "02", 1, True)] if obs["ta"] else []
    science = [_exposure(rng, obs, "03", k, False) for k in range(1, obs["n_exp"] + 1)]
    return ta + science


def _file_row(obs: dict, exp: dict, n_exposures: int, det: str, suffix: str, ids: dict, now_ms: int) -> dict:
    """One ``Mast.Jwst.Filtered.Nirspec`` row, keys in `NIRSPEC_FIELDS` order."""
    mode, program, observtn = obs["mode"], obs["program"], obs["observtn"]
    fname = f"{exp['fileSetName']}_{det.lower()}_{suffix}.fits"
    expstart = _mjd(exp["date_ms"])
    return {
        "ArchiveFileID": ids["archive"], "filename": fname, "fileSetName": exp["fileSetName"],
        "productLevel": "2a" if suffix.startswith("rate") else "2b", "act_id": exp["act_id"],
        "apername": exp["apername"], "bkgdtarg": obs["bkgdtarg"], "category": obs["category"], "dataprob": "f",
        "date_obs": _ms_date(exp["date_ms"]), "date_obs_mjd": expstart, "detector": det,
        "duration": exp["duration"], "effexptm": exp["effexptm"], "exp_type": exp["exp_type"],
        "expend": expstart + exp["duration"] / 86400.0, "exposure": exp["exposure"], "expstart": expstart,
        "filter": exp["filter"], "hga_move": "f", "instrume": "NIRSPEC", "intarget": "f",
        "nexposur": n_exposures, "ngroups": exp["ngroups"], "nints": exp["nints"], "numdthpt": obs["n_exp"],
        "obs_id": exp["obs_id"], "observtn": observtn, "pi_name": obs["pi_name"], "program": program,
        "readpatt": exp["readpatt"], "seq_id": "1", "subarray": exp["subarray"], "targ_dec": obs["targ_dec"],
        "targ_ra": obs["targ_ra"], "targname": obs["targname"], "targoopp": obs["targoopp"],
        "targprop": obs["targprop"], "targtype": "FIXED", "template": _MODES[mode][1], "title": obs["title"],
        "tsovisit": "t" if mode == "BOTS" else "f", "visit": 1, "visit_id": f"{program:05d}{observtn:03d}001",
        "visitgrp": exp["visitgrp"], "zerofram": "f", "exp_only": "f", "patt_num": exp["exposure"],
        "patttype": obs["patttype"], "crowdfld": obs["crowdfld"], "compress": "f", "s_region": exp["s_region"],
        "fxd_slit": exp["fxd_slit"], "grating": exp["grating"],
        "is_imprt": "f" if mode in ("IFU", "MOS") else None, "msametfl": exp["msametfl"],
        "hybridff": "f" if mode == "MOS" else None, "fileSize": ids["size"], "checksum": ids["checksum"],
        "ingestStartDate": _ms_date(exp["ingest_ms"]), "ingestStartDate_mjd": _mjd(exp["ingest_ms"]),
        "ingestCompletionDate": _ms_date(exp["done_ms"]), "ingestCompletionDate_mjd": _mjd(exp["done_ms"]),
        "FileTypeID": _FILE_TYPE_ID[suffix], "publicReleaseDate": _ms_date(exp["release_ms"]),
        "publicReleaseDate_mjd": _mjd(exp["release_ms"]), "isRestricted": bool(exp["release_ms"] > now_ms),
        "isItar": False, "isStale": False, "FileSetId": ids["file_set"], "dataURI": f"mast:JWST/product/{fname}",
    }


def msa_uri(msametfl: str) -> str:
    """The download ``dataURI`` of the MSA metadata file that ``msametfl`` names.

    Examples
    --------
    >>> msa_uri("jw01345063001_01_msa.fits")
    'mast:JWST/product/jw01345063001_01_msa.fits'
    """
    return "mast:JWST/product/" + msametfl


_NULLABLE = ("effexptm", "pi_name", "targprop", "title", "patttype")


def make_nirspec_rows(n: int, *, seed: int = 0, fields=None, center=None, spread_deg: float = 0.5,
                      null_fraction: float = 0.01, shared_target_fraction: float = 0.15,
                      now_ms: int = DEFAULT_NOW_MS) -> list[dict]:
    """Generate ``n`` realistic, synthetic ``Mast.Jwst.Filtered.Nirspec`` rows.

    Rows are grouped like the archive: programs -> observations (one mode: IFU, MOS,
    FS or BOTS, one target, one filter/grating pair, optional target acquisition)
    -> exposures -> one row per (detector, product file). Values are JSON-ready
    Python objects (``None`` = null) shaped as in the recorded replies (see
    `NIRSPEC_FIELDS`). Nulls: ``fxd_slit`` outside FS/BOTS, ``msametfl`` outside MOS,
    ``is_imprt`` outside IFU/MOS, ``hybridff`` outside MOS, ``targname`` mostly, and
    each of ``effexptm``, ``pi_name``, ``targprop``, ``title``, ``patttype`` with
    probability ``null_fraction``. A fraction ``shared_target_fraction`` of
    observations reuse an earlier target (repeats for duplicate-checking tests).

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Seed for `numpy.random.default_rng`; same seed -> same rows.
    fields : list of str or of {"name", "type"}, optional
        Output columns, in order (default: all `NIRSPEC_FIELDS`). Unknown names are
        filled with ``None``.
    center : (ra, dec) in degrees, optional
        Targets are spread uniformly within ``spread_deg`` of this point
        (default: uniformly over the sky).
    null_fraction, shared_target_fraction : float
        See above.
    now_ms : int
        Reference epoch (ms) for ``isRestricted = publicReleaseDate > now``.

    Examples
    --------
    >>> rows = make_nirspec_rows(3, seed=1)
    >>> len(rows), rows[0]["instrume"], rows[0]["date_obs"].startswith("/Date(")
    (3, 'NIRSPEC', True)
    """
    rng = np.random.default_rng(seed)
    names = [f["name"] if isinstance(f, dict) else str(f) for f in (fields or NIRSPEC_FIELDS)]
    same_order = names == [f["name"] for f in NIRSPEC_FIELDS]
    program_ids = iter(rng.permutation(np.arange(1000, 10000)).tolist())
    ids = {"archive": 240_000_000 + int(rng.integers(0, 1_000_000)),
           "file_set": 6_000_000 + int(rng.integers(0, 100_000))}
    checksums = rng.bytes(16 * 4096).hex()
    # per-row random numbers drawn in bulk (speed): nulls, file size, id increment
    nulls = (rng.random((max(n, 1), len(_NULLABLE))) < null_fraction).tolist()
    size_f = (1.5 + rng.random(max(n, 1))).tolist()
    increments = rng.integers(1, 50, max(n, 1)).tolist()
    rows: list[dict] = []
    targets: list = []
    while len(rows) < n:
        prog = _new_program(rng, next(program_ids))
        for observtn in range(1, int(rng.integers(1, 5)) + 1):
            obs = _new_observation(rng, prog, observtn, targets, center, spread_deg, shared_target_fraction)
            exposures = _exposures(rng, obs)
            for exp in exposures:
                ids["file_set"] += 1
                for det, suffix in itertools.product(exp["detectors"], exp["suffixes"]):
                    j = len(rows)
                    if j >= n:
                        return rows
                    ids["archive"] += increments[j]
                    ids["size"] = int(2048 * 2048 * 4 * size_f[j] * (1 if det == "NRS1" else 0.98))
                    ids["checksum"] = checksums[(j % 4096) * 32:(j % 4096) * 32 + 32]
                    row = _file_row(obs, exp, len(exposures), det, suffix, ids, now_ms)
                    for name, null in zip(_NULLABLE, nulls[j]):
                        if null:
                            row[name] = None
                    rows.append(row if same_order else {c: row.get(c) for c in names})
    return rows


_OBSID_COUNTER = itertools.count(90_000_000_001)

#: CAOM ``instrument_name`` and ``dataproduct_type`` of executed NIRSpec observations, by
#: mode. BOTS appears both as ``NIRSPEC/BOTS`` and as ``NIRSPEC/SLIT`` time series.
CAOM_NIRSPEC_MODES = {"MSA": ("NIRSPEC/MSA", "spectrum"), "IFU": ("NIRSPEC/IFU", "cube"),
                      "SLIT": ("NIRSPEC/SLIT", "spectrum"), "BOTS": ("NIRSPEC/BOTS", "timeseries"),
                      "SLIT-BOTS": ("NIRSPEC/SLIT", "timeseries")}
_CAOM_MODE_P = (0.3, 0.3, 0.2, 0.13, 0.07)


def _caom_obs_id(proposal, filters, planned: bool, instrument: str, product: str) -> str:
    """A CAOM ``obs_id``: planned ``jwPPPPPOOOVVV_xx...`` or level-3 ``jwPPPPP-o001_...``;
    time series carry the S1600A1 aperture and subarray, as JWST level-3 names do."""
    if planned and str(proposal).isdigit():
        return f"jw{int(proposal):05d}001001_xx101_00001_nirspec"
    parts = [p.strip().lower() for p in str(filters or "").split(";")][:2]
    tag = "-".join(reversed(parts))
    if instrument.endswith("BOTS") or product == "timeseries":
        tag += "-s1600a1-sub2048"
    return f"jw{str(proposal).zfill(5)}-o001_t001_nirspec_{tag}"


def caom_row(**overrides) -> dict:
    """One CAOM ``Mast.Caom.Filtered(.Position)`` row with every `CAOM_FIELDS` key.

    Defaults describe an executed JWST NIRSpec IFU L3 science observation at
    (10, -20) with ``filters="F290LP;G395H"``. With ``calib_level=-1`` the defaults
    become a *planned* row (provenance APT, no t_min/t_max/t_obs_release/dataRights,
    planned-style obs_id). Unless overridden, ``em_min``/``em_max`` follow
    ``filters``, ``obs_id`` follows the proposal, filters and mode (time series:
    ``..._f290lp-g395h-s1600a1-sub2048``), ``s_region`` is a 3"x3" square around
    (s_ra, s_dec), and ``obsid``/``objID`` come from a module-wide counter. Unknown
    keys raise ``KeyError``.

    Examples
    --------
    >>> row = caom_row(instrument_name="NIRSPEC/BOTS", dataproduct_type="timeseries")
    >>> row["obs_id"]
    'jw01234-o001_t001_nirspec_g395h-f290lp-s1600a1-sub2048'
    """
    bad = [k for k in overrides if k not in _CAOM_NAMES]
    if bad:
        raise KeyError(f"unknown CAOM column(s): {bad}")
    planned = overrides.get("calib_level", 3) == -1
    filters = overrides.get("filters", "F290LP;G395H")
    em = _EM_RANGE_NM.get(tuple(p.strip().upper() for p in str(filters or "").split(";")[:2]), (None, None))
    s_ra, s_dec = overrides.get("s_ra", 10.0), overrides.get("s_dec", -20.0)
    obsid = next(_OBSID_COUNTER)
    proposal = overrides.get("proposal_id", "1234")
    instrument = overrides.get("instrument_name", "NIRSPEC" if planned else "NIRSPEC/IFU")
    product = overrides.get("dataproduct_type", "spectrum" if planned else "cube")
    row = {
        "dataproduct_type": product, "calib_level": 3, "obs_collection": "JWST",
        "obs_id": _caom_obs_id(proposal, filters, planned, instrument, product),
        "target_name": "TARGET-1", "s_ra": s_ra, "s_dec": s_dec,
        "t_min": None if planned else 60500.1, "t_max": None if planned else 60500.2,
        "t_exptime": 1000.0, "wavelength_region": "INFRARED", "filters": filters,
        "em_min": em[0], "em_max": em[1], "target_classification": None,
        "obs_title": "A synthetic NIRSpec program", "t_obs_release": None if planned else 60865.5,
        "instrument_name": instrument, "proposal_pi": "Doe, Jane", "proposal_id": proposal,
        "proposal_type": "GO", "project": "JWST", "sequence_number": -999,
        "provenance_name": "APT" if planned else "CALJWST",
        "s_region": (_polygon(float(s_ra), float(s_dec), 1.5, 1.5, 0.0)
                     if s_ra is not None and s_dec is not None else None),
        "jpegURL": None, "dataURL": None, "dataRights": None if planned else "PUBLIC",
        "mtFlag": False, "srcDen": None, "intentType": "science",
        "obsid": obsid, "objID": obsid + 7, "objID1": obsid + 7,
    }
    row.update(overrides)
    return row


def _caom_sibling(rng, row: dict, obj_id: int) -> dict:
    """Another row of the same observation (same ``obsid`` and ``obs_id``) that differs
    in other columns, as the FUV/NUV pairs of the recorded Filtered.Position reply:
    other filters and wavelengths, exposure time and ``objID``."""
    filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
    em = _EM_RANGE_NM[(filt, grating)]
    return {**row, "filters": f"{filt};{grating}", "em_min": em[0], "em_max": em[1],
            "t_exptime": round(float(rng.uniform(200, 5000)), 3), "objID": obj_id, "objID1": obj_id}


def make_caom_rows(n: int, *, seed: int = 0, center=None, spread_deg: float = 0.2,
                   planned_fraction: float = 0.3, shared_obsid_fraction: float = 0.1) -> list[dict]:
    """``n`` synthetic CAOM rows of JWST NIRSpec observations.

    Executed rows (calib 2/3, CALJWST) carry a mode in ``instrument_name``
    (`CAOM_NIRSPEC_MODES`: MSA, IFU, SLIT, BOTS, and BOTS as a SLIT time series);
    planned rows (calib -1, APT) the bare ``NIRSPEC``. A fraction
    ``shared_obsid_fraction`` of the rows repeat the ``obsid`` of an earlier executed
    row with other filters (see `_caom_sibling`).

    Examples
    --------
    >>> rows = make_caom_rows(50, seed=1)
    >>> len(rows), len({r["obsid"] for r in rows}) < 50
    (50, True)
    """
    rng = np.random.default_rng(seed)
    rows, executed = [], []
    for i in range(n):
        if executed and rng.random() < shared_obsid_fraction:
            rows.append(_caom_sibling(rng, rows[executed[int(rng.integers(0, len(executed)))]], 200_000_000 + i))
            continue
        planned = bool(rng.random() < planned_fraction)
        ra, dec = _random_position(rng, center, spread_deg)
        filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
        mode = str(rng.choice(tuple(CAOM_NIRSPEC_MODES), p=_CAOM_MODE_P))
        instrument, product = CAOM_NIRSPEC_MODES[mode]
        if not planned:
            executed.append(i)
        rows.append(caom_row(
            calib_level=-1 if planned else int(rng.choice((2, 3))), s_ra=round(ra, 8), s_dec=round(dec, 8),
            filters=f"{filt};{grating}", proposal_id=str(int(rng.integers(1000, 9999))),
            # planned rows: bare NIRSPEC, "spectrum" (the recorded 2020 planned rows)
            instrument_name="NIRSPEC" if planned else instrument,
            dataproduct_type="spectrum" if planned else product,
            t_exptime=round(float(rng.uniform(200, 5000)), 3),
            target_name=f"TARGET-{i}", obsid=100_000_000 + i, objID=200_000_000 + i,
            objID1=200_000_000 + i,
            intentType="science" if rng.random() < 0.9 else "calibration"))
    return rows


# ---------------------------------------------------------------------------
# Archive model
# ---------------------------------------------------------------------------


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


class ServiceTable:
    """Fields and rows of one Filtered service (rows normalised to the fields' keys).

    ``fields``: list of ``{"name", "type"}``. ``rows``: list of dicts whose values
    are JSON-ready; missing keys become ``None``; a key that is not a field raises
    ``ValueError``. Treat tables as immutable once built.
    """

    def __init__(self, fields: Iterable[dict], rows: Iterable[dict], *, separators: dict | None = None):
        self.separators = dict(separators or {})
        self.fields = [{"name": str(f["name"]), "type": str(f.get("type", "string"))} for f in fields]
        self.names = [f["name"] for f in self.fields]
        self.types = {f["name"]: f["type"] for f in self.fields}
        self.by_lower: dict[str, str] = {}
        for name in self.names:
            if name.lower() in self.by_lower:
                raise ValueError(f"duplicate column name (case-insensitive): {name}")
            self.by_lower[name.lower()] = name
        nameset = set(self.names)
        self.rows: list[dict] = []
        for i, r in enumerate(rows):
            if list(r) == self.names:
                self.rows.append(r)
                continue
            bad = sorted(set(r) - nameset)
            if bad:
                raise ValueError(f"row {i} has keys that are not fields: {bad}")
            self.rows.append({k: r.get(k) for k in self.names})
        self._lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}

    def __len__(self):
        return len(self.rows)

    def column_config(self) -> dict:
        """Minimal columns-config dict ``{col: {"text", "vot.datatype", "vot.ID",
        "vot.name", "separator"?}}`` (shape of columnsconfig.json, §1.9)."""
        config = {}
        for f in self.fields:
            entry = {"text": f["name"], "vot.datatype": _VOT_DATATYPE.get(f["type"].lower(), "char"),
                     "vot.ID": f["name"], "vot.name": f["name"]}
            if f["name"] in self.separators:
                entry["separator"] = self.separators[f["name"]]
                entry["separatorType"] = "split"
            config[f["name"]] = entry
        return config

    def column(self, name: str) -> list:
        key = ("raw", name)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = [r[name] for r in self.rows]
            return self._cache[key]

    def mode(self, name: str) -> str:
        """Comparison mode of a column: ``"num"``, ``"bool"`` or ``"str"``."""
        t = self.types[name].lower()
        if t in BOOLEAN_TYPES:
            return "bool"
        if t in NUMERIC_TYPES:
            return "num"
        key = ("mode", name)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            values = [v for v in self.column(name) if v is not None]
            cached = "num" if values and all(_is_number(v) for v in values) else "str"
            with self._lock:
                self._cache[key] = cached
        return cached

    def numeric(self, name: str) -> list:
        """Column as floats (None for null, NaN or non-numeric cells)."""
        key = ("num", name)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = [_to_float_or_none(v) for v in self.column(name)]
            with self._lock:
                self._cache[key] = cached
        return cached

    def folded(self, name: str) -> list:
        """Column as case-folded strings (None for null)."""
        key = ("fold", name)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = [None if v is None else _cell_str(v).casefold() for v in self.column(name)]
            with self._lock:
                self._cache[key] = cached
        return cached

    def coords(self):
        """(s_ra, s_dec) as float arrays (NaN for null)."""
        key = ("coords",)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            if "s_ra" not in self.types or "s_dec" not in self.types:
                raise KeyError("table has no s_ra/s_dec columns")
            ra = np.array([np.nan if v is None else v for v in self.numeric("s_ra")], dtype=float)
            dec = np.array([np.nan if v is None else v for v in self.numeric("s_dec")], dtype=float)
            cached = (ra, dec)
            with self._lock:
                self._cache[key] = cached
        return cached


def _to_float_or_none(v):
    if v is None or isinstance(v, (bool, np.bool_)):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _cell_str(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    return str(v)


class MastArchive:
    """Per-service tables served by `MastServer`.

    ``archive.add_service(name, fields, rows, aliases=())`` registers a Filtered
    service (any name; ``aliases`` serve the same table, e.g.
    ``"Mast.Caom.Filtered.Position"``). A requested name ending in ``.Position`` gets
    cone-search semantics. Replacing a service is atomic for in-flight requests.
    """

    def __init__(self):
        self._tables: dict[str, ServiceTable] = {}
        self._lock = threading.Lock()

    def add_service(self, service: str, fields: Iterable[dict], rows: Iterable[dict], *,
                    aliases: Iterable[str] = (), separators: dict | None = None) -> ServiceTable:
        """Register (or replace) a Filtered service. ``separators`` ({col: sep}) only
        feed the columns-config endpoint; filters use their own ``separator``."""
        table = ServiceTable(fields, rows, separators=separators)
        with self._lock:
            for name in (service, *aliases):
                self._tables[name] = table
        return table

    def add_nirspec(self, rows: Iterable[dict], *, fields=None) -> ServiceTable:
        return self.add_service(NIRSPEC_SERVICE, fields or NIRSPEC_FIELDS, rows)

    def add_caom(self, rows: Iterable[dict], *, fields=None) -> ServiceTable:
        return self.add_service(CAOM_FILTERED_SERVICE, fields or CAOM_FIELDS, rows,
                                aliases=(CAOM_POSITION_SERVICE,), separators=CAOM_SEPARATORS)

    def table(self, service: str) -> ServiceTable | None:
        with self._lock:
            return self._tables.get(service)

    def __getitem__(self, service: str) -> ServiceTable:
        table = self.table(service)
        if table is None:
            raise KeyError(service)
        return table

    def __contains__(self, service: str) -> bool:
        return self.table(service) is not None

    @property
    def services(self) -> list[str]:
        with self._lock:
            return sorted(self._tables)


def make_archive(n_nirspec: int = 0, *, seed: int = 0, nirspec_rows=None, caom_rows=None,
                 n_caom: int = 0, **nirspec_kwargs) -> MastArchive:
    """Archive with ``Mast.Jwst.Filtered.Nirspec`` (``nirspec_rows`` or ``n_nirspec``
    generated rows) and ``Mast.Caom.Filtered`` + ``.Position`` (``caom_rows`` or
    ``n_caom`` generated rows). Extra kwargs go to `make_nirspec_rows`."""
    archive = MastArchive()
    if nirspec_rows is None:
        nirspec_rows = make_nirspec_rows(n_nirspec, seed=seed, **nirspec_kwargs)
    archive.add_nirspec(nirspec_rows)
    if caom_rows is None:
        caom_rows = make_caom_rows(n_caom, seed=seed) if n_caom else []
    archive.add_caom(caom_rows)
    return archive


# ---------------------------------------------------------------------------
# Filter semantics
# ---------------------------------------------------------------------------


class MastError(Exception):
    """Raised inside request processing; becomes ``{"status":"ERROR","msg":...}``."""


def like_to_regex(pattern: str) -> re.Pattern:
    """Compile an SQL Server LIKE pattern (case-insensitive) to a regex for fullmatch."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        elif c == "[":
            j = pattern.find("]", i + 2)   # the first char after '[' may be ']' literally
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                neg = body.startswith("^") and len(body) > 1
                if neg:
                    body = body[1:]
                cls = "".join("\\" + ch if ch in "\\]^[" else ch for ch in body)
                out.append("[" + ("^" if neg else "") + cls + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


_SQL_TYPE_NAME = {"int": "int", "integer": "int", "long": "bigint", "short": "smallint",
                  "float": "float", "double": "float", "decimal": "numeric", "number": "numeric"}


def _compile_filter(table: ServiceTable, flt) -> tuple[str, Callable[[int], bool]] | None:
    """Return (column, predicate on row index), or None for a no-op filter."""
    if not isinstance(flt, dict):
        raise MastError(f"Invalid filter: {json.dumps(flt)}")
    param = flt.get("paramName")
    if not isinstance(param, str):
        raise MastError("Filter is missing required property : paramName")
    name = table.by_lower.get(param.strip().lower())
    if name is None:
        raise MastError(f"Invalid column name '{param}'.")
    values = flt.get("values", [])
    if not isinstance(values, list):
        raise MastError(f"Filter 'values' for '{param}' must be a list.")
    free = flt.get("freeText")
    sep = flt.get("separator") or None
    discrete = [v for v in values if not isinstance(v, dict)]
    ranges = [v for v in values if isinstance(v, dict)]
    if not discrete and not ranges and free is None:
        return None
    mode = table.mode(name)
    sql_type = _SQL_TYPE_NAME.get(table.types[name].lower(), "int")
    raw = table.column(name)

    # ---- discrete values ---------------------------------------------------
    if mode == "num":
        col = table.numeric(name)
        dset = set()
        for v in discrete:
            if v is None:
                continue
            f = _to_float_or_none(v)
            if f is None:
                if sql_type in ("float", "numeric"):
                    raise MastError("Error converting data type nvarchar to float.")
                raise MastError(f"Conversion failed when converting the nvarchar value '{v}' "
                                f"to data type {sql_type}.")
            dset.add(f)
    elif mode == "bool":
        col = [None if v is None else _bool_value(v) for v in raw]
        dset = set()
        for v in discrete:
            b = _bool_value(v)
            if b is None:
                raise MastError(f"Conversion failed when converting the nvarchar value '{v}' "
                                "to data type bit.")
            dset.add(b)
    else:
        col = table.folded(name)
        dset = {_cell_str(v).casefold() for v in discrete if v is not None}

    # ---- ranges --------------------------------------------------------------
    rlist = []
    for r in ranges:
        lo, hi = r.get("min"), r.get("max")
        if mode == "str":
            rlist.append((None if lo is None else _cell_str(lo).casefold(),
                          None if hi is None else _cell_str(hi).casefold()))
        else:
            flo, fhi = _to_float_or_none(lo), _to_float_or_none(hi)
            if (lo is not None and flo is None) or (hi is not None and fhi is None):
                raise MastError("Error converting data type nvarchar to float.")
            rlist.append((flo, fhi))
    if mode == "bool":
        col_for_range = [None if v is None else float(v) for v in col]
    else:
        col_for_range = col

    regex = like_to_regex(str(free)) if free is not None else None

    def elements(i):
        v = raw[i]
        s = _cell_str(v)
        parts = [s]
        if sep:
            parts.extend(p.strip() for p in s.split(sep))
        return parts

    def pred(i: int) -> bool:
        v = col[i]
        if v is None:
            return False
        if dset:
            if sep and mode == "str":
                if v in dset or any(p.casefold() in dset for p in elements(i)[1:]):
                    return True
            elif v in dset:
                return True
        if rlist:
            x = col_for_range[i]
            for lo, hi in rlist:
                if (lo is None or x >= lo) and (hi is None or x <= hi):
                    return True
        if regex is not None:
            if any(regex.fullmatch(p) for p in elements(i)):
                return True
        return False

    return name, pred


def _bool_value(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if _is_number(v):
        return bool(v) if v in (0, 1) else None
    s = str(v).strip().lower()
    if s in ("true", "1", "t"):
        return True
    if s in ("false", "0", "f"):
        return False
    return None


_COUNT_RE = re.compile(r"^\s*count_big\s*\(\s*\*\s*\)\s*$", re.IGNORECASE)
_ALIAS_RE = re.compile(r"^(.+?)\s+(?:as\s+)?([A-Za-z_][A-Za-z0-9_]*)$", re.IGNORECASE)


# ---------------------------------------------------------------------------
# Filtered queries: request -> rows -> one page of the reply
# ---------------------------------------------------------------------------

_COUNT_FIELDS = [{"name": "Column1", "type": "string"}]


def _required(mapping: dict, key: str, kind: type):
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise MastError(f"Request Object is Missing Required Parameter : {key}")
    return value


def parse_columns(columns: str, table: ServiceTable, is_position: bool) -> list[tuple[str, str]]:
    """``[(output name, source column)]`` of a ``columns`` text: ``*``, ``c.*`` or a
    comma list of names (any case) with optional ``[AS] alias``; ``distance`` exists
    for ``.Position`` services only."""
    text = columns.strip()
    if re.match(r"^distinct\s+", text, re.IGNORECASE):
        raise MastError("Incorrect syntax near the keyword 'DISTINCT'.")
    if text in ("*", "c.*"):
        sel = [(n, n) for n in table.names]
        return sel + [("distance", "distance")] if is_position and "distance" not in table.types else sel
    sel, seen = [], set()
    for token in text.split(","):
        token = token.strip()
        if not token:
            raise MastError("Incorrect syntax near ','.")
        m = _ALIAS_RE.match(token)
        src_text, alias = (m.group(1).strip(), m.group(2)) if m else (token, None)
        src = table.by_lower.get(src_text.lower())
        if src is None and is_position and src_text.lower() == "distance":
            src = "distance"
        if src is None:
            raise MastError(f"Invalid column name '{src_text}'.")
        if (alias or src) not in seen:
            seen.add(alias or src)
            sel.append((alias or src, src))
    return sel


def _cone(table: ServiceTable, params: dict):
    """Row indices within ``params["position"]`` (``"ra, dec, radius"``, degrees) and
    the distance (arcsec) of every row to the centre."""
    pos = params.get("position")
    if pos is None:
        raise MastError("Request Object is Missing Required Parameter : position")
    try:
        ra0, dec0, radius = (float(x) for x in str(pos).split(","))
    except ValueError:
        raise MastError(f"Invalid position '{pos}': expected 'ra, dec, radius' in degrees.")
    ra, dec = table.coords()
    with np.errstate(invalid="ignore"):
        sep = angular_separation_deg(ra0, dec0, ra, dec)
        inside = sep <= radius
    return np.nonzero(inside)[0].tolist(), sep * 3600.0


def select_rows(table: ServiceTable, service: str, params: dict):
    """Indices of the rows a request selects (cone, then every filter), in archive order,
    and the distances of a ``.Position`` request (else None)."""
    filters = _required(params, "filters", list)
    idx, distance = _cone(table, params) if service.endswith(".Position") else (range(len(table)), None)
    for flt in filters:
        compiled = _compile_filter(table, flt)
        if compiled is not None:
            pred = compiled[1]
            idx = [i for i in idx if pred(i)]
    return list(idx), distance


def _page_data(table: ServiceTable, selection, distance, page_idx: list) -> list[dict]:
    rows = table.rows
    sources = [src for _, src in selection]
    plain = all(out == src for out, src in selection)
    if plain and sources == table.names:
        return [rows[i] for i in page_idx]
    if plain and distance is not None and sources == table.names + ["distance"]:
        return [{**rows[i], "distance": float(distance[i])} for i in page_idx]
    return [{out: (float(distance[i]) if src == "distance" and src not in table.types else rows[i][src])
             for out, src in selection} for i in page_idx]


def _without_null_columns(table: ServiceTable, selection, idx: list):
    """``removenullcolumns``: drop the columns null in every selected row (the whole
    result, so every page has one schema); an empty result keeps every column."""
    if not idx:
        return selection
    return [(out, src) for out, src in selection
            if src == "distance" and src not in table.types or any(table.rows[i][src] is not None for i in idx)]


def filtered_reply(table: ServiceTable, service: str, req: dict, *, delta: int = 0,
                   page_cap: int | None = None, empty_pages_filtered: int = 0) -> dict:
    """The COMPLETE reply to a Filtered(.Position) request (raises `MastError`).

    ``delta`` is added to the reported ``rowsFiltered`` (a fault), ``page_cap`` caps
    the rows of one page silently, ``empty_pages_filtered`` is the ``pagesFiltered``
    of an empty result.
    """
    fmt = req.get("format", "extjs")
    if str(fmt).lower() != "json":
        raise MastError(f"This test server only serves format 'json' (got {fmt!r}; "
                        f"the MashupRequest default is 'extjs').")
    params = _required(req, "params", dict)
    pagesize = _positive_int(req.get("pagesize", DEFAULT_PAGESIZE), "pagesize")
    page = _positive_int(req.get("page", 1), "page")
    columns = _required(params, "columns", str)
    count_mode = bool(_COUNT_RE.match(columns))
    selection = None if count_mode else parse_columns(columns, table, service.endswith(".Position"))
    idx, distance = select_rows(table, service, params)
    if count_mode:
        fields, result_size = _COUNT_FIELDS, 1
    else:
        if req.get("removenullcolumns") in (True, "true", "True", 1):
            selection = _without_null_columns(table, selection, idx)
        fields = [{"name": out, "type": table.types.get(src, "float")} for out, src in selection]
        result_size = len(idx)
    reported = max(result_size + delta, 0)
    start = (page - 1) * pagesize
    stop = min(start + (pagesize if page_cap is None else min(pagesize, int(page_cap))), result_size)
    if count_mode:
        data = [{"Column1": len(idx)}][start:stop]
    else:
        data = _page_data(table, selection, distance, idx[start:stop] if start < result_size else [])
    pages = -(-reported // pagesize) if reported else empty_pages_filtered
    return {"status": "COMPLETE", "msg": "", "data": data, "fields": fields,
            "paging": {"page": page, "pageSize": pagesize, "pagesFiltered": pages, "rows": len(data),
                       "rowsFiltered": reported, "rowsTotal": reported}}


def _positive_int(value, name: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise MastError(f"Invalid value for '{name}': {value!r}")
    if v < 1 or (isinstance(value, float) and not value.is_integer()):
        raise MastError(f"Invalid value for '{name}': {value!r}")
    return v


# ---------------------------------------------------------------------------
# Faults and log
# ---------------------------------------------------------------------------

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
    percent: float | None = None

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
    def executing(cls, n: int = 1, *, percent: float | None = None) -> "Fault":
        """``n`` EXECUTING replies (one per matching request)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        return cls("executing", count=int(n), percent=percent)

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


@dataclasses.dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict = dataclasses.field(default_factory=dict)
    mast_status: str | None = None
    rows: int | None = None
    action: str | None = None       # None, "reset", "truncate", "drop_after"
    nbytes: int = 0
    head_only: bool = False


def _dumps(obj) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY, default=_json_default)
    return json.dumps(obj, default=_json_default).encode("utf-8")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(o)}")


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


# ---------------------------------------------------------------------------
# Client-side helpers (encode exactly like astroquery 0.4.11, §1.2)
# ---------------------------------------------------------------------------


def mashup_request(service: str, params: dict, *, pagesize: int | None = DEFAULT_PAGESIZE,
                   page: int | None = 1, cache_breaker: str | None = None, **kwargs) -> dict:
    """Build a Mashup request dict the way astroquery does (key order included)."""
    req = {"service": service, "params": params, "format": "json"}
    if pagesize is not None:
        req["pagesize"] = pagesize
    if page is not None:
        req["page"] = page
    req.update(kwargs)
    req.setdefault("cacheBreaker", cache_breaker or str(uuid.uuid4()))
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


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


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


class MastServer:
    """Local MAST Mashup invoke + download server (see module docstring).

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
        self._log: list[LogRecord] = []
        self._faults: list[list] = []     # [fault, match, target, remaining]
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
        if target is None:
            target = "download" if fault.kind == "drop_after" else "invoke"
        if target not in ("invoke", "download"):
            raise ValueError("target must be 'invoke' or 'download'")
        if target == "download" and fault.kind in _INVOKE_ONLY:
            raise ValueError(f"fault {fault.kind!r} applies to invoke requests only")
        with self._lock:
            self._faults.append([fault, match, target, max(1, fault.count)])

    def add_faults(self, fault: Fault, times: int = 1, *, match: Callable | None = None,
                   target: str | None = None) -> None:
        """Queue ``fault`` ``times`` times (a burst)."""
        for _ in range(int(times)):
            self.add_fault(dataclasses.replace(fault), match=match, target=target)

    def add_download_fault(self, fault: Fault, *, uri: str | None = None, times: int = 1) -> None:
        """Queue a download fault, optionally only for ``uri``."""
        self.add_faults(fault, times, match=match_uri(uri) if uri is not None else None, target="download")

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """Number of queued fault uses not yet consumed."""
        with self._lock:
            return sum(entry[3] for entry in self._faults)

    def _take_fault(self, target: str, payload) -> Fault | None:
        with self._lock:
            for idx, entry in enumerate(self._faults):
                fault, match, tgt, _ = entry
                if tgt != target:
                    continue
                if match is not None:
                    if payload is None:
                        continue
                    try:
                        ok = bool(match(payload))
                    except Exception:
                        self.errors.append("fault match raised:\n" + traceback.format_exc())
                        ok = False
                    if not ok:
                        continue
                entry[3] -= 1
                if entry[3] <= 0:
                    del self._faults[idx]
                return fault
        return None

    # -- internals -------------------------------------------------------------
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
        raw_path = h.path
        parts = urllib.parse.urlsplit(raw_path)
        headers = {k: v for k, v in h.headers.items()}
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        kind = {INVOKE_PATH: "invoke", DOWNLOAD_PATH: "download",
                COLUMNS_CONFIG_PATH: "columnsconfig"}.get(parts.path, "other")
        rec = LogRecord(kind=kind, method=method, path=raw_path, headers=headers, query=query,
                        time=time.time(), body=body)
        with self._lock:
            self._log.append(rec)
        try:
            if kind == "invoke" and method in ("GET", "POST"):
                reply = self._handle_invoke(rec, headers, query, body)
            elif kind == "download" and method in ("GET", "HEAD"):
                reply = self._handle_download(rec, headers, query, raw_path, method)
            elif kind == "columnsconfig" and method in ("GET", "POST"):
                reply = self._handle_columns_config(rec, headers, query, body)
            elif kind == "other":
                reply = _Reply(404, b"Not Found", "text/plain; charset=utf-8")
            else:
                reply = _Reply(405, b"Method Not Allowed", "text/plain; charset=utf-8",
                               headers={"Allow": "GET, POST" if kind == "invoke" else "GET, HEAD"})
        except Exception:
            tb = traceback.format_exc()
            self._record_error(tb)
            reply = _Reply(500, ("Internal test-server error\n" + tb).encode(), "text/plain; charset=utf-8")
        if reply.action != "reset":
            self._sleep(self.latency)
        self._send(h, rec, reply)

    def _send(self, h: _Handler, rec: LogRecord, reply: _Reply):
        conn = h.connection
        if reply.action == "reset":
            rec.status = None
            h.close_connection = True
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            conn.close()
            return
        body = reply.body
        if reply.action == "truncate":
            body = body[: len(body) // 2]
        rec.status, rec.mast_status, rec.rows = reply.status, reply.mast_status, reply.rows
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(body)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if reply.action == "drop_after":
                h.send_header("Connection", "close")
            h.end_headers()
            if reply.head_only:
                return
            if reply.action == "drop_after":
                h.wfile.write(body[: reply.nbytes])
                h.wfile.flush()
                h.close_connection = True
                try:
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            h.wfile.write(body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.close_connection = True

    # -- invoke ------------------------------------------------------------------
    def _handle_invoke(self, rec: LogRecord, headers: dict, query: dict, body: bytes) -> _Reply:
        form = {}
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        is_form = ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        if rec.method == "POST" and is_form:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        raw = (form.get("request") or query.get("request") or [None])[0]
        req, decode_error = None, None
        if raw is None:
            decode_error = "Request Object is Missing Required Parameter : request"
        else:
            try:
                req = json.loads(raw)
            except ValueError as exc:
                decode_error = f"Invalid request object (not JSON): {exc}"
            else:
                if not isinstance(req, dict):
                    req, decode_error = None, "Invalid request object (not a JSON object)"
        rec.request = req
        rec.service = req.get("service") if req else None

        fault = self._take_fault("invoke", req)
        rec.fault = fault.kind if fault else None
        if fault is not None:
            if fault.kind == "http":
                return _Reply(fault.status, fault.body, fault.content_type, dict(fault.headers or {}))
            if fault.kind == "error":
                return self._json_reply({"status": "ERROR", "msg": fault.msg})
            if fault.kind == "executing":
                pc = fault.percent if fault.percent is not None else 50
                return self._json_reply({"status": "EXECUTING", "msg": "", "percent complete": pc})
            if fault.kind == "reset":
                return _Reply(0, b"", action="reset")
            if fault.kind == "delay":
                self._sleep(fault.seconds)
        if decode_error is not None:
            return self._json_reply({"status": "ERROR", "msg": decode_error})
        reply = self._json_reply(self._invoke_result(req, fault=fault, polling=True))
        if fault is not None and fault.kind in ("truncate", "drop_after"):
            reply.action, reply.nbytes = fault.kind, fault.nbytes
        return reply

    @staticmethod
    def _json_reply(result: dict) -> _Reply:
        paging = result.get("paging")
        return _Reply(200, _dumps(result), "application/json", mast_status=result.get("status"),
                      rows=paging.get("rows") if isinstance(paging, dict) else None)

    def process_request(self, request: dict) -> dict:
        """The reply dict for a decoded Mashup request, without faults, latency or
        EXECUTING polls (handy for unit tests)."""
        return self._invoke_result(request, fault=None, polling=False)

    def _invoke_result(self, req: dict, *, fault: Fault | None, polling: bool) -> dict:
        try:
            service = req.get("service")
            if not isinstance(service, str) or not service:
                raise MastError("Request Object is Missing Required Parameter : service")
            if service == NAME_LOOKUP_SERVICE:
                return self._name_lookup(req)
            table = self.archive.table(service)
            if table is None:
                raise MastError(f"Unknown service: {service}")
            if polling and self.executing_polls > 0:
                key = json.dumps(req, sort_keys=True)
                with self._lock:
                    k = self._exec_counts[key] = self._exec_counts.get(key, 0) + 1
                if k <= self.executing_polls:
                    return {"status": "EXECUTING", "msg": "",
                            "percent complete": int(100 * k / (self.executing_polls + 1))}
            delta = fault.delta if fault is not None and fault.kind == "rows_filtered" else 0
            return filtered_reply(table, service, req, delta=delta, page_cap=self.page_cap,
                                  empty_pages_filtered=self.empty_pages_filtered)
        except MastError as exc:
            return {"status": "ERROR", "msg": str(exc)}

    def _name_lookup(self, req: dict) -> dict:
        params = req.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("input"), str):
            raise MastError("Request Object is Missing Required Parameter : input")
        text = params["input"]
        norm = " ".join(text.split()).casefold()
        for name, value in self.names.items():
            if " ".join(name.split()).casefold() != norm:
                continue
            if isinstance(value, dict):
                ra, dec = value["ra"], value.get("decl", value.get("dec"))
                extra = value
            else:
                ra, dec = value
                extra = {}
            entry = {"searchString": text.lower(), "resolver": extra.get("resolver", "NED"),
                     "cached": True, "resolverTime": 1, "searchRadius": -1.0,
                     "canonicalName": extra.get("canonicalName", name), "ra": float(ra), "decl": float(dec)}
            if extra.get("objectType"):
                entry["objectType"] = extra["objectType"]
            return {"resolvedCoordinate": [entry], "status": ""}
        return {"resolvedCoordinate": [], "status": ""}

    # -- columns config ------------------------------------------------------------
    def _handle_columns_config(self, rec: LogRecord, headers: dict, query: dict, body: bytes) -> _Reply:
        form = dict(query)
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        is_form = ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        if rec.method == "POST" and is_form:
            form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        name = (form.get("colConfigId") or [""])[0]
        rec.service = name or None
        table = self.archive.table(name)
        if table is None and name == "Mast.Caom.Cone":   # astroquery validates CAOM criteria with it
            table = self.archive.table(CAOM_FILTERED_SERVICE)
        config = table.column_config() if table is not None else {}
        return _Reply(200, _dumps(config), "application/json")

    # -- download ----------------------------------------------------------------
    def _handle_download(self, rec: LogRecord, headers: dict, query: dict, raw_path: str,
                         method: str) -> _Reply:
        uri = (query.get("uri") or [None])[0]
        rec.uri = uri
        fault = self._take_fault("download", raw_path)
        rec.fault = fault.kind if fault else None
        if fault is not None:
            if fault.kind == "http":
                return _Reply(fault.status, fault.body, fault.content_type, dict(fault.headers or {}),
                              head_only=method == "HEAD")
            if fault.kind == "reset":
                return _Reply(0, b"", action="reset")
            if fault.kind == "delay":
                self._sleep(fault.seconds)
        text = "text/plain; charset=utf-8"
        if uri is None:
            return _Reply(400, b"Missing required parameter: uri", text)
        if uri not in self.files:
            return _Reply(404, f"File not found: {uri}".encode(), text)
        if uri in self.restricted:
            auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            if not auth or not auth.lower().startswith("token ") or not auth[6:].strip():
                return _Reply(401, b"Unauthorized: this file requires an authentication token", text,
                              headers={"WWW-Authenticate": "token"})
            if auth[6:].strip() not in self.tokens:
                return _Reply(403, b"Forbidden: token not authorized for this file", text)
        data = bytes(self.files[uri])
        size = len(data)
        name = uri.rsplit("/", 1)[-1]
        hdrs = {"Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{name}"'}
        status = 200
        rng_header = next((v for k, v in headers.items() if k.lower() == "range"), None)
        if rng_header is not None:
            m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", rng_header)
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    first = int(m.group(1))
                    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:   # suffix range: last N bytes
                    first, last = max(size - int(m.group(2)), 0), size - 1
                if first >= size or first > last:
                    return _Reply(416, b"Requested Range Not Satisfiable", text,
                                  headers={"Content-Range": f"bytes */{size}"})
                data = data[first:last + 1]
                status = 206
                hdrs["Content-Range"] = f"bytes {first}-{last}/{size}"
            # a malformed or multi-range header is ignored (full 200), as RFC 9110 allows
        reply = _Reply(status, data, "application/octet-stream", hdrs, head_only=method == "HEAD")
        if fault is not None and fault.kind in ("truncate", "drop_after"):
            reply.action, reply.nbytes = fault.kind, fault.nbytes
        return reply
