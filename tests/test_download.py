"""
Downloads through the local MAST server (``tests/mast_double/``).

Files are served from ``srv.files`` at ``/api/v0.1/Download/file?uri=``; faults
(dropped bodies, 5xx, 429, resets) are injected with ``srv.add_download_fault``.
``Mast.Caom.Products`` is registered in the test archive and answered through a
``Fault.http`` reply computed by the server itself, because astroquery sends that
service ``{"obsid": ...}`` rather than the ``columns``/``filters`` the local server's
Filtered services need; astroquery's columns-config request (an endpoint the local
server does not have) is avoided by seeding astroquery's column-config cache.
"""
import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table
from astropy.utils.data import conf as data_conf
from astroquery import log
from astroquery.exceptions import InvalidQueryError, NoResultsWarning
from mast_double import Fault, MastServer, make_archive, match_service

from astroquery_nirspec import NirspecMastClass, conf
from astroquery_nirspec import download as dl
from astroquery_nirspec import transfer as tr
from astroquery_nirspec.download import DownloadMixin

if issubclass(NirspecMastClass, DownloadMixin):   # once the lead has wired the mixin in
    _Client = NirspecMastClass
else:
    class _Client(DownloadMixin, NirspecMastClass):
        pass


def _bytes(n, seed):
    return np.random.default_rng(seed).bytes(n)


A_URI = "mast:JWST/product/jw01345-o052_s00001_nirspec_f170lp-g235m_x1d.fits"
B_URI = "mast:JWST/product/jw01345052001_03101_00001_nrs1_cal.fits"
C_URI = "mast:JWST/product/jw02736-o007_s00002_nirspec_f290lp-g395m_s2d.fits"
BIG_URI = "mast:JWST/product/jw01345052001_03101_00002_nrs1_cal.fits"
SECRET_URI = "mast:JWST/product/jw09999001001_03101_00001_nrs1_cal.fits"
FILES = {A_URI: _bytes(5000, 1), B_URI: _bytes(12345, 2), C_URI: _bytes(2880, 3),
         BIG_URI: _bytes(20_500, 4), SECRET_URI: _bytes(4000, 5)}
GOOD_TOKEN = "good-token-3f9a"


def _table(*uris, sizes=None, checksums=None):
    """File rows as query_filtered returns them (dataURI, fileSize, checksum)."""
    sizes = sizes or [len(FILES[u]) for u in uris]
    columns = {"filename": [u.rsplit("/", 1)[-1] for u in uris], "dataURI": list(uris),
               "fileSize": sizes}
    if checksums is not None:
        columns["checksum"] = MaskedColumn([c or "" for c in checksums],
                                           mask=[c is None for c in checksums])
    return Table(columns, masked=True)


@pytest.fixture
def srv():
    with MastServer(make_archive(), files=FILES, restricted=[SECRET_URI], tokens=[GOOD_TOKEN]) as server:
        with conf.set_temp("server", server.url), conf.set_temp("retry_backoff", 0.0):
            yield server


@pytest.fixture
def client():
    c = _Client()
    yield c
    c._session.close()


def _statuses(manifest):
    return manifest["Status"].tolist()


def _no_part_files(directory):
    return not list(Path(directory).glob("*" + dl.PART_SUFFIX))


# ---------------------------------------------------------------------- pure helpers
@pytest.mark.parametrize("uri, name", [
    ("mast:JWST/product/a_x1d.fits", "a_x1d.fits"),
    ("mast:JWST/product/../../../etc/evil.fits", "evil.fits"),
    ("/etc/passwd", "passwd"),
    ("https://example.org/dir/b.fits?x=1#frag", "b.fits"),
    ("mast:JWST/product/..%2F..%2Fevil", "..%2F..%2Fevil"),
])
def test_safe_local_path_keeps_the_last_segment(tmp_path, uri, name):
    path = dl.safe_local_path(tmp_path, uri)
    assert path == tmp_path / name
    assert path.resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize("uri", ["", "mast:JWST/product/", "mast:JWST/product/.", "..",
                                 "mast:JWST/product/..", "mast:JWST/product/..\\..\\evil.fits",
                                 "mast:JWST/product/a\x00.fits"])
def test_safe_local_path_refuses_unsafe_names(tmp_path, uri):
    with pytest.raises(ValueError, match="Unsafe file name"):
        dl.safe_local_path(tmp_path, uri)


def test_safe_local_path_refuses_a_symlink_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = tmp_path / "data"
    inside.mkdir()
    (inside / "link.fits").symlink_to(outside / "target.fits")
    with pytest.raises(ValueError, match="outside the download directory"):
        dl.safe_local_path(inside, "mast:JWST/product/link.fits")


@pytest.mark.parametrize("value, expected", [
    ("d41d8cd98f00b204e9800998ecf8427e", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("  D41D8CD98F00B204E9800998ECF8427E ", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("da39a3ee5e6b4b0d3255bfef95601890afd80709", ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709")),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")),
    ("SHA-256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")),
    ("md5=d41d8cd98f00b204e9800998ecf8427e", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
    ("md5:abcd", None), ("crc32:abcd1234", None), ("not-hex-at-all-not-hex-at-all-xx", None),
    ("12345", None), ("", None), (None, None), (np.ma.masked, None),
])
def test_parse_checksum(value, expected):
    assert dl.parse_checksum(value) == expected


def test_file_checksum_reads_in_blocks(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(FILES[B_URI])
    assert dl.file_checksum(path, "sha256", block_size=100) == hashlib.sha256(FILES[B_URI]).hexdigest()


def test_manifest_helpers():
    assert dl.manifest_row(Path("d") / "a", "ERROR", None, None) == (str(Path("d") / "a"), "ERROR", "", "", "")
    with pytest.raises(ValueError):
        dl.manifest_row("a", "DONE")
    empty = dl.make_manifest([])
    assert empty.colnames == list(dl.MANIFEST_COLUMNS) and len(empty) == 0


def test_file_items_from_tables_rows_and_lists():
    table = _table(A_URI, B_URI, checksums=["ab" * 16, None])
    table["fileSize"] = MaskedColumn([5000, 0], mask=[False, True])
    assert dl.file_items(table) == [(A_URI, 5000, "ab" * 16), (B_URI, None, None)]
    assert dl.file_items(table[0]) == [(A_URI, 5000, "ab" * 16)]
    assert dl.file_items(A_URI) == [(A_URI, None, None)]
    assert dl.file_items([A_URI, " " + B_URI + " "]) == [(A_URI, None, None), (B_URI, None, None)]
    with pytest.raises(InvalidQueryError, match="'dataURI'"):
        dl.file_items(Table({"filename": ["a.fits"]}))
    with pytest.raises(InvalidQueryError):
        dl.file_items([1, 2])


def test_obsid_list():
    report = Table({"obs_id": ["a", "b", "c", "d"],
                    "obsid": MaskedColumn(["101", "", "102", "101"], mask=[False, True, False, False])})
    assert dl.obsid_list(report) == ["101", "102"]
    assert dl.obsid_list(report[2]) == ["102"]
    assert dl.obsid_list([np.int64(7), 7.0, "8"]) == ["7", "8"]
    with pytest.raises(InvalidQueryError, match="no 'obsid' column.*obs_id"):
        dl.obsid_list(Table({"obs_id": ["jw01345-o052_t001_nirspec_f170lp-g235m"]}))
    with pytest.raises(InvalidQueryError, match="No obsid"):
        dl.obsid_list(Table({"obsid": MaskedColumn(["1"], mask=[True])}))
    with pytest.raises(InvalidQueryError, match="whole numbers"):
        dl.obsid_list(["jw01345-o052_t001_nirspec_f170lp-g235m"])


# ---------------------------------------------------------------------- downloads
def test_download_files_from_table_rows(srv, client, tmp_path):
    files = _table(A_URI, B_URI, C_URI,
                   checksums=[hashlib.md5(FILES[A_URI]).hexdigest(),
                              "sha256:" + hashlib.sha256(FILES[B_URI]).hexdigest(), None])
    manifest = client.download_files(files, download_dir=tmp_path / "data", verbose=False)
    assert manifest.colnames == ["Local Path", "Status", "Message", "URL", "Verified"]
    assert _statuses(manifest) == ["COMPLETE"] * 3
    assert manifest["Verified"].tolist() == ["size (fileSize), md5", "size (fileSize), sha256",
                                             "size (fileSize)"]
    for row, uri in zip(manifest, (A_URI, B_URI, C_URI)):
        path = Path(row["Local Path"])
        assert path == tmp_path / "data" / uri.rsplit("/", 1)[-1]
        assert path.read_bytes() == FILES[uri]
        assert row["URL"] == f"{srv.url}/api/v0.1/Download/file?uri={uri}"
    assert _no_part_files(tmp_path / "data")
    records = srv.downloads()
    assert len(records) == 3
    for record in records:
        headers = {k.lower(): v for k, v in record.headers.items()}
        assert headers["user-agent"].startswith("astroquery/")
        assert "authorization" not in headers
        assert "range" not in headers
    assert not any(Path(client.cache_location).iterdir())   # nothing cached


def test_download_files_from_uris(srv, client, tmp_path):
    manifest = client.download_files([A_URI, C_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "COMPLETE"]
    assert (tmp_path / A_URI.rsplit("/", 1)[-1]).read_bytes() == FILES[A_URI]
    manifest = client.download_files(B_URI, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]


def test_server_is_read_at_call_time(client, tmp_path):
    with MastServer(files={A_URI: FILES[A_URI]}) as one, MastServer(files={A_URI: b"other"}) as two:
        with conf.set_temp("server", one.url):
            first = client.download_files([A_URI], download_dir=tmp_path / "one", verbose=False)
        with conf.set_temp("server", two.url):
            second = client.download_files([A_URI], download_dir=tmp_path / "two", verbose=False)
        assert first["URL"][0].startswith(one.url) and second["URL"][0].startswith(two.url)
        assert len(one.downloads()) == 1 and len(two.downloads()) == 1
    assert Path(second["Local Path"][0]).read_bytes() == b"other"


def test_one_failure_does_not_stop_the_others(srv, client, tmp_path):
    missing = "mast:JWST/product/jw01345052001_03101_00009_nrs1_cal.fits"
    files = [A_URI, missing, B_URI, A_URI]          # the repeated URI is fetched once
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "ERROR", "COMPLETE"]
    assert "HTTP 404" in manifest["Message"][1] and missing in manifest["Message"][1]
    assert len(srv.downloads(A_URI)) == 1


def test_rows_without_uri_and_clashing_names(srv, client, tmp_path):
    files = _table(A_URI, B_URI)
    files["dataURI"].mask[1] = True
    clash = "mast:HST/product/" + A_URI.rsplit("/", 1)[-1]
    files.add_row({"filename": "x", "dataURI": clash, "fileSize": len(FILES[A_URI])})
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "ERROR", "ERROR"]
    assert "no dataURI" in manifest["Message"][1]
    assert "same name" in manifest["Message"][2]


def test_concurrency_follows_conf(srv, client, tmp_path, monkeypatch):
    seen = []
    real = dl.ThreadPoolExecutor

    def recording(max_workers, **kwargs):
        seen.append(max_workers)
        return real(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(dl, "ThreadPoolExecutor", recording)
    with conf.set_temp("download_concurrency", 3):
        manifest = client.download_files([A_URI, B_URI, C_URI, BIG_URI], download_dir=tmp_path,
                                         verbose=False)
    assert seen == [3]
    assert _statuses(manifest) == ["COMPLETE"] * 4


def test_streaming_in_blocks(srv, client, tmp_path, monkeypatch):
    writes = []

    class Recorder:
        def __init__(self, fh):
            self._fh = fh

        def write(self, data):
            writes.append(len(data))
            return self._fh.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    monkeypatch.setattr(tr, "_open_part", lambda path, mode: Recorder(open(path, mode)))
    with data_conf.set_temp("download_block_size", 1024):
        manifest = client.download_files(_table(BIG_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert (tmp_path / BIG_URI.rsplit("/", 1)[-1]).read_bytes() == FILES[BIG_URI]
    assert len(writes) >= len(FILES[BIG_URI]) // 1024      # 21 blocks of at most 1 KiB
    assert max(writes) <= 1024 and sum(writes) == len(FILES[BIG_URI])


def test_progress_counts_bytes_and_files(srv, client, tmp_path, monkeypatch):
    from astroquery_nirspec.progress import ProgressBarBase

    made = []

    @contextlib.contextmanager
    def recording(total=None, *, desc, unit="page", enabled=None):
        bar = ProgressBarBase(total)
        bar.desc, bar.unit, bar.enabled = desc, unit, enabled
        made.append(bar)
        yield bar

    monkeypatch.setattr(dl._progress, "progress_bar", recording)
    client.download_files(_table(A_URI, B_URI), download_dir=tmp_path, verbose=True)
    bar = made[-1]
    assert bar.unit == "B" and "2 files" in bar.desc and bar.enabled is None
    assert bar.total == bar.n == len(FILES[A_URI]) + len(FILES[B_URI])
    assert bar.postfix == "files 2/2"
    client.download_files(_table(A_URI), download_dir=tmp_path, verbose=False)
    assert made[-1].enabled is False and made[-1].n == len(FILES[A_URI])   # skipped, counted
    with conf.set_temp("progress", False):
        client.download_files(_table(A_URI), download_dir=tmp_path, verbose=True)
    assert made[-1].enabled is False


# ---------------------------------------------------------------------- interruptions
def test_interrupted_transfer_is_resumed_by_a_rerun(srv, client, tmp_path):
    name = BIG_URI.rsplit("/", 1)[-1]
    srv.add_download_fault(Fault.drop_after(6000), uri=BIG_URI)
    with conf.set_temp("max_retries", 0), data_conf.set_temp("download_block_size", 1024):
        first = client.download_files(_table(BIG_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(first) == ["ERROR"]
    assert "dropped" in first["Message"][0] and "resume" in first["Message"][0]
    part = tmp_path / (name + dl.PART_SUFFIX)
    assert not (tmp_path / name).exists()
    partial = part.stat().st_size
    assert 0 < partial <= 6000
    assert part.read_bytes() == FILES[BIG_URI][:partial]

    second = client.download_files(_table(BIG_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(second) == ["COMPLETE"]
    assert (tmp_path / name).read_bytes() == FILES[BIG_URI]
    assert not part.exists()
    rerun = srv.downloads(BIG_URI)[-1]
    assert {k.lower(): v for k, v in rerun.headers.items()}["range"] == f"bytes={partial}-"
    assert rerun.status == 206


def test_dropped_connection_is_retried_and_resumed(srv, client, tmp_path):
    srv.add_download_fault(Fault.drop_after(3000), uri=BIG_URI)
    srv.add_download_fault(Fault.reset(), uri=BIG_URI)
    with data_conf.set_temp("download_block_size", 1000):
        manifest = client.download_files(_table(BIG_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert (tmp_path / BIG_URI.rsplit("/", 1)[-1]).read_bytes() == FILES[BIG_URI]
    records = srv.downloads(BIG_URI)
    assert len(records) == 3
    last = {k.lower(): v for k, v in records[-1].headers.items()}
    assert last["range"].startswith("bytes=") and records[-1].status == 206


def test_partial_file_is_refetched_when_the_server_ignores_range(srv, client, tmp_path):
    name = A_URI.rsplit("/", 1)[-1]
    (tmp_path / (name + dl.PART_SUFFIX)).write_bytes(b"garbage that is not the start")
    srv.add_download_fault(Fault.http(200, FILES[A_URI], content_type="application/octet-stream"),
                           uri=A_URI)
    manifest = client.download_files(_table(A_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert (tmp_path / name).read_bytes() == FILES[A_URI]
    assert {k.lower(): v for k, v in srv.downloads(A_URI)[0].headers.items()}["range"] == "bytes=29-"


def test_partial_file_longer_than_the_file_starts_again(srv, client, tmp_path):
    name = C_URI.rsplit("/", 1)[-1]
    (tmp_path / (name + dl.PART_SUFFIX)).write_bytes(b"x" * 5000)   # C is 2880 bytes
    manifest = client.download_files(_table(C_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert (tmp_path / name).read_bytes() == FILES[C_URI]


def test_unsatisfiable_range_starts_again(srv, client, tmp_path):
    # no fileSize: a .part as long as the file asks for bytes past its end (HTTP 416)
    name = C_URI.rsplit("/", 1)[-1]
    (tmp_path / (name + dl.PART_SUFFIX)).write_bytes(b"y" * len(FILES[C_URI]))
    with conf.set_temp("max_retries", 0):
        manifest = client.download_files([C_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert [r.status for r in srv.downloads(C_URI)] == [416, 200]
    assert (tmp_path / name).read_bytes() == FILES[C_URI] and _no_part_files(tmp_path)


def test_transient_errors_are_retried(srv, client, tmp_path):
    srv.add_download_fault(Fault.http(503, retry_after=0), uri=A_URI, times=2)
    srv.add_download_fault(Fault.http(429, retry_after=0), uri=B_URI)
    manifest = client.download_files([A_URI, B_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "COMPLETE"]
    assert [r.status for r in srv.downloads(A_URI)] == [503, 503, 200]


def test_retries_are_bounded(srv, client, tmp_path):
    srv.add_download_fault(Fault.http(502), uri=A_URI, times=5)
    with conf.set_temp("max_retries", 2):
        manifest = client.download_files([A_URI, C_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR", "COMPLETE"]
    assert "HTTP 502" in manifest["Message"][0] and "gave up after 2 retries" in manifest["Message"][0]
    assert len(srv.downloads(A_URI)) == 3
    assert not (tmp_path / A_URI.rsplit("/", 1)[-1]).exists()


def test_retry_after_longer_than_the_timeout_is_not_waited_for(srv, client, tmp_path):
    srv.add_download_fault(Fault.http(429, retry_after=3600), uri=A_URI)
    with conf.set_temp("timeout", 30):
        manifest = client.download_files([A_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR"]
    assert "3600" in manifest["Message"][0] and "conf.timeout" in manifest["Message"][0]


def test_a_long_backoff_is_not_blamed_on_the_server(srv, client, tmp_path):
    # the wait comes from conf.retry_backoff, not from a Retry-After header
    srv.add_download_fault(Fault.http(503), uri=A_URI)
    with conf.set_temp("timeout", 30), conf.set_temp("retry_backoff", 100.0):
        manifest = client.download_files([A_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR"]
    message = manifest["Message"][0]
    assert "HTTP 503" in message and "back-off wait of 100.0 s" in message
    assert "conf.retry_backoff" in message and "conf.timeout" in message
    assert "Retry-After" not in message and "server asks" not in message
    assert len(srv.downloads(A_URI)) == 1


def test_downloads_and_queries_share_one_retry_policy(srv, client, tmp_path, monkeypatch):
    made = []
    real = dl.RetryPolicy.from_conf

    def recording():
        made.append(real())
        return made[-1]

    monkeypatch.setattr(dl.RetryPolicy, "from_conf", staticmethod(recording))
    srv.add_download_fault(Fault.http(503, retry_after=0), uri=A_URI)
    with conf.set_temp("max_retries", 1):
        manifest = client.download_files([A_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert [p.max_retries for p in made] == [1]


# ---------------------------------------------------------------------- validation
def test_wrong_size_is_an_error_and_leaves_no_file(srv, client, tmp_path):
    files = _table(A_URI, C_URI, sizes=[len(FILES[A_URI]) + 10, len(FILES[C_URI])])
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR", "COMPLETE"]
    assert "Size mismatch" in manifest["Message"][0]
    assert str(len(FILES[A_URI]) + 10) in manifest["Message"][0]
    assert not (tmp_path / A_URI.rsplit("/", 1)[-1]).exists()
    assert _no_part_files(tmp_path)


def test_short_body_without_error_is_an_error(srv, client, tmp_path):
    # the server's own Content-Length is right, the catalogue's is smaller
    files = _table(A_URI, sizes=[len(FILES[A_URI]) - 1])
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR"] and "Size mismatch" in manifest["Message"][0]
    assert not any(tmp_path.iterdir())


def test_checksum_mismatch_keeps_the_bytes_under_a_marked_name(srv, client, tmp_path):
    # MAST documents no checksum algorithm: a file of the right size is never deleted over it
    files = _table(A_URI, B_URI, checksums=["0" * 32, hashlib.md5(FILES[B_URI]).hexdigest()])
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR", "COMPLETE"]
    name = A_URI.rsplit("/", 1)[-1]
    kept = tmp_path / (name + ".checksum-mismatch")
    assert kept.read_bytes() == FILES[A_URI]                 # every byte kept...
    assert not (tmp_path / name).exists()                    # ...but not under the real name
    assert manifest["Local Path"][0] == str(kept)
    message = manifest["Message"][0]
    assert "Checksum mismatch" in message and "md5" in message and "0" * 32 in message
    assert "does not document" in message and kept.name in message
    assert f"size matches ({len(FILES[A_URI])} bytes, fileSize)" in message
    assert manifest["Verified"].tolist() == ["size (fileSize), md5 MISMATCH", "size (fileSize), md5"]
    assert _no_part_files(tmp_path)
    again = client.download_files(files[:1], download_dir=tmp_path, verbose=False)   # a rerun fetches anew
    assert _statuses(again) == ["ERROR"] and kept.read_bytes() == FILES[A_URI]


def test_a_named_algorithm_that_mismatches_also_keeps_the_bytes(srv, client, tmp_path):
    files = _table(C_URI, checksums=["sha256:" + "1" * 64])
    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR"]
    assert "names its algorithm" in manifest["Message"][0]
    assert (tmp_path / (C_URI.rsplit("/", 1)[-1] + ".checksum-mismatch")).read_bytes() == FILES[C_URI]


@pytest.mark.parametrize("checksum", ["crc32:1234abcd", "3735928559"], ids=["unknown algorithm", "2018 integer"])
def test_unrecognised_checksum_is_not_checked_and_the_manifest_says_so(srv, client, tmp_path, checksum):
    manifest = client.download_files(_table(A_URI, checksums=[checksum]),
                                     download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert manifest["Verified"][0] == "size (fileSize)"
    assert "not checked" in manifest["Message"][0] and checksum in manifest["Message"][0]


def test_verified_says_where_the_size_came_from(srv, client, tmp_path):
    manifest = client.download_files([A_URI], download_dir=tmp_path, verbose=False)   # no fileSize
    assert manifest["Verified"].tolist() == ["size (Content-Length)"]
    again = client.download_files([A_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(again) == ["SKIPPED"] and again["Verified"].tolist() == ["size (Content-Length)"]
    rows = client.download_files(_table(A_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(rows) == ["SKIPPED"] and rows["Verified"].tolist() == ["size (fileSize)"]


# ---------------------------------------------------------------------- existing files
def test_existing_complete_file_is_skipped(srv, client, tmp_path):
    (tmp_path / A_URI.rsplit("/", 1)[-1]).write_bytes(FILES[A_URI])
    (tmp_path / (A_URI.rsplit("/", 1)[-1] + dl.PART_SUFFIX)).write_bytes(b"stale")
    manifest = client.download_files(_table(A_URI, C_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["SKIPPED", "COMPLETE"]
    assert srv.downloads(A_URI) == [] and _no_part_files(tmp_path)


def test_existing_file_without_known_size_is_checked_with_the_server(srv, client, tmp_path):
    (tmp_path / A_URI.rsplit("/", 1)[-1]).write_bytes(FILES[A_URI])
    (tmp_path / C_URI.rsplit("/", 1)[-1]).write_bytes(b"stale")
    manifest = client.download_files([A_URI, C_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["SKIPPED", "COMPLETE"]
    assert (tmp_path / C_URI.rsplit("/", 1)[-1]).read_bytes() == FILES[C_URI]


def test_existing_file_of_the_wrong_size_is_replaced(srv, client, tmp_path):
    target = tmp_path / A_URI.rsplit("/", 1)[-1]
    target.write_bytes(b"truncated")
    manifest = client.download_files(_table(A_URI), download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"] and target.read_bytes() == FILES[A_URI]


# ---------------------------------------------------------------------- path safety
def test_hostile_names_stay_inside_download_dir(client, tmp_path):
    hostile = {
        "mast:JWST/product/../../escape1.fits": b"one",
        "mast:JWST/product/..": b"two",
        "mast:JWST/product/..\\..\\escape2.fits": b"three",
        "mast:JWST/product/link.fits": b"four",
    }
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "a" / "data"
    data.mkdir(parents=True)
    (data / "link.fits").symlink_to(outside / "target.fits")
    with MastServer(files=hostile) as server, conf.set_temp("server", server.url):
        manifest = client.download_files(list(hostile), download_dir=data, verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "ERROR", "ERROR", "ERROR"]
    assert (data / "escape1.fits").read_bytes() == b"one"
    assert all("Unsafe file name" in m for m in manifest["Message"][1:])
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert everything == ["a", os.path.join("a", "data"), os.path.join("a", "data", "escape1.fits"),
                          os.path.join("a", "data", "link.fits"), "outside"]


# ---------------------------------------------------------------------- exclusive access
def test_exclusive_access_without_token(srv, client, tmp_path):
    manifest = client.download_files([SECRET_URI, A_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["ERROR", "COMPLETE"]
    message = manifest["Message"][0]
    assert "HTTP 401" in message and "exclusive access" in message
    assert "NirspecMast.login(token=...)" in message and "MAST_API_TOKEN" in message
    assert "https://auth.mast.stsci.edu/token" in message
    assert not (tmp_path / SECRET_URI.rsplit("/", 1)[-1]).exists()


def test_exclusive_access_with_tokens(srv, client, tmp_path):
    bad = "bad-token-77c1"
    client.login(token=bad)
    with log.log_to_list() as records:
        old = log.level
        log.setLevel(5)
        try:
            refused = client.download_files([SECRET_URI], download_dir=tmp_path, verbose=False)
        finally:
            log.setLevel(old)
    assert _statuses(refused) == ["ERROR"]
    assert "HTTP 403" in refused["Message"][0] and "refused the token" in refused["Message"][0]
    for column in refused.colnames:
        assert bad not in "".join(refused[column])
    assert records and not any(bad in str(r.getMessage()) for r in records)

    client.login(token=GOOD_TOKEN)
    manifest = client.download_files([SECRET_URI], download_dir=tmp_path, verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert (tmp_path / SECRET_URI.rsplit("/", 1)[-1]).read_bytes() == FILES[SECRET_URI]
    headers = {k.lower(): v for k, v in srv.downloads(SECRET_URI)[-1].headers.items()}
    assert headers["authorization"] == f"token {GOOD_TOKEN}"
    client.logout()


# ---------------------------------------------------------------------- CAOM products
PRODUCT_FIELDS = [{"name": n, "type": t} for n, t in [
    ("obsID", "string"), ("obs_collection", "string"), ("dataproduct_type", "string"),
    ("obs_id", "string"), ("description", "string"), ("type", "string"), ("dataURI", "string"),
    ("productType", "string"), ("productGroupDescription", "string"),
    ("productSubGroupDescription", "string"), ("productDocumentationURL", "string"),
    ("project", "string"), ("prvversion", "string"), ("productFilename", "string"),
    ("size", "int"), ("parent_obsid", "string"), ("dataRights", "string"), ("calib_level", "int")]]


def _product(obsid, uri, subgroup, size, group="Minimum Recommended Products"):
    return {"obsID": obsid, "obs_collection": "JWST", "dataproduct_type": "spectrum",
            "obs_id": "jw01345-o052_s00001_nirspec_f170lp-g235m", "description": "spectrum",
            "type": "S", "dataURI": uri, "productType": "SCIENCE",
            "productGroupDescription": group, "productSubGroupDescription": subgroup,
            "productDocumentationURL": "", "project": "CALJWST", "prvversion": "1.17.1",
            "productFilename": uri.rsplit("/", 1)[-1], "size": size, "parent_obsid": str(obsid),
            "dataRights": "PUBLIC", "calib_level": 3}


@pytest.fixture
def products_srv(srv, monkeypatch):
    """The local server with Mast.Caom.Products rows, answered in astroquery's request shape."""
    from astroquery.mast.discovery_portal import PortalAPI

    rows = [_product(101, A_URI, "X1D", len(FILES[A_URI])),
            _product(101, C_URI, "S2D", len(FILES[C_URI])),
            _product(102, BIG_URI, "X1D", len(FILES[BIG_URI])),
            _product(103, B_URI, "CAL", len(FILES[B_URI]), group="")]
    srv.archive.add_service(dl.PRODUCTS_SERVICE, PRODUCT_FIELDS, rows)

    def answer(obsids, times=1):
        reply = srv.process_request({
            "service": dl.PRODUCTS_SERVICE, "format": "json", "pagesize": 50000, "page": 1,
            "params": {"columns": "*", "filters": [{"paramName": "obsID", "values": obsids}]}})
        assert reply["status"] == "COMPLETE"
        srv.add_faults(Fault.http(200, json.dumps(reply), content_type="application/json"), times,
                       match=match_service(dl.PRODUCTS_SERVICE))

    # astroquery first fetches a columns config from <server>/portal/Mashup/Mashup.asmx/
    # columnsconfig, which the local server lacks; an (empty) config is seeded instead.
    monkeypatch.setitem(PortalAPI._column_configs, dl.PRODUCTS_SERVICE, {})
    srv.answer_products = answer
    return srv


def test_astroquery_set_temp_alone_does_not_redirect_observations():
    # why DownloadMixin._observations sets the URLs on the instance (astroquery 0.4.11)
    from astroquery.mast import ObservationsClass
    from astroquery.mast import conf as mast_conf

    with mast_conf.set_temp("server", "http://127.0.0.1:9"):
        observations = ObservationsClass()
        url = observations._portal_api_connection.MAST_REQUEST_URL
        observations._session.close()
    assert not url.startswith("http://127.0.0.1:9")


def test_get_product_list_through_astroquery(products_srv, client):
    from astroquery.mast import Observations
    from astroquery.mast import conf as mast_conf

    before = (mast_conf.server, Observations._portal_api_connection.MAST_REQUEST_URL)
    products_srv.answer_products(["101", "102"])
    report = Table({"target": ["t1", "t2", "t3"], "verdict": ["DUPLICATE", "DUPLICATE", "CLEAR"],
                    "obs_id": ["o1", "o2", "o3"],
                    "obsid": MaskedColumn(["101", "102", ""], mask=[False, False, True])})
    products = client.get_product_list(report)
    assert products.meta["service"] == "Mast.Caom.Products"
    assert sorted(products["dataURI"]) == sorted([A_URI, C_URI, BIG_URI])
    assert set(products["productSubGroupDescription"]) == {"X1D", "S2D"}
    sent = products_srv.requests(dl.PRODUCTS_SERVICE)
    assert len(sent) == 1 and sent[0]["params"] == {"obsid": "101,102"}
    assert (mast_conf.server, Observations._portal_api_connection.MAST_REQUEST_URL) == before


def test_get_product_list_needs_obsid(srv, client):
    with pytest.raises(InvalidQueryError, match="'obsid'"):
        client.get_product_list(Table({"obs_id": ["o1"], "verdict": ["DUPLICATE"]}))
    assert srv.log == []


def test_download_products_filters_then_downloads(products_srv, client, tmp_path):
    products_srv.answer_products(["101", "102", "103"])
    products = client.get_product_list([101, "102", 103])
    manifest = client.download_products(products, download_dir=tmp_path,
                                        productSubGroupDescription="X1D", verbose=False)
    assert _statuses(manifest) == ["COMPLETE", "COMPLETE"]
    assert sorted(Path(p).name for p in manifest["Local Path"]) == sorted(
        u.rsplit("/", 1)[-1] for u in (A_URI, BIG_URI))
    for row in manifest:
        assert row["URL"].startswith(products_srv.url + "/api/v0.1/Download/file?uri=")
    assert sorted(r.uri for r in products_srv.downloads()) == sorted([A_URI, BIG_URI])

    again = client.download_products(products, download_dir=tmp_path, mrp_only=True, verbose=False)
    assert sorted(again["Status"]) == ["COMPLETE", "SKIPPED", "SKIPPED"]   # the S2D is new


def test_download_products_from_a_report(products_srv, client, tmp_path):
    products_srv.answer_products(["103"])
    report = Table({"obs_id": ["o3"], "obsid": ["103"]})
    manifest = client.download_products(report, download_dir=tmp_path, productType="SCIENCE",
                                        verbose=False)
    assert _statuses(manifest) == ["COMPLETE"]
    assert Path(manifest["Local Path"][0]).read_bytes() == FILES[B_URI]


def test_download_products_with_nothing_left(products_srv, client, tmp_path):
    products_srv.answer_products(["101"])
    products = client.get_product_list("101")
    with pytest.warns(NoResultsWarning, match="No products"):
        manifest = client.download_products(products, download_dir=tmp_path,
                                            productSubGroupDescription="UNCAL", verbose=False)
    assert len(manifest) == 0 and manifest.colnames == list(dl.MANIFEST_COLUMNS)


def test_interrupt_stops_pending_downloads(srv, client, tmp_path, monkeypatch):
    def interrupted(path, mode):
        raise KeyboardInterrupt

    monkeypatch.setattr(tr, "_open_part", interrupted)
    srv.latency = 0.2     # the next file cannot be finished before the interrupt is seen
    with conf.set_temp("download_concurrency", 1), pytest.raises(KeyboardInterrupt):
        client.download_files([A_URI, BIG_URI, C_URI], download_dir=tmp_path, verbose=False)
    assert srv.downloads(C_URI) == []
    assert not (tmp_path / BIG_URI.rsplit("/", 1)[-1]).exists()


def test_workers_given_override_conf(srv, client, tmp_path):
    srv.latency = 0.2      # 4 files held 0.2 s each: the workers overlap
    items = [(uri, len(FILES[uri]), None) for uri in (A_URI, B_URI, C_URI, BIG_URI)]
    with conf.set_temp("download_concurrency", 1):
        manifest = client._download_items(items, download_dir=tmp_path, verbose=False, workers=3)
    assert _statuses(manifest) == ["COMPLETE"] * 4
    assert 1 < srv.max_in_flight <= 3


def test_each_row_is_handed_over_in_order_in_the_calling_thread(srv, client, tmp_path):
    import threading
    uris = [A_URI, None, C_URI, "mast:JWST/product/missing.fits"]
    seen = []

    def on_row(index, row):
        whole = row[1] == "COMPLETE" and Path(row[0]).read_bytes() == FILES[uris[index]]
        seen.append((index, row[1], threading.current_thread() is threading.main_thread(), whole))

    items = [(u, len(FILES[u]) if u in FILES else None, None) for u in uris]
    manifest = client._download_items(items, download_dir=tmp_path, verbose=False, workers=2,
                                      on_row=on_row)
    assert _statuses(manifest) == ["COMPLETE", "ERROR", "COMPLETE", "ERROR"]
    # the row refused up front (no URI) is not handed over; each file is whole on disk when it is
    assert seen == [(0, "COMPLETE", True, True), (2, "COMPLETE", True, True), (3, "ERROR", True, False)]


def test_an_error_in_the_row_hook_stops_the_waiting_downloads(srv, client, tmp_path):
    srv.latency = 0.2

    def failing(index, row):
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        client._download_items([(u, len(FILES[u]), None) for u in (A_URI, B_URI, C_URI, BIG_URI)],
                               download_dir=tmp_path, verbose=False, workers=1, on_row=failing)
    assert srv.downloads(C_URI) == [] and srv.downloads(BIG_URI) == []
