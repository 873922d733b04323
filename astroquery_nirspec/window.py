"""
Bounded concurrency for requests: how many may be in flight (`max_concurrent`, from
``conf.max_concurrent_pages``) and a sliding `Window` that runs them that many at a
time and hands the results back in order. Used by `astroquery_nirspec.transport` for
the pages of a query and for independent requests (the sky fields of a duplicate check).
"""
import threading
from concurrent.futures import ThreadPoolExecutor

from astroquery.exceptions import InvalidQueryError

from . import conf

__all__ = ["max_concurrent", "Window"]


def max_concurrent():
    """
    How many requests may be in flight at once: ``conf.max_concurrent_pages``, checked.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        When the setting is not a whole number of at least 1.

    Examples
    --------
    >>> from astroquery_nirspec import conf
    >>> with conf.set_temp("max_concurrent_pages", 1):
    ...     max_concurrent()
    1
    """
    value = conf.max_concurrent_pages
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1 or number != float(value):
        raise InvalidQueryError(f"Invalid conf.max_concurrent_pages {value!r}: give a whole number "
                                "of at least 1 (1 fetches one page at a time; at most 4 is polite "
                                "to MAST).")
    return number


class Window:
    """
    Run ``fetch(item)`` for each item with at most ``workers`` calls in flight, and
    give the results in item order (a sliding window: item k+workers starts only
    once item k was handed out). One worker is a plain loop in the calling thread.

    A failure (or the consumer leaving early) sets ``stop``, cancels what has not
    started and waits for what is in flight, so nothing runs once the window closes.
    ``fetch`` is called as ``fetch(item, stop)``, ``stop`` being a `threading.Event`.

    Examples
    --------
    >>> with Window(lambda item, stop: item * item, [1, 2, 3, 4], workers=2) as window:
    ...     list(window)
    [1, 4, 9, 16]
    """

    def __init__(self, fetch, items, workers):
        self._fetch, self._items, self._workers = fetch, list(items), max(1, int(workers))
        self.stop = threading.Event()
        self._pool = None

    def __enter__(self):
        if self._workers > 1 and len(self._items) > 1:
            self._pool = ThreadPoolExecutor(max_workers=min(self._workers, len(self._items)),
                                            thread_name_prefix="nirspec-pages")
        return self

    def __iter__(self):
        if self._pool is None:
            for item in self._items:
                yield self._fetch(item, self.stop)
            return
        pending = [self._pool.submit(self._fetch, item, self.stop)
                   for item in self._items[:self._workers]]
        following = iter(self._items[self._workers:])
        while pending:
            result = pending.pop(0).result()
            item = next(following, None)
            if item is not None:
                pending.append(self._pool.submit(self._fetch, item, self.stop))
            yield result

    def __exit__(self, kind, value, traceback):
        if self._pool is None:
            return
        if kind is not None:
            self.stop.set()
        # wait for requests in flight, except when interrupted (KeyboardInterrupt)
        self._pool.shutdown(wait=kind is None or issubclass(kind, Exception), cancel_futures=True)
