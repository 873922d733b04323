"""
The filters of the command line: ``field=value`` tokens (exact, ``a,b`` any of,
``>=``/``<=`` bounds, ``a..b`` inclusive ranges, ``*``/``?`` wildcards) parsed into the
keyword filters of `~astroquery_nirspec.NirspecMastClass.query_filtered`, and their
help text. Pure: no request is made; the API validates the values it is given.

Examples
--------
>>> from astroquery_nirspec.filter_tokens import parse_filter_token
>>> parse_filter_token("effexptm>=1000")
('effexptm', (1000.0, None))
>>> parse_filter_token("exp_type=NRS_IFU,NRS_FIXEDSLIT")
('exp_type', ['NRS_IFU', 'NRS_FIXEDSLIT'])
"""
from astroquery.exceptions import InvalidQueryError

from .fields import get_field

__all__ = ["parse_filter_token", "parse_filter_tokens", "FILTER_HELP"]


_FILTER_FORMS = ("field=value, field=a,b (any of), field>=x, field<=x, field=a..b "
                 "(inclusive range) or field=pattern with * and ? wildcards")


def _field_type(name):
    """The catalogue type of a field, or None for an unknown one (the API reports it)."""
    try:
        return get_field(name).type
    except InvalidQueryError:
        return None


def _bound(text, field_type):
    """One range bound: a float for numeric fields (when it reads as one), else the text."""
    text = text.strip()
    if text == "":
        return None
    if field_type in ("int", "float"):
        try:
            return float(text)
        except ValueError:
            return text  # the API names the bad value and what is accepted
    return text


def parse_filter_token(token):
    """
    Parse one command-line filter into the ``(name, value)`` of a Python keyword filter.

    The forms map one to one onto the filters of
    `~astroquery_nirspec.NirspecMastClass.query_filtered`:

    ==========================  ================================  ==========================
    token                       Python value                      meaning
    ==========================  ================================  ==========================
    ``grating=G395H``           ``"G395H"``                       exact value
    ``grating=G395H,G395M``     ``["G395H", "G395M"]``            any of the values
    ``effexptm>=1000``          ``(1000.0, None)``                open range (inclusive)
    ``effexptm<=1000``          ``(None, 1000.0)``                open range (inclusive)
    ``effexptm=500..1000``      ``(500.0, 1000.0)``               inclusive range
    ``filename=*_s3d.fits``     ``"*_s3d.fits"``                  wildcard (``*``, ``?``)
    ==========================  ================================  ==========================

    Values stay text (the API reads numbers given as text, e.g. ``program=1345``),
    except range bounds of numeric fields, which are converted with `float`; date
    bounds stay ISO strings. ``a..b`` is a range only for numeric and date fields;
    either bound may be left out (``effexptm=..1000``). The field name is not checked
    here: the API checks it and suggests the closest name.

    Parameters
    ----------
    token : str
        One filter, as typed on the command line (after the shell's quoting).

    Returns
    -------
    name, value : str, object

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a token that is none of these forms.

    Examples
    --------
    >>> from astroquery_nirspec.filter_tokens import parse_filter_token
    >>> parse_filter_token("grating=G395H")
    ('grating', 'G395H')
    >>> parse_filter_token("program=1345")
    ('program', '1345')
    >>> parse_filter_token("effexptm<=1000")
    ('effexptm', (None, 1000.0))
    >>> parse_filter_token("effexptm=500..1000")
    ('effexptm', (500.0, 1000.0))
    >>> parse_filter_token("date_obs=2023-01-01..2023-06-30")
    ('date_obs', ('2023-01-01', '2023-06-30'))
    >>> parse_filter_token("filename=*_s3d.fits")
    ('filename', '*_s3d.fits')
    """
    if not isinstance(token, str):
        raise InvalidQueryError(f"Invalid filter {token!r}: write {_FILTER_FORMS}.")
    text = token.strip()
    position = text.find("=")
    if position < 0:
        if ">" in text or "<" in text:
            raise InvalidQueryError(
                f"Invalid filter {token!r}: strict comparisons (> and <) are not supported; "
                "use >= or <= (ranges are inclusive).")
        raise InvalidQueryError(f"Invalid filter {token!r}: write {_FILTER_FORMS}.")
    operator = "="
    name = text[:position]
    if name.endswith((">", "<", "!")):
        operator = name[-1] + "="
        name = name[:-1]
    name = name.strip()
    value = text[position + 1:]
    if operator == "=" and value.startswith("="):  # tolerate field==value
        value = value[1:]
    value = value.strip()
    if operator == "!=":
        raise InvalidQueryError(
            f"Invalid filter {token!r}: != is not supported; MAST filters select values, "
            f"they cannot exclude them. Write {_FILTER_FORMS}.")
    if not name:
        raise InvalidQueryError(f"Invalid filter {token!r}: no field name before '{operator}'. "
                                f"Write {_FILTER_FORMS}.")
    if not value:
        raise InvalidQueryError(f"Invalid filter {token!r}: no value after '{operator}'. "
                                f"Write {_FILTER_FORMS}.")
    field_type = _field_type(name)
    if operator == ">=":
        return name, (_bound(value, field_type), None)
    if operator == "<=":
        return name, (None, _bound(value, field_type))
    if ".." in value and field_type in ("int", "float", "datetime"):
        low, high = value.split("..", 1)
        low, high = _bound(low, field_type), _bound(high, field_type)
        if low is None and high is None:
            raise InvalidQueryError(f"Invalid filter {token!r}: a range needs at least one bound.")
        return name, (low, high)
    if "," in value:
        return name, [item.strip() for item in value.split(",")]
    return name, value


def parse_filter_tokens(tokens):
    """
    Parse filter tokens into the keyword filters of a query.

    A field given once with ``>=`` and once with ``<=`` becomes one closed range; any
    other repetition is an error, as it is in the Python API.

    Parameters
    ----------
    tokens : iterable of str

    Returns
    -------
    filters : dict
        ``{name: value}`` in the order given.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a malformed token or a field given twice.

    Examples
    --------
    >>> from astroquery_nirspec.filter_tokens import parse_filter_tokens
    >>> parse_filter_tokens(["exp_type=NRS_IFU", "effexptm>=1000", "effexptm<=5000"])
    {'exp_type': 'NRS_IFU', 'effexptm': (1000.0, 5000.0)}
    """
    filters = {}
    for token in tokens:
        name, value = parse_filter_token(token)
        if name in filters:
            old = filters[name]
            if (isinstance(old, tuple) and isinstance(value, tuple)
                    and (old[1] is None) != (value[1] is None)
                    and (old[0] is None) != (value[0] is None)):
                low = old[0] if old[0] is not None else value[0]
                high = old[1] if old[1] is not None else value[1]
                if low is not None and high is not None:
                    filters[name] = (low, high)
                    continue
            raise InvalidQueryError(
                f"Field '{name}' is given twice; combine the values into one filter "
                f"({name}=a,b for any of them, {name}=a..b for a range).")
        filters[name] = value
    return filters



#: The filter syntax, as the help of the commands that take filters shows it.
FILTER_HELP = """\
filters:
  field=value        exact value            grating=G395H   program=1345
  field=a,b,c        any of the values      exp_type=NRS_IFU,NRS_FIXEDSLIT
  field>=x           at least x             effexptm>=1000
  field<=x           at most x              "date_obs<=2023-06-30"
  field=a..b         from a to b inclusive  effexptm=500..2000  date_obs=2023-01-01..2023-06-30
  field=pattern      * and ? wildcards      "filename=*_s3d.fits"
  Field names are case-insensitive; numbers are in the field's unit and dates are ISO
  (nirspec-mast fields lists every field, its type and unit). Quote tokens holding
  <, >, * or ? so the shell leaves them alone. Filters are ANDed.
"""
