"""The duplicate check's "sky fields" progress bar advances once per field (issue 12)."""
import contextlib

from astroquery_nirspec import NirspecMast
from astroquery_nirspec import core
from mast_double import CAOM_POSITION_SERVICE, caom_row, make_archive

ROW = {"aperture": "S200A1", "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}
FIELDS = [(53.16, -27.79), (150.1, 2.2), (210.8, 54.3), (10.7, 41.3)]


class _Recorder:
    def __init__(self, total, desc):
        self.total, self.desc, self.steps = total, desc, []

    def update(self, n=1):
        self.steps.append(n)


def test_the_bar_advances_once_per_sky_field(local_mast, monkeypatch):
    bars = []

    @contextlib.contextmanager
    def recording_bar(total=None, *, desc, unit="page", enabled=None):
        bars.append(_Recorder(total, desc))
        yield bars[-1]

    monkeypatch.setattr(core, "progress_bar", recording_bar)
    rows = [caom_row(s_ra=ra + 1e-5, s_dec=dec, instrument_name="NIRSPEC/SLIT", calib_level=3)
            for ra, dec in FIELDS]
    server = local_mast(max_concurrent_pages=2)(make_archive(caom_rows=rows))
    targets = [dict(ROW, name=f"T{i}", ra=ra, dec=dec) for i, (ra, dec) in enumerate(FIELDS)]
    report = NirspecMast.check_duplicates(targets, msa_sources=False)
    fields = [bar for bar in bars if bar.desc == "sky fields"]
    assert len(fields) == 1
    assert fields[0].total == len(FIELDS) == server.count(CAOM_POSITION_SERVICE)
    assert fields[0].steps == [1] * len(FIELDS)
    assert sorted(set(report["field"])) == list(range(len(FIELDS)))
