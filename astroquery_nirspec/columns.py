"""
The values of one column → one typed, masked column; the same column of several pages → one.

`column_kind` / `declared_kind` decide a column's kind from the type the reply declares
(and, for text, from its values and the field catalogue), `build_column` builds it from
the sequence of its values (None for null) with no Python code per cell: numbers through
numpy, ``/Date(ms)/`` text as `~astropy.time.Time`, the one-letter FITS flags as
``bool``, short text as fixed-width unicode and long text (``s_region``) as the parsed
str objects; values that do not fit their kind are kept as text. `join_column` joins
the column of each page of a query. Used by `astroquery_nirspec.tables`.
"""
import re
from itertools import repeat
from operator import getitem

import numpy as np
from astropy.table import MaskedColumn
from astropy.time import Time

__all__ = ["LONG_STRING", "declared_kind", "column_kind", "build_column", "no_times", "join_column"]

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


def declared_kind(declared, field=None):
    """
    The kind a column's declared type gives: ``int``, ``float``, ``bool``, ``date``,
    ``flag`` (a catalogued one-letter FITS flag), or ``text`` (decided by the values).

    Examples
    --------
    >>> declared_kind("double"), declared_kind("string")
    ('float', 'text')
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


def column_kind(declared, values, field=None):
    """
    Decide the kind of a column from its declared type and, for text, its values.

    A column declared as text with no value to look at (no rows, or only nulls)
    takes the kind of its catalogue ``field``, when there is one; a catalogued
    one-letter FITS flag is always of kind ``flag``.

    Examples
    --------
    >>> column_kind("string", ["/Date(1672531200000)/", None]), column_kind("string", [1, 2])
    ('date', 'int')
    """
    kind = declared_kind(declared, field)
    return _value_kind(values, field) if kind == "text" else kind


def no_times():
    """
    A zero-length `~astropy.time.Time` column (UTC, isot).

    Examples
    --------
    >>> len(no_times()), no_times().format
    (0, 'isot')
    """
    return Time(np.zeros(0), format="unix", scale="utc", copy=False).replicate(format="isot")


_MS_JSON = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")
_MS_DIGITS = slice(len("/Date("), -len(")/"))
_MS_PREFIX = np.frombuffer(b"/Date(", dtype=np.uint8)
_MS_SUFFIX = np.frombuffer(b")/", dtype=np.uint8)
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
    joined = "".join(present)
    found = _same_width_milliseconds(joined, len(present))
    if found is None:
        try:
            found = np.fromiter(map(int, map(getitem, present, repeat(_MS_DIGITS))), np.int64, len(present))
        except (ValueError, OverflowError):
            return None
        # the digits parsed, so "/Date(" and ")/" can only be at the ends: one of each per value
        if joined.count("/Date(") != len(present) or joined.count(")/") != len(present):
            return None
    if not mask.any():
        return found
    ms = np.zeros(len(texts), dtype=np.int64)
    ms[~mask] = found
    return ms


def _same_width_milliseconds(joined, n):
    """
    The ms of ``n`` joined ``/Date(ms)/`` values that all have the same number of digits
    (all dates since September 2001), read as an array of bytes; None otherwise.
    """
    width = len(joined) // n if n else 0
    if not len(_MS_PREFIX) + len(_MS_SUFFIX) < width < 27 or width * n != len(joined) or not joined.isascii():
        return None
    codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(n, width)
    digits = codes[:, len(_MS_PREFIX):-len(_MS_SUFFIX)] - ord("0")
    # each row is one value: "/Date(" and ")/" occur only at the ends of values, digits between
    if not ((codes[:, :len(_MS_PREFIX)] == _MS_PREFIX).all() and (codes[:, -len(_MS_SUFFIX):] == _MS_SUFFIX).all()
            and (digits <= 9).all()):
        return None
    return digits.astype(np.int64) @ 10 ** np.arange(digits.shape[1] - 1, -1, -1, dtype=np.int64)


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
        return no_times()
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
    if set(map(type, raw[~mask])) <= {bool, np.bool_}:
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
    try:                                    # the common case: short text, no null, no date
        longest = max(map(len, values), default=0)
        if 0 < longest <= LONG_STRING and not str.startswith(values[0], "/Date("):
            return MaskedColumn(np.array(values, dtype=f"U{longest}"), mask=np.zeros(len(values), bool))
    except TypeError:                       # a null (or a number, a boolean) among the values
        pass
    raw = np.empty(len(values), dtype=object)
    raw[:] = values
    mask = np.equal(raw, None)
    try:
        longest = max(map(len, _filled(raw, mask, "")), default=0)
    except TypeError:                       # numbers or booleans among the values
        longest = None
    if longest is None or mask.all():       # not all text, or nothing to look at
        return build_column(name, _value_kind(values, field), values)
    first = raw[np.argmin(mask)]
    column = _date_column(raw, mask) if first.startswith("/Date(") else None
    return _text(raw, mask, longest) if column is None else column


def build_column(name, kind, values, field=None):
    """
    One column from the sequence of its values (None for null), of the given kind
    (``text``: declared as text, decided by the values and the catalogue ``field``);
    values that do not fit the kind are kept as text, so nothing is lost.

    Examples
    --------
    >>> build_column("effexptm", "float", [1000.0, None, 500.0]).tolist()
    [1000.0, None, 500.0]
    >>> build_column("date_obs", "date", ["/Date(1672531200000)/"])[0].isot
    '2023-01-01T00:00:00.000'
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


def _all_masked(column):
    return len(column) > 0 and bool(np.all(column.mask))


def _masked_like(column, n):
    """``n`` masked values of the kind of ``column`` (a Time or a MaskedColumn)."""
    if isinstance(column, Time):
        times = Time(np.zeros(n), format="unix", scale="utc", copy=False).replicate(format=column.format)
        times[:] = np.ma.masked
        return times
    fill = "" if column.dtype.kind in "OU" else 0
    return MaskedColumn(np.full(n, fill, dtype=column.dtype), mask=np.ones(n, bool))


def join_column(parts):
    """
    One column of the same column of each page, or None when their kinds differ.

    Examples
    --------
    >>> pages = [build_column("program", "int", [1345]), build_column("program", "int", [None, 2736])]
    >>> join_column(pages).tolist()
    [1345, None, 2736]
    """
    present = [p for p in parts if not _all_masked(p)] or parts[:1]
    model = present[0]
    if isinstance(model, Time) != all(isinstance(p, Time) for p in present):
        return None
    if not isinstance(model, Time):
        kinds = {p.dtype.kind for p in present}
        if not (len(kinds) == 1 or kinds <= {"U", "O"} or kinds <= {"i", "f"}):
            return None                     # e.g. numbers on one page, text on another
    kept = set(map(id, present))
    parts = [p if id(p) in kept else _masked_like(model, len(p)) for p in parts]
    if isinstance(model, Time):
        joined = np.concatenate(parts)
    else:
        joined = MaskedColumn(np.concatenate([np.ma.getdata(p) for p in parts]),
                              mask=np.concatenate([np.ma.getmaskarray(p) for p in parts]),
                              unit=model.unit, copy=False)
    joined.info.name = model.info.name
    joined.info.description = model.info.description
    return joined
