"""
The one retry policy of queries and downloads: which failures are tried again, how
often, and how long to wait (`RetryPolicy`, shaped like urllib3's ``Retry``).

`astroquery_nirspec.transport` (query pages) and ``astroquery_nirspec.transfer`` (file
downloads) build it from `astroquery_nirspec.conf` when a request starts and ask it,
after each failure, for the next wait (`RetryPolicy.next_wait`); it answers with a
`RetryWait` that names its source (the server's ``Retry-After`` or the back-off), or
raises `GiveUp` with the reason.
"""
import dataclasses
import email.utils
import time

import requests

from . import conf

__all__ = ["retry_after", "RetryPolicy", "RetryWait", "GiveUp", "TRANSIENT_STATUS",
           "TRANSIENT_ERRORS"]

#: HTTP status codes worth another try: the service is busy or briefly down.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})

#: Exceptions of a request worth another try: refused, reset, or cut in the middle of the reply.
TRANSIENT_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)

def retry_after(response):
    """
    Seconds asked for by a reply's ``Retry-After`` header (seconds or an HTTP date), or None.

    Examples
    --------
    >>> from astroquery.utils.mocks import MockResponse
    >>> reply = MockResponse(content=b"busy")
    >>> reply.headers = {"Retry-After": "5"}
    >>> retry_after(reply)
    5.0
    """
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class GiveUp(Exception):
    """
    Raised by `RetryPolicy.next_wait` when a request is not to be tried again.

    Attributes
    ----------
    reason : str
        Why, in words that finish a sentence (``"gave up after 3 retries"``).
    exhausted : bool
        True when the retries are used up; False when the next wait would not fit
        in the time left.
    """

    def __init__(self, reason, *, exhausted):
        super().__init__(reason)
        self.reason = reason
        self.exhausted = exhausted


@dataclasses.dataclass(frozen=True)
class RetryWait:
    """
    How long to wait before the next try, and who asked for it.

    Attributes
    ----------
    seconds : float
    source : {"Retry-After", "back-off"}
        The server's ``Retry-After`` header, or the back-off formula.
    """

    seconds: float
    source: str

    def describe(self):
        """
        The wait in words, naming where it comes from.

        Examples
        --------
        >>> RetryWait(4.0, "back-off").describe()
        'the back-off wait of 4.0 s (conf.retry_backoff x 2**n)'
        >>> RetryWait(3600.0, "Retry-After").describe()
        "the server's Retry-After of 3600.0 s"
        """
        if self.source == "Retry-After":
            return f"the server's Retry-After of {self.seconds:.1f} s"
        return f"the back-off wait of {self.seconds:.1f} s (conf.retry_backoff x 2**n)"


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """
    Which failures are tried again, how often, and how long to wait: one value for
    queries and downloads.

    Shaped like urllib3's ``Retry``: an immutable value, built from
    `astroquery_nirspec.conf` when a request starts (`from_conf`); the count of
    retries already made is passed in, so one policy serves many requests.

    Attributes
    ----------
    max_retries : int
        Retries after the first try (``conf.max_retries``).
    backoff : float
        The n-th retry waits ``backoff * 2**(n-1)`` seconds (``conf.retry_backoff``)...
    respect_retry_after : bool
        ...unless the reply has a ``Retry-After`` header, which then decides.
    timeout : float
        No wait may exceed this, nor the time left before a deadline (``conf.timeout``).
    statuses : frozenset of int
        Transient HTTP statuses (429 and 5xx gateway/availability errors).
    errors : tuple of type
        Transient exceptions (connection refused, reset or cut). A
        `requests.Timeout` is never retried: the time limit is spent.

    Examples
    --------
    >>> policy = RetryPolicy(max_retries=2, backoff=1.0, timeout=10.0)
    >>> policy.is_transient(503), policy.is_transient(404)
    (True, False)
    >>> [policy.next_wait(n).seconds for n in (0, 1)]
    [1.0, 2.0]
    >>> policy.next_wait(2)
    Traceback (most recent call last):
    ...
    astroquery_nirspec.retry.GiveUp: gave up after 2 retries
    """

    max_retries: int = 3
    backoff: float = 1.0
    timeout: float = 600.0
    respect_retry_after: bool = True
    statuses: frozenset = TRANSIENT_STATUS
    errors: tuple = TRANSIENT_ERRORS

    @classmethod
    def from_conf(cls):
        """
        The policy of the current `astroquery_nirspec.conf`, read now.

        Examples
        --------
        >>> from astroquery_nirspec import conf
        >>> with conf.set_temp("max_retries", 5):
        ...     RetryPolicy.from_conf().max_retries
        5
        """
        return cls(max_retries=max(0, int(conf.max_retries)), backoff=max(0.0, float(conf.retry_backoff)),
                   timeout=float(conf.timeout))

    def is_transient(self, failure):
        """
        Whether an HTTP status (int) or an exception is worth another try.

        Examples
        --------
        >>> import requests
        >>> policy = RetryPolicy()
        >>> policy.is_transient(requests.ConnectionError()), policy.is_transient(requests.ReadTimeout())
        (True, False)
        """
        if isinstance(failure, BaseException):
            return isinstance(failure, self.errors) and not isinstance(failure, requests.Timeout)
        return failure in self.statuses

    def backoff_wait(self, retries_done):
        """
        Seconds the back-off formula gives for the next retry.

        Examples
        --------
        >>> RetryPolicy(backoff=0.5).backoff_wait(3)
        4.0
        """
        return self.backoff * 2 ** retries_done

    def next_wait(self, retries_done, response=None, *, remaining=None):
        """
        The wait before the next try, or `GiveUp`.

        Parameters
        ----------
        retries_done : int
            Retries already made for this request.
        response : `requests.Response`, optional
            The failed reply, whose ``Retry-After`` header wins when present.
        remaining : float, optional
            Seconds left before the request's deadline; default ``timeout``.

        Returns
        -------
        wait : `RetryWait`

        Raises
        ------
        GiveUp
            When ``max_retries`` retries were made, or the wait would not fit in the
            time left (the reason names the wait's source).

        Examples
        --------
        >>> from astroquery.utils.mocks import MockResponse
        >>> busy = MockResponse(content=b"busy")
        >>> busy.headers = {"Retry-After": "3600"}
        >>> RetryPolicy(timeout=30.0).next_wait(0, busy)
        Traceback (most recent call last):
        ...
        astroquery_nirspec.retry.GiveUp: the server's Retry-After of 3600.0 s is longer than the 30.0 s left of conf.timeout (30.0 s)
        >>> RetryPolicy(backoff=1.0, timeout=3.0).next_wait(2).describe()
        Traceback (most recent call last):
        ...
        astroquery_nirspec.retry.GiveUp: the back-off wait of 4.0 s (conf.retry_backoff x 2**n) is longer than the 3.0 s left of conf.timeout (3.0 s)
        """
        if retries_done >= self.max_retries:
            raise GiveUp(f"gave up after {self.max_retries} retries", exhausted=True)
        asked = retry_after(response) if self.respect_retry_after else None
        wait = (RetryWait(self.backoff_wait(retries_done), "back-off") if asked is None
                else RetryWait(asked, "Retry-After"))
        left = self.timeout if remaining is None else min(self.timeout, remaining)
        if wait.seconds >= left and wait.seconds > 0:
            raise GiveUp(f"{wait.describe()} is longer than the {max(0.0, left):.1f} s left of "
                         f"conf.timeout ({self.timeout} s)", exhausted=False)
        return wait
