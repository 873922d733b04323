"""
One file's HTTP transfer: resumed ``.part`` files, retries, size and checksum checks.

`astroquery_nirspec.download` decides *what* to download (one `FileJob` per distinct
data URI) and collects the manifest; this module fetches one file:

1. a complete file already on disk is skipped;
2. otherwise each attempt asks for the bytes not yet in ``<name>.part`` (``Range``),
   streams them in blocks, and a `Transfer` remembers what is known across attempts
   (the size the server announces, the bytes shown on the progress bar, the retries);
3. transient failures are retried as the one `~astroquery_nirspec.transport.RetryPolicy`
   says; anything else ends the file with a `FileError` whose text goes to the manifest;
4. the complete ``.part`` is checked (`finish`) and renamed to its final name.
"""
# Standard library
import dataclasses
import hashlib
import os
import re
import threading
import time
import urllib.parse
from pathlib import Path

# Third party
import numpy as np
import requests

# Local
from .hosts import may_send_token
from .retry import GiveUp, RetryPolicy

__all__ = ["FileJob", "Transfer", "TransferSettings", "Outcome", "FileError", "fetch_file",
           "finish", "parse_checksum", "file_checksum", "PART_SUFFIX", "MISMATCH_SUFFIX"]

#: Suffix of the temporary file a download is written to before it is complete.
PART_SUFFIX = ".part"

#: Suffix of a complete file whose checksum does not match the catalogue's: kept, marked.
MISMATCH_SUFFIX = ".checksum-mismatch"

#: Redirects followed for one request (each hop decides again whether the token goes).
MAX_REDIRECTS = 10
_REDIRECT_CODES = (301, 302, 303, 307, 308)

#: Hexadecimal digest length -> hashlib algorithm, for checksums without a prefix.
_HEX_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_LOGIN_HELP = ("log in with NirspecMast.login(token=...) (or set MAST_API_TOKEN and call "
               "NirspecMast.login()); create a token at https://auth.mast.stsci.edu/token")


class FileError(Exception):
    """A file that cannot be downloaded; its message goes to the manifest."""


@dataclasses.dataclass(frozen=True)
class FileJob:
    """
    One file to download: its manifest row, where it comes from and goes, what to expect.

    Attributes
    ----------
    index : int
        Its row in the manifest.
    uri, url : str
        The data URI and its download URL.
    path : `~pathlib.Path`
        The final file (checked by ``safe_local_path``).
    size : int or None
        The catalogue's ``fileSize`` in bytes.
    checksum : str or None
        The catalogue's ``checksum``.
    """

    index: int
    uri: str
    url: str
    path: Path
    size: int = None
    checksum: object = None

    @property
    def part(self):
        """The temporary file the bytes are written to: ``<name>.part``."""
        return self.path.with_name(self.path.name + PART_SUFFIX)

    @property
    def mismatch(self):
        """Where complete bytes whose checksum does not match are kept."""
        return self.path.with_name(self.path.name + MISMATCH_SUFFIX)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """
    How one file ended: its manifest ``Status``, ``Message`` and ``Verified`` and its path.

    ``verified`` says exactly what was checked: ``"size (fileSize)"`` (the catalogue's
    size), ``"size (Content-Length)"`` (the size the server announced), either followed
    by the checksum algorithm that matched (``", md5"``), or ``"unverified"``.
    """

    status: str
    message: str = ""
    verified: str = ""
    path: Path = None


@dataclasses.dataclass(frozen=True)
class TransferSettings:
    """What every transfer of one download shares: the retry policy, block size, token, stop."""

    policy: RetryPolicy
    block: int
    auth: dict
    server: str
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)


@dataclasses.dataclass
class Transfer:
    """
    What is known about one file across its attempts.

    Attributes
    ----------
    job : FileJob
    check_existing : bool
        A file of unknown size is on disk: the first reply tells whether it is complete.
    expected : int or None
        ``fileSize``, else the size the server announces.
    counted : int
        Bytes of this file shown on the progress bar.
    retries : int
        Retries made so far.
    withheld_from : str or None
        The host a redirect led to, where the MAST token was not sent (last attempt).
    """

    job: FileJob
    check_existing: bool
    expected: int = None
    counted: int = 0
    retries: int = 0
    withheld_from: str = None

    @property
    def size_source(self):
        """What the expected size comes from: ``fileSize``, ``Content-Length`` or None."""
        if self.job.size is not None:
            return "fileSize"
        return None if self.expected is None else "Content-Length"

    def on_disk(self):
        """Bytes in the ``.part`` file (0 when there is none)."""
        part = self.job.part
        return part.stat().st_size if part.is_file() else 0

    def show(self, nbytes, progress):
        """Set the bytes shown on the progress bar for this file to ``nbytes``."""
        progress.add(nbytes - self.counted)
        self.counted = nbytes

    def retry_or_fail(self, message, policy, response=None):
        """Wait before the next attempt as ``policy`` says, or raise `FileError`."""
        try:
            wait = policy.next_wait(self.retries, response)
        except GiveUp as exc:
            raise FileError(f"{message} ({exc.reason}).") from None
        self.retries += 1
        time.sleep(wait.seconds)


@dataclasses.dataclass(frozen=True)
class _Retry:
    """An attempt that is worth repeating, why, and the reply (for its Retry-After)."""

    message: str
    response: object = None


def parse_checksum(checksum):
    """
    The hash algorithm and hexadecimal digest of a catalogue checksum, if recognisable.

    Accepted forms: a hexadecimal digest whose length names the algorithm (32 digits:
    MD5, 40: SHA-1, 64: SHA-256, 128: SHA-512), or ``<algorithm>:<hex>`` /
    ``<algorithm>=<hex>`` with an algorithm `hashlib` knows. MAST's JWST file tables
    document ``checksum`` as "32 hexadecimal digits"; that it is the MD5 of the file
    as served is an assumption, checked by the remote tests.

    Parameters
    ----------
    checksum : str or None

    Returns
    -------
    algorithm_digest : tuple of (str, str) or None
        ``None`` when the value is missing or not recognisable (it is then not checked).

    Examples
    --------
    >>> parse_checksum("7D155FED9A5B893EE32D570624C9C293")
    ('md5', '7d155fed9a5b893ee32d570624c9c293')
    >>> parse_checksum("sha256:" + "0" * 64)
    ('sha256', '0000000000000000000000000000000000000000000000000000000000000000')
    >>> parse_checksum("1234") is None
    True
    """
    if checksum is None or np.ma.is_masked(checksum):
        return None
    text = str(checksum).strip().lower()
    if not text:
        return None
    match = re.match(r"^([a-z0-9_-]+)\s*[:=]\s*([0-9a-f]+)$", text)
    if match:
        name = match.group(1)
        candidates = (name, name.replace("-", "_"), name.replace("-", ""))
        algorithm = next((c for c in candidates if c in hashlib.algorithms_available), None)
        if algorithm is None:
            return None
        digest = match.group(2)
        try:
            if len(digest) != 2 * hashlib.new(algorithm).digest_size:
                return None
        except (ValueError, TypeError):  # pragma: no cover - e.g. shake without a length
            return None
        return algorithm, digest
    if _HEX_RE.match(text) and len(text) in _HEX_LENGTHS:
        return _HEX_LENGTHS[len(text)], text
    return None


def file_checksum(path, algorithm, block_size=None):
    """
    The hexadecimal digest of a file, read in blocks.

    Parameters
    ----------
    path : str or `~pathlib.Path`
    algorithm : str
        A `hashlib` algorithm name.
    block_size : int, optional
        Default ``astropy.utils.data.conf.download_block_size``.

    Returns
    -------
    digest : str

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "f"
    ...     _ = p.write_bytes(b"abc")
    ...     file_checksum(p, "md5")
    '900150983cd24fb0d6963f7d28e17f72'
    """
    block_size = block_size or block_size_conf()
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def block_size_conf():
    """``astropy.utils.data.conf.download_block_size``, at least 1."""
    from astropy.utils.data import conf as data_conf
    return max(1, int(data_conf.download_block_size))


def _open_part(path, mode):
    """Open the temporary file of a download (a seam for tests)."""
    return open(path, mode)


def _short_text(response, limit=300):
    """The start of an error reply's body, read without loading a large body."""
    try:
        raw = next(response.iter_content(chunk_size=limit), b"")
    except (requests.RequestException, StopIteration):
        raw = b""
    text = raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:limit] or response.reason or "no message"


def _content_range(value):
    """``bytes 100-199/1000`` -> (100, 1000); total None for ``*``; None if unparsable."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


# ---------------------------------------------------------------------- one file
def fetch_file(session, job, settings, progress):
    """
    Download one file; return its `Outcome` (never raises for HTTP failures).

    Parameters
    ----------
    session : `requests.Session`
    job : FileJob
    settings : TransferSettings
    progress : object
        With ``add(nbytes)`` and ``file_done()`` (see ``download._Progress``).

    Returns
    -------
    outcome : Outcome
        ``COMPLETE``, ``SKIPPED`` or ``ERROR``, why, and what was verified.
    """
    try:
        return _fetch(session, job, settings, progress)
    except FileError as exc:
        return Outcome("ERROR", str(exc), path=job.path)
    finally:
        progress.file_done()


def _fetch(session, job, settings, progress):
    """Download ``job`` to its path; return an `Outcome` or raise `FileError`."""
    path, size = job.path, job.size
    if path.is_file() and size is not None and path.stat().st_size == size:
        job.part.unlink(missing_ok=True)   # a stale partial copy of a complete file
        progress.add(size)
        return Outcome("SKIPPED", f"Already on disk with the expected size ({size} bytes).",
                       "size (fileSize)", path)
    transfer = Transfer(job, check_existing=path.is_file() and size is None, expected=size)
    while True:
        offset = transfer.on_disk()
        if size is not None and offset > size:
            job.part.unlink()
            offset = 0
        transfer.show(offset, progress)
        if size is not None and offset == size:
            return finish(job, size, "fileSize")
        try:
            outcome = _attempt(session, transfer, offset, settings, progress)
        except requests.Timeout:
            raise FileError(f"No reply from MAST within conf.timeout ({settings.policy.timeout} s) "
                            f"for {job.uri}.") from None
        except requests.RequestException as exc:
            if not settings.policy.is_transient(exc):
                raise
            outcome = _Retry(f"Connection to MAST dropped after {transfer.on_disk()} bytes of "
                             f"{job.uri} ({type(exc).__name__}); run the download again to resume")
        if outcome == "again":
            continue
        if isinstance(outcome, _Retry):
            transfer.retry_or_fail(outcome.message, settings.policy, outcome.response)
            continue
        if outcome == "confirmed":
            job.part.unlink(missing_ok=True)
            return Outcome("SKIPPED", "Already on disk with the size MAST announces "
                           f"({transfer.expected} bytes).", "size (Content-Length)", path)
        got, expected = transfer.on_disk(), transfer.expected
        if expected is not None and got < expected:
            transfer.retry_or_fail(f"Transfer of {job.uri} ended after {got} of {expected} bytes; "
                                   "run the download again to resume", settings.policy)
            continue
        return finish(job, got if expected is None else expected, transfer.size_source)


def _get(session, transfer, headers, settings):
    """
    GET the file's URL, following redirects here so that each hop decides again
    whether the MAST token goes with it (`~astroquery_nirspec.transport.may_send_token`).
    """
    url = transfer.job.url
    transfer.withheld_from = None
    for _ in range(MAX_REDIRECTS + 1):
        hop = dict(headers)
        if settings.auth:
            if may_send_token(url, server=settings.server):
                hop.update(settings.auth)
            else:
                transfer.withheld_from = urllib.parse.urlsplit(url).netloc
        response = session.get(url, headers=hop, stream=True, timeout=settings.policy.timeout,
                               allow_redirects=False)
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECT_CODES or not location:
            return response
        response.close()
        url = urllib.parse.urljoin(url, location)
    raise FileError(f"More than {MAX_REDIRECTS} redirects for {transfer.job.uri}; the last to {url}.")


def _refused(code, transfer, settings):
    """The FileError of an HTTP 401/403 reply, saying what to do."""
    uri = transfer.job.uri
    if transfer.withheld_from:
        return FileError(f"HTTP {code}: the download of {uri} was redirected to "
                         f"{transfer.withheld_from}, which is not a MAST host reached over HTTPS, "
                         "so the MAST token was not sent there.")
    if settings.auth:
        return FileError(f"HTTP {code}: MAST refused the token for {uri} (exclusive "
                         "access to another programme, or an expired token); check "
                         "it at https://auth.mast.stsci.edu/token.")
    return FileError(f"HTTP {code}: {uri} is exclusive access; {_LOGIN_HELP}.")


def _attempt(session, transfer, offset, settings, progress):
    """
    One request for the missing bytes of a file.

    Returns ``"received"`` (the reply was streamed into the ``.part`` file),
    ``"confirmed"`` (an existing file has the announced size), ``"again"`` (start
    again at once) or a `_Retry`; raises `FileError` for a permanent failure.
    """
    job = transfer.job
    headers = {"Accept-Encoding": "identity"}
    if offset and not transfer.check_existing:
        headers["Range"] = f"bytes={offset}-"
    with _get(session, transfer, headers, settings) as response:
        code = response.status_code
        if code in (401, 403):
            raise _refused(code, transfer, settings)
        if code == 416 and offset:
            job.part.unlink()   # the partial file does not fit the file: start again
            return "again"
        if settings.policy.is_transient(code):
            return _Retry(f"HTTP {code} from MAST for {job.uri}: {_short_text(response)}", response)
        if code not in (200, 206):
            raise FileError(f"HTTP {code} from MAST for {job.uri}: {_short_text(response)}")
        return "confirmed" if _receive(response, transfer, offset, settings, progress) else "received"


def _announced(response, offset, uri):
    """(first byte, total size or None) a 200/206 reply announces."""
    if response.status_code == 206:
        parsed = _content_range(response.headers.get("Content-Range"))
        if parsed is None or parsed[0] != offset:
            raise FileError(f"MAST answered a request for bytes {offset}- of {uri} with an "
                            f"unusable Content-Range {response.headers.get('Content-Range')!r}.")
        return parsed
    length = response.headers.get("Content-Length", "")
    return 0, int(length) if length.isdigit() else None


def _receive(response, transfer, offset, settings, progress):
    """
    Stream a 200/206 reply into the ``.part`` file; True when an existing file is confirmed.

    A 206 must start at ``offset`` (appended); a 200 restarts the file.
    """
    job = transfer.job
    start, announced = _announced(response, offset, job.uri)
    size = transfer.expected if not transfer.check_existing else None
    if size is not None and announced is not None and announced != size:
        job.part.unlink(missing_ok=True)
        raise FileError(f"Size mismatch: MAST sends {announced} bytes for {job.uri} but its "
                        f"fileSize is {size}; the file was not saved.")
    if transfer.expected is None:
        transfer.expected = announced
    if transfer.check_existing:
        transfer.check_existing = False
        if announced is not None and job.path.stat().st_size == announced:
            transfer.show(announced, progress)
            return True
    if start == 0 and transfer.counted:
        transfer.show(0, progress)   # starting again from the first byte
    with _open_part(job.part, "ab" if start else "wb") as fh:
        for chunk in response.iter_content(chunk_size=settings.block):
            if settings.stop.is_set():
                raise FileError(f"Interrupted; run the download again to resume {job.uri}.")
            if chunk:
                fh.write(chunk)
                transfer.counted += len(chunk)
                progress.add(len(chunk))
    return False


def _checksum_note(checksum):
    """Why a checksum is (or is not) evidence: its algorithm is named, assumed, or unknown."""
    text = str(checksum).strip()
    if ":" in text or "=" in text:
        return "the catalogue names its algorithm"
    return (f"MAST does not document the algorithm of its checksum: a {len(text)}-hex-digit value "
            "was taken for this one, so a mismatch need not mean the bytes are damaged")


def finish(job, size, source):
    """
    Check the complete ``.part`` file and move it to its final name; its `Outcome`.

    The size decides: a file of the wrong size is deleted (`FileError`). A checksum is
    checked when it is in a recognisable form (`parse_checksum`); a mismatch never
    deletes a file of the right size: the bytes are kept as ``<name>.checksum-mismatch``
    and the row is an ERROR that says so.

    Parameters
    ----------
    job : FileJob
    size : int
        The size the file must have.
    source : str or None
        Where ``size`` comes from (``"fileSize"``, ``"Content-Length"``), None when
        nothing announced it (the size is then not evidence).
    """
    part = job.part
    got = part.stat().st_size
    if got != size:
        part.unlink()
        raise FileError(f"Size mismatch: received {got} bytes, expected {size}; "
                        "the file was not saved.")
    checked = [f"size ({source})"] if source else []
    message = ""
    parsed = parse_checksum(job.checksum)
    if parsed is not None:
        algorithm, digest = parsed
        actual = file_checksum(part, algorithm)
        if actual != digest:
            os.replace(part, job.mismatch)
            return Outcome("ERROR", (
                f"Checksum mismatch: the {algorithm} of the received bytes is {actual}, the "
                f"catalogue's checksum is {digest} ({_checksum_note(job.checksum)}). "
                + (f"The size matches ({size} bytes, {source}). " if source else "")
                + f"The bytes are kept as {job.mismatch.name}: check them, or run the download "
                "again to fetch the file anew."),
                ", ".join(checked + [f"{algorithm} MISMATCH"]), job.mismatch)
        checked.append(algorithm)
    elif job.checksum is not None and not np.ma.is_masked(job.checksum) and str(job.checksum).strip():
        message = (f"The catalogue's checksum {str(job.checksum).strip()!r} is in no form whose "
                   "algorithm is known; it was not checked.")
    os.replace(part, job.path)
    return Outcome("COMPLETE", message, ", ".join(checked) or "unverified", job.path)
