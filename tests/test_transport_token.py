"""
The MAST token goes only to MAST hosts over HTTPS (or the configured loopback server),
also across the redirects of a download.

Two tiny HTTP servers on 127.0.0.1 stand for two hosts: ``mast`` (``conf.server``)
and ``elsewhere``. Two ports make two origins, and the token rule compares origins
(scheme, host, port) for loopback URLs, so a redirect from one port to the other is a
redirect to another host. ``localhost`` against ``127.0.0.1`` would also be two host
names for the same machine, but two servers show on their own logs who received
what. An HTTPS MAST host (``*.stsci.edu``) cannot be served here, so those hops are
answered by a requests transport adapter mounted for ``https://`` that records the
request instead of sending it.
"""
import http.server
import io
import threading
import urllib.parse

import pytest
import requests
from astroquery.exceptions import LoginError

from astroquery_nirspec import NirspecMastClass, conf
from astroquery_nirspec.transport import may_send_token

TOKEN = "tok-77-SECRET-redirects"
URI = "mast:JWST/product/jw01345-o052_s00001_nirspec_f170lp-g235m_x1d.fits"
NAME = URI.rsplit("/", 1)[-1]
DATA = bytes(range(256)) * 20


class TinyServer:
    """
    A loopback HTTP server answering GETs from ``routes``: path -> callable(handler) giving
    ``(status, headers, body)``. Every request is logged as (path, Authorization header).
    """

    def __init__(self):
        self.routes, self.log = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                server.log.append((path, self.headers.get("Authorization")))
                status, headers, body = server.routes.get(path, lambda h: (404, {}, b"no"))(self)
                self.send_response(status)
                for key, value in headers.items():
                    if value is not None:          # None: leave the header out
                        self.send_header(key, value)
                if "Content-Length" not in headers and body is not None:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def redirect(to):
    return lambda handler: (302, {"Location": to}, b"")


def serve_file(needs_token):
    def answer(handler):
        if needs_token and handler.headers.get("Authorization") != f"token {TOKEN}":
            return 401, {}, b"Unauthorized"
        return 200, {"Content-Type": "application/octet-stream"}, DATA
    return answer


class RecordingHTTPS(requests.adapters.BaseAdapter):
    """Answers every https:// request with the file, recording (url, Authorization)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def send(self, request, **kwargs):
        self.seen.append((request.url, request.headers.get("Authorization")))
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response.headers["Content-Length"] = str(len(DATA))
        response.raw = io.BytesIO(DATA)
        return response

    def close(self):
        pass


DOWNLOAD = "/api/v0.1/Download/file"


@pytest.fixture
def hosts():
    with TinyServer() as mast, TinyServer() as elsewhere, conf.set_temp("server", mast.url), \
            conf.set_temp("retry_backoff", 0.0), conf.set_temp("progress", False):
        yield mast, elsewhere


@pytest.fixture
def client():
    c = NirspecMastClass()
    c.login(token=TOKEN)
    yield c
    c.logout()
    c._session.close()


def download(client, tmp_path):
    return client.download_files([URI], download_dir=tmp_path, verbose=False)


# ---------------------------------------------------------------------- the rule alone
@pytest.mark.parametrize("url, allowed", [
    ("https://mast.stsci.edu/api/v0.1/Download/file?uri=x", True),
    ("https://archive.stsci.edu/x", True),
    ("https://MAST.STSCI.EDU:443/x", True),
    ("https://stsci.edu/x", True),
    ("http://mast.stsci.edu/x", False),                 # not over HTTPS
    ("https://mast.stsci.edu.example.org/x", False),
    ("https://evilstsci.edu/x", False),
    ("https://s3.us-east-1.amazonaws.com/stpubdata/x", False),
    ("http://127.0.0.1:8123/x", True),                  # the configured loopback server
    ("http://127.0.0.1:8124/x", False),                 # another port: another origin
    ("https://127.0.0.1:8123/x", False),                # another scheme: another origin
    ("http://localhost:8123/x", False),                 # another host name
])
def test_who_may_receive_the_token(url, allowed):
    assert may_send_token(url, server="http://127.0.0.1:8123") is allowed


def test_the_rule_reads_conf_server_at_call_time():
    with conf.set_temp("server", "http://localhost:9000"):
        assert may_send_token("http://localhost:9000/api/v0/invoke")
        assert not may_send_token("http://127.0.0.1:9000/api/v0/invoke")


# ---------------------------------------------------------------------- redirects of downloads
def test_a_redirect_on_the_mast_host_keeps_the_token(hosts, client, tmp_path):
    mast, _ = hosts
    mast.routes[DOWNLOAD] = redirect(f"{mast.url}/files/{NAME}")
    mast.routes[f"/files/{NAME}"] = serve_file(needs_token=True)
    manifest = download(client, tmp_path)
    assert manifest["Status"].tolist() == ["COMPLETE"], manifest["Message"][0]
    assert (tmp_path / NAME).read_bytes() == DATA
    assert mast.log == [(DOWNLOAD, f"token {TOKEN}"), (f"/files/{NAME}", f"token {TOKEN}")]


@pytest.mark.parametrize("needs_token", [False, True], ids=["public file", "file needing the token"])
def test_a_redirect_to_another_host_drops_the_token(hosts, client, tmp_path, needs_token):
    mast, elsewhere = hosts
    mast.routes[DOWNLOAD] = redirect(f"{elsewhere.url}/bucket/{NAME}")
    elsewhere.routes[f"/bucket/{NAME}"] = serve_file(needs_token=needs_token)
    manifest = download(client, tmp_path)
    assert mast.log == [(DOWNLOAD, f"token {TOKEN}")]
    assert elsewhere.log == [(f"/bucket/{NAME}", None)]
    if not needs_token:
        assert manifest["Status"].tolist() == ["COMPLETE"]
        return
    assert manifest["Status"].tolist() == ["ERROR"]           # and the message says why
    message = manifest["Message"][0]
    assert "HTTP 401" in message and "redirected to 127.0.0.1:" in message
    assert "not a MAST host" in message and TOKEN not in message


def test_a_chain_back_to_mast_sends_the_token_only_to_mast(hosts, client, tmp_path):
    mast, elsewhere = hosts
    mast.routes[DOWNLOAD] = redirect(f"{elsewhere.url}/hop")
    elsewhere.routes["/hop"] = redirect(f"{mast.url}/files/{NAME}")
    mast.routes[f"/files/{NAME}"] = serve_file(needs_token=True)
    manifest = download(client, tmp_path)
    assert manifest["Status"].tolist() == ["COMPLETE"]
    assert elsewhere.log == [("/hop", None)]
    assert [auth for _, auth in mast.log] == [f"token {TOKEN}"] * 2


@pytest.mark.parametrize("target, keeps", [
    ("https://archive.stsci.edu/files/" + NAME, True),
    ("https://s3.amazonaws.com/stpubdata/" + NAME, False),
])
def test_https_hops_keep_the_token_only_on_mast_hosts(hosts, client, tmp_path, target, keeps):
    mast, _ = hosts
    mast.routes[DOWNLOAD] = redirect(target)
    https = RecordingHTTPS()
    client._session.mount("https://", https)
    manifest = download(client, tmp_path)
    assert manifest["Status"].tolist() == ["COMPLETE"], manifest["Message"][0]
    assert https.seen == [(target, f"token {TOKEN}" if keeps else None)]
    assert (tmp_path / NAME).read_bytes() == DATA


def test_a_redirect_loop_ends(hosts, client, tmp_path):
    mast, _ = hosts
    mast.routes[DOWNLOAD] = redirect(f"{mast.url}{DOWNLOAD}?uri=again")
    manifest = download(client, tmp_path)
    assert manifest["Status"].tolist() == ["ERROR"] and "redirects" in manifest["Message"][0]
    assert len(mast.log) == 11


def test_a_file_with_no_announced_size_is_marked_unverified(hosts, tmp_path):
    mast, _ = hosts

    def no_length(handler):          # HTTP/1.0: the body ends when the connection closes
        return 200, {"Content-Length": None}, DATA

    mast.routes[DOWNLOAD] = no_length
    client = NirspecMastClass()
    try:
        manifest = download(client, tmp_path)
    finally:
        client._session.close()
    assert manifest["Status"].tolist() == ["COMPLETE"]
    assert manifest["Verified"].tolist() == ["unverified"]
    assert (tmp_path / NAME).read_bytes() == DATA


def test_plain_http_elsewhere_is_refused_before_any_request(client, tmp_path):
    with conf.set_temp("server", "http://mast.example.org"), pytest.raises(LoginError):
        download(client, tmp_path)
