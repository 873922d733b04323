"""
Which files a download is about and where they go: data URIs, download URLs, safe local
names, the rows of a Table as download items, CAOM obsids, and the manifest.

Pure helpers (no I/O except resolving paths); `astroquery_nirspec.download` uses them
and names them in its API.
"""
# Standard library
import os
import urllib.parse
from pathlib import Path

# Third party
import numpy as np
from astropy.table import Row, Table
from astroquery.exceptions import InvalidQueryError

# Local
from . import conf
from .transfer import MISMATCH_SUFFIX, PART_SUFFIX

__all__ = ["download_url", "safe_local_path", "manifest_row", "make_manifest", "file_items",
           "product_items", "obsid_list", "MANIFEST_COLUMNS", "DOWNLOAD_PATH", "PRODUCTS_SERVICE"]

#: Column names of a download manifest, as astroquery's ``Observations.download_products``.
#: ``Verified`` (ours) says what was checked: ``size (fileSize)``, ``size (Content-Length)``,
#: either followed by the checksum algorithm that matched (``, md5``), or ``unverified``.
MANIFEST_COLUMNS = ("Local Path", "Status", "Message", "URL", "Verified")

#: Path of MAST's file download endpoint on ``conf.server``.
DOWNLOAD_PATH = "/api/v0.1/Download/file"

#: CAOM service listing the products of observations (by ``obsid``).
PRODUCTS_SERVICE = "Mast.Caom.Products"

def download_url(uri, server=None):
    """
    The MAST download URL of a data URI.

    Parameters
    ----------
    uri : str
        A MAST data URI, e.g. ``mast:JWST/product/<file>``.
    server : str, optional
        Base URL of the server; default ``conf.server``, read now.

    Returns
    -------
    url : str

    Examples
    --------
    >>> download_url("mast:JWST/product/jw01345-o052_s00001_x1d.fits", "https://mast.stsci.edu")
    'https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:JWST/product/jw01345-o052_s00001_x1d.fits'
    """
    server = conf.server if server is None else server
    return f"{server.rstrip('/')}{DOWNLOAD_PATH}?uri={urllib.parse.quote(uri, safe=':/')}"


def _uri_name(uri):
    """The last segment of a data URI's path (no query or fragment), unchecked."""
    path = urllib.parse.urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0].split("#", 1)[0]
    return path.rsplit("/", 1)[-1]


def safe_local_path(download_dir, uri):
    """
    Where the file of ``uri`` goes in ``download_dir``, refusing names that escape it.

    The name is the last segment of the URI's path. It must not be empty, ``.`` or
    ``..``, nor hold a path separator (``/`` or ``\\``) or a NUL character, and the
    resolved path (symbolic links followed) must lie inside ``download_dir``.

    Parameters
    ----------
    download_dir : str or `~pathlib.Path`
    uri : str
        The data URI (or any URL-like string) the name is taken from.

    Returns
    -------
    path : `~pathlib.Path`
        ``download_dir / name``.

    Raises
    ------
    ValueError
        For an unsafe name, saying why.

    Examples
    --------
    >>> str(safe_local_path("data", "mast:JWST/product/../../etc/jw1_x1d.fits"))
    'data/jw1_x1d.fits'
    >>> safe_local_path("data", "mast:JWST/product/..")
    Traceback (most recent call last):
    ...
    ValueError: Unsafe file name '..' in 'mast:JWST/product/..': it would leave the download directory.
    """
    name = _uri_name(str(uri))
    if name in ("", ".", ".."):
        raise ValueError(f"Unsafe file name {name!r} in {uri!r}: it would leave the download directory.")
    if "\\" in name or "/" in name or "\x00" in name or (os.sep in name) or (
            os.altsep and os.altsep in name):
        raise ValueError(f"Unsafe file name {name!r} in {uri!r}: it holds a path separator.")
    directory = Path(download_dir)
    path = directory / name
    root = directory.resolve()
    for candidate in (path, path.with_name(name + PART_SUFFIX), path.with_name(name + MISMATCH_SUFFIX)):
        resolved = candidate.resolve()
        if resolved.parent != root:
            raise ValueError(f"Unsafe file name {name!r} in {uri!r}: {candidate} resolves to "
                             f"{resolved}, outside the download directory {root}.")
    return path


def manifest_row(local_path, status, message="", url="", verified=""):
    """
    One manifest row as a tuple, in `MANIFEST_COLUMNS` order.

    Parameters
    ----------
    local_path : str or `~pathlib.Path` or None
    status : {"COMPLETE", "SKIPPED", "ERROR"}
    message : str, optional
    url : str, optional
    verified : str, optional
        What was checked (see `MANIFEST_COLUMNS`).

    Returns
    -------
    row : tuple of str

    Examples
    --------
    >>> manifest_row("data/a.fits", "SKIPPED", "already on disk", "https://x/y", "size (fileSize)")
    ('data/a.fits', 'SKIPPED', 'already on disk', 'https://x/y', 'size (fileSize)')
    """
    if status not in ("COMPLETE", "SKIPPED", "ERROR"):
        raise ValueError(f"Invalid manifest status {status!r}")
    return ("" if local_path is None else str(local_path), status, message or "", url or "",
            verified or "")


def make_manifest(rows):
    """
    The manifest Table of a download from its rows.

    Parameters
    ----------
    rows : list of tuple
        As made by `manifest_row`.

    Returns
    -------
    manifest : `~astropy.table.Table`
        Columns ``Local Path``, ``Status``, ``Message``, ``URL`` (as astroquery's) and
        ``Verified`` (strings).

    Examples
    --------
    >>> t = make_manifest([manifest_row("a.fits", "COMPLETE", url="u")])
    >>> t.colnames, t["Status"].tolist()
    (['Local Path', 'Status', 'Message', 'URL', 'Verified'], ['COMPLETE'])
    """
    columns = list(zip(*rows)) if rows else [[] for _ in MANIFEST_COLUMNS]
    return Table([np.array(list(c), dtype=str) for c in columns], names=MANIFEST_COLUMNS)


def _cell(row, name):
    """A row's value, or None when the column is absent or the value masked/empty."""
    if name not in row.colnames:
        return None
    value = row[name]
    if np.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _size(value):
    """A positive whole size in bytes, or None."""
    if value is None:
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if size > 0 and size == float(value) else None


def file_items(files, *, uri_column="dataURI", size_column="fileSize", checksum_column="checksum"):
    """
    What to download: ``(uri, size, checksum)`` for each file of a Table, Row or list.

    Parameters
    ----------
    files : `~astropy.table.Table`, `~astropy.table.Row`, str or list of str
        Rows with a ``dataURI`` column (``fileSize`` and ``checksum`` optional), or
        data URIs.
    uri_column, size_column, checksum_column : str, optional
        Column names.

    Returns
    -------
    items : list of tuple
        ``(uri or None, size in bytes or None, checksum or None)``; a row without a
        URI gives ``None`` (it becomes an ERROR row).

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        When a Table has no ``dataURI`` column.

    Examples
    --------
    >>> from astropy.table import Table
    >>> file_items(Table({"dataURI": ["mast:JWST/product/a.fits"], "fileSize": [2880]}))
    [('mast:JWST/product/a.fits', 2880, None)]
    >>> file_items(["mast:JWST/product/b.fits"])
    [('mast:JWST/product/b.fits', None, None)]
    """
    if isinstance(files, Row):
        files = files.table[files.index:files.index + 1]
    if isinstance(files, Table):
        if uri_column not in files.colnames:
            raise InvalidQueryError(
                f"The table has no {uri_column!r} column, needed to download its files; "
                f"its columns are: {', '.join(files.colnames)}.")
        items = []
        for row in files:
            uri = _cell(row, uri_column)
            items.append((None if uri is None else str(uri).strip(), _size(_cell(row, size_column)),
                          _cell(row, checksum_column)))
        return items
    if isinstance(files, (str, bytes)):
        files = [files]
    items = []
    for uri in files:
        if isinstance(uri, bytes):
            uri = uri.decode("utf-8", "replace")
        if not isinstance(uri, (str, np.str_)):
            raise InvalidQueryError(f"Give a Table with a {uri_column!r} column or data URIs "
                                    f"(strings), not {type(uri).__name__}.")
        uri = str(uri).strip()
        items.append((uri or None, None, None))
    return items


def product_items(products):
    """
    What to download for a CAOM product Table: ``(dataURI, size, None)`` per row.

    The products' ``size`` column (bytes) is used as the expected size when positive.

    Parameters
    ----------
    products : `~astropy.table.Table`

    Returns
    -------
    items : list of tuple

    Examples
    --------
    >>> from astropy.table import Table
    >>> product_items(Table({"dataURI": ["mast:JWST/product/a_x1d.fits"], "size": [5760]}))
    [('mast:JWST/product/a_x1d.fits', 5760, None)]
    """
    return file_items(products, size_column="size", checksum_column=None)


def _obsid_text(value):
    """An obsid as MAST wants it (decimal text), or None for a missing one."""
    if value is None or np.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != int(value):
            raise InvalidQueryError(f"Invalid obsid {value!r}: obsids are whole numbers.")
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidQueryError(f"Invalid obsid {text!r}: CAOM obsids (product-group ids) are "
                                "whole numbers, e.g. '87602009'; obs_id values are not obsids.")
    return text


def obsid_list(observations):
    """
    The distinct CAOM ``obsid`` values of a Table, Row, value or list, in order.

    Parameters
    ----------
    observations : `~astropy.table.Table`, `~astropy.table.Row`, str, int or list
        A table with an ``obsid`` column (e.g. a ``check_duplicates`` report), or
        obsid values. Masked and empty values are dropped.

    Returns
    -------
    obsids : list of str

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        When a Table has no ``obsid`` column, or no obsid is left.

    Examples
    --------
    >>> obsid_list([87602009, "87602009", "87602010"])
    ['87602009', '87602010']
    """
    if isinstance(observations, Row):
        observations = observations.table[observations.index:observations.index + 1]
    if isinstance(observations, Table):
        if "obsid" not in observations.colnames:
            hint = (" It has 'obs_id', which is not CAOM's product-group id: re-run "
                    "check_duplicates, whose report carries 'obsid', or give obsids."
                    if "obs_id" in observations.colnames else "")
            raise InvalidQueryError(
                "The table has no 'obsid' column (CAOM product-group id), needed to list "
                f"products with {PRODUCTS_SERVICE}.{hint}")
        values = list(observations["obsid"])
    elif isinstance(observations, (str, bytes, int, np.integer)):
        values = [observations]
    else:
        values = list(observations)
    seen, out = set(), []
    for value in values:
        text = _obsid_text(value)
        if text is not None and text not in seen:
            seen.add(text)
            out.append(text)
    if not out:
        raise InvalidQueryError("No obsid given (all values are missing or empty): there are "
                                "no products to list.")
    return out
