"""
From the raw page responses of a query to its result: a `ResponseList` carries the
responses an ``*_async`` method returns with what is needed to read them, and
`parse_result` turns them into the Table, count, value counts or duplicate report of
the synchronous method (as astroquery.mast keeps its table layer apart from its
request layer).

The responses come from `astroquery_nirspec.transport` (each page already converted to
its Table when it was fetched with ``convert``); nothing here sends a request.
"""
from . import tables, transport
from .duplication import build_report

__all__ = ["ResponseList", "parse_result"]


class ResponseList(list):
    """
    The raw page responses of one query, with what is needed to parse them.

    A plain `list` of `requests.Response` (one per page) as astroquery's ``_async``
    methods return, plus a ``context`` dict (the query's kind, position, limits).

    Examples
    --------
    >>> from astroquery_nirspec.results import ResponseList
    >>> responses = ResponseList([], kind="count", cone=None)
    >>> len(responses), responses.context["kind"]
    (0, 'count')
    """

    def __init__(self, responses=(), **context):
        super().__init__(responses)
        self.context = context


def parse_result(responses):
    """
    The result of a query from its page responses.

    Parameters
    ----------
    responses : `ResponseList` or list of `requests.Response`
        The pages, in order; a plain list is read as the rows of a query.

    Returns
    -------
    result : `~astropy.table.Table` or int
        By the context's ``kind``: ``"rows"`` the rows (`tables.result_table`),
        ``"count"`` the number of rows, ``"values"`` the value counts
        (`tables.value_counts`), ``"duplicates"`` the report
        (`~astroquery_nirspec.duplication.build_report`).

    Examples
    --------
    >>> import json
    >>> from astroquery.utils.mocks import MockResponse
    >>> from astroquery_nirspec.results import ResponseList, parse_result
    >>> reply = {"status": "COMPLETE", "data": [{"Column1": 7}],
    ...          "fields": [{"name": "Column1", "type": "int"}]}
    >>> parse_result(ResponseList([MockResponse(json.dumps(reply).encode())], kind="count", cone=None))
    7
    """
    context = getattr(responses, "context", {"kind": "rows"})
    kind = context.get("kind", "rows")
    if kind == "count" and context.get("cone") is None:
        data = transport.reply_json(responses[0]).get("data") or [{}]
        return int(next(iter(data[0].values())))
    if kind == "duplicates":
        return build_report([transport.reply_json(r) for r in responses], context["targets"],
                            context["rules"], context["labels"], len(context["requests"]))
    table = _pages_to_table(responses, context)
    if kind == "count":
        return len(table)
    if kind == "values":
        return tables.value_counts(table, context["field"])
    return table


def _pages_to_table(responses, context):
    """The page Tables joined (or, for pages not converted or whose kinds differ, all rows as one)."""
    options = {"columns": context.get("columns"), "cone": context.get("cone"),
               "row_limit": context.get("row_limit"), "request": context.get("request"),
               "warn_empty": context.get("kind") == "rows"}
    pages = [transport.converted(r) for r in responses]
    complete = bool(pages) and all(page is not None for page in pages)   # not `in`: Table.__eq__
    joined = tables.join_pages([table for table, _ in pages]) if complete else None
    if joined is None:
        return tables.pages_to_table([transport.reply_json(r) for r in responses], **options)
    paging = pages[0][1].get("paging") or {}
    return tables.result_table(joined, rows_filtered=paging.get("rowsFiltered"), **options)
