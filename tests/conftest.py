"""
Fixtures shared by the integration suites: a local MAST server with fast settings.

``mast_server_factory(archive=None, **server_kwargs)`` starts a `mast_double.MastServer`
(default archive: 200 synthetic NIRSpec rows) and stops it when the test ends.

``local_mast(default_archive, **settings)`` applies ``settings`` (over fast retry and
poll defaults) to `astroquery_nirspec.conf`, gives ``NirspecMast`` a private cache
directory, logs it out, and returns ``start(archive=default_archive, **server_kwargs)``
which starts a `mast_double.MastServer` and points ``conf.server`` at it. Everything is
undone when the test ends.
"""
import contextlib

import pytest

from astroquery_nirspec import NirspecMast, conf
from mast_double import MastServer, make_archive

#: Fast defaults for local servers: tests of retries and polls run in milliseconds.
FAST_SETTINGS = {"retry_backoff": 0.01, "poll_interval": 0.01, "timeout": 20.0, "max_retries": 3,
                 "row_limit": -1, "progress": False}


@pytest.fixture
def local_mast(monkeypatch, tmp_path):
    monkeypatch.delenv("MAST_API_TOKEN", raising=False)
    monkeypatch.setattr(NirspecMast, "_cache_location", tmp_path / "cache")
    NirspecMast.logout()
    with contextlib.ExitStack() as stack:
        stack.callback(NirspecMast.logout)

        def configure(default_archive=None, **settings):
            for name, value in {**FAST_SETTINGS, **settings}.items():
                stack.enter_context(conf.set_temp(name, value))

            def start(archive=default_archive, **kwargs):
                server = stack.enter_context(MastServer(archive, **kwargs))
                stack.enter_context(conf.set_temp("server", server.url))
                return server
            return start
        yield configure


@pytest.fixture
def mast_server_factory():
    with contextlib.ExitStack() as stack:
        def start(archive=None, **kwargs):
            archive = make_archive(n_nirspec=200) if archive is None else archive
            return stack.enter_context(MastServer(archive, **kwargs))
        yield start
