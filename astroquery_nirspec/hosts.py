"""
Who may receive the MAST token: MAST's own hosts over HTTPS, or the configured server
when it is on this machine (the local test servers). `may_send_token` is the one place
that decides; queries ask it for ``conf.server``, downloads at every redirect.
"""
import ipaddress
import urllib.parse

from . import conf

__all__ = ["may_send_token", "is_loopback", "MAST_DOMAIN"]

#: MAST's own hosts: ``stsci.edu`` and its sub-domains (mast.stsci.edu, auth.mast.stsci.edu, ...).
MAST_DOMAIN = "stsci.edu"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url):
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def is_loopback(host):
    """
    Whether a host name is this machine (``localhost`` or a loopback address).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("mast.stsci.edu")
    (True, True, False)
    """
    host = (host or "").lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_send_token(url, *, server=None):
    """
    Whether a MAST token may go with a request to ``url``: the one place that decides.

    Yes for HTTPS to a MAST host (``stsci.edu`` or a sub-domain); yes for a loopback
    URL of the same origin (scheme, host, port) as the configured ``server`` (the
    local test servers); no for anything else. Downloads ask it again at every
    redirect, so a redirect to a MAST host keeps the token and any other drops it.

    Parameters
    ----------
    url : str
    server : str, optional
        The configured server; default ``conf.server``, read now.

    Examples
    --------
    >>> may_send_token("https://mast.stsci.edu/api/v0.1/Download/file?uri=x")
    True
    >>> may_send_token("http://mast.stsci.edu/api/v0/invoke")
    False
    >>> may_send_token("https://stsci.edu.example.org/x"), may_send_token("https://s3.amazonaws.com/x")
    (False, False)
    >>> may_send_token("http://127.0.0.1:8123/x", server="http://127.0.0.1:8123")
    True
    >>> may_send_token("http://127.0.0.1:9999/x", server="http://127.0.0.1:8123")
    False
    """
    scheme, host, port = _origin(url)
    if scheme == "https" and (host == MAST_DOMAIN or host.endswith("." + MAST_DOMAIN)):
        return True
    server = conf.server if server is None else server
    return is_loopback(host) and (scheme, host, port) == _origin(server)
