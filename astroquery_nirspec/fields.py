"""
Field catalogue of MAST's ``Mast.Jwst.Filtered.Nirspec`` service.

Every column the service returns (and accepts as a filter ``paramName``) is
described by a `Field`: its canonical name, value type, unit and a one-sentence
description. The catalogue ships with the package as
``astroquery_nirspec/data/nirspec_fields.ecsv`` (its header says how it was
built); it is read once, on first use, and never fetched from MAST.

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
from astroquery.exceptions import InvalidQueryError

__all__ = ["SERVICE", "FIELD_TYPES", "Field", "catalogue", "field_names", "get_field", "fields_table"]

#: Name of the MAST service the catalogue describes.
SERVICE = "Mast.Jwst.Filtered.Nirspec"

#: The allowed values of `Field.type`.
FIELD_TYPES = ("string", "int", "float", "boolean", "flag", "datetime")

_DATA_FILE = Path(__file__).resolve().parent / "data" / "nirspec_fields.ecsv"
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


@functools.lru_cache(maxsize=None)
def _lower_index() -> dict[str, Field]:
    """Map lower-cased names to their canonical `Field` (cached; internal use only)."""
    return {field.name.lower(): field for field in _load()}


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
    return {field.name: field for field in _load()}


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
    return tuple(field.name for field in _load())


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
    fields = _load()
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
    return table
