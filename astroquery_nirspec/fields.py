"""
Field catalogue of MAST's ``Mast.Jwst.Filtered.Nirspec`` service.

Every column the service returns (and accepts as a filter ``paramName``) is
described by a `Field`: its canonical name, value type, unit and a one-sentence
description. The catalogue ships with the package as
``astroquery_nirspec/data/nirspec_fields.ecsv`` (its header says how it was
built); it is read once, on first use, and never fetched from MAST by itself.
`use_live_fields` replaces it, for the rest of the Python process, by the field list
of a live reply (which the caller fetches); `reset_fields` goes back to the shipped one.

Value types are ``string``, ``int``, ``float``, ``boolean``, ``flag`` and
``datetime``. A ``datetime`` field arrives from MAST as a Microsoft-JSON string such
as ``"/Date(1786449731000)/"`` (milliseconds since 1970-01-01 UTC) and always has a
``float`` twin named ``<name>_mjd`` holding the same instant as an MJD (unit ``d``).
A ``boolean`` field (``isRestricted``, ``isItar``, ``isStale``) holds JSON
``true``/``false``. A ``flag`` is a one-letter FITS logical keyword (``targoopp``,
``tsovisit``, ...): MAST declares it ``string`` and stores ``'t'``/``'f'`` (``'T'``/``'F'``
in older replies); filters send ``'t'``/``'f'`` and result tables hold ``bool``.

Examples
--------
>>> from astroquery_nirspec.fields import get_field
>>> get_field("targ_ra")
Field(name='targ_ra', type='float', unit='deg', description='Target RA at mid time of exposure.')
>>> get_field("EFFEXPTM").quantity_unit
Unit("s")
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import typing
from pathlib import Path

import astropy.units as u
from astropy.table import Table
from astroquery.exceptions import InvalidQueryError, RemoteServiceError

__all__ = ["SERVICE", "FIELD_TYPES", "Field", "catalogue", "field_names", "get_field", "fields_table",
           "use_live_fields", "reset_fields"]

#: Name of the MAST service the catalogue describes.
SERVICE = "Mast.Jwst.Filtered.Nirspec"

#: The allowed values of `Field.type`.
FIELD_TYPES = ("string", "int", "float", "boolean", "flag", "datetime")

_DATA_FILE = Path(__file__).resolve().parent / "data" / "nirspec_fields.ecsv"

#: MAST's declared types (``fields[].type``) → `Field.type`, for live-only fields.
_LIVE_TYPES = {"string": "string", "char": "string", "int": "int", "long": "int", "short": "int",
               "integer": "int", "unsignedbyte": "int", "float": "float", "double": "float",
               "decimal": "float", "real": "float", "number": "float", "boolean": "boolean",
               "bool": "boolean", "binary": "boolean", "date": "datetime", "datetime": "datetime"}
_LIVE_ONLY = "Returned by the live service; not in the shipped catalogue (no unit or description known)."
_COLUMNS = ("name", "type", "unit", "description")
_WILDCARD_CHARS = frozenset("*?[")


class Field(typing.NamedTuple):
    """
    One column of ``Mast.Jwst.Filtered.Nirspec``.

    Parameters
    ----------
    name : str
        Canonical column name, spelled as the service returns it (e.g. ``fileSize``).
    type : str
        One of ``string``, ``int``, ``float``, ``boolean``, ``flag`` (a one-letter
        FITS logical stored as the text ``'t'``/``'f'``) or ``datetime``.
    unit : str
        Astropy unit string of the values, or ``""`` when there is none.
    description : str
        One-sentence description, from the JWST keyword documentation where possible.

    Examples
    --------
    >>> from astroquery_nirspec.fields import Field
    >>> f = Field("effexptm", "float", "s", "Effective exposure time.")
    >>> f.is_numeric, f.quantity_unit
    (True, Unit("s"))
    >>> Field("grating", "string", "", "Name of the grating element used.").quantity_unit is None
    True
    """

    name: str
    type: str
    unit: str
    description: str

    @property
    def is_numeric(self) -> bool:
        """`True` for ``int`` and ``float`` fields (range filters apply), else `False`."""
        return self.type in ("int", "float")

    @property
    def quantity_unit(self) -> u.UnitBase | None:
        """The field's unit as an `~astropy.units.UnitBase`, or `None` if it has no unit."""
        return u.Unit(self.unit) if self.unit else None


@functools.lru_cache(maxsize=None)
def _load() -> tuple[Field, ...]:
    """Read the shipped ECSV once; later calls return the cached, immutable tuple."""
    table = Table.read(_DATA_FILE, format="ascii.ecsv")
    # ECSV reads empty strings (e.g. a field without unit) back as masked values.
    columns = [table[col].filled("") if hasattr(table[col], "filled") else table[col]
               for col in _COLUMNS]
    fields = [Field(*(str(value) for value in values)) for values in zip(*columns)]
    return tuple(fields)


#: The field list of a live reply in use (`use_live_fields`), or None for the shipped one.
_live: tuple[Field, ...] | None = None


def _active() -> tuple[Field, ...]:
    """The fields validation uses now: the live list if one was set, else the shipped one."""
    return _live if _live is not None else _load()


@functools.lru_cache(maxsize=4)
def _index(fields: tuple[Field, ...]) -> dict[str, Field]:
    return {field.name.lower(): field for field in fields}


def _lower_index() -> dict[str, Field]:
    """Map lower-cased names to their canonical `Field` (cached; internal use only)."""
    return _index(_active())


def catalogue() -> dict[str, Field]:
    """
    Return every field of ``Mast.Jwst.Filtered.Nirspec``, keyed by canonical name.

    The dict follows the service's column order. The shipped file is read only once
    (the parsed result is cached); each call returns a new dict, so callers may
    modify it freely.

    Returns
    -------
    dict of str to `Field`

    Examples
    --------
    >>> from astroquery_nirspec.fields import catalogue
    >>> cat = catalogue()
    >>> list(cat)[:4]
    ['ArchiveFileID', 'filename', 'fileSetName', 'productLevel']
    >>> cat["fileSize"].unit, cat["fileSize"].type
    ('byte', 'int')
    """
    return {field.name: field for field in _active()}


def field_names() -> tuple[str, ...]:
    """
    Return the canonical field names in the service's column order.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from astroquery_nirspec.fields import field_names
    >>> names = field_names()
    >>> "grating" in names and "publicReleaseDate_mjd" in names
    True
    """
    return tuple(field.name for field in _active())


def _or_join(items: list[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def get_field(name: str) -> Field:
    """
    Look up one field by name.

    An exact match wins; otherwise the name is matched case-insensitively, as MAST
    itself does, and the canonical `Field` is returned.

    Parameters
    ----------
    name : str
        Field name, in any letter case.

    Returns
    -------
    `Field`

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        If ``name`` is not a string, or no field has that name. The message then
        suggests up to three close names, if there are any.

    Examples
    --------
    >>> from astroquery.exceptions import InvalidQueryError
    >>> from astroquery_nirspec.fields import get_field
    >>> get_field("PublicReleaseDate").name
    'publicReleaseDate'
    >>> try:
    ...     get_field("gratng")
    ... except InvalidQueryError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    Unknown field 'gratng' for Mast.Jwst.Filtered.Nirspec. Did you mean 'grating'? See ...
    """
    if not isinstance(name, str):
        raise InvalidQueryError(
            f"Field name must be a string, not {name!r} (of type {type(name).__name__}).")
    index = _lower_index()
    field = index.get(name.lower())  # the exact spelling is one of its case variants
    if field is not None:
        return field
    close = difflib.get_close_matches(name.lower(), list(index), n=3)
    message = f"Unknown field '{name}' for {SERVICE}."
    if close:
        message += f" Did you mean {_or_join([index[c].name for c in close])}?"
    message += " See NirspecMast.list_fields()."
    raise InvalidQueryError(message)


def _matches(field: Field, pattern: str) -> bool:
    name, description = field.name.lower(), field.description.lower()
    if _WILDCARD_CHARS.intersection(pattern):
        return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(description, pattern)
    return pattern in name or pattern in description


def fields_table(match: str | None = None) -> Table:
    """
    Return the field catalogue as a table, optionally filtered.

    Parameters
    ----------
    match : str, optional
        Keep only fields whose name or description contains this text
        (case-insensitive). If it contains a shell wildcard (``*``, ``?`` or
        ``[...]``) it is matched with `fnmatch` instead, against the whole name or
        the whole description, e.g. ``"gwa_*"``.

    Returns
    -------
    `~astropy.table.Table`
        String columns ``name``, ``type``, ``unit`` and ``description`` in the
        service's column order, with ``meta['service']`` set to
        ``'Mast.Jwst.Filtered.Nirspec'``. A new table is built on each call.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        If ``match`` is neither `None` nor a string.

    Examples
    --------
    >>> from astroquery_nirspec.fields import fields_table
    >>> t = fields_table(match="gwa_*")
    >>> t["name"].tolist()
    ['gwa_pxav', 'gwa_pyav', 'gwa_tilt', 'gwa_xp_v', 'gwa_xtil', 'gwa_yp_v', 'gwa_ytil']
    >>> t.meta["service"]
    'Mast.Jwst.Filtered.Nirspec'
    >>> "effexptm" in fields_table(match="EXPOSURE TIME")["name"]
    True
    """
    if match is not None and not isinstance(match, str):
        raise InvalidQueryError(
            f"match must be a string or None, not {match!r} (of type {type(match).__name__}).")
    fields = _active()
    if match is not None:
        pattern = match.lower()
        fields = tuple(field for field in fields if _matches(field, pattern))
    columns = [[getattr(field, col) for field in fields] for col in _COLUMNS]
    table = Table(columns, names=_COLUMNS, dtype=(str,) * len(_COLUMNS))
    table["name"].description = "Field name as returned by the service"
    table["type"].description = "Value type: " + ", ".join(FIELD_TYPES)
    table["unit"].description = "Astropy unit string ('' if none)"
    table["description"].description = "Short description of the field"
    table.meta["service"] = SERVICE
    table.meta["source"] = "live service" if _live is not None else "shipped catalogue"
    return table


def _live_names_and_types(reply_fields) -> list[tuple[str, str]]:
    """``(name, declared type)`` of a reply's ``fields`` list, checked; ``_selected_`` left out."""
    if not isinstance(reply_fields, (list, tuple)) or not reply_fields:
        raise RemoteServiceError(
            f"{SERVICE} sent no field list ({reply_fields!r:.80}); the shipped catalogue stays in use.")
    found = {}
    for entry in reply_fields:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise RemoteServiceError(
                f"{SERVICE} sent a field without a name ({entry!r:.80}); the shipped catalogue "
                "stays in use.")
        if name != "_selected_":
            found.setdefault(name, str(entry.get("type") or "string").lower())
    return list(found.items())


def use_live_fields(reply_fields) -> Table:
    """
    Validate against the fields of a live reply from now on, and report the changes.

    For the rest of the Python process (or until `reset_fields`), `catalogue`,
    `field_names`, `get_field` and `fields_table`, and so every filter and column
    check, use the live field list instead of the shipped catalogue. A field in both
    keeps its catalogued type, unit and description (under the live spelling); a field
    only the live service has gets its declared type (``date`` → ``datetime``, ...), no
    unit and a placeholder description. Pure: the caller fetches the reply (one
    ``pagesize=1`` request with ``columns="*"`` suffices).

    Parameters
    ----------
    reply_fields : list of dict
        The ``fields`` list of a ``Mast.Jwst.Filtered.Nirspec`` reply:
        ``[{"name": ..., "type": ...}, ...]``.

    Returns
    -------
    changes : `~astropy.table.Table`
        One row per field added (live only) or removed (shipped only), columns
        ``name``, ``change`` (``'added'`` or ``'removed'``), ``type``, ``unit`` and
        ``description``: removed fields first, each group in service order. Its meta
        holds ``service``, ``live`` and ``shipped`` (the numbers of fields).

    Raises
    ------
    astroquery.exceptions.RemoteServiceError
        If the list is empty or malformed; the fields in use do not change.

    Examples
    --------
    >>> from astroquery_nirspec.fields import (field_names, get_field, reset_fields,
    ...                                        use_live_fields)
    >>> live = [{"name": f, "type": "string"} for f in field_names() if f != "grating"]
    >>> changes = use_live_fields(live + [{"name": "new_key", "type": "date"}])
    >>> changes["name"].tolist(), changes["change"].tolist(), changes["type"].tolist()
    (['grating', 'new_key'], ['removed', 'added'], ['string', 'datetime'])
    >>> get_field("new_key").type, "grating" in field_names()
    ('datetime', False)
    >>> reset_fields()
    >>> get_field("grating").name
    'grating'
    """
    global _live
    live = _live_names_and_types(reply_fields)
    shipped = _load()
    by_lower = {field.name.lower(): field for field in shipped}
    fields = []
    for name, declared in live:
        known = by_lower.get(name.lower())
        fields.append(known._replace(name=name) if known is not None
                      else Field(name, _LIVE_TYPES.get(declared, "string"), "", _LIVE_ONLY))
    live_lower = {name.lower() for name, _ in live}
    removed = [field for field in shipped if field.name.lower() not in live_lower]
    added = [field for field in fields if field.name.lower() not in by_lower]
    _live = tuple(fields)
    rows = [(f.name, "removed", f.type, f.unit, f.description) for f in removed]
    rows += [(f.name, "added", f.type, f.unit, f.description) for f in added]
    changes = Table(rows=rows or None, names=("name", "change", "type", "unit", "description"),
                    dtype=(str,) * 5)
    changes.meta.update(service=SERVICE, live=len(fields), shipped=len(shipped))
    return changes


def reset_fields() -> None:
    """
    Validate against the shipped catalogue again (undo `use_live_fields`).

    Examples
    --------
    >>> from astroquery_nirspec.fields import reset_fields, fields_table
    >>> reset_fields()
    >>> fields_table().meta["source"]
    'shipped catalogue'
    """
    global _live
    _live = None
