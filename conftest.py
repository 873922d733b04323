"""
Test configuration shared by every test of the project.

Tests never read or write the user's astropy/astroquery configuration or cache:
both directories point at fresh temporary folders for the whole session (as pyvo
does), and IERS tables are never downloaded.
"""
import os
import sys
import tempfile
from pathlib import Path

_TMP = tempfile.TemporaryDirectory(prefix="astroquery_nirspec_tests_")
for _var, _sub in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
    _path = Path(_TMP.name) / _sub
    (_path / "astropy").mkdir(parents=True, exist_ok=True)
    os.environ[_var] = str(_path)
os.environ["ASTROPY_CONFIG_DIR"] = str(Path(_TMP.name) / "config" / "astropy")
os.environ["ASTROPY_CACHE_DIR"] = str(Path(_TMP.name) / "cache" / "astropy")
os.environ.pop("MAST_API_TOKEN", None)
os.environ.setdefault("MPLBACKEND", "Agg")

# tests/ holds helper modules (the local MAST server) imported by name
sys.path.insert(0, str(Path(__file__).parent / "tests"))

from astropy.utils import iers  # noqa: E402

iers.conf.auto_download = False


def pytest_unconfigure(config):
    _TMP.cleanup()
