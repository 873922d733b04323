"""
JWST NIRSpec queries of MAST (``astroquery_nirspec``)
=====================================================

An astroquery plugin for searching MAST's ``Mast.Jwst.Filtered.Nirspec`` file-level
metadata and for checking planned NIRSpec targets against archived and planned
observations under the JWST duplicate-observation rules.

>>> from astroquery_nirspec import NirspecMast, conf
"""
from importlib.metadata import PackageNotFoundError, version as _version

from astropy import config as _config

try:
    __version__ = _version("astroquery_nirspec")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0.0.0.dev"


class Conf(_config.ConfigNamespace):
    """
    Configuration parameters for `astroquery_nirspec`.

    Every item is read when a request is made, so ``conf.set_temp`` affects the
    singleton ``NirspecMast`` after import.
    """

    server = _config.ConfigItem(
        "https://mast.stsci.edu",
        "Base URL of the MAST server (the invoke API is at <server>/api/v0/invoke).",
        cfgtype="string")
    timeout = _config.ConfigItem(
        600.0,
        "Time limit in seconds for one query: bounds each HTTP request and the whole "
        "EXECUTING polling of a page.",
        cfgtype="float")
    pagesize = _config.ConfigItem(
        50000,
        "Rows requested per page from the invoke API.",
        cfgtype="integer")
    max_retries = _config.ConfigItem(
        3,
        "How many times a transient failure (HTTP 429/5xx, connection reset, truncated "
        "JSON) is retried before the query fails.",
        cfgtype="integer")
    retry_backoff = _config.ConfigItem(
        1.0,
        "Base of the exponential back-off between retries, in seconds (1, 2, 4, ... times "
        "this); a server's Retry-After header takes precedence.",
        cfgtype="float")
    poll_interval = _config.ConfigItem(
        0.5,
        "First sleep in seconds between polls of an EXECUTING request; it grows by half "
        "each poll up to 5 s.",
        cfgtype="float")
    row_limit = _config.ConfigItem(
        -1,
        "Default maximum number of rows a query returns (-1: no limit).",
        cfgtype="integer")
    progress = _config.ConfigItem(
        True,
        "Show progress bars (pages, sky fields, downloads) on standard error when it is a "
        "terminal; False hides them.",
        cfgtype="boolean")
    max_concurrent_pages = _config.ConfigItem(
        4,
        "How many requests of one query may be in flight at once: the pages after the "
        "first, and the sky fields, MSA lookups and MSA file downloads of a duplicate "
        "check (1: one at a time). Keep it at most 4 to be polite to MAST.",
        cfgtype="integer")
    download_concurrency = _config.ConfigItem(
        2,
        "How many files download_files and download_products fetch at once.",
        cfgtype="integer")


conf = Conf()

__all__ = ["Conf", "conf", "__version__"]

from .core import NirspecMast, NirspecMastClass  # noqa: E402  (core reads conf)

__all__ += ["NirspecMast", "NirspecMastClass"]
