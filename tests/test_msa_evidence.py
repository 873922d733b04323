"""
`astroquery_nirspec.msa_evidence`: the MSA steps of a duplicate check with the I/O given
as functions (no server): which fields are looked up, what is downloaded, and what an
unreadable file does.
"""
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from astroquery_nirspec.duplication import DuplicationRules, read_targets, sky_fields
from astroquery_nirspec.msa_evidence import MSA_EXTENT, add_source_evidence
from msa_files import msa_source, slitlet, write_msa_file

MSA_FILE = "jw01345063001_01_msa.fits"
TARGETS = [{"name": name, "ra": ra, "dec": -27.79, "aperture": "MSA", "grating": "G395H",
            "filter": "F290LP", "exposure_time": 1000.0} for name, ra in (("A", 53.16), ("B", 150.0))]


def _report(fields_with_mos):
    """A field-level report: target A in field 0 and B in field 1, one observation each."""
    mode = ["MOS" if f in fields_with_mos else "FS" for f in (0, 1)]
    return Table({"target": ["A", "B"], "target_ra": [53.16, 150.0], "target_dec": [-27.79, -27.79],
                  "field": [0, 1], "mode": mode, "planned": [False, False],
                  "observation": ["jw01345-o063", "jw02736-o007"],
                  "verdict": ["DUPLICATE", "NOT_DUPLICATE"], "reason": ["same configuration", ""]})


def _lookup_reply(program=1345, observation=63):
    return {"status": "COMPLETE", "fields": [{"name": n, "type": t} for n, t in (
        ("program", "int"), ("observtn", "int"), ("visit", "int"), ("msametfl", "string"),
        ("targ_ra", "float"), ("targ_dec", "float"))],
        "data": [{"program": program, "observtn": observation, "visit": 1, "msametfl": MSA_FILE,
                  "targ_ra": 53.161, "targ_dec": -27.791}], "paging": {"rowsFiltered": 1}}


@pytest.fixture
def fields():
    return sky_fields(read_targets(TARGETS), DuplicationRules(), pagesize=500)


class Recorder:
    def __init__(self, replies, paths):
        self.replies, self.paths, self.sent, self.downloaded = replies, paths, [], []

    def fetch(self, requests):
        self.sent.extend(requests)
        return self.replies

    def download(self, names, arrived):
        self.downloaded.append(list(names))
        for name in names:
            if name in self.paths:
                arrived(name, self.paths[name])


def _msa_file(tmp_path, offset):
    at = SkyCoord(53.16 * u.deg, -27.79 * u.deg).directional_offset_by(0 * u.deg, offset)
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / MSA_FILE
    write_msa_file(path, [msa_source(7, float(at.ra.deg), float(at.dec.deg))], slitlet(1, 7))
    return path


def test_only_fields_with_executed_mos_are_looked_up(fields, tmp_path):
    io = Recorder([_lookup_reply()], {MSA_FILE: _msa_file(tmp_path, 0.1 * u.arcsec)})
    report = add_source_evidence(_report({0}), fields, DuplicationRules(), fetch=io.fetch,
                                 download=io.download, pagesize=500)
    assert len(io.sent) == 1 and io.downloaded == [[MSA_FILE]]
    # the lookup's box encloses field 0's cone widened by the MSA's extent
    ra_filter = next(f for f in io.sent[0]["params"]["filters"] if f["paramName"] == "targ_ra")
    half_width = (ra_filter["values"][0]["max"] - ra_filter["values"][0]["min"]) / 2 * u.deg
    reach = (fields.radii[0] + MSA_EXTENT).to(u.deg)
    assert half_width >= reach
    assert report["source_observed"].tolist() == [True, None]
    assert report["verdict"].tolist() == ["DUPLICATE", "NOT_DUPLICATE"]


def test_a_target_off_the_shutters_becomes_possible(fields, tmp_path):
    io = Recorder([_lookup_reply()], {MSA_FILE: _msa_file(tmp_path, 30 * u.arcsec)})
    report = add_source_evidence(_report({0}), fields, DuplicationRules(), fetch=io.fetch,
                                 download=io.download, pagesize=500)
    assert report["source_observed"].tolist()[0] is False
    assert report["verdict"][0] == "POSSIBLE"


def test_no_executed_mos_sends_nothing(fields):
    io = Recorder([], {})
    report = add_source_evidence(_report(set()), fields, DuplicationRules(), fetch=io.fetch,
                                 download=io.download, pagesize=500)
    assert io.sent == [] and io.downloaded == []
    assert report["source_observed"].mask.all()


def test_an_unreadable_file_warns_and_keeps_the_field_level_verdict(fields, tmp_path):
    broken = tmp_path / MSA_FILE
    broken.write_bytes(b"not a FITS file")
    io = Recorder([_lookup_reply()], {MSA_FILE: broken})
    with pytest.warns(AstropyUserWarning, match=f"MSA metadata {MSA_FILE} is unreadable"):
        report = add_source_evidence(_report({0}), fields, DuplicationRules(), fetch=io.fetch,
                                     download=io.download, pagesize=500)
    assert report["verdict"][0] == "DUPLICATE" and report["source_observed"].mask[0]


def test_a_file_that_did_not_download_keeps_the_field_level_verdict(fields):
    io = Recorder([_lookup_reply()], {})
    report = add_source_evidence(_report({0}), fields, DuplicationRules(), fetch=io.fetch,
                                 download=io.download, pagesize=500)
    assert io.downloaded == [[MSA_FILE]]
    assert report["verdict"][0] == "DUPLICATE" and report["source_observed"].mask[0]


def test_each_file_is_read_as_soon_as_it_arrives(fields, tmp_path):
    """The download hands each file over and removes it before fetching the next one."""
    other = "jw02736007001_01_msa.fits"
    replies = [{**_lookup_reply(), "data": _lookup_reply()["data"] + [
        dict(_lookup_reply()["data"][0], program=2736, observtn=7, msametfl=other)]}]
    paths = {MSA_FILE: _msa_file(tmp_path / "a", 0.1 * u.arcsec)}
    write_msa_file(tmp_path / other, [msa_source(3, 150.0, -27.79, program=2736)], slitlet(1, 3))
    paths[other] = tmp_path / other
    events = []

    def download(names, arrived):
        for name in names:
            events.append(("arrived", name))
            arrived(name, paths[name])
            paths[name].unlink()           # too late for a reader that waits for every file
    report = add_source_evidence(_report({0, 1}), fields, DuplicationRules(),
                                 fetch=lambda requests: replies, download=download, pagesize=500)
    assert events == [("arrived", MSA_FILE), ("arrived", other)]
    assert report["source_observed"].tolist() == [True, True]
