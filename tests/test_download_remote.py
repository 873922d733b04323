"""
Downloads from the live MAST (run with ``python -m pytest --remote-data``).

One small public NIRSpec ``_x1d.fits`` of programme 1345 (CEERS, an Early Release
Science programme without exclusive access) is found with ``query_filtered`` and
downloaded with `~astroquery_nirspec.download.DownloadMixin.download_files`; this
also checks, against the real service, that ``fileSize`` and the 32-digit
``checksum`` of ``Mast.Jwst.Filtered.Nirspec`` describe the file as served (the
checksum is assumed to be its MD5).
"""
import warnings
from pathlib import Path

import pytest
from astropy.io import fits
from astroquery.exceptions import MaxResultsWarning

from astroquery_nirspec import NirspecMastClass
from astroquery_nirspec.download import DownloadMixin

pytestmark = pytest.mark.remote_data

if issubclass(NirspecMastClass, DownloadMixin):
    _Client = NirspecMastClass
else:
    class _Client(DownloadMixin, NirspecMastClass):
        pass


@pytest.fixture
def client():
    c = _Client()
    yield c
    c._session.close()


def test_download_one_public_x1d(client, tmp_path):
    with warnings.catch_warnings():   # "only the first 1 of N rows": one file is what is wanted
        warnings.simplefilter("ignore", MaxResultsWarning)
        files = client.query_filtered(program="1345", filename="*_x1d.fits",
                                      fileSize=(None, 20_000_000), row_limit=1)
    assert len(files) == 1
    row = files[0]
    assert str(row["dataURI"]).startswith("mast:JWST/product/")

    manifest = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert manifest["Status"].tolist() == ["COMPLETE"], manifest["Message"][0]
    path = Path(manifest["Local Path"][0])
    assert path.parent == tmp_path and path.name == str(row["dataURI"]).rsplit("/", 1)[-1]
    assert path.stat().st_size == int(row["fileSize"])
    with fits.open(path) as hdul:
        assert hdul[0].header["INSTRUME"] == "NIRSPEC"
        assert hdul[0].header["PROGRAM"].lstrip("0") == "1345"
        assert "EXTRACT1D" in [hdu.name for hdu in hdul]

    again = client.download_files(files, download_dir=tmp_path, verbose=False)
    assert again["Status"].tolist() == ["SKIPPED"]
