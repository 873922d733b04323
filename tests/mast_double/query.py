"""
Filter and query semantics of the Filtered services: which rows a request selects
(filters as SQL Server compares, the cone of ``.Position``), which columns it gets,
and the page of the reply.

Examples
--------
>>> from .archive import ServiceTable
>>> table = ServiceTable([{"name": "flag", "type": "string"}], [{"flag": "t"}, {"flag": "f"}])
>>> name, keep = compile_filter(table, {"paramName": "FLAG", "values": ["T"]})
>>> name, [keep(i) for i in range(len(table))]
('flag', [True, False])
"""
from __future__ import annotations

import json
import re
from typing import Callable

import numpy as np

from .archive import MastError, ServiceTable, angular_separation_deg, cell_str, is_number, to_float_or_none
from .fields import DATE_TYPES, DEFAULT_PAGESIZE

__all__ = ["like_to_regex", "compile_filter", "parse_columns", "select_rows", "filtered_reply"]

_COUNT_RE = re.compile(r"^\s*count_big\s*\(\s*\*\s*\)\s*$", re.IGNORECASE)
_ALIAS_RE = re.compile(r"^(.+?)\s+(?:as\s+)?([A-Za-z_][A-Za-z0-9_]*)$", re.IGNORECASE)
_SQL_TYPE_NAME = {"int": "int", "integer": "int", "long": "bigint", "short": "smallint",
                  "float": "float", "double": "float", "decimal": "numeric", "number": "numeric"}


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


def _filter_parts(table: ServiceTable, flt):
    """(column, values, freeText, separator) of a filter, or `MastError`."""
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
    return name, values, flt.get("freeText"), flt.get("separator") or None


def _bit(v):
    """SQL Server's conversion to ``bit``: booleans, 0/1, and the text TRUE/FALSE/1/0
    in any case; None when it fails."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if is_number(v):
        return bool(v) if v in (0, 1) else None
    return {"true": True, "1": True, "false": False, "0": False}.get(str(v).strip().lower())


def _numbers(table: ServiceTable, name: str, discrete: list) -> set:
    sql_type = _SQL_TYPE_NAME.get(table.types[name].lower(), "int")
    out = set()
    for v in discrete:
        f = to_float_or_none(v)
        if f is None and v is not None:
            if sql_type in ("float", "numeric"):
                raise MastError("Error converting data type nvarchar to float.")
            raise MastError(f"Conversion failed when converting the nvarchar value '{v}' to data type {sql_type}.")
        out.add(f)
    return out - {None}


def _discrete(table: ServiceTable, name: str, mode: str, discrete: list):
    """(comparable column, set of wanted values) for the discrete values of a filter."""
    if mode == "num":
        return table.numeric(name), _numbers(table, name, discrete)
    if mode == "bool":
        wanted = {_bit(v) for v in discrete}
        if None in wanted:
            bad = next(v for v in discrete if _bit(v) is None)
            raise MastError(f"Conversion failed when converting the nvarchar value '{bad}' to data type bit.")
        return [None if v is None else _bit(v) for v in table.column(name)], wanted
    return table.folded(name), {cell_str(v).casefold() for v in discrete if v is not None}


def _ranges(mode: str, ranges: list) -> list[tuple]:
    """Inclusive (min, max) bounds, None for an open end; text compares case-folded."""
    out = []
    for r in ranges:
        lo, hi = r.get("min"), r.get("max")
        if mode == "str":
            out.append(tuple(None if b is None else cell_str(b).casefold() for b in (lo, hi)))
            continue
        flo, fhi = to_float_or_none(lo), to_float_or_none(hi)
        if (lo is not None and flo is None) or (hi is not None and fhi is None):
            raise MastError("Error converting data type nvarchar to float.")
        out.append((flo, fhi))
    return out


def compile_filter(table: ServiceTable, flt) -> tuple[str, Callable[[int], bool]] | None:
    """(column, predicate on a row index) of one filter, or None for a filter that
    constrains nothing. Discrete values, ranges and ``freeText`` are ORed; with a
    ``separator`` a value may match any element of the cell; null never matches; a
    range on a ``date`` column is ignored, as MAST ignored it in 2018."""
    name, values, free, sep = _filter_parts(table, flt)
    discrete = [v for v in values if not isinstance(v, dict)]
    # a range on a date column itself constrains nothing (the 2018 recording: all rows came back)
    bounds = [] if table.types[name].lower() in DATE_TYPES else [v for v in values if isinstance(v, dict)]
    if not discrete and not bounds and free is None:
        return None
    mode = table.mode(name)
    col, wanted = _discrete(table, name, mode, discrete)
    ranges = _ranges(mode, bounds)
    raw = table.column(name)
    regex = like_to_regex(str(free)) if free is not None else None

    def elements(i):
        text = cell_str(raw[i])
        return [text] + ([p.strip() for p in text.split(sep)] if sep else [])

    def pred(i: int) -> bool:
        v = col[i]
        if v is None:
            return False
        if v in wanted or (sep and mode == "str" and wanted and any(p.casefold() in wanted for p in elements(i))):
            return True
        if any((lo is None or v >= lo) and (hi is None or v <= hi) for lo, hi in ranges):
            return True
        return regex is not None and any(regex.fullmatch(p) for p in elements(i))

    return name, pred


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
        compiled = compile_filter(table, flt)
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
