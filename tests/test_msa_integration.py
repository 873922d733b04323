"""
MOS checks at the shutter, end to end through the local MAST server (issue 11).

The archive holds one executed MOS observation of programme 1345 (observation 63) in CAOM
and its exposures in ``Mast.Jwst.Filtered.Nirspec`` naming their MSA metadata file, which
the server's download endpoint serves; the file is written by the test in the jwst
pipeline's layout (``tests/msa_files.py``).
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from astroquery_nirspec import NirspecMast
from mast_double import (CAOM_POSITION_SERVICE, NIRSPEC_SERVICE, caom_row, make_archive,
                         make_nirspec_rows, msa_uri)
from msa_files import msa_source, slitlet, write_msa_file

CENTER = SkyCoord(53.16 * u.deg, -27.79 * u.deg)
MSA_FILE = "jw01345063001_01_msa.fits"
TARGET = {"name": "GS-1", "ra": 53.16, "dec": -27.79, "aperture": "MSA", "grating": "G395H",
          "filter": "F290LP", "exposure_time": 1000.0}


def _nirspec_rows(n_exposures=3):
    template = make_nirspec_rows(1, seed=0)[0]
    return [dict(template, ArchiveFileID=900000 + k, filename=f"jw01345063001_03101_0000{k}_nrs1_cal.fits",
                 program=1345, observtn=63, visit=1, exp_type="NRS_MSASPEC", grating="G395H",
                 filter="F290LP", targ_ra=53.161, targ_dec=-27.791, msametfl=MSA_FILE)
            for k in range(1, n_exposures + 1)]


def _caom(planned=False):
    return [caom_row(proposal_id="1345", instrument_name="NIRSPEC/MSA", filters="F290LP;G395H",
                     calib_level=-1 if planned else 3, s_ra=53.162, s_dec=-27.789, t_exptime=1500.0,
                     intentType="science", obs_id="jw01345-o063_s00001_nirspec_f290lp-g395h")]


def _msa_bytes(tmp_path, offset):
    """An MSA file whose one primary source in an open shutter lies ``offset`` from the target."""
    at = CENTER.directional_offset_by(45 * u.deg, offset)
    path = tmp_path / MSA_FILE
    write_msa_file(path, [msa_source(7, float(at.ra.deg), float(at.dec.deg), name="1345_7")],
                   slitlet(1, 7))
    return path.read_bytes()


@pytest.fixture
def archive_server(local_mast):
    def start(offset=0.1 * u.arcsec, planned=False, tmp_path=None):
        srv = local_mast(make_archive(nirspec_rows=_nirspec_rows(), caom_rows=_caom(planned)),
                         pagesize=50000, timeout=30.0)()
        srv.add_file(msa_uri(MSA_FILE), _msa_bytes(tmp_path, offset))
        return srv
    return start


def _row(report, target="GS-1"):
    rows = report[(report["target"] == target) & (report["observation"] == "jw01345-o063")]
    assert len(rows) == 1
    return rows[0]


def test_a_target_in_an_open_shutter_is_a_duplicate(archive_server, tmp_path):
    srv = archive_server(tmp_path=tmp_path)
    row = _row(NirspecMast.check_duplicates([TARGET]))
    assert row["verdict"] == "DUPLICATE"
    assert not np.ma.is_masked(row["source_observed"]) and bool(row["source_observed"])
    assert row["source_name"] == "1345_7" and row["source_separation"] < 0.5
    assert srv.count(CAOM_POSITION_SERVICE) == 1 and srv.count(NIRSPEC_SERVICE) == 1
    assert srv.download_counts()[msa_uri(MSA_FILE)] == 1


def test_the_same_field_without_a_shutter_on_the_target_is_possible(archive_server, tmp_path):
    archive_server(offset=5 * u.arcsec, tmp_path=tmp_path)
    row = _row(NirspecMast.check_duplicates([TARGET]))
    assert row["verdict"] == "POSSIBLE"
    assert not row["source_observed"]
    assert "not in an open shutter" in row["reason"] and "1345_7" in row["reason"]
    assert abs(row["source_separation"] - 5.0) < 0.1


def test_msa_sources_false_gives_the_field_level_answer(archive_server, tmp_path):
    srv = archive_server(offset=5 * u.arcsec, tmp_path=tmp_path)
    report = NirspecMast.check_duplicates([TARGET], msa_sources=False)
    assert _row(report)["verdict"] == "DUPLICATE"
    assert "source_observed" not in report.colnames
    assert srv.count(NIRSPEC_SERVICE) == 0 and not srv.download_counts()


def test_a_planned_mos_observation_keeps_the_field_rules(archive_server, tmp_path):
    archive_server(offset=5 * u.arcsec, planned=True, tmp_path=tmp_path)
    row = _row(NirspecMast.check_duplicates([TARGET]))
    assert row["verdict"] == "DUPLICATE"
    assert np.ma.is_masked(row["source_observed"])


def test_each_msa_file_is_fetched_once_for_many_targets(archive_server, tmp_path):
    srv = archive_server(tmp_path=tmp_path)
    targets = [dict(TARGET, name=f"GS-{k}", ra=53.16 + k * 1e-4) for k in range(1, 30)]
    report = NirspecMast.check_duplicates(targets)
    assert set(report["target"]) == {t["name"] for t in targets}
    assert srv.count(CAOM_POSITION_SERVICE) == 1 and srv.count(NIRSPEC_SERVICE) == 1
    assert srv.download_counts()[msa_uri(MSA_FILE)] == 1


def test_the_command_line_reads_msa_sources_unless_told_not_to(archive_server, tmp_path, capsys):
    from astropy.table import Table

    from astroquery_nirspec.cli import main
    srv = archive_server(offset=5 * u.arcsec, tmp_path=tmp_path)
    path = tmp_path / "targets.ecsv"
    Table(rows=[TARGET]).write(path)
    assert main(["duplicates", str(path), "--server", srv.url, "--no-cache"]) == 0   # POSSIBLE only
    assert "source_observed" in capsys.readouterr().out
    assert main(["duplicates", str(path), "--server", srv.url, "--no-cache", "--no-msa-sources"]) == 1
    assert "source_observed" not in capsys.readouterr().out


def _many_mos_archive(tmp_path, n):
    """``n`` executed MOS observations (63, 64, ...) at the target, each with its own MSA file."""
    nirspec, caom, files = [], [], {}
    for k in range(n):
        observation = 63 + k
        name = f"jw01345{observation:03d}001_01_msa.fits"
        nirspec += [dict(row, ArchiveFileID=row["ArchiveFileID"] + 10 * k, observtn=observation,
                         msametfl=name, filename=row["filename"].replace("063001", f"{observation:03d}001"))
                    for row in _nirspec_rows(2)]
        caom += [dict(_caom()[0], obs_id=f"jw01345-o{observation:03d}_s00001_nirspec_f290lp-g395h")]
        path = tmp_path / name
        write_msa_file(path, [msa_source(7, 53.16, -27.79, name="1345_7")], slitlet(1, 7))
        files[msa_uri(name)] = path.read_bytes()
    return make_archive(nirspec_rows=nirspec, caom_rows=caom), files


@pytest.mark.parametrize("pages, downloads", [(1, 4), (3, 1)])
def test_msa_files_download_with_the_bound_of_the_check(local_mast, tmp_path, pages, downloads):
    archive, files = _many_mos_archive(tmp_path, 6)
    srv = local_mast(pagesize=50000, timeout=30.0, max_concurrent_pages=pages,
                     download_concurrency=downloads)(archive, files=files, latency=0.2)
    report = NirspecMast.check_duplicates([TARGET])
    assert sorted(srv.download_counts().values()) == [1] * 6
    assert len(report) == 6 and report["source_observed"].tolist() == [True] * 6
    # one field and one lookup: only the downloads can overlap, up to max_concurrent_pages
    assert srv.max_in_flight <= pages
    if pages > downloads:
        assert srv.max_in_flight > downloads
