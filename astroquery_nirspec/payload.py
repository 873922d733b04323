"""
The Mashup request of a ``Mast.Jwst.Filtered.Nirspec`` query: paging, row limit, columns.

Pure functions, no I/O. The filters come from `astroquery_nirspec.filters` and the cone's
box from `astroquery_nirspec.sky`; this module checks the paging and row-limit arguments
(once, before anything is sent) and assembles the request dict that
`astroquery_nirspec.transport.invoke` sends.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np
from astroquery.exceptions import InvalidQueryError

from . import conf
from .fields import SERVICE

__all__ = ["Paging", "checked_row_limit", "sent_columns", "nirspec_request"]

#: The columns a cone needs to cut its box on the exact separation.
POSITION_COLUMNS = ("targ_ra", "targ_dec")


def _whole(value):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


@dataclass(frozen=True)
class Paging:
    """
    Rows per page and the one page wanted (`None`: every page), checked.

    Examples
    --------
    >>> Paging.checked(500, 2)
    Paging(pagesize=500, page=2)
    >>> Paging.checked(0)
    Traceback (most recent call last):
    ...
    astroquery.exceptions.InvalidQueryError: Invalid pagesize 0: give a positive whole number.
    """

    pagesize: int
    page: Optional[int] = None

    @classmethod
    def checked(cls, pagesize=None, page=None):
        """The paging of ``pagesize`` (default ``conf.pagesize``) and ``page``, or an error."""
        pagesize = conf.pagesize if pagesize is None else pagesize
        if not _whole(pagesize) or pagesize < 1:
            raise InvalidQueryError(f"Invalid pagesize {pagesize!r}: give a positive whole number.")
        if page is not None and (not _whole(page) or page < 1):
            raise InvalidQueryError(f"Invalid page {page!r}: pages are numbered from 1.")
        return cls(int(pagesize), None if page is None else int(page))


def checked_row_limit(row_limit=None):
    """
    The row limit to apply: `None` for none, else a positive int (default ``conf.row_limit``).

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For anything but a positive whole number, ``-1`` (no limit) or `None`.

    Examples
    --------
    >>> checked_row_limit(100), checked_row_limit(-1)
    (100, None)
    """
    if row_limit is None:
        row_limit = conf.row_limit
    if not _whole(row_limit):
        raise InvalidQueryError(f"Invalid row_limit {row_limit!r}: give a whole number "
                                "(-1 or None for no limit).")
    if row_limit == 0 or row_limit < -1:
        raise InvalidQueryError(f"Invalid row_limit {row_limit!r}: give a positive number, "
                                "or -1 for no limit.")
    return None if row_limit == -1 else int(row_limit)


def sent_columns(wanted, *, cone=False):
    """
    The ``columns`` text of a request: ``*`` for all, else the names (plus the
    positions a cone needs to cut its box).

    Examples
    --------
    >>> sent_columns(None), sent_columns(["grating"], cone=True)
    ('*', 'grating, targ_ra, targ_dec')
    """
    if wanted is None:
        return "*"
    if cone:
        wanted = list(wanted) + [c for c in POSITION_COLUMNS if c not in wanted]
    return ", ".join(wanted)


def nirspec_request(columns, filters, paging=None):
    """
    The Mashup request dict of a ``Mast.Jwst.Filtered.Nirspec`` query.

    Parameters
    ----------
    columns : str
        The ``columns`` text (`sent_columns`, or ``COUNT_BIG(*)``).
    filters : list of dict
        Mashup filters (`astroquery_nirspec.filters.build_filters`).
    paging : `Paging`, optional
        Default ``Paging.checked()``: ``conf.pagesize``, from page 1.

    Examples
    --------
    >>> nirspec_request("grating", [], Paging(100))
    {'service': 'Mast.Jwst.Filtered.Nirspec', 'params': {'columns': 'grating', 'filters': []}, 'format': 'json', 'pagesize': 100, 'page': 1}
    """
    paging = Paging.checked() if paging is None else paging
    return {"service": SERVICE,
            "params": {"columns": columns, "filters": filters},
            "format": "json",
            "pagesize": paging.pagesize,
            "page": 1 if paging.page is None else paging.page}
