"""
From query results to files on disk: MAST file downloads and CAOM products.

`DownloadMixin` adds three methods to `~astroquery_nirspec.NirspecMastClass`:

- `DownloadMixin.download_files` fetches the files of ``query_filtered`` rows (or a
  list of data URIs) from ``{conf.server}/api/v0.1/Download/file?uri=<dataURI>``;
- `DownloadMixin.get_product_list` lists the CAOM products of observations (a
  ``check_duplicates`` report or ``obsid`` values) with astroquery's own
  ``Observations.get_product_list``, sent to the configured server;
- `DownloadMixin.download_products` filters such a list with astroquery's
  ``Observations.filter_products`` and downloads what is left like `download_files`.

Every download returns a manifest `~astropy.table.Table` shaped like astroquery's
(``Local Path``, ``Status``, ``Message``, ``URL``) plus ``Verified``, one row per file,
``Status`` one of ``COMPLETE``, ``SKIPPED`` or ``ERROR``. A failing file never stops
the others. The transfer of one file is ``astroquery_nirspec.transfer``; the pure
helpers (URLs, safe names, items, the manifest) are ``astroquery_nirspec.files``.

How a file is fetched
---------------------
- Streamed to ``<name>.part`` in the target directory in blocks of
  ``astropy.utils.data.conf.download_block_size`` bytes (never held whole in memory),
  and renamed to ``<name>`` only when complete: its size equals the row's ``fileSize``
  (or, without one, the size the server announced) and its checksum, when the row
  has one in a recognisable form, matches (see `parse_checksum`).
- Only what was checked is claimed: ``Verified`` is ``size (fileSize)``,
  ``size (Content-Length)``, either followed by the checksum algorithm that matched
  (``size (fileSize), md5``), or ``unverified``. MAST documents no algorithm for its
  ``checksum`` column (32 hex digits today, an integer in 2018), so a file of the right
  size is never deleted over a checksum: a mismatch keeps the bytes as
  ``<name>.checksum-mismatch`` and the row is an ``ERROR`` that says so.
- A ``<name>.part`` left by an interrupted run is resumed with ``Range: bytes=N-``
  when the server answers ``206``; any other answer restarts it from the beginning.
- An existing ``<name>`` whose size equals ``fileSize`` is not downloaded again
  (``SKIPPED``). Without a ``fileSize`` the server is asked, and the file is skipped
  when the announced size equals the local one.
- HTTP 429 and 5xx replies and dropped connections are retried up to
  ``conf.max_retries`` times, after ``Retry-After`` seconds when the server says so,
  else after ``conf.retry_backoff`` x 1, 2, 4, ... seconds; a dropped transfer resumes
  where it stopped. ``conf.timeout`` bounds every wait for the server
  (the connection and each read).
- Requests go through the query object's ``requests`` session (its User-Agent,
  its logging with the token redacted) and are never cached.
- File names come from the last segment of the data URI's path. A name that is
  empty, ``.``, ``..``, holds a path separator or a NUL, or resolves outside
  ``download_dir`` (e.g. through a symbolic link) is refused (``ERROR``).
- Exclusive-access files need a MAST token (``NirspecMast.login``); the
  ``Authorization`` header comes from ``self._auth_headers()`` and the token never
  appears in the manifest or in messages. It goes only to MAST hosts over HTTPS (or the
  configured loopback server, in tests): redirects are followed one by one, and a hop
  to any other host is sent without it
  (`~astroquery_nirspec.transport.may_send_token`).
"""
# Standard library
import contextlib
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Third party
import numpy as np
import requests
from astropy.table import Row, Table
from astroquery import log
from astroquery.exceptions import NoResultsWarning, RemoteServiceError

# Local
from . import conf
from . import progress as _progress
from .files import (DOWNLOAD_PATH, MANIFEST_COLUMNS, PRODUCTS_SERVICE, download_url, file_items,
                    make_manifest, manifest_row, obsid_list, product_items, safe_local_path)
from .retry import RetryPolicy
from .transfer import (PART_SUFFIX, FileJob, Outcome, TransferSettings, block_size_conf,
                       fetch_file, file_checksum, parse_checksum)

__all__ = ["DownloadMixin", "download_url", "safe_local_path", "parse_checksum",
           "file_checksum", "manifest_row", "make_manifest", "file_items",
           "product_items", "obsid_list", "MANIFEST_COLUMNS", "PART_SUFFIX"]

#: How many obsids go into one ``Mast.Caom.Products`` request.
OBSIDS_PER_REQUEST = 100


def _plan(items, directory, server):
    """
    One `FileJob` per distinct URI, and the manifest rows of the items refused up front.

    Returns ``(jobs, rows)``: ``rows`` has one slot per distinct item, ``None`` where a
    job will fill it; rows without a URI, with an unsafe name or with a name another
    file of this download already has are ERROR rows.
    """
    jobs, rows, seen_uris, seen_names = [], [], set(), {}
    for uri, size, checksum in items:
        if uri is not None and uri in seen_uris:
            continue
        rows.append(None)
        if uri is None:
            rows[-1] = manifest_row("", "ERROR", "The row has no dataURI.")
            continue
        seen_uris.add(uri)
        url = download_url(uri, server)
        try:
            path = safe_local_path(directory, uri)
        except ValueError as exc:
            rows[-1] = manifest_row("", "ERROR", str(exc), url)
            continue
        if path.name in seen_names:
            rows[-1] = manifest_row(
                path, "ERROR", f"Another file of this download ({seen_names[path.name]}) has "
                f"the same name {path.name!r}; download it into another directory.", url)
            continue
        seen_names[path.name] = uri
        jobs.append(FileJob(len(rows) - 1, uri, url, path, size, checksum))
    return jobs, rows


class _Progress:
    """Bytes and files done, drawn on one `astroquery_nirspec.progress` bar (thread-safe)."""

    def __init__(self, bar, n_files):
        self._bar = bar
        self._lock = threading.Lock()
        self._files_done = 0
        self._n_files = n_files

    def add(self, nbytes):
        if nbytes:
            with self._lock:
                self._bar.update(nbytes)

    def file_done(self):
        with self._lock:
            self._files_done += 1
            self._bar.update(0, files=f"{self._files_done}/{self._n_files}")


def _collect(futures, rows, settings, on_row):
    """
    Fill ``rows`` from the jobs' futures, in order, calling ``on_row(index, row)`` for each.

    On any exception (e.g. KeyboardInterrupt, or one raised by ``on_row``) the transfers
    are stopped, the waiting ones cancelled (``.part`` files are kept) and it propagates.
    """
    try:
        for job, future in futures:
            try:
                outcome = future.result()
            except Exception as exc:   # a bug or an OS error must not stop the others
                outcome = Outcome("ERROR", f"{type(exc).__name__}: {exc}", path=job.path)
            rows[job.index] = manifest_row(outcome.path, outcome.status, outcome.message,
                                           job.url, outcome.verified)
            if on_row is not None:
                on_row(job.index, rows[job.index])
    except BaseException:
        settings.stop.set()
        for _, future in futures:
            future.cancel()
        raise


# ---------------------------------------------------------------------- the mixin
class DownloadMixin:
    """
    Download methods for `~astroquery_nirspec.NirspecMastClass`.

    Needs, from the class it is mixed into, a ``requests`` session ``_session``
    (`~astroquery.query.BaseQuery`) and ``_auth_headers()`` returning the
    ``Authorization`` header of a logged-in user or ``{}``.
    """

    # ------------------------------------------------------------------ files
    def download_files(self, files, *, download_dir=".", verbose=True):
        """
        Download the files of ``query_filtered`` rows (or data URIs) from MAST.

        Each file is fetched from ``{conf.server}/api/v0.1/Download/file?uri=<dataURI>``,
        streamed to ``<name>.part`` in ``download_dir`` and renamed to ``<name>`` (the
        last segment of the data URI) once its size matches ``fileSize`` and its
        ``checksum``, when recognisable, matches. A ``.part`` file left by an earlier,
        interrupted run is resumed. ``conf.download_concurrency`` files are fetched
        at once.

        Parameters
        ----------
        files : `~astropy.table.Table`, `~astropy.table.Row`, str or list of str
            Rows with a ``dataURI`` column (``fileSize`` and ``checksum`` are used
            when present), as returned by ``query_filtered``; or data URIs.
        download_dir : str or `~pathlib.Path`, optional
            Where the files go (created if needed); default the current directory.
        verbose : bool, optional
            Show a progress bar (bytes, and files done) on standard error when it is
            a terminal and ``conf.progress`` is true (default `True`).

        Returns
        -------
        manifest : `~astropy.table.Table`
            One row per distinct file, in input order: ``Local Path``, ``Status``
            (``COMPLETE``, ``SKIPPED`` when already on disk, or ``ERROR``),
            ``Message`` (why, for errors), ``URL`` and ``Verified`` (what was checked:
            ``size (fileSize)``, ``size (Content-Length)``, with ``, md5`` when a
            checksum matched, or ``unverified``). A file whose checksum does not match
            is kept as ``<name>.checksum-mismatch`` (an ``ERROR`` row).

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            When a Table has no ``dataURI`` column.
        astroquery.exceptions.LoginError
            When logged in and ``conf.server`` is neither HTTPS nor loopback.

        Notes
        -----
        Failures of one file (HTTP errors, size or checksum mismatch, an exclusive-
        access file without a token, an unsafe name) become ``ERROR`` rows; the other
        files are still downloaded. HTTP 429/5xx and dropped connections are retried
        ``conf.max_retries`` times. Downloads never use astroquery's cache.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> files = NirspecMast.query_filtered(program="1345", filename="*_x1d.fits",
        ...                                    page=1, pagesize=2)  # doctest: +REMOTE_DATA
        >>> manifest = NirspecMast.download_files(files, download_dir="data/")  # doctest: +REMOTE_DATA
        >>> set(manifest["Status"]) <= {"COMPLETE", "SKIPPED"}  # doctest: +REMOTE_DATA
        True
        """
        return self._download_items(file_items(files), download_dir=download_dir, verbose=verbose)

    # ------------------------------------------------------------------ products
    def get_product_list(self, observations):
        """
        The CAOM data products of observations, from ``Mast.Caom.Products``.

        This is astroquery's ``Observations.get_product_list`` (same request, same
        Table), sent to ``conf.server`` of this package.

        Parameters
        ----------
        observations : `~astropy.table.Table`, `~astropy.table.Row`, str, int or list
            A table with an ``obsid`` column (CAOM's product-group id), such as a
            ``check_duplicates`` report or a CAOM query result, or obsid values.
            Rows whose ``obsid`` is missing (e.g. planned observations) are skipped.

        Returns
        -------
        products : `~astropy.table.Table`
            One row per product: ``obsID``, ``obs_id``, ``dataURI``,
            ``productFilename``, ``productType``, ``productSubGroupDescription``,
            ``size`` (bytes), ...

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            When a Table has no ``obsid`` column or no obsid is given.
        astroquery.exceptions.RemoteServiceError
            When MAST answers with an error.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> report = NirspecMast.check_duplicates("targets.ecsv")  # doctest: +SKIP
        >>> products = NirspecMast.get_product_list(
        ...     report[report["verdict"] == "DUPLICATE"])  # doctest: +SKIP
        >>> products["productFilename", "productSubGroupDescription", "size"]  # doctest: +SKIP
        """
        obsids = obsid_list(observations)
        tables = []
        with self._observations() as observations_client:
            for start in range(0, len(obsids), OBSIDS_PER_REQUEST):
                batch = obsids[start:start + OBSIDS_PER_REQUEST]
                try:
                    tables.append(observations_client.get_product_list(batch))
                except requests.HTTPError as exc:
                    status = exc.response.status_code if exc.response is not None else "?"
                    raise RemoteServiceError(
                        f"HTTP {status} from MAST for {PRODUCTS_SERVICE} at {conf.server}: "
                        f"{exc}") from None
                except requests.ConnectionError as exc:
                    raise RemoteServiceError(f"Connection to MAST failed ({PRODUCTS_SERVICE} at "
                                             f"{conf.server}): {exc}") from None
        if len(tables) == 1:
            products = tables[0]
        else:
            from astropy.table import vstack
            products = vstack(tables, metadata_conflicts="silent")
        products.meta["service"] = PRODUCTS_SERVICE
        return products

    def download_products(self, products, *, download_dir=".", verbose=True, **filters):
        """
        Download CAOM data products, filtered with astroquery's ``filter_products``.

        Parameters
        ----------
        products : `~astropy.table.Table`, str, int or list
            A product Table (from `get_product_list`); or what `get_product_list`
            accepts (a table with ``obsid``, obsid values), whose products are listed
            first.
        download_dir : str or `~pathlib.Path`, optional
            Where the files go (created if needed), without sub-directories; default
            the current directory.
        verbose : bool, optional
            Show a progress bar on standard error, as in `download_files`.
        **filters
            Passed to ``astroquery.mast.Observations.filter_products``: product
            columns (``productSubGroupDescription="X1D"``, ``productType="SCIENCE"``,
            ``calib_level=[2, 3]``, ...), ``mrp_only=True``, ``extension="fits"``.

        Returns
        -------
        manifest : `~astropy.table.Table`
            As `download_files`: ``Local Path``, ``Status``, ``Message``, ``URL``;
            empty (with a `~astroquery.exceptions.NoResultsWarning`) when no product
            is left after filtering.

        Notes
        -----
        The expected size of each file is the product's ``size`` column; products
        carry no checksum. Products with the same ``dataURI`` are downloaded once.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> manifest = NirspecMast.download_products(products, download_dir="data/",
        ...                                          productSubGroupDescription="X1D")  # doctest: +SKIP
        """
        from astroquery.mast import Observations
        from astroquery.mast import utils as mast_utils

        if isinstance(products, Row):
            products = products.table[products.index:products.index + 1]
        if not (isinstance(products, Table) and "dataURI" in products.colnames):
            products = self.get_product_list(products)
        products = Observations.filter_products(products, **filters)
        if len(products):
            products = mast_utils.remove_duplicate_products(products, "dataURI")
        if not len(products):
            warnings.warn("No products to download.", NoResultsWarning)
            return make_manifest([])
        return self._download_items(product_items(products), download_dir=download_dir,
                                    verbose=verbose)

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _observations(self):
        """
        A fresh astroquery ``ObservationsClass`` whose requests go to ``conf.server``.

        astroquery 0.4.11 binds its service URLs when ``astroquery.mast`` is imported
        (``PortalAPI.MAST_REQUEST_URL = conf.server + ...`` are class attributes), so
        ``astroquery.mast.conf.set_temp("server", ...)`` redirects neither the
        ``Observations`` singleton nor a new ``ObservationsClass``. The URLs (and the
        time limit) are set on the new instance's portal connection instead, and its
        session is closed afterwards.
        """
        from astroquery.mast import ObservationsClass

        observations = ObservationsClass()
        portal = observations._portal_api_connection
        server = conf.server.rstrip("/")
        portal.MAST_REQUEST_URL = server + "/api/v0/invoke"
        portal.COLUMNS_CONFIG_URL = server + "/portal/Mashup/Mashup.asmx/columnsconfig"
        portal.MAST_DOWNLOAD_URL = server + DOWNLOAD_PATH
        portal.MAST_BUNDLE_URL = server + "/api/v0.1/Download/bundle"
        portal.TIMEOUT = float(conf.timeout)
        try:
            yield observations
        finally:
            observations._session.close()
            portal._session.close()

    def _download_items(self, items, *, download_dir, verbose, workers=None, on_row=None):
        """
        Download ``(uri, size, checksum)`` items into ``download_dir``; the manifest.

        ``workers`` files are fetched at once (default ``conf.download_concurrency``).
        ``on_row(index, row)``, when given, is called in the calling thread with the
        manifest row (`manifest_row`) of each file fetched (not of those refused up
        front) as soon as it is done, in input order, while the next files download.
        """
        directory = Path(download_dir)
        directory.mkdir(parents=True, exist_ok=True)
        auth = dict(self._auth_headers())   # may raise LoginError before anything is sent
        server = conf.server
        settings = TransferSettings(policy=RetryPolicy.from_conf(), block=block_size_conf(), auth=auth,
                                    server=server)
        jobs, rows = _plan(items, directory, server)
        sizes = [job.size for job in jobs]
        total = sum(sizes) if sizes and None not in sizes else None
        workers = int(conf.download_concurrency) if workers is None else int(workers)
        enabled = None if verbose and conf.progress else False   # None: when stderr is a terminal
        with _progress.progress_bar(total, desc=f"Downloading {len(jobs)} files", unit="B",
                                    enabled=enabled) as bar:
            progress = _Progress(bar, len(jobs))
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1)),
                                    thread_name_prefix="nirspec-download") as pool:
                futures = [(job, pool.submit(fetch_file, self._session, job, settings, progress))
                           for job in jobs]
                _collect(futures, rows, settings, on_row)
        manifest = make_manifest(rows)
        failed = int(np.sum(manifest["Status"] == "ERROR")) if len(manifest) else 0
        if failed:
            log.warning(f"{failed} of {len(manifest)} files could not be downloaded; "
                        "see the Message column of the manifest.")
        elif verbose:
            log.info(f"Downloaded {len(manifest)} files to {directory}.")
        return manifest
