"""
Offline tests of the MOS source-level check: MSA metadata files (written here in the jwst
pipeline's layout by `msa_files`), the metadata lookups, and the evidence added to a report.

Positions are offset with `SkyCoord.directional_offset_by`: the tests do no angle arithmetic.
"""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.duplication import evaluate, group_observations, read_targets
from astroquery_nirspec.duplication.msa import (
    MSA_LOOKUP_COLUMNS,
    SOURCE_RADIUS,
    MsaMetadataError,
    apply_source_evidence,
    msa_file_observation,
    msa_files,
    msa_lookup_requests,
    read_msa_sources,
    sources_by_observation,
)
from astroquery_nirspec.sky import cone_box
from msa_files import msa_source, slitlet, write_msa_file

FIELD = SkyCoord(53.16 * u.deg, -27.78 * u.deg)
DJA_CSV = (Path(__file__).parents[1].parent / "shared" / "data" / "dja"
           / "dja_dashboard_nirspec_jwst_filtered.csv")


def offset(coord, arcsec, angle=0.0):
    return coord.directional_offset_by(angle * u.deg, arcsec * u.arcsec)


def at(coord):
    return float(coord.ra.deg), float(coord.dec.deg)


# ---------------------------------------------------------------------------------------------
# The files written by the test helper have the documented layout
# ---------------------------------------------------------------------------------------------

def test_written_file_has_the_pipeline_layout(tmp_path):
    path = write_msa_file(tmp_path / "jw01345063001_01_msa.fits",
                          [msa_source(7, *at(FIELD))], slitlet(1, 7))
    with fits.open(path) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "SHUTTER_IMAGE", "SHUTTER_INFO", "SOURCE_INFO"]
        assert hdus["SHUTTER_IMAGE"].data.shape == (730, 342)
        shutters, sources = hdus["SHUTTER_INFO"].data, hdus["SOURCE_INFO"].data
        assert shutters.names[:12] == [
            "slitlet_id", "msa_metadata_id", "shutter_quadrant", "shutter_row", "shutter_column",
            "source_id", "background", "shutter_state", "estimated_source_in_shutter_x",
            "estimated_source_in_shutter_y", "dither_point_index", "primary_source"]
        assert sources.names == ["program", "source_id", "source_name", "alias", "ra", "dec",
                                 "preimage_id", "stellarity"]
        assert shutters["shutter_row"].dtype == np.dtype(">i2")
        assert shutters["source_id"].dtype == np.dtype(">i4")
        assert shutters["estimated_source_in_shutter_x"].dtype == np.dtype(">f4")
        assert sources["ra"].dtype == np.dtype(">f8")
        # 3 dither points x 3 shutters, the source primary in one shutter per point
        assert len(shutters) == 9
        assert list(shutters["primary_source"]).count("Y") == 3
        assert set(shutters["shutter_state"]) == {"OPEN"}


# ---------------------------------------------------------------------------------------------
# read_msa_sources
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def deep_field_file(tmp_path):
    """Source 7 observed; 9 only catalogued; 11 in a closed slitlet; 13 a secondary source."""
    sources = [msa_source(7, *at(FIELD)), msa_source(9, *at(offset(FIELD, 20))),
               msa_source(11, *at(offset(FIELD, 30))), msa_source(13, *at(offset(FIELD, 40)))]
    secondary = slitlet(4, 13)
    for row in secondary:
        row["primary_source"] = "N"
    shutters = (slitlet(1, 7) + slitlet(2, 0, row=20) + slitlet(3, 11, row=30, state="CLOSED")
                + secondary)
    return write_msa_file(tmp_path / "jw01345063001_01_msa.fits", sources, shutters)


def test_only_primary_sources_of_open_shutters(deep_field_file):
    sources = read_msa_sources(deep_field_file)
    assert sources.colnames == ["source_id", "source_name", "alias", "ra", "dec", "fixed_slit"]
    assert sources["source_id"].tolist() == [7]
    assert sources["source_name"][0] == "1345_7"
    assert sources["ra"].unit == u.deg and sources["dec"].unit == u.deg
    assert sources["ra"][0] == pytest.approx(FIELD.ra.deg)
    assert sources["fixed_slit"][0] == ""
    assert sources.meta["msa_file"] == "jw01345063001_01_msa.fits"
    assert sources.meta["shutter_rows"] == 36
    assert sources.meta["open_primary_rows"] == 3
    assert sources.meta["not_open_rows"] == 9
    assert sources.meta["unlocated"] == []


def test_path_string_and_hdulist_give_the_same_sources(deep_field_file):
    from_path = read_msa_sources(Path(deep_field_file))
    from_str = read_msa_sources(str(deep_field_file))
    with fits.open(deep_field_file) as hdus:
        from_hdus = read_msa_sources(hdus)
    assert from_path["source_id"].tolist() == from_str["source_id"].tolist() == \
        from_hdus["source_id"].tolist() == [7]
    assert from_hdus.meta["msa_file"] == ""


def test_flags_are_compared_without_case_or_blanks(tmp_path):
    rows = slitlet(1, 7)
    for row in rows:
        row["shutter_state"] = row["shutter_state"].lower()
        row["primary_source"] = row["primary_source"].lower()
    path = write_msa_file(tmp_path / "m.fits", [msa_source(7, *at(FIELD))], rows)
    assert read_msa_sources(path)["source_id"].tolist() == [7]


def test_upper_case_column_names_are_read(deep_field_file, tmp_path):
    with fits.open(deep_field_file) as hdus:
        renamed = [hdus[0].copy(), hdus[1].copy()]
        for name in ("SHUTTER_INFO", "SOURCE_INFO"):
            hdu = hdus[name]
            renamed.append(fits.BinTableHDU.from_columns(
                [fits.Column(name=c.name.upper(), format=c.format, array=hdu.data[c.name])
                 for c in hdu.columns], name=name))
        fits.HDUList(renamed).writeto(tmp_path / "upper.fits")
    assert read_msa_sources(tmp_path / "upper.fits")["source_id"].tolist() == [7]


def test_every_configuration_and_dither_point_counts_once(tmp_path):
    sources = [msa_source(i, *at(offset(FIELD, i))) for i in (1, 2, 3)]
    shutters = (slitlet(1, 1, metadata_id=1) + slitlet(2, 2, metadata_id=2, row=40)
                + slitlet(3, 1, metadata_id=2, row=50, dither_points=2))
    path = write_msa_file(tmp_path / "m.fits", sources, shutters, image=False)
    out = read_msa_sources(path)
    assert out["source_id"].tolist() == [1, 2]
    assert out.meta["open_primary_rows"] == 3 + 3 + 2


def test_sources_without_a_catalogue_position_are_reported_not_kept(tmp_path):
    sources = [msa_source(7, *at(FIELD)), msa_source(8, np.nan, -27.8)]
    shutters = slitlet(1, 7) + slitlet(2, 8, row=20) + slitlet(3, -5, row=30)   # -5: virtual
    out = read_msa_sources(write_msa_file(tmp_path / "m.fits", sources, shutters))
    assert out["source_id"].tolist() == [7]
    assert out.meta["unlocated"] == [-5, 8]


def test_fixed_slit_sources_are_kept_with_their_slit(tmp_path):
    sources = [msa_source(7, *at(FIELD)), msa_source(2, *at(offset(FIELD, 60)))]
    shutters = slitlet(1, 7) + slitlet(100, 2, fixed_slit="S200A1")
    out = read_msa_sources(write_msa_file(tmp_path / "m.fits", sources, shutters))
    assert out["source_id"].tolist() == [2, 7]
    assert out["fixed_slit"].tolist() == ["S200A1", ""]


def test_older_files_without_fixed_slit_column(tmp_path):
    path = write_msa_file(tmp_path / "m.fits", [msa_source(7, *at(FIELD))], slitlet(1, 7),
                          fixed_slit_column=False)
    out = read_msa_sources(path)
    assert out["source_id"].tolist() == [7] and out["fixed_slit"].tolist() == [""]


def test_no_observed_source_gives_an_empty_table(tmp_path):
    path = write_msa_file(tmp_path / "m.fits", [msa_source(7, *at(FIELD))], slitlet(1, 0))
    out = read_msa_sources(path)
    assert len(out) == 0
    assert out.colnames == ["source_id", "source_name", "alias", "ra", "dec", "fixed_slit"]


@pytest.mark.parametrize("drop, what", [("primary_source", "SHUTTER_INFO table lacks"),
                                        ("shutter_state", "shutter_state"),
                                        ("ra", "SOURCE_INFO table lacks the column(s) ra")])
def test_missing_columns_are_named(tmp_path, drop, what):
    path = write_msa_file(tmp_path / "m.fits", [msa_source(7, *at(FIELD))], slitlet(1, 7),
                          drop_columns=[drop])
    with pytest.raises(MsaMetadataError, match=r"m\.fits") as err:
        read_msa_sources(path)
    assert what in str(err.value) and drop in str(err.value)


def test_missing_table_and_unreadable_files(tmp_path):
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "empty.fits")
    with pytest.raises(MsaMetadataError, match="no SHUTTER_INFO table"):
        read_msa_sources(tmp_path / "empty.fits")
    (tmp_path / "junk.fits").write_text("<html>Not found</html>")
    with pytest.raises(MsaMetadataError, match="Cannot read the MSA metadata file .*junk.fits"):
        read_msa_sources(tmp_path / "junk.fits")
    with pytest.raises(MsaMetadataError, match="Cannot read .*absent.fits"):
        read_msa_sources(tmp_path / "absent.fits")
    with pytest.raises(InvalidQueryError, match="path or an astropy.io.fits.HDUList, got int"):
        read_msa_sources(5)


# ---------------------------------------------------------------------------------------------
# msa_file_observation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("jw01345063001_01_msa.fits", (1345, 63, 1)),
    ("JW01180025001_01_MSA.FITS", (1180, 25, 1)),
    ("jw09263005004_01_msa.fits", (9263, 5, 4)),
    ("jw12529013001_02_msa.fits", (12529, 13, 1)),
    ("/cache/mastDownload/JWST/jw04713002001_01_msa.fits", (4713, 2, 1)),
    (Path("jw04713002001_01_msa.fits.gz"), (4713, 2, 1)),
    ("jw04713002001_03101_00002_nrs1_cal.fits", None),
    ("jw04713-o002_msa.fits", None),
    ("", None),
    (None, None),
    (np.ma.masked, None),
])
def test_msa_file_observation(name, expected):
    assert msa_file_observation(name) == expected


# ---------------------------------------------------------------------------------------------
# msa_lookup_requests
# ---------------------------------------------------------------------------------------------

def test_one_lookup_per_field_for_executed_mos_exposures():
    centers = SkyCoord([53.16, 34.4, 150.1] * u.deg, [-27.78, -5.2, 2.2] * u.deg)
    radii = [8, 9, 10] * u.arcmin
    requests = msa_lookup_requests(centers, radii, pagesize=1234)
    assert len(requests) == 3
    for request, center, radius in zip(requests, centers, radii):
        assert request["service"] == "Mast.Jwst.Filtered.Nirspec"
        assert request["format"] == "json" and request["pagesize"] == 1234 and request["page"] == 1
        assert request["params"]["columns"] == MSA_LOOKUP_COLUMNS
        filters = request["params"]["filters"]
        assert filters[0] == {"paramName": "exp_type", "values": ["NRS_MSASPEC"]}
        ra_range, dec_range = cone_box(center, radius)
        assert filters[1] == {"paramName": "targ_ra", "values": [{"min": ra_range[0], "max": ra_range[1]}]}
        assert filters[2] == {"paramName": "targ_dec", "values": [{"min": dec_range[0], "max": dec_range[1]}]}
    json.dumps(requests)     # sendable as is


def test_lookup_box_encloses_the_field_and_wraps_at_ra_zero():
    request, = msa_lookup_requests(SkyCoord(53.16 * u.deg, -27.78 * u.deg), 10 * u.arcmin,
                                   pagesize=10)
    ra = request["params"]["filters"][1]["values"][0]
    edge = offset(SkyCoord(53.16 * u.deg, -27.78 * u.deg), 600, angle=90)
    assert ra["min"] < 53.16 < ra["max"] and ra["max"] > edge.ra.deg
    wrapped, = msa_lookup_requests(SkyCoord(0.01 * u.deg, 0 * u.deg), 2 * u.arcmin, pagesize=10)
    assert [f["paramName"] for f in wrapped["params"]["filters"]] == ["exp_type", "targ_dec"]


def test_scalar_center_and_scalar_radius_for_many_centers():
    assert len(msa_lookup_requests(FIELD, 5 * u.arcmin, pagesize=10)) == 1
    two = msa_lookup_requests(SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), 5 * u.arcmin, pagesize=10)
    assert len(two) == 2


@pytest.mark.parametrize("centers, radii, match", [
    (FIELD, 5, "angle Quantities"),
    (FIELD, 5 * u.s, "single angle"),
    (FIELD, -1 * u.arcmin, "positive"),
    ("53 -27", 5 * u.arcmin, "SkyCoord"),
    (SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), [1, 2, 3] * u.arcmin, "3 radii for 2 centres"),
])
def test_bad_lookup_inputs(centers, radii, match):
    with pytest.raises(InvalidQueryError, match=match):
        msa_lookup_requests(centers, radii, pagesize=10)


# ---------------------------------------------------------------------------------------------
# msa_files
# ---------------------------------------------------------------------------------------------

FIELDS = [{"name": "program", "type": "int"}, {"name": "observtn", "type": "int"},
          {"name": "visit", "type": "int"}, {"name": "msametfl", "type": "string"},
          {"name": "targ_ra", "type": "float"}, {"name": "targ_dec", "type": "float"}]


def reply(rows):
    """A Mashup envelope around rows (built here, derived: not a recording)."""
    return {"status": "COMPLETE", "msg": "", "fields": FIELDS, "data": rows,
            "paging": {"page": 1, "pageSize": len(rows), "rows": len(rows)}}


def lookup_row(program, observation, visit, msametfl):
    return {"program": program, "observtn": observation, "visit": visit, "msametfl": msametfl,
            "targ_ra": 53.1, "targ_dec": -27.8}


@pytest.mark.skipif(not DJA_CSV.is_file(), reason="shared/data is not beside the repository")
def test_msa_files_of_real_rows():
    with open(DJA_CSV, newline="") as handle:
        rows = [lookup_row(int(r["program"]), int(r["observtn"]), int(r["visit"]), r["msametfl"] or None)
                for r in csv.DictReader(handle)]
    files = msa_files([reply(rows[:200]), reply(rows[200:])])        # two pages
    mos = [r for r in rows if r["msametfl"]]
    assert len(files) == len({r["msametfl"] for r in mos}) == 15
    assert int(files["n_rows"].sum()) == len(mos) == 49
    assert files.meta["no_msametfl"] == len(rows) - 49
    row = files[files["msametfl"] == "jw06368076001_02_msa.fits"][0]
    assert (row["program"], row["observation"], row["visit"], row["n_rows"]) == (6368, 76, 1, 6)
    visits = files[files["program"] == 9263]
    assert visits["visit"].tolist() == [1, 2, 3, 4] and set(visits["observation"]) == {5}
    # FS and IFU observations name no MSA file
    assert (5716, 1) in files.meta["observations_without_file"]


def test_msa_files_null_program_and_empty_names():
    rows = [lookup_row(1345, 63, 1, "jw01345063001_01_msa.fits"),
            lookup_row(1345, 63, 1, "jw01345063001_01_msa.fits"),
            lookup_row(None, None, None, "jw01345063001_02_msa.fits"),
            lookup_row(1345, 64, 1, ""),
            lookup_row(1345, 65, 1, None),
            lookup_row(1345, 65, 1, "jw01345065001_01_msa.fits"),
            lookup_row(None, None, None, "not-an-msa-file.fits")]
    files = msa_files([reply(rows[:3]), reply(rows[1:])])             # overlapping fields
    assert files["msametfl"].tolist() == ["jw01345063001_01_msa.fits", "jw01345063001_02_msa.fits",
                                          "jw01345065001_01_msa.fits"]
    assert files["program"].tolist() == [1345] * 3
    assert files["observation"].tolist() == [63, 63, 65]
    assert files["n_rows"].tolist() == [3, 2, 1]
    assert files.meta["no_msametfl"] == 2
    assert files.meta["observations_without_file"] == [(1345, 64)]
    assert files.meta["unidentified"] == 1


def test_msa_files_of_no_rows():
    for results in ([], [reply([])]):
        files = msa_files(results)
        assert len(files) == 0
        assert files.colnames == ["program", "observation", "visit", "msametfl", "n_rows"]


# ---------------------------------------------------------------------------------------------
# sources_by_observation
# ---------------------------------------------------------------------------------------------

def test_sources_by_observation_needs_every_file(tmp_path):
    s1 = read_msa_sources(write_msa_file(tmp_path / "a.fits", [msa_source(1, 53.1, -27.8),
                                                               msa_source(2, 53.2, -27.8)],
                                         slitlet(1, 1) + slitlet(2, 2, row=20)))
    s2 = read_msa_sources(write_msa_file(tmp_path / "b.fits", [msa_source(2, 53.2, -27.8),
                                                               msa_source(3, 53.3, -27.8)],
                                         slitlet(1, 2) + slitlet(2, 3, row=20)))
    files = Table({"program": [1345, 1345, 1345], "observation": [63, 63, 64],
                   "msametfl": ["jw01345063001_01_msa.fits", "jw01345063001_02_msa.fits",
                                "jw01345064001_01_msa.fits"]})
    partial = sources_by_observation(files, {"jw01345063001_01_msa.fits": s1,
                                             "jw01345064001_01_msa.fits": s2})
    assert list(partial) == [(1345, 64)]
    full = sources_by_observation(files, {"jw01345063001_01_msa.fits": s1,
                                          "jw01345063001_02_msa.fits": s2,
                                          "jw01345064001_01_msa.fits": s2})
    assert full[(1345, 63)]["source_id"].tolist() == [1, 2, 3]
    assert full[(1345, 63)].meta["msa_files"] == ["jw01345063001_01_msa.fits",
                                                  "jw01345063001_02_msa.fits"]
    assert full[(1345, 64)]["source_id"].tolist() == [2, 3]


# ---------------------------------------------------------------------------------------------
# apply_source_evidence
# ---------------------------------------------------------------------------------------------

def caom(obs_id, instrument, s_ra, s_dec, calib_level=3, filters="F290LP;G395M", t_exptime=1000.0):
    return dict(obs_id=obs_id, instrument_name=instrument, filters=filters, t_exptime=t_exptime,
                s_ra=s_ra, s_dec=s_dec, calib_level=calib_level, intentType="science",
                dataRights="PUBLIC", obs_collection="JWST", proposal_id=obs_id[2:7].lstrip("0"))


def report_for(targets, rows):
    """The report as check_duplicates builds it: evaluate, then the target position columns."""
    targets = read_targets(targets)
    report = evaluate(targets, group_observations(Table(rows=rows)))
    where = {name: i for i, name in enumerate(targets["name"])}
    index = np.array([where[str(name)] for name in report["target"]], dtype=int)
    report.add_column(np.asarray(targets["ra"])[index] * u.deg, name="target_ra", index=1)
    report.add_column(np.asarray(targets["dec"])[index] * u.deg, name="target_dec", index=2)
    return report


def target(name, coord, aperture="MSA"):
    return dict(name=name, ra=float(coord.ra.deg), dec=float(coord.dec.deg), aperture=aperture,
                grating="G395M", filter="F290LP", exposure_time=1000.0)


@pytest.fixture
def mos_field(tmp_path):
    """Observation 63 (executed, MSA file read), 64 (executed, no file), 65 (planned), an FS one."""
    inside = offset(FIELD, 0.2, 30)
    elsewhere = offset(FIELD, 45, 120)
    targets = [target("in_shutter", inside), target("not_in_shutter", elsewhere),
               target("slit", inside, aperture="S200A1")]
    rows = [caom("jw01345-o063_s00007_nirspec_f290lp-g395m", "NIRSPEC/MSA", *at(FIELD)),
            caom("jw01345-o064_s00001_nirspec_f290lp-g395m", "NIRSPEC/MSA", *at(FIELD)),
            caom("jw01345065001_xx101_00001_nirspec", "NIRSPEC/MSA", *at(FIELD), calib_level=-1),
            caom("jw02736-o007_t001_nirspec_f290lp-g395m-s200a1", "NIRSPEC/SLIT", *at(inside))]
    catalogue = [msa_source(7, *at(FIELD), name="GOODS-S 7"),
                 msa_source(8, *at(offset(FIELD, 5, 120))),
                 msa_source(9, *at(elsewhere))]                       # catalogued, not observed
    path = write_msa_file(tmp_path / "jw01345063001_01_msa.fits", catalogue,
                          slitlet(1, 7) + slitlet(2, 8, row=30))
    return report_for(targets, rows), {(1345, 63): read_msa_sources(path)}


def rows_of(report, name, observation):
    return report[(report["target"] == name) & (np.ma.filled(report["observation"], "") == observation)]


def test_target_in_an_open_shutter_keeps_duplicate(mos_field):
    report, sources = mos_field
    out = apply_source_evidence(report, sources)
    row, = rows_of(out, "in_shutter", "jw01345-o063")
    assert row["verdict"] == "DUPLICATE"
    assert not np.ma.is_masked(row["source_observed"]) and row["source_observed"]
    assert row["source_separation"] == pytest.approx(0.2, abs=1e-6)
    assert row["source_name"] == "GOODS-S 7"
    assert row["reason"].startswith("all criteria met")
    assert row["reason"].endswith('; the target was in an open shutter (source GOODS-S 7 at 0.20")')
    assert out["source_separation"].unit == u.arcsec


def test_target_not_in_a_shutter_becomes_possible(mos_field):
    report, sources = mos_field
    before, = rows_of(report, "not_in_shutter", "jw01345-o063")
    assert before["verdict"] == "DUPLICATE"
    out = apply_source_evidence(report, sources)
    row, = rows_of(out, "not_in_shutter", "jw01345-o063")
    nearest = offset(FIELD, 45, 120).separation(offset(FIELD, 5, 120)).arcsec
    assert row["verdict"] == "POSSIBLE"
    assert not row["source_observed"] and not np.ma.is_masked(row["source_observed"])
    assert row["source_separation"] == pytest.approx(nearest, abs=1e-6)
    assert row["source_name"] == "1345_8"
    assert row["reason"] == (
        f'same field, but the target was not in an open shutter (nearest observed source 1345_8 at '
        f'{nearest:.2f}"); field rules: {before["reason"]}')


def test_without_metadata_the_field_verdict_stands(mos_field):
    report, sources = mos_field
    out = apply_source_evidence(report, sources)
    for name in ("in_shutter", "not_in_shutter"):
        unread, = rows_of(out, name, "jw01345-o064")
        planned, = rows_of(out, name, "jw01345-o065")
        for row, why in ((unread, "no MSA metadata read for this observation"),
                         (planned, "planned, no MSA metadata yet")):
            original, = rows_of(report, name, row["observation"])
            assert row["verdict"] == original["verdict"] == "DUPLICATE"
            assert np.ma.is_masked(row["source_observed"])
            assert np.ma.is_masked(row["source_separation"]) and np.ma.is_masked(row["source_name"])
            assert row["reason"] == f"{original['reason']}; source not checked ({why})"


def test_fixed_slit_rows_are_untouched_and_cross_check_rows_get_evidence(mos_field):
    report, sources = mos_field
    out = apply_source_evidence(report, sources)
    fs, = rows_of(out, "slit", "jw02736-o007")
    original, = rows_of(report, "slit", "jw02736-o007")
    assert fs["verdict"] == original["verdict"] and fs["reason"] == original["reason"]
    assert np.ma.is_masked(fs["source_observed"])
    cross, = rows_of(out, "slit", "jw01345-o063")        # the MOS cross-check of an FS target
    assert cross["source_observed"] and cross["source_name"] == "GOODS-S 7"


def test_report_is_not_modified_and_counts_are_in_meta(mos_field):
    report, sources = mos_field
    copy = report.copy()
    out = apply_source_evidence(report, sources)
    assert report.colnames == copy.colnames and all(report["reason"] == copy["reason"])
    assert "source_observed" not in report.colnames
    assert out.colnames[out.colnames.index("reason") + 1:][:3] == [
        "source_observed", "source_separation", "source_name"]
    assert out.meta["source_radius_arcsec"] == SOURCE_RADIUS.to_value(u.arcsec)
    assert out.meta["source_evidence"] == {"observed": 2, "not_observed": 1, "unchecked": 6}
    assert len(out) == len(report)


def test_radius_decides(mos_field):
    report, sources = mos_field
    out = apply_source_evidence(report, sources, radius=0.1 * u.arcsec)
    row, = rows_of(out, "in_shutter", "jw01345-o063")
    assert row["verdict"] == "POSSIBLE" and not row["source_observed"]
    assert 'nearest observed source GOODS-S 7 at 0.20"' in row["reason"]
    assert out.meta["source_radius_arcsec"] == pytest.approx(0.1)


def test_rows_are_reordered_by_verdict_within_each_target(mos_field):
    report, sources = mos_field
    out = apply_source_evidence(report, sources)
    names = list(dict.fromkeys(out["target"]))
    assert names == list(dict.fromkeys(report["target"]))
    for name in names:
        verdicts = list(out["verdict"][out["target"] == name])
        rank = [("DUPLICATE", "POSSIBLE", "NOT_DUPLICATE").index(v) for v in verdicts]
        assert rank == sorted(rank)
    # not_in_shutter: o063 fell to POSSIBLE, so it now follows the DUPLICATE rows of o064/o065
    before = report[report["target"] == "not_in_shutter"]
    assert list(before["observation"]) == ["jw01345-o063", "jw01345-o064", "jw01345-o065",
                                           "jw02736-o007"]
    after = out[out["target"] == "not_in_shutter"]
    assert list(after["observation"]) == ["jw01345-o064", "jw01345-o065", "jw01345-o063",
                                          "jw02736-o007"]
    assert list(after["verdict"]) == ["DUPLICATE", "DUPLICATE", "POSSIBLE", "NOT_DUPLICATE"]


def test_observation_with_no_source_and_possible_rows(mos_field):
    report, _ = mos_field
    empty = Table({"source_name": np.zeros(0, str), "ra": np.zeros(0) * u.deg,
                   "dec": np.zeros(0) * u.deg})
    out = apply_source_evidence(report, {(1345, 63): empty})
    row, = rows_of(out, "in_shutter", "jw01345-o063")
    assert row["verdict"] == "POSSIBLE" and not row["source_observed"]
    assert np.ma.is_masked(row["source_separation"])
    assert "(no primary source in an open shutter)" in row["reason"]
    # a row that is POSSIBLE already stays POSSIBLE, and says why
    report["verdict"][0] = "POSSIBLE"
    again = apply_source_evidence(report, {(1345, 63): empty})
    first = again[(again["target"] == report["target"][0])
                  & (again["observation"] == report["observation"][0])]
    assert list(first["verdict"]) == ["POSSIBLE"]


def test_nearest_source_is_found_for_many_targets(tmp_path):
    """600 targets (more than one chunk) against 150 sources: same answer as a brute force."""
    rng = np.random.default_rng(5)
    source_coords = offset(FIELD, rng.uniform(0, 90, 150), rng.uniform(0, 360, 150))
    picks = rng.integers(0, 150, 600)
    target_coords = offset(source_coords[picks], rng.uniform(0, 3, 600), rng.uniform(0, 360, 600))
    sources = Table({"source_name": [f"s{i}" for i in range(150)],
                     "ra": source_coords.ra.to(u.deg), "dec": source_coords.dec.to(u.deg)})
    report = Table({"target": [f"t{i}" for i in range(600)],
                    "target_ra": target_coords.ra.to(u.deg), "target_dec": target_coords.dec.to(u.deg),
                    "observation": ["jw01345-o063"] * 600, "mode": ["MOS"] * 600,
                    "planned": [False] * 600, "verdict": ["DUPLICATE"] * 600,
                    "reason": ["all criteria met"] * 600})
    out = apply_source_evidence(report, {(1345, 63): sources}, radius=1 * u.arcsec)
    out = out[np.argsort([int(t[1:]) for t in out["target"]])]
    for i in rng.integers(0, 600, 40):
        separations = target_coords[i].separation(source_coords).arcsec
        j = int(np.argmin(separations))
        assert out["source_name"][i] == f"s{j}"
        assert out["source_separation"][i] == pytest.approx(separations[j], abs=1e-9)
        assert bool(out["source_observed"][i]) == (separations[j] <= 1.0)
        assert out["verdict"][i] == ("DUPLICATE" if separations[j] <= 1.0 else "POSSIBLE")


def test_end_to_end_from_written_files(tmp_path):
    """MSA files as the lookup names them, read, grouped by observation and applied."""
    write_msa_file(tmp_path / "jw01345063001_01_msa.fits", [msa_source(7, *at(FIELD))],
                   slitlet(1, 7), image=False)
    write_msa_file(tmp_path / "jw01345063001_02_msa.fits", [msa_source(9, *at(offset(FIELD, 30)))],
                   slitlet(1, 9), image=False)
    files = msa_files([reply([lookup_row(1345, 63, 1, "jw01345063001_01_msa.fits"),
                              lookup_row(1345, 63, 1, "jw01345063001_02_msa.fits")])])
    read = {name: read_msa_sources(tmp_path / name) for name in files["msametfl"]}
    observed = sources_by_observation(files, read)
    report = report_for([target("a", offset(FIELD, 30)), target("b", offset(FIELD, 60))],
                        [caom("jw01345-o063_s00007_nirspec_f290lp-g395m", "NIRSPEC/MSA", *at(FIELD))])
    out = apply_source_evidence(report, observed)
    assert list(out["target"]) == ["a", "b"]
    assert list(out["verdict"]) == ["DUPLICATE", "POSSIBLE"]
    assert list(out["source_name"]) == ["1345_9", "1345_9"]


@pytest.mark.parametrize("change, match", [
    (lambda r: r.remove_column("target_ra"), "lacks the column.*target_ra"),
    (lambda r: r.remove_column("planned"), "planned"),
])
def test_bad_reports(mos_field, change, match):
    report, sources = mos_field
    change(report)
    with pytest.raises(InvalidQueryError, match=match):
        apply_source_evidence(report, sources)


@pytest.mark.parametrize("radius, match", [(0.5, "bare number"), (-1 * u.arcsec, "positive"),
                                           (1 * u.s, "angle")])
def test_bad_radius(mos_field, radius, match):
    report, sources = mos_field
    with pytest.raises(InvalidQueryError, match=match):
        apply_source_evidence(report, sources, radius=radius)


def test_bad_sources(mos_field):
    report, sources = mos_field
    with pytest.raises(InvalidQueryError, match="must be a dict"):
        apply_source_evidence(report, [sources])
    with pytest.raises(InvalidQueryError, match=r"\(1345, 63\).*read_msa_sources Table"):
        apply_source_evidence(report, {(1345, 63): Table({"x": [1]})})
    with pytest.raises(InvalidQueryError, match="astropy Table"):
        apply_source_evidence({"target": []}, sources)


def test_rows_without_an_observation_and_empty_reports(mos_field):
    _, sources = mos_field
    far = SkyCoord(150 * u.deg, 2 * u.deg)
    report = report_for([target("lonely", far)],
                        [caom("jw01345-o063_s00007_nirspec_f290lp-g395m", "NIRSPEC/MSA", *at(FIELD))])
    assert np.ma.is_masked(report["mode"][0]) and np.ma.is_masked(report["observation"][0])
    out = apply_source_evidence(report, sources)
    assert out["verdict"][0] == "NOT_DUPLICATE" and out["reason"][0] == report["reason"][0]
    assert np.ma.is_masked(out["source_observed"][0])
    empty = apply_source_evidence(report[:0], sources)
    assert len(empty) == 0 and "source_observed" in empty.colnames
