"""
MAST JSON pages → astropy `~astropy.table.Table`, built column-wise.

`reply_to_table` builds the Table of one reply straight from its bytes (each page of a
query, in the thread that fetched it), `join_pages` joins the page Tables, and
`result_table` makes the result of a query of them (cone cut, row limit and warnings);
`pages_to_table` does the same from parsed pages, `rows_to_table` / `empty_table` build
a table from rows, `value_counts` counts the distinct values of a column. Pure
functions, no I/O.

Each column is gathered once from the rows (in C, through `map`) and turned into one
numpy array; no Python code runs per cell. Types come from the reply's
``fields`` block, units and descriptions from the field catalogue, nulls are
masked, MAST's ``/Date(ms)/`` strings become `~astropy.time.Time` columns and the
one-letter FITS flags (``'t'``/``'f'`` text) become ``bool`` columns.
"""
import warnings

import numpy as np
from astropy.table import MaskedColumn, Table
from astroquery.exceptions import MaxResultsWarning, NoResultsWarning

from . import sky
from .columns import LONG_STRING, build_column, column_kind, declared_kind, join_column, no_times
from .decoding import decode_reply, gather, paused_gc
from .fields import SERVICE, catalogue, field_names, get_field

__all__ = ["rows_to_table", "reply_to_table", "empty_table", "join_pages", "pages_to_table", "result_table",
           "value_counts", "LONG_STRING"]

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
        kind = column_kind(None, (), known.get(name))
        columns.append(no_times() if kind == "date"
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
        built[name] = build_column(name, declared_kind(field.get("type"), described), values, described)
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
    with paused_gc():
        envelope, columns = decode_reply(content)
        return _build(envelope["fields"], columns, describe), envelope


def join_pages(pages):
    """
    The page Tables of one query (`reply_to_table`, in page order) as one Table.

    Joined column by column (`numpy.concatenate`, faster than `~astropy.table.vstack`
    for hundreds of columns, benchmarks/bench_reply.py): text of different widths joins
    at the widest, or as objects when one page keeps long text as objects; ints and
    floats join as floats; a column null throughout a page takes the kind of the others.
    That is the Table of all rows converted at once, unless a column's kind differs
    otherwise between pages (e.g. numbers on one page, text on another): then None,
    and the rows must be converted as one (`pages_to_table`).

    Parameters
    ----------
    pages : list of `~astropy.table.Table`

    Returns
    -------
    table : `~astropy.table.Table` or None

    Examples
    --------
    >>> one, _ = reply_to_table(b'{"fields": [{"name": "grating", "type": "string"}], '
    ...                         b'"data": [{"grating": "PRISM"}]}')
    >>> two, _ = reply_to_table(b'{"fields": [{"name": "grating", "type": "string"}], '
    ...                         b'"data": [{"grating": "G140M"}, {"grating": null}]}')
    >>> joined = join_pages([one, two])
    >>> joined["grating"].tolist(), joined["grating"].dtype.str
    (['PRISM', 'G140M', None], '<U5')
    """
    pages = list(pages)
    if len(pages) == 1 or not pages[0].colnames:
        return pages[0] if pages else Table()
    names = pages[0].colnames
    if any(page.colnames != names for page in pages[1:]):
        return None
    joined = []
    for name in names:
        column = join_column([page[name] for page in pages])
        if column is None:
            return None
        joined.append(column)
    return Table(joined, names=names, masked=True, copy=False)


def _first_table(results):
    """The Table of all pages' rows (no columns when no reply has ``fields``)."""
    fields = next((r["fields"] for r in results if r.get("fields")), None)
    if fields:
        return rows_to_table(fields, [row for r in results for row in (r.get("data") or [])])
    return Table()


def pages_to_table(results, *, columns=None, cone=None, row_limit=None, request=None, warn_empty=True):
    """
    The result Table of one ``Mast.Jwst.Filtered.Nirspec`` query from its parsed pages.

    Rows of every page are joined and converted as one; then as `result_table`.

    Parameters
    ----------
    results : list of dict
        The parsed replies (``{"fields", "data", "paging", ...}``), one per page, in order.
    columns, cone, row_limit, request, warn_empty
        As in `result_table`; the ``rowsFiltered`` of the first page is the total.

    Returns
    -------
    table : `~astropy.table.Table`

    Examples
    --------
    >>> page = {"fields": [{"name": "program", "type": "int"}, {"name": "grating", "type": "string"}],
    ...         "data": [{"program": 1345, "grating": "G140M"}, {"program": 2736, "grating": "G395H"}],
    ...         "paging": {"rowsFiltered": 2}}
    >>> t = pages_to_table([page, {"data": [{"program": 1, "grating": "PRISM"}]}])
    >>> t["grating"].tolist(), t.meta["service"]
    (['G140M', 'G395H', 'PRISM'], 'Mast.Jwst.Filtered.Nirspec')
    """
    total = (results[0].get("paging") or {}).get("rowsFiltered") if results else None
    return result_table(_first_table(results), rows_filtered=total, columns=columns, cone=cone,
                        row_limit=row_limit, request=request, warn_empty=warn_empty)


def result_table(table, *, rows_filtered=None, columns=None, cone=None, row_limit=None, request=None,
                 warn_empty=True):
    """
    The result Table of one ``Mast.Jwst.Filtered.Nirspec`` query from the Table of its rows.

    A table without columns (a reply without ``fields``) gives an empty table of the
    requested columns. With a cone, the rows are cut on their exact separation from its
    centre (`~astroquery_nirspec.sky.cut_on_separation`, adding ``separation``) and
    ``targ_ra``/``targ_dec`` are dropped unless requested.

    Parameters
    ----------
    table : `~astropy.table.Table`
        All rows, e.g. from `join_pages`; it may be modified.
    rows_filtered : int, optional
        The number of rows the query matched (``paging.rowsFiltered`` of the first page).
    columns : list of str, optional
        The requested field names; `None` for all.
    cone : tuple, optional
        ``(center, radius)``: a `~astropy.coordinates.SkyCoord` and an
        `~astropy.coordinates.Angle`.
    row_limit : int, optional
        Keep at most this many rows, with a `~astroquery.exceptions.MaxResultsWarning`
        when the query matched more.
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
    >>> rows, _ = reply_to_table(b'{"fields": [{"name": "program", "type": "int"}], '
    ...                          b'"data": [{"program": 1345}, {"program": 2736}]}')
    >>> t = result_table(rows, rows_filtered=2, row_limit=5)
    >>> t["program"].tolist(), t.meta["service"]
    ([1345, 2736], 'Mast.Jwst.Filtered.Nirspec')
    """
    if not table.colnames:
        names = list(columns) if columns is not None else list(field_names())
        if cone is not None:                 # the cut needs the positions
            names += [c for c in ("targ_ra", "targ_dec") if c not in names]
        table = empty_table(names)
    if cone is not None:
        table = sky.cut_on_separation(table, *cone)
        if columns is not None:
            table.remove_columns([c for c in ("targ_ra", "targ_dec") if c not in columns])
        total = len(table)                   # the box held more; the cone holds these
    else:
        total = rows_filtered
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
