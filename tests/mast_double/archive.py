"""
The archive behind the local MAST server: one `ServiceTable` (fields and rows) per
Filtered service, with the column views the filters compare.

Examples
--------
>>> archive = make_archive(n_nirspec=10, n_caom=5, seed=1)
>>> archive.services
['Mast.Caom.Filtered', 'Mast.Caom.Filtered.Position', 'Mast.Jwst.Filtered.Nirspec']
>>> len(archive["Mast.Jwst.Filtered.Nirspec"]), archive["Mast.Caom.Filtered"].mode("obsid")
(10, 'num')
"""
from __future__ import annotations

import math
import threading
from typing import Any, Callable, Iterable

import numpy as np

from .fields import (BOOLEAN_TYPES, CAOM_FIELDS, CAOM_FILTERED_SERVICE, CAOM_POSITION_SERVICE,
                     CAOM_SEPARATORS, NIRSPEC_FIELDS, NIRSPEC_SERVICE, NUMERIC_TYPES)
from .synthetic import make_caom_rows, make_nirspec_rows

__all__ = ["MastError", "ServiceTable", "MastArchive", "make_archive", "angular_separation_deg",
           "is_number", "to_float_or_none", "cell_str"]

_VOT_DATATYPE = {"string": "char", "char": "char", "int": "int", "long": "long", "short": "short",
                 "float": "double", "double": "double", "decimal": "double", "number": "double",
                 "boolean": "boolean", "datetime": "char", "date": "char"}


class MastError(Exception):
    """Raised inside request processing; becomes ``{"status":"ERROR","msg":...}``."""


def angular_separation_deg(ra1, dec1, ra2, dec2):
    """Exact great-circle separation in degrees (Vincenty formula, numpy-vectorised).

    Examples
    --------
    >>> round(float(angular_separation_deg(359.5, 0, 0.5, 0)), 9)
    1.0
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    dra = ra2 - ra1
    sd1, cd1, sd2, cd2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    num = np.hypot(cd2 * np.sin(dra), cd1 * sd2 - sd1 * cd2 * np.cos(dra))
    den = sd1 * sd2 + cd1 * cd2 * np.cos(dra)
    return np.degrees(np.arctan2(num, den))


def is_number(v) -> bool:
    """True for a JSON number (not a boolean)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def to_float_or_none(v):
    """``float(v)``, or None for null, NaN and text that is no number."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def cell_str(v) -> str:
    """A cell as the text SQL Server compares (booleans as ``True``/``False``)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    return str(v)


class ServiceTable:
    """Fields and rows of one Filtered service (rows normalised to the fields' keys).

    ``fields``: list of ``{"name", "type"}``. ``rows``: list of dicts whose values
    are JSON-ready; missing keys become ``None``; a key that is not a field raises
    ``ValueError``. Treat tables as immutable once built: column views are cached.
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

    def _cached(self, key: tuple, compute: Callable[[], Any]):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            return self._cache.setdefault(key, value)

    def column_config(self) -> dict:
        """Minimal columns-config dict ``{col: {"text", "vot.datatype", "vot.ID",
        "vot.name", "separator"?}}`` (the shape of astroquery's recorded columnsconfig.json)."""
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
        """The cells of a column, in row order."""
        return self._cached(("raw", name), lambda: [r[name] for r in self.rows])

    def mode(self, name: str) -> str:
        """Comparison mode of a column: ``"num"`` (declared numeric, or a ``string``
        column holding only JSON numbers, such as ``obsid``), ``"bool"`` or ``"str"``."""
        t = self.types[name].lower()
        if t in BOOLEAN_TYPES:
            return "bool"
        if t in NUMERIC_TYPES:
            return "num"

        def infer():
            values = [v for v in self.column(name) if v is not None]
            return "num" if values and all(is_number(v) for v in values) else "str"
        return self._cached(("mode", name), infer)

    def numeric(self, name: str) -> list:
        """Column as floats (None for null, NaN or non-numeric cells)."""
        return self._cached(("num", name), lambda: [to_float_or_none(v) for v in self.column(name)])

    def folded(self, name: str) -> list:
        """Column as case-folded text (None for null): SQL Server's default collation."""
        return self._cached(("fold", name),
                            lambda: [None if v is None else cell_str(v).casefold() for v in self.column(name)])

    def coords(self):
        """(s_ra, s_dec) as float arrays (NaN for null)."""
        if "s_ra" not in self.types or "s_dec" not in self.types:
            raise KeyError("table has no s_ra/s_dec columns")

        def arrays():
            return tuple(np.array([np.nan if v is None else v for v in self.numeric(c)], dtype=float)
                         for c in ("s_ra", "s_dec"))
        return self._cached(("coords",), arrays)


class MastArchive:
    """Per-service tables served by the local MAST server.

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
        """Register ``Mast.Jwst.Filtered.Nirspec`` (default fields: `NIRSPEC_FIELDS`)."""
        return self.add_service(NIRSPEC_SERVICE, fields or NIRSPEC_FIELDS, rows)

    def add_caom(self, rows: Iterable[dict], *, fields=None) -> ServiceTable:
        """Register ``Mast.Caom.Filtered`` and its ``.Position`` twin (default fields: `CAOM_FIELDS`)."""
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
    ``n_caom`` generated rows). Extra kwargs go to `make_nirspec_rows`.

    Examples
    --------
    >>> len(make_archive(n_nirspec=5)["Mast.Jwst.Filtered.Nirspec"])
    5
    """
    archive = MastArchive()
    if nirspec_rows is None:
        nirspec_rows = make_nirspec_rows(n_nirspec, seed=seed, **nirspec_kwargs)
    archive.add_nirspec(nirspec_rows)
    if caom_rows is None:
        caom_rows = make_caom_rows(n_caom, seed=seed) if n_caom else []
    archive.add_caom(caom_rows)
    return archive
