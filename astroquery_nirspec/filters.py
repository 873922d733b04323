"""
Python filter values → MAST ``Mast.Jwst.Filtered.Nirspec`` filter objects.

Pure functions, no I/O. Every value is checked against the field catalogue
(`astroquery_nirspec.fields`) and a bad one raises
`~astroquery.exceptions.InvalidQueryError` naming the value and what is accepted,
before any request is built.

The forms accepted for a field ``name=value``:

=====================================  ==================================================
Python value                           MAST filter
=====================================  ==================================================
scalar (``"G395H"``, ``1345``)         ``{"paramName": name, "values": [value]}``
list, set or array (``["G140M", …]``)  ``"values"`` holding every element (any of them)
2-tuple ``(min, max)``, either `None`  ``"values": [{"min": min, "max": max}]`` (inclusive)
string with ``*`` or ``?``             ``"values": [], "freeText": <SQL LIKE pattern>``
`~astropy.units.Quantity`              converted to the field's unit
`~astropy.time.Time` or ISO string     on date fields: a range on the ``<name>_mjd`` twin
`True`/`False` or ``'t'``/``'T'``/...  on flag fields (``targoopp``, ...): ``"t"``/``"f"``
=====================================  ==================================================
"""
import fnmatch
import math
import numbers

import numpy as np
from astropy import units as u
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError

from .fields import get_field, field_names

__all__ = ["build_filters", "translate", "wildcard_to_like", "parse_columns", "OPEN_BOUND"]

#: Stand-in for an open range bound. The invoke protocol documents a range only as
#: ``{"min": x, "max": y}``; whether ``null`` is accepted is unverified, so an open
#: bound is sent as a finite number far beyond any value stored in the archive.
OPEN_BOUND = 1.0e300

_WILDCARDS = ("*", "?")


def wildcard_to_like(pattern):
    """
    Turn a shell-style pattern into a SQL Server ``LIKE`` pattern.

    ``*`` becomes ``%`` and ``?`` becomes ``_``; characters that ``LIKE`` treats
    specially (``%``, ``_``, ``[``) are escaped as character classes so that
    they match literally.

    Parameters
    ----------
    pattern : str
        The pattern, with ``*`` (any run of characters) and ``?`` (one character).

    Returns
    -------
    like : str
        The ``freeText`` value for a MAST filter.

    Examples
    --------
    >>> wildcard_to_like("*_s3d.fits")
    '%[_]s3d.fits'
    >>> wildcard_to_like("G?95*")
    'G_95%'
    """
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _is_wildcard(value):
    return isinstance(value, str) and any(w in value for w in _WILDCARDS)


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def _accepted(field):
    if field.type == "datetime":
        return "an astropy Time or ISO date string, or a (min, max) tuple of them"
    if field.is_numeric:
        unit = f" or a Quantity in {field.unit}" if field.unit else ""
        return (f"a number{unit}, a list of them, a (min, max) tuple with either bound None, "
                "or a string that reads as a number")
    if field.type == "boolean":
        return "True or False"
    if field.type == "flag":
        return ("True, False, 't', 'T', 'f' or 'F' (a one-letter FITS flag, sent as 't'/'f'), "
                "or a list of them")
    return "a string (with * and ? as wildcards), a number, or a list of them"


def _error(field, value, why=""):
    why = f" {why}" if why else ""
    return InvalidQueryError(
        f"Invalid value {_describe(value)} for field '{field.name}' ({field.type}"
        f"{', ' + field.unit if field.unit else ''}).{why} Accepted: {_accepted(field)}.")


def _number(field, value):
    """Convert one scalar to a plain number in the field's unit, or raise."""
    if isinstance(value, u.Quantity):
        if not value.isscalar:
            raise _error(field, value, "A Quantity value must be a scalar.")
        if not field.unit:
            raise _error(field, value, "This field has no unit, so give a plain number.")
        try:
            value = value.to_value(field.quantity_unit)
        except u.UnitConversionError:
            raise _error(field, value, f"Its unit cannot be converted to {field.unit}.") from None
    elif isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _error(field, value, "Text given for a numeric field.") from None
        if field.type == "int" and value.is_integer():
            value = int(value)
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _error(field, value)
    if isinstance(value, numbers.Real) and not isinstance(value, (int, np.integer)):
        value = float(value)
        if not math.isfinite(value):
            raise _error(field, value, "NaN and infinity are not accepted.")
        if field.type == "int" and value.is_integer():
            value = int(value)
    return int(value) if isinstance(value, np.integer) else value


def _mjd(field, value):
    """Convert a date to MJD (UTC), or raise."""
    if isinstance(value, Time):
        if not value.isscalar:
            raise _error(field, value, "A Time value must be a scalar.")
        return float(value.utc.mjd)
    if isinstance(value, str):
        try:
            return float(Time(value.strip(), scale="utc").mjd)
        except ValueError:
            raise _error(field, value, "It is not an ISO date.") from None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        value = float(value)
        if math.isfinite(value):
            return value          # already an MJD
    raise _error(field, value)


#: The forms a user may give for a one-letter FITS flag, and the stored form sent.
_FLAG_FORMS = {"t": "t", "T": "t", "f": "f", "F": "f"}


def _flag(field, value):
    """A one-letter FITS flag as MAST stores it: ``'t'`` or ``'f'``."""
    if isinstance(value, (bool, np.bool_)):
        return "t" if value else "f"
    if isinstance(value, str) and value in _FLAG_FORMS:
        return _FLAG_FORMS[value]
    raise _error(field, value)


def _scalar(field, value):
    """One discrete value as it is sent to MAST."""
    if field.is_numeric:
        return _number(field, value)
    if field.type == "flag":
        return _flag(field, value)
    if field.type == "boolean":
        # JSON true/false in replies; sent as the text "True"/"False", which SQL Server
        # converts to its bit type (unverified against the live service)
        if isinstance(value, (bool, np.bool_)):
            return str(bool(value))
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "t", "f"):
            return str(value.strip().lower() in ("true", "t"))
        raise _error(field, value)
    if isinstance(value, str):
        if not value.strip():
            raise _error(field, value, "The string is empty.")
        return value
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    raise _error(field, value)


def _range(field, value):
    if len(value) != 2:
        raise _error(field, value, "A range is a tuple of exactly two bounds (min, max).")
    low, high = value
    if low is None and high is None:
        raise _error(field, value, "At least one bound of a range must be given.")
    if field.type == "datetime":
        convert = _mjd
    elif field.is_numeric:
        convert = _number
    else:
        raise _error(field, value, "Ranges apply to numeric and date fields only.")
    low = -OPEN_BOUND if low is None else convert(field, low)
    high = OPEN_BOUND if high is None else convert(field, high)
    if low > high:
        raise _error(field, value, f"The range is inverted: min {low} > max {high}.")
    return {"min": low, "max": high}


def translate(name, value):
    """
    Translate one ``name=value`` criterion into a MAST filter object.

    Parameters
    ----------
    name : str
        A field of ``Mast.Jwst.Filtered.Nirspec`` (case-insensitive).
    value : object
        See the module docstring for the accepted forms.

    Returns
    -------
    filter : dict
        ``{"paramName": ..., "values": [...]}``, with ``freeText`` for wildcards.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an unknown field or a value the field does not accept.

    Examples
    --------
    >>> translate("grating", "G395H")
    {'paramName': 'grating', 'values': ['G395H']}
    >>> translate("effexptm", (1000, None))
    {'paramName': 'effexptm', 'values': [{'min': 1000, 'max': 1e+300}]}
    >>> translate("filename", "*_s3d.fits")
    {'paramName': 'filename', 'values': [], 'freeText': '%[_]s3d.fits'}
    >>> translate("targoopp", True)
    {'paramName': 'targoopp', 'values': ['t']}
    """
    field = get_field(name)

    if field.type == "datetime":
        # Dates travel as "/Date(ms)/" strings; compare on the numeric MJD twin instead.
        twin = get_field(f"{field.name}_mjd")
        if isinstance(value, tuple):
            return {"paramName": twin.name, "values": [_range(field, value)]}
        if _is_wildcard(value):
            raise _error(field, value, "Wildcards do not apply to dates (MAST stores them as "
                         "/Date(ms)/ text); give a (min, max) range such as "
                         "('2023-07-01', '2023-07-31').")
        many = isinstance(value, (list, set, frozenset)) or (
            isinstance(value, (np.ndarray, Time)) and not value.isscalar)
        if many:
            # one range per date would need several ranges in one filter, which the
            # invoke protocol does not document
            raise _error(field, value, "A list of dates is not accepted; give one date or a "
                         "(min, max) range.")
        mjd = _mjd(field, value)
        return {"paramName": twin.name, "values": [{"min": mjd, "max": mjd}]}

    if isinstance(value, tuple):
        return {"paramName": field.name, "values": [_range(field, value)]}

    if isinstance(value, (list, set, frozenset)) or (isinstance(value, np.ndarray) and value.ndim > 0):
        values = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        if not values:
            raise _error(field, value, "The list is empty.")
        if any(_is_wildcard(v) for v in values):
            raise _error(field, value, "Wildcards cannot be combined in a list; give one pattern.")
        return {"paramName": field.name, "values": [_scalar(field, v) for v in values]}

    if _is_wildcard(value):
        if field.type != "string":
            raise _error(field, value, "Wildcards apply to text fields only.")
        return {"paramName": field.name, "values": [], "freeText": wildcard_to_like(value)}

    return {"paramName": field.name, "values": [_scalar(field, value)]}


def build_filters(criteria):
    """
    Translate keyword criteria into the ``filters`` list of a MAST request.

    Parameters
    ----------
    criteria : dict
        ``{field: value}``; see `translate`.

    Returns
    -------
    filters : list of dict
        In the order given; MAST ANDs them.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an unknown field, a bad value, or the same field given twice
        (for example ``grating`` and ``GRATING``).

    Examples
    --------
    >>> build_filters({"exp_type": ["NRS_IFU", "NRS_FIXEDSLIT"], "program": "1345"})
    [{'paramName': 'exp_type', 'values': ['NRS_IFU', 'NRS_FIXEDSLIT']}, {'paramName': 'program', 'values': [1345]}]
    """
    filters, seen = [], {}
    for name, value in criteria.items():
        entry = translate(name, value)
        canonical = get_field(name).name
        if canonical in seen:
            raise InvalidQueryError(
                f"Field '{canonical}' is given twice (as '{seen[canonical]}' and '{name}'); "
                "combine the values into one list or range.")
        seen[canonical] = name
        filters.append(entry)
    return filters


def parse_columns(columns):
    """
    Validate a column selection and return the canonical names.

    Parameters
    ----------
    columns : None, str or iterable of str
        `None`, ``"*"`` or ``"all"`` for every field; otherwise field names as a
        list or a comma-separated string. Shell wildcards select matching fields.

    Returns
    -------
    names : list of str or None
        The canonical field names in the order given, `None` for all.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an unknown name (with the closest valid one) or an empty selection.

    Examples
    --------
    >>> parse_columns("filename, GRATING,filter")
    ['filename', 'grating', 'filter']
    >>> parse_columns(None) is None
    True
    """
    if columns is None:
        return None
    if isinstance(columns, str):
        if columns.strip().lower() in ("*", "all"):
            return None
        items = [c.strip() for c in columns.split(",")]
    else:
        try:
            items = [c.strip() if isinstance(c, str) else c for c in columns]
        except TypeError:
            raise InvalidQueryError(
                f"Invalid columns {_describe(columns)}: give a list of field names or a "
                "comma-separated string.") from None
    names = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidQueryError(
                f"Invalid column {_describe(item)} in columns={columns!r}: each column is a "
                "non-empty field name.")
        if any(w in item for w in _WILDCARDS):
            matched = [n for n in field_names() if fnmatch.fnmatchcase(n.lower(), item.lower())]
            if not matched:
                raise InvalidQueryError(f"Column pattern '{item}' matches no field. "
                                        "See NirspecMast.list_fields().")
            names.extend(matched)
        else:
            names.append(get_field(item).name)
    if not names:
        raise InvalidQueryError(f"Empty column selection {columns!r}: give at least one field.")
    return list(dict.fromkeys(names))
