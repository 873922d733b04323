"""
Progress bars for long queries, on standard error.

`progress_bar` is a context manager that yields a bar with two methods,
``update(n=1, **postfix)`` and ``set_total(n)``. It is drawn by
`tqdm <https://tqdm.github.io>`_ when that is installed (``pip install
"astroquery_nirspec[progress]"``), otherwise by `astropy.utils.console.ProgressBar`
(which draws nothing unless standard error is a terminal and shows no postfix text).
By default (``enabled=None``) a bar is drawn only when standard error is a terminal,
so logs, pipes and notebooks captured to files stay clean.

`page_reporter` turns a bar into the ``progress`` callback of
`astroquery_nirspec.transport.invoke`, which reports a
`~astroquery_nirspec.transport.PageProgress` after each page.

Examples
--------
>>> from astroquery_nirspec.progress import progress_bar
>>> with progress_bar(3, desc="pages", enabled=False) as bar:
...     for page in range(3):
...         bar.update(1, page=f"{page + 1}/3")
>>> bar.n, bar.total
(3, 3)
"""
# Standard library
import contextlib
import math
import sys

try:  # optional: the nicer bar
    import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the environment
    _tqdm = None

__all__ = ["progress_bar", "page_reporter", "ProgressBarBase"]


def _stderr_is_tty():
    stream = sys.stderr
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _postfix_text(postfix):
    """``{"page": "3/10", "rows": "5/9"}`` -> ``"page 3/10, rows 5/9"``."""
    return ", ".join(f"{key} {value}" for key, value in postfix.items())


class ProgressBarBase:
    """
    The object `progress_bar` yields: counts progress and draws nothing.

    It is what a disabled bar is; the drawing bars subclass it.

    Attributes
    ----------
    n : int
        Steps done so far.
    total : int or None
        Steps expected, if known.
    postfix : str
        The text of the last ``postfix`` given to `update`.
    """

    def __init__(self, total=None):
        self.n = 0
        self.total = None if total is None else int(total)
        self.postfix = ""

    def update(self, n=1, **postfix):
        """
        Advance by ``n`` steps and, if given, show ``postfix`` after the bar.

        Parameters
        ----------
        n : int, optional
            Steps done since the last call (default 1; 0 only refreshes the text).
        **postfix
            Shown after the bar as ``key value`` pairs, e.g. ``page="3/10"``.

        Examples
        --------
        >>> bar = ProgressBarBase(10)
        >>> bar.update(3, page="3/10")
        >>> bar.n, bar.postfix
        (3, 'page 3/10')
        """
        self.n += int(n)
        if postfix:
            self.postfix = _postfix_text(postfix)
        self._draw(int(n))

    def set_total(self, n):
        """
        Set or change the number of steps expected.

        Parameters
        ----------
        n : int

        Examples
        --------
        >>> bar = ProgressBarBase()
        >>> bar.set_total(4)
        >>> bar.total
        4
        """
        self.total = int(n)
        self._retotal()

    # drawing hooks -------------------------------------------------------------------
    def _draw(self, n):
        pass

    def _retotal(self):
        pass

    def _close(self, failed):
        pass


class _TqdmBar(ProgressBarBase):
    def __init__(self, total, desc, unit):
        super().__init__(total)
        self._bar = _tqdm.tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr,
                               dynamic_ncols=True, leave=True)

    def _draw(self, n):
        if self.postfix:
            self._bar.set_postfix_str(self.postfix, refresh=False)
        self._bar.update(n)

    def _retotal(self):
        self._bar.total = self.total
        self._bar.refresh()

    def _close(self, failed):
        self._bar.close()


class _AstropyBar(ProgressBarBase):
    """astropy's console bar; it needs a total, so it starts once one is known."""

    def __init__(self, total, desc, unit):
        super().__init__(total)
        self._file = sys.stderr
        self._bar = None
        self._desc = desc
        self._start()

    def _start(self):
        if self._bar is None and self.total:
            from astropy.utils.console import ProgressBar
            self._bar = ProgressBar(self.total, file=self._file)
        return self._bar

    def _draw(self, n):
        if self._start() is not None:
            self._bar.update(min(self.n, self.total))

    def _retotal(self):
        if self._bar is None:
            self._start()
            return
        # ProgressBar fixes its total when created; these are the attributes it draws from.
        self._bar._total = self.total
        self._bar._human_total = str(self.total)
        self._bar.update(min(self.n, self.total))

    def _close(self, failed):
        if self._bar is not None:
            self._bar.__exit__(ValueError if failed else None, None, None)


@contextlib.contextmanager
def progress_bar(total=None, *, desc, unit="page", enabled=None):
    """
    A progress bar on standard error, as a context manager.

    Parameters
    ----------
    total : int, optional
        Steps expected, if known; `~ProgressBarBase.set_total` can set or change it later.
    desc : str
        Label shown before the bar.
    unit : str, optional
        What a step is (default ``"page"``).
    enabled : bool or None, optional
        `True` draws the bar, `False` draws nothing, `None` (default) draws it only when
        standard error is a terminal.

    Yields
    ------
    bar : `ProgressBarBase`
        With ``update(n=1, **postfix)`` and ``set_total(n)``. Drawn by tqdm when it is
        installed, else by `astropy.utils.console.ProgressBar`.

    Examples
    --------
    >>> from astroquery_nirspec.progress import progress_bar
    >>> with progress_bar(desc="rows", unit="row", enabled=False) as bar:
    ...     bar.set_total(10)
    ...     bar.update(4, note="first page")
    >>> bar.n, bar.total, bar.postfix
    (4, 10, 'note first page')
    """
    if enabled is None:
        enabled = _stderr_is_tty()
    if not enabled:
        bar = ProgressBarBase(total)
    elif _tqdm is not None:
        bar = _TqdmBar(total, desc, unit)
    else:
        bar = _AstropyBar(total, desc, unit)
    failed = True
    try:
        yield bar
        failed = False
    finally:
        bar._close(failed)


def page_reporter(bar):
    """
    A ``progress`` callback for `astroquery_nirspec.transport.invoke` that moves a bar.

    Each call (one per page received) advances ``bar`` by one page, keeps its total at
    the number of pages expected and shows ``page 3/10, rows 150000/500000`` after it.
    The number of pages expected is the server's ``pagesFiltered``, or more when the
    server sends fewer rows per page than were asked for (MAST's 50 000-row cap).

    Parameters
    ----------
    bar : `ProgressBarBase`
        As yielded by `progress_bar`.

    Returns
    -------
    report : callable
        Takes one `~astroquery_nirspec.transport.PageProgress`.

    Examples
    --------
    >>> from astroquery_nirspec.progress import progress_bar, page_reporter
    >>> from astroquery_nirspec.transport import PageProgress
    >>> with progress_bar(desc="Mast.Jwst.Filtered.Nirspec", enabled=False) as bar:
    ...     report = page_reporter(bar)
    ...     report(PageProgress(1, 1, 50000, 120000))   # one page announced, 50 000 sent
    ...     report(PageProgress(2, 1, 100000, 120000))
    >>> bar.n, bar.total, bar.postfix
    (2, 3, 'page 2/3, rows 100000/120000')
    """
    state = {"calls": 0}

    def report(progress):
        state["calls"] += 1
        calls = state["calls"]
        total = max(int(progress.pages or 0), calls)
        rows, rows_filtered = progress.rows, progress.rows_filtered
        if rows_filtered and rows:
            total = max(total, math.ceil(rows_filtered * calls / rows))
        if bar.total != total:
            bar.set_total(total)
        rows_text = f"{rows}/{rows_filtered}" if rows_filtered is not None else f"{rows}"
        bar.update(1, page=f"{progress.page}/{total}", rows=rows_text)

    return report
