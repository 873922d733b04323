"""
Result tables to and from files: ECSV, CSV, VOTable and FITS, chosen by extension.

This is what ``nirspec-mast -o FILE`` writes and ``nirspec-mast download TABLE`` reads, and
it is usable on its own. Each format keeps what it can hold: ECSV keeps everything
(units, masks, `~astropy.time.Time` columns, metadata); the others get text for dates and
footprints, and JSON text for structured metadata (`writable_table`).

Examples
--------
>>> import tempfile, pathlib
>>> from astropy.table import Table
>>> from astroquery_nirspec.tableio import read_table, write_table
>>> path = pathlib.Path(tempfile.mkdtemp()) / "result.ecsv"
>>> write_table(Table({"grating": ["G395H"], "count": [3]}), path)
'ecsv'
>>> read_table(path)
<Table length=1>
grating count
  str5  int64
------- -----
  G395H     3
"""
# Standard library
import json
import os
import sys
import warnings

# Third party
import numpy as np
from astropy.table import Column, MaskedColumn, Table
from astropy.time import Time

__all__ = ["FORMATS", "EXTENSIONS", "TEXT_FORMATS", "STDOUT", "TableFileError", "format_for",
           "check_destination", "writable_table", "write_table", "read_table"]

#: Format names and the astropy ``Table.read``/``Table.write`` format each stands for.
FORMATS = {"ecsv": "ascii.ecsv", "csv": "ascii.csv", "votable": "votable", "fits": "fits"}

#: File extensions recognised and the format (a key of `FORMATS`) each implies.
EXTENSIONS = {".ecsv": "ecsv", ".csv": "csv", ".xml": "votable", ".vot": "votable",
              ".votable": "votable", ".fits": "fits", ".fit": "fits"}

#: Formats that can be written to standard output (``path="-"``).
TEXT_FORMATS = ("ecsv", "csv", "votable")

#: The path that stands for standard output.
STDOUT = "-"


class TableFileError(Exception):
    """A table file that cannot be read or written as asked; the message says why, in one line."""


def format_for(path, fmt=None):
    """
    The format of a table file: ``fmt`` if given, else the one its extension implies.

    Parameters
    ----------
    path : str or path-like
    fmt : str, optional
        One of the keys of `FORMATS`.

    Returns
    -------
    fmt : str
        A key of `FORMATS`.

    Raises
    ------
    TableFileError
        For an unknown ``fmt``, or no ``fmt`` and an extension not in `EXTENSIONS`.

    Examples
    --------
    >>> from astroquery_nirspec.tableio import format_for
    >>> format_for("report.VOT"), format_for("report.txt", "csv")
    ('votable', 'csv')
    """
    if fmt:
        if fmt not in FORMATS:
            raise TableFileError(f"Unknown table format {fmt!r}: give one of {', '.join(FORMATS)}.")
        return fmt
    lower = str(path).lower()
    for extension, name in EXTENSIONS.items():
        if lower.endswith(extension):
            return name
    known = ", ".join(sorted(EXTENSIONS))
    raise TableFileError(f"Cannot tell the format of '{path}' from its extension (known: {known}); "
                         f"add --format {{{','.join(FORMATS)}}}.")


def check_destination(path, fmt=None):
    """
    The format ``path`` will be written in, or why it cannot be: checked before any work.

    Parameters
    ----------
    path : str or path-like
        A file name, or ``"-"`` for standard output (text formats only; default ECSV).
    fmt : str, optional
        One of the keys of `FORMATS`; overrides the extension.

    Returns
    -------
    fmt : str
        A key of `FORMATS`.

    Raises
    ------
    TableFileError
        For an unknown format, FITS to standard output, or a file in a missing directory.

    Examples
    --------
    >>> from astroquery_nirspec.tableio import check_destination
    >>> check_destination("-"), check_destination("-", "csv")
    ('ecsv', 'csv')
    >>> check_destination("-", "fits")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    astroquery_nirspec.tableio.TableFileError: Cannot write FITS to standard output; ...
    """
    if str(path) == STDOUT:
        fmt = format_for(path, fmt or "ecsv")
        if fmt not in TEXT_FORMATS:
            raise TableFileError(f"Cannot write {fmt.upper()} to standard output; give a file name "
                                 f"with -o, or --format {'/'.join(TEXT_FORMATS)}.")
        return fmt
    fmt = format_for(path, fmt)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise TableFileError(f"Cannot write '{path}': the directory '{folder}' does not exist.")
    return fmt


def _text_column(values, mask, like):
    """A str column (masked where ``mask``) with the description and meta of ``like``."""
    data = np.array(["" if m else str(v) for v, m in zip(values, mask)], dtype=str)
    if data.dtype.itemsize == 0:
        data = data.astype("U1")
    column = MaskedColumn(data, mask=mask) if np.any(mask) else Column(data)
    column.info.description = like.info.description
    column.info.meta = dict(like.info.meta or {})
    return column


def _time_as_text(column):
    """A `~astropy.time.Time` column as ISO 8601 UTC text, masked where the time is."""
    mask = (np.broadcast_to(np.asarray(column.mask, bool), column.shape).copy()
            if column.masked else np.zeros(len(column), bool))
    iso = np.atleast_1d(column.utc.isot) if len(column) else np.array([], dtype=str)
    new = _text_column(iso, mask, column)
    if not new.info.description:
        new.info.description = "UTC date and time (ISO 8601)"
    return new


def _objects_as_text(column):
    """An object column (e.g. footprints) as text, ``None`` and masked entries masked."""
    values = column.tolist()
    mask = np.ma.getmaskarray(column) | np.array([v is None for v in values], bool)
    new = _text_column(values, mask, column)
    new.unit = column.unit
    return new


def writable_table(table, fmt):
    """
    A copy of ``table`` that ``fmt`` can store.

    - object-dtype columns (e.g. footprints) become text, ``None`` becoming masked;
    - `~astropy.time.Time` columns stay as they are in ECSV (which stores them exactly)
      and become ISO 8601 text (``isot``, UTC) in CSV, VOTable and FITS, masked where the
      time is masked (FITS and VOTable cannot hold masked times);
    - for FITS and VOTable, metadata values that are not plain scalars (lists and dicts,
      such as the query's ``filters``) are stored as JSON text.

    The table given is not changed; an empty table keeps all its columns.

    Parameters
    ----------
    table : `~astropy.table.Table`
    fmt : str
        One of the keys of `FORMATS`.

    Returns
    -------
    table : `~astropy.table.Table`

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from astropy.time import Time
    >>> from astroquery_nirspec.tableio import writable_table
    >>> t = Table({"when": Time(["2023-05-01T12:00:00"]),
    ...            "region": np.array(["POLYGON 1 2 3 4 5 6"], dtype=object)})
    >>> w = writable_table(t, "fits")
    >>> w["when"][0], w["region"].dtype.kind
    (np.str_('2023-05-01T12:00:00.000'), 'U')
    """
    out = Table(table, copy=True)
    for name in out.colnames:
        column = out[name]
        if isinstance(column, Time):
            if fmt != "ecsv":
                out.replace_column(name, _time_as_text(column))
        elif getattr(column, "dtype", None) is not None and column.dtype.kind == "O":
            out.replace_column(name, _objects_as_text(column))
    if fmt in ("fits", "votable"):
        out.meta = {key: value if isinstance(value, (str, int, float, bool, np.number, np.bool_))
                    else json.dumps(value, default=str) for key, value in out.meta.items()}
    return out


def write_table(table, path, fmt=None):
    """
    Write a table to ``path`` (``"-"``: standard output) in a format from its extension.

    Parameters
    ----------
    table : `~astropy.table.Table`
    path : str or path-like
        ``.ecsv`` ECSV, ``.csv`` CSV, ``.xml``/``.vot``/``.votable`` VOTable,
        ``.fits``/``.fit`` FITS; ``"-"`` writes ECSV, CSV or VOTable to standard output.
        An existing file is replaced.
    fmt : str, optional
        One of ``ecsv``, ``csv``, ``votable``, ``fits``; overrides the extension.

    Returns
    -------
    fmt : str
        The format written.

    Raises
    ------
    TableFileError
        For an unknown extension, FITS to standard output, or a file that cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astropy.table import Table
    >>> from astroquery_nirspec.tableio import write_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.csv"
    >>> write_table(Table({"grating": ["G395H"], "count": [3]}), path)
    'csv'
    >>> print(path.read_text().strip())
    grating,count
    G395H,3
    """
    fmt = check_destination(path, fmt)
    ready = writable_table(table, fmt)
    with warnings.catch_warnings():
        # Long metadata keys become FITS HIERARCH cards, which astropy announces each time.
        from astropy.io.fits.verify import VerifyWarning
        warnings.simplefilter("ignore", VerifyWarning)
        try:
            if str(path) == STDOUT:
                ready.write(sys.stdout, format=FORMATS[fmt])
                sys.stdout.flush()
            else:
                ready.write(path, format=FORMATS[fmt], overwrite=True)
        except OSError as exc:
            raise TableFileError(f"Cannot write '{path}': {exc.strerror or exc}.") from exc
    return fmt


def read_table(path, fmt=None):
    """
    Read a table file in the format of its extension (or ``fmt``).

    Parameters
    ----------
    path : str or path-like
    fmt : str, optional
        One of the keys of `FORMATS`; overrides the extension.

    Returns
    -------
    table : `~astropy.table.Table`

    Raises
    ------
    TableFileError
        For a missing file, an unknown extension, or a file that is not a table in that
        format (the message names the file, the format and astropy's reason).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astroquery_nirspec.tableio import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "uris.txt"
    >>> _ = path.write_text("dataURI\\nmast:JWST/product/jw01345_s3d.fits\\n")
    >>> list(read_table(path, "csv")["dataURI"])
    [np.str_('mast:JWST/product/jw01345_s3d.fits')]
    """
    from astropy.io.registry import IORegistryError

    if not os.path.exists(path):
        raise TableFileError(f"No such file: '{path}'.")
    fmt = format_for(path, fmt)
    try:
        return Table.read(path, format=FORMATS[fmt])
    except (OSError, ValueError, TypeError, IORegistryError) as exc:
        raise TableFileError(f"Cannot read '{path}' as {fmt.upper()}: {exc}") from exc
