"""
MAST JSON pages → astropy `~astropy.table.Table`, built column-wise.

`pages_to_table` turns the parsed pages of one query into its result (cone cut, row
limit and warnings included), `value_counts` counts the distinct values of a column,
`rows_to_table` / `empty_table` build the table itself, and `reply_to_table` does it
straight from the bytes of one reply. Pure functions, no I/O.

Each column is gathered once from the rows (in C, through `map`) and turned into one
numpy array; no Python code runs per cell. Types come from the reply's
``fields`` block, units and descriptions from the field catalogue, nulls are
masked, MAST's ``/Date(ms)/`` strings become `~astropy.time.Time` columns and the
one-letter FITS flags (``'t'``/``'f'`` text) become ``bool`` columns.
"""
import re
import warnings
from itertools import repeat
from operator import getitem

import numpy as np
from astropy.table import MaskedColumn, Table
from astropy.time import Time
from astroquery.exceptions import MaxResultsWarning, NoResultsWarning

from . import sky
from .decoding import decode_reply, gather
from .fields import SERVICE, catalogue, field_names, get_field

__all__ = ["rows_to_table", "reply_to_table", "empty_table", "pages_to_table", "value_counts", "LONG_STRING"]

#: Text columns whose longest value exceeds this many characters (``s_region``: FS
#: footprints reach ~500, MOS ones ~24 000) are kept as object arrays of the parsed
#: strings: as fixed-width unicode they would cost 4 bytes x the longest value for
#: every row, and the copy dominates the build time (benchmarks/bench_e2e.py).
LONG_STRING = 256

_INT_TYPES = {"int", "long", "short", "integer", "unsignedbyte", "number"}
_FLOAT_TYPES = {"float", "double", "decimal", "real"}
_BOOL_TYPES = {"boolean", "bool", "binary"}
_DATE_TYPES = {"datetime", "date"}
_TRUE = np.array(["true", "t", "1", "yes", "y"])
_FALSE = np.array(["false", "f", "0", "no", "n"])
_FLAG_TRUE = np.array(["t", "true"])        # one-letter FITS flags: 't'/'f' (2026), 'T'/'F' (2018)
_FLAG_FALSE = np.array(["f", "false"])
_FLAG_CODES = {**dict.fromkeys(("t", "T", "true", "True", "TRUE"), True),
               **dict.fromkeys(("f", "F", "false", "False", "FALSE"), False)}


#: The column kind of each catalogue type (`astroquery_nirspec.fields.FIELD_TYPES`).
_CATALOGUE_KINDS = {"int": "int", "float": "float", "boolean": "bool", "flag": "flag",
                    "datetime": "date", "string": "string"}


def _declared_kind(declared, field=None):
    """
    The kind a column's declared type gives: ``int``, ``float``, ``bool``, ``date``,
    ``flag`` (a catalogued one-letter FITS flag), or ``text`` (decided by the values).
    """
    declared = (declared or "string").lower()
    if field is not None and field.type == "flag" and declared in ("string", "char", *_BOOL_TYPES):
        return "flag"                       # 't'/'f' text (or JSON booleans) of a FITS flag
    if declared in _INT_TYPES:
        return "int"
    if declared in _FLOAT_TYPES:
        return "float"
    if declared in _BOOL_TYPES:
        return "bool"
    if declared in _DATE_TYPES:
        return "date"
    return "text"


def _value_kind(values, field=None):
    """
    The kind of a column declared as text, from its values: numbers, booleans,
    ``/Date(ms)/`` dates or text; with no value to look at (no rows, or only nulls),
    the kind of its catalogue ``field``, when there is one.
    """
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return _CATALOGUE_KINDS.get(field.type, "string") if field is not None else "string"
    if kinds <= {int, float}:                # numbers in a column declared as text (e.g. obsid)
        return "int" if kinds == {int} else "float"
    if kinds == {bool}:
        return "bool"
    if kinds == {str}:
        first = next(v for v in values if v is not None)
        if first.startswith("/Date("):
            return "date"
    return "string"


def _column_kind(declared, values, field=None):
    """
    Decide the kind of a column from its declared type and, for text, its values.

    A column declared as text with no value to look at (no rows, or only nulls)
    takes the kind of its catalogue ``field``, when there is one; a catalogued
    one-letter FITS flag is always of kind ``flag``.
    """
    kind = _declared_kind(declared, field)
    return _value_kind(values, field) if kind == "text" else kind


def _no_times():
    """A zero-length `~astropy.time.Time` column (UTC, isot)."""
    return Time(np.zeros(0), format="unix", scale="utc", copy=False).replicate(format="isot")


_MS_JSON = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")
_MS_DIGITS = slice(len("/Date("), -len(")/"))
_NONE = type(None)
_EXACT = 2 ** 53                            # integers up to this are exact as float64


def _milliseconds(strings, mask):
    """The ms of ``/Date(ms)/`` or ``/Date(ms+zone)/`` strings (int64), or None if some are not."""
    inner = np.char.partition(np.char.strip(strings, "/Date()"), "+")[:, 0]
    inner[mask] = "0"
    try:
        return inner.astype(np.int64)
    except ValueError:                      # a "-zone" suffix, or not MS-JSON at all
        pass
    matches = [_MS_JSON.fullmatch(s) for s in strings[~mask]]
    if not all(matches):
        return None
    ms = np.zeros(len(strings), dtype=np.int64)
    ms[~mask] = [int(m.group(1)) for m in matches]
    return ms


def _plain_milliseconds(texts, mask):
    """
    The ms of ``/Date(ms)/`` str objects (nulls: any text), read in C (slice, `int`);
    None when some value has another form (a zone, or not MS-JSON at all).
    """
    present = texts[~mask] if mask.any() else texts
    try:
        found = np.fromiter(map(int, map(getitem, present, repeat(_MS_DIGITS))), np.int64, len(present))
    except (ValueError, OverflowError):
        return None
    # the digits parsed, so "/Date(" and ")/" can only be at the ends: one of each per value
    joined = "".join(present)
    if joined.count("/Date(") != len(present) or joined.count(")/") != len(present):
        return None
    if not mask.any():
        return found
    ms = np.zeros(len(texts), dtype=np.int64)
    ms[~mask] = found
    return ms


def _times(ms, mask):
    """ms since 1970 (UTC) → Time (isot), masked where ``mask``."""
    times = Time(ms / 1000.0, format="unix", scale="utc")
    times.format = "isot"
    if mask.any():
        times[mask] = np.ma.masked
    return times


def _dates(strings, mask):
    """
    ``/Date(1786449731000)/`` (ms since 1970, UTC; the zone of ``/Date(ms+zone)/`` is
    informational) → Time (isot); other text is parsed by `~astropy.time.Time`.
    None when some value is no date at all.
    """
    if len(strings) == 0:                   # numpy's string functions fail on zero-size arrays
        return _no_times()
    ms = _milliseconds(strings, mask)
    if ms is not None:
        return _times(ms, mask)
    try:
        times = Time(np.where(mask, "2000-01-01T00:00:00", strings), scale="utc")
    except ValueError:
        return None
    times.format = "isot"
    if mask.any():
        times[mask] = np.ma.masked
    return times


def _integers(values):
    """
    An int64 column of Python ints and nulls (the common case), in C: through float64
    when there are nulls (exact below 2**53). None for anything else.
    """
    kinds = set(map(type, values))
    if not kinds <= {int, _NONE}:
        return None
    try:
        if _NONE not in kinds:
            return MaskedColumn(np.array(values, dtype=np.int64), mask=np.zeros(len(values), bool))
        data = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    mask = np.isnan(data)
    data[mask] = 0
    if np.abs(data).max() >= _EXACT:
        return None
    return MaskedColumn(data.astype(np.int64), mask=mask)


def _numbers_at_once(kind, values):
    """An int or float column straight from the values sequence (the common case), else None."""
    if kind == "int":
        return _integers(values)
    try:                                    # None -> NaN; JSON has no NaN of its own
        data = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None                         # mixed content: the general path decides
    return MaskedColumn(data, mask=np.isnan(data))


def _numbers(raw, mask, kind):
    filled = _filled(raw, mask, 0)
    if kind == "int" and float in set(map(type, filled)):
        kind = "float"                      # a fraction in an int column: never truncated
    try:
        return MaskedColumn(filled.astype(np.int64 if kind == "int" else np.float64), mask=mask)
    except (TypeError, ValueError, OverflowError):
        return None


def _filled(raw, mask, value):
    """``raw`` with ``value`` where masked (a copy only when something is masked)."""
    if not mask.any():
        return raw
    filled = raw.copy()
    filled[mask] = value
    return filled


def _flags(raw, mask):
    """A bool column from the usual spellings of a FITS flag, by one dict lookup each; else None."""
    try:
        truth = np.fromiter(map(_FLAG_CODES.__getitem__, _filled(raw, mask, "f")), bool, len(raw))
    except KeyError:                        # another spelling, a JSON boolean, another value
        return None
    return MaskedColumn(truth, mask=mask)


def _truth(raw, mask, true, false):
    """A bool column from text (or bool) values, each one of ``true`` or ``false``; else None."""
    text = np.char.lower(_filled(raw, mask, false[0]).astype(str))
    is_true = np.isin(text, true)
    if not (is_true | np.isin(text, false)).all():
        return None                         # another value: keep the text, drop nothing
    return MaskedColumn(is_true, mask=mask)


def _booleans(raw, mask):
    """JSON true/false, or the text True/False (and t/f, 1/0, yes/no)."""
    present = raw[~mask]
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return MaskedColumn(_filled(raw, mask, False).astype(bool), mask=mask)
    return _truth(raw, mask, _TRUE, _FALSE)


def _text(raw, mask, longest=None):
    """
    A text column: fixed-width unicode, or the parsed str objects for long values.
    ``longest``, when known, is the length of the longest value (all of them having one).
    """
    filled = _filled(raw, mask, "")
    try:                                    # the longest value, without a fixed-width copy
        longest = max(map(len, filled), default=0) if longest is None else longest
        text = all(map(str.__instancecheck__, filled)) if longest > LONG_STRING else True
    except TypeError:                       # not all text (numbers mixed in): all become text
        text = False
    if not text:
        filled = np.array([v if isinstance(v, str) else str(v) for v in filled], dtype=object)
        longest = max(map(len, filled), default=0)
    if longest > LONG_STRING:               # keep the parsed str objects: no copy at all
        return MaskedColumn(filled, mask=mask)
    # the width is known: numpy need not scan every string again to find it
    return MaskedColumn(filled.astype(f"U{max(longest, 1)}"), mask=mask)


def _date_column(raw, mask):
    """A Time column of date text (the ``/Date(ms)/`` strings in C), or None if some are not dates."""
    ms = _plain_milliseconds(_filled(raw, mask, ""), mask)
    if ms is not None:
        return _times(ms, mask)
    return _dates(np.asarray(_text(raw, mask).filled(""), dtype=str), mask)


def _declared_text(name, values, field):
    """
    A column declared as text: text or ``/Date(ms)/`` dates when every value is text
    (told by their lengths, in C), else as `_value_kind` says.
    """
    raw = np.empty(len(values), dtype=object)
    raw[:] = values
    mask = np.equal(raw, None)
    try:
        longest = max(map(len, _filled(raw, mask, "")), default=0)
    except TypeError:                       # numbers or booleans among the values
        longest = None
    if longest is None or mask.all():       # not all text, or nothing to look at
        return _column(name, _value_kind(values, field), values)
    first = raw[np.argmin(mask)]
    column = _date_column(raw, mask) if first.startswith("/Date(") else None
    return _text(raw, mask, longest) if column is None else column


def _column(name, kind, values, field=None):
    """
    One column from the sequence of its values (None for null), of the given kind
    (``text``: declared as text, decided by the values and the catalogue ``field``);
    values that do not fit the kind are kept as text, so nothing is lost.
    """
    if kind == "text":
        return _declared_text(name, values, field)
    column = _numbers_at_once(kind, values) if kind in ("int", "float") else None
    if column is not None:
        column.info.name = name
        return column
    raw = np.empty(len(values), dtype=object)
    raw[:] = values
    mask = np.equal(raw, None)
    if kind in ("int", "float"):
        column = _numbers(raw, mask, kind)
    elif kind == "bool":
        column = _booleans(raw, mask)
    elif kind == "flag":
        column = _flags(raw, mask)
        column = _truth(raw, mask, _FLAG_TRUE, _FLAG_FALSE) if column is None else column
    elif kind == "date":
        column = _date_column(raw, mask)
    column = _text(raw, mask) if column is None else column
    column.info.name = name
    return column


def _describe(table):
    """Units and descriptions from the field catalogue."""
    known = catalogue()
    for name in table.colnames:
        field = known.get(name)
        if field is None:
            continue
        column = table[name]
        if field.unit and hasattr(column, "unit") and field.type not in ("datetime", "string"):
            column.unit = field.unit
        column.info.description = field.description


def empty_table(names):
    """
    A zero-row table with the catalogue's types, units and descriptions.

    Integers are ``int64``, floats ``float64``, flags ``bool``, dates zero-length
    `~astropy.time.Time` columns and text ``str``; a name outside the catalogue
    gives a text column.

    Parameters
    ----------
    names : list of str
        Field names.

    Examples
    --------
    >>> t = empty_table(["filename", "effexptm", "publicReleaseDate"])
    >>> len(t), t["effexptm"].unit, type(t["publicReleaseDate"]).__name__
    (0, Unit("s"), 'Time')
    """
    known = catalogue()
    dtypes = {"int": np.int64, "float": np.float64, "bool": bool, "flag": bool, "string": str}
    columns = []
    for name in names:
        kind = _column_kind(None, (), known.get(name))
        columns.append(_no_times() if kind == "date"
                       else MaskedColumn(np.zeros(0, dtype=dtypes[kind]), name=name))
    table = Table(columns, names=list(names), masked=True, copy=False)
    _describe(table)
    return table


def rows_to_table(fields, rows, *, describe=True):
    """
    Build a Table from a MAST reply's ``fields`` and ``data``.

    Parameters
    ----------
    fields : list of dict
        ``[{"name": ..., "type": ...}, ...]`` in the service's column order.
    rows : list of dict
        The ``data`` rows (of all pages, concatenated).
    describe : bool
        Use the NIRSpec field catalogue: units, descriptions, and the type of a
        column that has no value to look at (no rows, or only nulls). Off for the
        replies of other services, such as CAOM.

    Returns
    -------
    table : `~astropy.table.Table`
        One masked column per field, in the given order.

    Examples
    --------
    >>> t = rows_to_table([{"name": "program", "type": "int"},
    ...                    {"name": "effexptm", "type": "float"},
    ...                    {"name": "publicReleaseDate", "type": "string"}],
    ...                   [{"program": 1345, "effexptm": 1458.9, "publicReleaseDate": "/Date(1786449731000)/"},
    ...                    {"program": 2736, "effexptm": None, "publicReleaseDate": None}])
    >>> t["effexptm"].unit, t["effexptm"].mask.tolist()
    (Unit("s"), [False, True])
    >>> str(t["publicReleaseDate"][0].isot)
    '2026-08-11T12:02:11.000'
    """
    names = list(dict.fromkeys(f["name"] for f in fields if f["name"] != "_selected_"))
    return _build(fields, gather(names, rows), describe)


def _build(fields, gathered, describe):
    """The Table of the ``{name: values}`` columns; each one is released once converted."""
    known = catalogue() if describe else {}
    built = {}
    for field in fields:
        name = field["name"]
        if name == "_selected_" or name in built:
            continue
        values = gathered.pop(name)
        described = known.get(name)
        built[name] = _column(name, _declared_kind(field.get("type"), described), values, described)
        del values
    # one Table from all columns at once: adding them one by one costs astropy's
    # per-insertion bookkeeping 239 times
    table = Table(list(built.values()), names=list(built), masked=True, copy=False)
    if describe:
        _describe(table)
    return table


def reply_to_table(content, *, describe=True):
    """
    Parse the bytes of one reply and build its Table, holding as little as possible.

    The rows are decoded straight into columns (``astroquery_nirspec.decoding``: typed by
    `msgspec` when it is installed) and each column is released as soon as it is
    converted, so no row dict outlives the parse. The same Table as `rows_to_table` on
    the parsed JSON.

    Parameters
    ----------
    content : bytes
        The body of one MAST invoke reply.
    describe : bool
        As in `rows_to_table`.

    Returns
    -------
    table : `~astropy.table.Table`
    envelope : dict
        The reply's ``status``, ``msg``, ``fields`` and ``paging``.

    Examples
    --------
    >>> table, envelope = reply_to_table(b'{"status": "COMPLETE", "fields": [{"name": "effexptm", '
    ...     b'"type": "float"}], "data": [{"effexptm": 1458.889}, {"effexptm": null}], '
    ...     b'"paging": {"rowsFiltered": 2}}')
    >>> table["effexptm"].tolist(), envelope["paging"]["rowsFiltered"]
    ([1458.889, None], 2)
    """
    envelope, columns = decode_reply(content)
    return _build(envelope["fields"], columns, describe), envelope


def _first_table(results, columns, cone):
    """The Table of all pages' rows, or an empty one with the catalogue's types."""
    fields = next((r["fields"] for r in results if r.get("fields")), None)
    if fields:
        return rows_to_table(fields, [row for r in results for row in (r.get("data") or [])])
    names = list(columns) if columns is not None else list(field_names())
    if cone is not None:                     # the cut needs the positions
        names += [c for c in ("targ_ra", "targ_dec") if c not in names]
    return empty_table(names)


def pages_to_table(results, *, columns=None, cone=None, row_limit=None, request=None, warn_empty=True):
    """
    The result Table of one ``Mast.Jwst.Filtered.Nirspec`` query from its parsed pages.

    Rows of every page are joined; a reply without ``fields`` gives an empty table of
    the requested columns. With a cone, the rows are cut on their exact separation
    from its centre (`~astroquery_nirspec.sky.cut_on_separation`, adding
    ``separation``) and ``targ_ra``/``targ_dec`` are dropped unless requested.

    Parameters
    ----------
    results : list of dict
        The parsed replies (``{"fields", "data", "paging", ...}``), one per page, in order.
    columns : list of str, optional
        The requested field names; `None` for all.
    cone : tuple, optional
        ``(center, radius)``: a `~astropy.coordinates.SkyCoord` and an
        `~astropy.coordinates.Angle`.
    row_limit : int, optional
        Keep at most this many rows, with a `~astroquery.exceptions.MaxResultsWarning`
        when the query matched more (``paging.rowsFiltered`` of the first page).
    request : dict, optional
        The Mashup request; its ``params.filters`` are stored in ``meta['filters']``.
    warn_empty : bool
        Warn with `~astroquery.exceptions.NoResultsWarning` when no row is left (off for
        counts and value lists, whose callers decide).

    Returns
    -------
    table : `~astropy.table.Table`
        With ``meta['service']`` (and ``meta['filters']`` when ``request`` is given).

    Examples
    --------
    >>> page = {"fields": [{"name": "program", "type": "int"}, {"name": "grating", "type": "string"}],
    ...         "data": [{"program": 1345, "grating": "G140M"}, {"program": 2736, "grating": "G395H"}],
    ...         "paging": {"rowsFiltered": 2}}
    >>> t = pages_to_table([page, {"data": [{"program": 1, "grating": "PRISM"}]}])
    >>> t["grating"].tolist(), t.meta["service"]
    (['G140M', 'G395H', 'PRISM'], 'Mast.Jwst.Filtered.Nirspec')
    """
    table = _first_table(results, columns, cone)
    if cone is not None:
        table = sky.cut_on_separation(table, *cone)
        if columns is not None:
            table.remove_columns([c for c in ("targ_ra", "targ_dec") if c not in columns])
        total = len(table)                   # the box held more; the cone holds these
    else:
        total = (results[0].get("paging") or {}).get("rowsFiltered") if results else None
    if row_limit is not None and (len(table) > row_limit or (total or 0) > row_limit):
        warnings.warn(f"Only the first {row_limit} of {total or 'more'} rows are returned (row_limit="
                      f"{row_limit}); raise row_limit, or pass row_limit=-1 for all.",
                      MaxResultsWarning)
        table = table[:row_limit]
    if warn_empty and len(table) == 0:
        warnings.warn("Query returned no results.", NoResultsWarning)
    table.meta["service"] = SERVICE
    if request is not None:
        table.meta["filters"] = request["params"]["filters"]
    return table


def value_counts(table, name):
    """
    Every distinct value of a column with its number of rows, most frequent first.

    Ties are in value order. Rows without a value are counted in one row whose value is
    masked; a `~astropy.time.Time` column is counted by its ISO text. A catalogued
    field keeps its unit (numeric fields) and description.

    Parameters
    ----------
    table : `~astropy.table.Table`
        A result of `pages_to_table`.
    name : str
        The column to count.

    Returns
    -------
    counts : `~astropy.table.Table`
        Columns ``name`` and ``count``; a `~astroquery.exceptions.NoResultsWarning` when
        it has no row.

    Examples
    --------
    >>> from astropy.table import Table
    >>> counts = value_counts(Table({"grating": ["G140M", "PRISM", "G140M"]}), "grating")
    >>> counts["grating"].tolist(), counts["count"].tolist()
    (['G140M', 'PRISM'], [2, 1])
    """
    column = table[name]
    if hasattr(column, "isot"):              # a Time column: count its ISO strings
        values = np.ma.MaskedArray(column.isot, mask=np.ma.getmaskarray(column))
    else:
        values = np.ma.asarray(column)
    mask = np.ma.getmaskarray(values)
    present = np.asarray(values[~mask])
    uniques, counts = np.unique(present, return_counts=True)
    order = np.lexsort((uniques, -counts)) if len(uniques) else np.zeros(0, int)
    out = Table({name: uniques[order], "count": counts[order]}, masked=True)
    if mask.any():
        placeholder = np.zeros(1, dtype=present.dtype)[0]       # hidden by the mask
        out.add_row({name: placeholder, "count": int(mask.sum())},
                    mask={name: True, "count": False})
        out = out[np.argsort(-np.asarray(out["count"]), kind="stable")]
    if name in catalogue():
        field = get_field(name)
        if field.unit and field.is_numeric:
            out[name].unit = field.unit
        out[name].info.description = field.description
    out["count"].info.description = "Number of files with this value"
    out.meta["service"] = SERVICE
    if len(out) == 0:
        warnings.warn("Query returned no results.", NoResultsWarning)
    return out
