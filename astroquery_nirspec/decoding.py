"""
Reading MAST replies: `loads` parses JSON bytes (orjson), `reply_json` parses a reply
once and keeps it on the response, and `decode_reply` turns reply bytes into the
envelope and its rows as columns, with the fewest Python objects.

With `msgspec` installed (optional: ``pip install msgspec``), the ``fields`` block is
read first and the rows are decoded straight into typed records: numbers as numbers,
no dict per row, a third less memory than `json.loads` and faster than orjson
(benchmarks/bench_reply.py). Without it, or when a value does not fit the type its
field declares, the rows come from `loads` (orjson) as dicts. Both
give the same values; `gather` transposes either into ``{name: values}``.
"""
import contextlib
import functools
import gc
import json
from operator import itemgetter, methodcaller
from typing import Any, Optional, Union

try:  # a dependency: 1.5x faster than json here (benchmarks/bench_reply.py, docs/performance.rst)
    import orjson as _orjson
except ImportError:  # pragma: no cover - a platform without an orjson wheel
    _orjson = None

try:
    import msgspec
except ImportError:       # optional; the fallback gives the same values
    msgspec = None

__all__ = ["decode_reply", "gather", "loads", "paused_gc", "reply_json"]

#: The Python type a row value of each declared type decodes to (any other declared
#: type, ``string`` included, may hold text, numbers or booleans: MAST sends integer
#: ids in columns it declares ``string``).
_WIRE = {**dict.fromkeys(("int", "long", "short", "integer", "unsignedbyte"), int),
         **dict.fromkeys(("float", "double", "decimal", "real"), float),
         "number": Union[int, float],
         **dict.fromkeys(("boolean", "bool", "binary"), Union[bool, str]),
         **dict.fromkeys(("date", "datetime"), str)}
_ANY = Union[str, int, float, bool]

#: How far from either end of a reply its ``fields`` block is looked for (a few kB).
_FIELDS_WINDOW = 1 << 20
_JSON = json.JSONDecoder()

if msgspec is not None:
    class _Field(msgspec.Struct):
        name: str
        type: str = "string"

    class _Envelope(msgspec.Struct):
        status: Any = None
        msg: Any = None
        fields: list[_Field] = []
        paging: Any = None
        data: msgspec.Raw = msgspec.Raw(b"[]")


@contextlib.contextmanager
def paused_gc():
    """
    The garbage collector paused: decoding and converting a reply make no reference
    cycles, and collections would rescan every row and column of it.

    Examples
    --------
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads(content):
    """
    Parse JSON bytes with orjson (the standard library where orjson cannot be installed).

    Examples
    --------
    >>> loads(b'{"status": "COMPLETE", "data": [{"a": 1}]}')["data"]
    [{'a': 1}]
    """
    with paused_gc():
        if _orjson is not None:
            return _orjson.loads(content)
        return json.loads(content)


def reply_json(response):
    """
    The parsed JSON of a reply, parsed once and kept on the response.

    Parameters
    ----------
    response : `requests.Response`

    Returns
    -------
    result : dict

    Examples
    --------
    >>> from astroquery.utils.mocks import MockResponse
    >>> response = MockResponse(content=b'{"status": "COMPLETE", "msg": ""}')
    >>> reply_json(response)["status"]
    'COMPLETE'
    >>> reply_json(response) is response._mast_json      # parsed once
    True
    """
    result = getattr(response, "_mast_json", None)
    if result is None:
        result = loads(response.content)
        response._mast_json = result
    return result


def gather(names, rows):
    """
    ``{name: values}`` for the named fields, transposed in one pass through the rows
    (in C: ``itemgetter`` and ``zip``); a field some row lacks is null there.

    Examples
    --------
    >>> gather(["a", "b"], [{"a": 1, "b": "x"}, {"a": 2}])
    {'a': (1, 2), 'b': ('x', None)}
    """
    if not names:
        return {}
    if not rows:
        return {name: () for name in names}
    try:
        if len(names) == 1:
            return {names[0]: tuple(map(itemgetter(names[0]), rows))}
        return dict(zip(names, zip(*map(itemgetter(*names), rows))))
    except KeyError:
        return {name: tuple(map(methodcaller("get", name), rows)) for name in names}


@functools.lru_cache(maxsize=16)
def _row_type(declared):
    """A record type for rows with the given ``((name, declared type), ...)``."""
    spec = [(f"c{i}", Optional[_WIRE.get(kind.lower(), _ANY)], None) for i, (_, kind) in enumerate(declared)]
    rename = {f"c{i}": name for i, (name, _) in enumerate(declared)}
    return msgspec.defstruct("Row", spec, rename=rename, gc=False)


def _declared(fields):
    """``((name, type), ...)`` of the fields that are columns (no ``_selected_``), each once."""
    return tuple(dict((name, kind) for name, kind in fields if name != "_selected_").items())


@functools.lru_cache(maxsize=16)
def _reply_type(fields):
    """A record type for a whole reply whose ``fields`` are ``((name, type), ...)``."""
    return msgspec.defstruct("Reply", [("status", Any, None), ("msg", Any, None), ("fields", list[_Field], []),
                                       ("paging", Any, None),
                                       ("data", Optional[list[_row_type(_declared(fields))]], None)])


def _fields_near_the_ends(content):
    """
    The ``fields`` block of a reply, read near either end of its bytes (MAST sends it
    after the rows), as ``((name, type), ...)``; None when it is not found there.
    """
    key = b'"fields":'
    for at in (content.rfind(key, max(0, len(content) - _FIELDS_WINDOW)), content.find(key, 0, _FIELDS_WINDOW)):
        if at < 0:
            continue
        text = content[at + len(key):at + len(key) + _FIELDS_WINDOW].decode("utf-8", "ignore").lstrip()
        try:
            fields = _JSON.raw_decode(text)[0]
        except ValueError:
            continue
        if isinstance(fields, list) and all(isinstance(f, dict) and isinstance(f.get("name"), str)
                                            and isinstance(f.get("type", ""), str) for f in fields):
            return tuple((f["name"], f.get("type", "string")) for f in fields)
    return None


def _one_pass(content):
    """(envelope, rows) in one pass when the ``fields`` block was found first; else None."""
    guessed = _fields_near_the_ends(content)
    if guessed is None:
        return None
    try:
        reply = msgspec.json.decode(content, type=_reply_type(guessed))
    except msgspec.ValidationError:
        return None
    if tuple((f.name, f.type) for f in reply.fields) != guessed:
        return None                          # the text found was not the reply's own fields
    rows, reply.data = reply.data or [], None
    return reply, rows


def _typed(content):
    """(envelope, columns) through msgspec, or None when a value does not fit its type."""
    found = _one_pass(content)
    if found is not None:
        envelope, rows = found
        declared = _declared((f.name, f.type) for f in envelope.fields)
    else:
        envelope = msgspec.json.decode(content, type=_Envelope)
        declared = _declared((f.name, f.type) for f in envelope.fields)
        try:
            rows = msgspec.json.decode(envelope.data, type=list[_row_type(declared)])
        except msgspec.ValidationError:
            return None
    fields = [{"name": f.name, "type": f.type} for f in envelope.fields]
    names = [name for name, _ in declared]
    columns = dict(zip(names, zip(*map(msgspec.structs.astuple, rows)))) if rows else {}
    del rows
    head = {"status": envelope.status, "msg": envelope.msg, "fields": fields, "paging": envelope.paging}
    return head, {name: columns.get(name, ()) for name in names}


def decode_reply(content):
    """
    Parse one reply: its envelope, and its rows as columns.

    Parameters
    ----------
    content : bytes
        The body of a MAST invoke reply (JSON).

    Returns
    -------
    envelope : dict
        ``status``, ``msg``, ``fields`` (``[{"name", "type"}, ...]``) and ``paging``.
    columns : dict
        ``{name: values}`` for every field but ``_selected_``, in field order, each a
        sequence with one value per row (`None` for null).

    Examples
    --------
    >>> envelope, columns = decode_reply(b'{"status": "COMPLETE", "fields": '
    ...     b'[{"name": "program", "type": "int"}, {"name": "checksum", "type": "string"}], '
    ...     b'"data": [{"program": 1345, "checksum": 547966661}, {"program": null}]}')
    >>> envelope["status"], columns
    ('COMPLETE', {'program': (1345, None), 'checksum': (547966661, None)})
    """
    with paused_gc():
        if msgspec is not None:
            try:
                result = _typed(content)
            except msgspec.DecodeError:
                result = None     # let the standard parser name the problem
            if result is not None:
                return result
        reply = loads(content)
        if not isinstance(reply, dict):     # JSON, but no reply: no status, no rows
            reply = {}
        rows = reply.pop("data", None) or []
        fields = reply.get("fields") or []
        names = list(dict.fromkeys(f["name"] for f in fields if f["name"] != "_selected_"))
        columns = gather(names, rows)
        del rows
        head = {key: reply.get(key) for key in ("status", "msg", "paging")}
        return {**head, "fields": fields}, columns
