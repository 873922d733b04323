"""
The MAST token of a query class: log in and out, the ``Authorization`` header it may
send, and what it changes (no cache while logged in; the header redacted in logs).

`LoginMixin` goes before `~astroquery.query.BaseQuery` in a class's bases, as
`~astroquery_nirspec.NirspecMastClass` does. Where the token may go is decided by
`~astroquery_nirspec.transport.may_send_token` (defined in ``astroquery_nirspec.hosts``).
"""
import os

from astroquery import cache_conf
from astroquery.exceptions import LoginError

from . import conf
from .hosts import may_send_token

__all__ = ["LoginMixin"]


class LoginMixin:
    """
    Token handling for a `~astroquery.query.BaseQuery` subclass (``login``, ``logout``).

    Examples
    --------
    >>> from astroquery_nirspec import NirspecMast
    >>> NirspecMast.login(token="not-a-real-token")
    >>> NirspecMast._cache_allowed(True)        # nothing is cached while logged in
    False
    >>> NirspecMast.logout()
    """

    _token = None

    def login(self, token=None):
        """
        Log in to MAST with an API token, for exclusive-access data.

        The token is sent as an ``Authorization`` header to the configured server
        only, and only over HTTPS unless the server is on the loopback address. It
        never appears in logs, warnings, errors, query payloads or the cache: while
        logged in, replies are not cached.

        Parameters
        ----------
        token : str, optional
            A MAST API token (https://auth.mast.stsci.edu/token); default the
            ``MAST_API_TOKEN`` environment variable.

        Raises
        ------
        astroquery.exceptions.LoginError
            When no token is given or found.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> NirspecMast.login(token="not-a-real-token")
        >>> NirspecMast.logout()
        """
        token = token if token is not None else os.environ.get("MAST_API_TOKEN")
        if not isinstance(token, str) or not token.strip():
            raise LoginError("No MAST token: pass login(token=...) or set MAST_API_TOKEN; "
                             "create a token at https://auth.mast.stsci.edu/token.")
        self._token = token.strip()

    def logout(self):
        """
        Forget the MAST token; later requests are anonymous.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> NirspecMast.logout()
        """
        self._token = None

    def _auth_headers(self):
        """The Authorization header for the configured server, or {} when logged out."""
        if not self._token:
            return {}
        if not may_send_token(conf.server):
            raise LoginError(f"Refusing to send the MAST token to {conf.server!r}: it goes only to "
                             "MAST's own hosts over https:// (or a test server on this machine); "
                             "change conf.server or log out.")
        return {"Authorization": f"token {self._token}"}

    def _cache_allowed(self, cache):
        """``cache=None`` follows astroquery's setting; never while a token is in use."""
        if self._token:
            return False
        return cache_conf.cache_active if cache is None else bool(cache)

    def _response_hook(self, response, *args, **kwargs):
        """astroquery's request logging, with the Authorization header redacted."""
        if "Authorization" in response.request.headers:
            # a copy: requests reuses the request object when it follows a redirect
            response.request = response.request.copy()
            response.request.headers["Authorization"] = "token [redacted]"
        # astroquery formats the whole reply (response.text, textwrap.indent) at any log
        # level and then drops it unless DEBUG: only call it when it would log.
        from astroquery import log
        if log.isEnabledFor(10) or log.isEnabledFor(5):
            return super()._response_hook(response, *args, **kwargs)
        return None
