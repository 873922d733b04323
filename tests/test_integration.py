"""
End to end through a real local MAST server on 127.0.0.1 (``tests/mast_double/``).

Each result is compared with the server's own archive: the rows a query returns are
exactly the archive rows its filters select (every row once, in the archive's order),
counts and value counts equal those computed over the archive, and a cone returns
exactly the rows whose ``targ_ra``/``targ_dec`` lie within the radius, computed here
with `~astropy.coordinates.SkyCoord.separation`.
"""
import fnmatch
import json
import math
import re
import urllib.parse
from collections import Counter

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError, MaxResultsWarning, NoResultsWarning, ResolverError

from astroquery_nirspec import NirspecMast, conf
from astroquery_nirspec.transport import encode_request
from mast_double import (CAOM_POSITION_SERVICE, NAME_LOOKUP_SERVICE, NIRSPEC_SERVICE,
                         caom_row, make_archive, make_caom_rows, make_nirspec_rows)

ARCHIVE = make_archive(n_nirspec=2000, seed=7)
ROWS = ARCHIVE[NIRSPEC_SERVICE].rows


@pytest.fixture
def server(local_mast):
    """Start local servers on demand; conf points at the last one started."""
    return local_mast(ARCHIVE, pagesize=50000, timeout=30.0)


def ids_where(predicate, rows=ROWS):
    return [r["ArchiveFileID"] for r in rows if predicate(r)]


def ge(value, low):
    return value is not None and value >= low


A_PROGRAM = Counter(r["program"] for r in ROWS).most_common(1)[0][0]

# (id, filters, the same selection in Python)
SELECTIONS = [
    ("everything", {}, lambda r: True),
    ("list", {"exp_type": ["NRS_IFU", "NRS_MSASPEC"]}, lambda r: r["exp_type"] in ("NRS_IFU", "NRS_MSASPEC")),
    ("scalar and open range", {"grating": "G395H", "effexptm": (500, None)},
     lambda r: r["grating"] == "G395H" and ge(r["effexptm"], 500)),
    ("closed range as Quantity", {"effexptm": (5 * u.min, 0.5 * u.hour)},
     lambda r: ge(r["effexptm"], 300) and r["effexptm"] <= 1800),
    ("program as text", {"program": str(A_PROGRAM)}, lambda r: r["program"] == A_PROGRAM),
    ("several fields", {"productLevel": "2b", "detector": "NRS1", "filter": ["F290LP", "CLEAR"]},
     lambda r: r["productLevel"] == "2b" and r["detector"] == "NRS1" and r["filter"] in ("F290LP", "CLEAR")),
    ("case-insensitive names", {"GRATING": "PRISM", "Exp_Type": "NRS_MSASPEC"},
     lambda r: r["grating"] == "PRISM" and r["exp_type"] == "NRS_MSASPEC"),
]


# --------------------------------------------------------------------------- rows and pages

@pytest.mark.parametrize("pagesize", [97, 50000])
@pytest.mark.parametrize("filters, predicate", [s[1:] for s in SELECTIONS], ids=[s[0] for s in SELECTIONS])
def test_pages_give_the_archive_rows_once_in_order(server, pagesize, filters, predicate):
    srv = server()
    expected = ids_where(predicate)
    assert expected                                     # the selection is not empty
    table = NirspecMast.query_filtered(["ArchiveFileID", "filename"], pagesize=pagesize, **filters)
    assert list(table["ArchiveFileID"]) == expected
    assert srv.count() == max(1, math.ceil(len(expected) / pagesize))
    assert table.colnames == ["ArchiveFileID", "filename"]


def test_every_column_of_every_row_arrives(server):
    srv = server()
    with conf.set_temp("pagesize", 600):
        table = NirspecMast.query_filtered()
    assert srv.count() == 4
    assert len(table) == len(ROWS)
    for name in ("ArchiveFileID", "filename", "program", "targ_ra", "effexptm", "fxd_slit", "dataURI"):
        column = table[name]
        mask = np.ma.getmaskarray(column)
        assert mask.tolist() == [r[name] is None for r in ROWS], name
        assert [v for v, m in zip(column.tolist(), mask) if not m] == [r[name] for r in ROWS
                                                                       if r[name] is not None], name
    assert str(table["effexptm"].unit) == "s"
    date = Time(int(ROWS[5]["date_obs"][6:-2]) / 1000, format="unix", scale="utc")
    assert abs((table["date_obs"][5] - date).to_value(u.ms)) < 1


def test_executing_polls_then_success(server):
    srv = server(executing_polls=3)
    expected = ids_where(lambda r: r["exp_type"] == "NRS_IFU")
    table = NirspecMast.query_filtered("ArchiveFileID", exp_type="NRS_IFU", pagesize=250)
    assert list(table["ArchiveFileID"]) == expected
    pages = math.ceil(len(expected) / 250)
    assert srv.count() == 4 * pages
    for page in range(1, pages + 1):       # later pages may be fetched side by side
        assert [r.mast_status for r in srv.log if r.request["page"] == page] == \
            ["EXECUTING"] * 3 + ["COMPLETE"]


def test_one_page_only(server):
    srv = server()
    table = NirspecMast.query_filtered("ArchiveFileID", pagesize=100, page=2)
    assert list(table["ArchiveFileID"]) == ids_where(lambda r: True)[100:200]
    assert [(q["page"], q["pagesize"]) for q in srv.requests()] == [(2, 100)]


def test_a_page_past_the_end_is_empty(server):
    srv = server()
    with pytest.warns(NoResultsWarning):
        table = NirspecMast.query_filtered("ArchiveFileID", pagesize=1000, page=7)
    assert len(table) == 0 and table.colnames == ["ArchiveFileID"]
    assert srv.count() == 1


@pytest.mark.parametrize("row_limit", [1, 150, 200, 999])
def test_row_limit_stops_early_and_warns(server, row_limit):
    srv = server()
    with pytest.warns(MaxResultsWarning, match=rf"first {row_limit} of {len(ROWS)} rows"):
        table = NirspecMast.query_filtered("ArchiveFileID", pagesize=100, row_limit=row_limit)
    assert list(table["ArchiveFileID"]) == ids_where(lambda r: True)[:row_limit]
    assert srv.count() == math.ceil(row_limit / 100)       # no page beyond the limit


def test_row_limit_from_conf_and_a_limit_above_the_total(server):
    srv = server()
    with conf.set_temp("row_limit", 30), pytest.warns(MaxResultsWarning):
        assert len(NirspecMast.query_filtered("ArchiveFileID", pagesize=100)) == 30
    table = NirspecMast.query_filtered("ArchiveFileID", pagesize=1000, row_limit=len(ROWS) + 1)
    assert len(table) == len(ROWS)
    assert srv.count() == 1 + 2


def test_row_limit_on_a_cone_reports_the_rows_in_the_cone(server):
    server(CONE_ARCHIVE)
    center, radius = SkyCoord(53.16 * u.deg, -27.79 * u.deg), 1 * u.deg
    expected = [r["ArchiveFileID"] for r, keep in zip(CONE_ROWS, CONE_COORDS.separation(center) <= radius)
                if keep]
    with pytest.warns(MaxResultsWarning, match=rf"first 5 of {len(expected)} rows"):
        table = NirspecMast.query_filtered("ArchiveFileID", coordinates=center, radius=radius, row_limit=5)
    assert list(table["ArchiveFileID"]) == expected[:5]


def test_no_results(server):
    srv = server()
    with pytest.warns(NoResultsWarning):
        table = NirspecMast.query_filtered(["filename", "effexptm"], grating="G395H", filter="CLEAR")
    assert len(table) == 0 and table.colnames == ["filename", "effexptm"]
    with pytest.warns(NoResultsWarning):
        values = NirspecMast.get_parameter_values("grating", grating="G395H", filter="CLEAR")
    assert len(values) == 0
    with pytest.warns(NoResultsWarning):
        cone = NirspecMast.query_filtered("filename", coordinates="0 0", radius=1 * u.arcsec)
    assert len(cone) == 0
    assert all(r.mast_status == "COMPLETE" for r in srv.log)


def test_no_results_when_the_server_reports_one_empty_page(server):
    server(empty_pages_filtered=1)
    with pytest.warns(NoResultsWarning):
        table = NirspecMast.query_filtered("filename", grating="G395H", filter="CLEAR", pagesize=10)
    assert len(table) == 0


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("filters, predicate", [s[1:] for s in SELECTIONS], ids=[s[0] for s in SELECTIONS])
def test_counts_equal_the_server_count(server, filters, predicate):
    srv = server()
    assert NirspecMast.query_filtered_count(**filters) == len(ids_where(predicate))
    (request,) = srv.requests()
    assert request["params"]["columns"] == "COUNT_BIG(*)"


def test_count_of_nothing_is_zero(server):
    server()
    assert NirspecMast.query_filtered_count(grating="G395H", filter="CLEAR") == 0


@pytest.mark.parametrize("field, filters, predicate", [
    ("grating", {}, lambda r: True),
    ("exp_type", {}, lambda r: True),
    ("program", {}, lambda r: True),
    ("fxd_slit", {}, lambda r: True),                   # mostly null
    ("effexptm", {}, lambda r: True),                   # floats, a few nulls
    ("grating", {"exp_type": "NRS_FIXEDSLIT"}, lambda r: r["exp_type"] == "NRS_FIXEDSLIT"),
    ("filter", {"grating": ["G140M", "G140H"]}, lambda r: r["grating"] in ("G140M", "G140H")),
])
def test_parameter_value_counts_equal_a_counter_over_the_archive(server, field, filters, predicate):
    srv = server()
    values = NirspecMast.get_parameter_values(field, **filters)
    expected = Counter(r[field] for r in ROWS if predicate(r))
    got = {}
    for value, count, masked in zip(values[field].tolist(), values["count"].tolist(),
                                    np.ma.getmaskarray(values[field])):
        key = None if masked else value
        assert key not in got
        got[key] = count
    assert got == dict(expected)
    assert list(values["count"]) == sorted(values["count"], reverse=True)
    assert srv.count() == 1


def test_value_counts_of_dates_and_flags(server):
    server()
    dates = NirspecMast.get_parameter_values("date_obs")
    expected = Counter(Time(int(r["date_obs"][6:-2]) / 1000, format="unix", scale="utc").isot for r in ROWS)
    assert {str(v): c for v, c in zip(dates["date_obs"], dates["count"])} == dict(expected)
    flags = NirspecMast.get_parameter_values("isRestricted")
    assert {bool(v): c for v, c in zip(flags["isRestricted"], flags["count"])} == dict(
        Counter(r["isRestricted"] for r in ROWS))


# --------------------------------------------------------------------------- cones

def ring_points(center, radius, rng):
    """Positions inside and outside a cone, many of them close to its edge."""
    points = []
    for factor in (0.0, 0.3, 0.7, 0.995, 0.9995, 1.0005, 1.005, 1.5, 3.0, 8.0):
        for angle in np.arange(0, 360, 22.5) + rng.uniform(0, 22.5):
            points.append(center.directional_offset_by(angle * u.deg, factor * radius))
    for factor in (0.9995, 1.0005):                   # densely along the edge: the RA extremes
        for angle in np.arange(0, 360, 3.0):
            points.append(center.directional_offset_by(angle * u.deg, factor * radius))
    for _ in range(60):                               # anywhere in a wider square
        points.append(center.directional_offset_by(rng.uniform(0, 360) * u.deg,
                                                   rng.uniform(0, 10) * radius))
    return points


CONES = [  # (id, ra, dec, radius)
    ("equator across RA 0", 0.0, 0.0, 30 * u.arcsec),
    ("dec +70 across RA 0", 359.999, 70.0, 2 * u.arcmin),
    ("dec -70 across RA 0", 0.0005, -70.0, 2 * u.arcmin),
    ("dec +89.9", 123.0, 89.9, 1 * u.arcmin),
    ("dec -89.9", 300.0, -89.9, 1 * u.arcmin),
    ("pole inside", 200.0, 89.99, 2 * u.arcmin),
    ("plain", 53.16, -27.79, 1 * u.deg),
]


def _cone_archive():
    rng = np.random.default_rng(42)
    positions = []
    for _, ra, dec, radius in CONES:
        positions.extend(ring_points(SkyCoord(ra * u.deg, dec * u.deg), radius, rng))
    rows = make_nirspec_rows(len(positions), seed=9)
    for row, point in zip(rows, positions):
        row["targ_ra"] = float(point.ra.deg)
        row["targ_dec"] = float(point.dec.deg)
    return make_archive(nirspec_rows=rows)


CONE_ARCHIVE = _cone_archive()
CONE_ROWS = CONE_ARCHIVE[NIRSPEC_SERVICE].rows
CONE_COORDS = SkyCoord([r["targ_ra"] for r in CONE_ROWS] * u.deg, [r["targ_dec"] for r in CONE_ROWS] * u.deg)


@pytest.mark.parametrize("ra, dec, radius", [c[1:] for c in CONES], ids=[c[0] for c in CONES])
def test_cone_returns_exactly_the_rows_within_the_radius(server, ra, dec, radius):
    srv = server(CONE_ARCHIVE)
    center = SkyCoord(ra * u.deg, dec * u.deg)
    separation = CONE_COORDS.separation(center)
    inside = separation <= radius
    expected = [r["ArchiveFileID"] for r, keep in zip(CONE_ROWS, inside) if keep]
    assert 10 < len(expected) < len(CONE_ROWS)
    with conf.set_temp("pagesize", 500):
        table = NirspecMast.query_filtered(["ArchiveFileID", "grating"], coordinates=center, radius=radius)
    assert list(table["ArchiveFileID"]) == expected    # nothing inside lost, nothing outside kept
    assert table.colnames == ["ArchiveFileID", "grating", "separation"]
    np.testing.assert_allclose(u.Quantity(table["separation"]).to_value(u.arcsec),
                               separation[inside].to_value(u.arcsec), rtol=1e-9, atol=1e-6)
    # the box sent encloses the cone: every request carries the Dec band
    for request in srv.requests():
        names = [f["paramName"] for f in request["params"]["filters"]]
        assert "targ_dec" in names

    assert NirspecMast.query_filtered_count(coordinates=center, radius=radius) == len(expected)
    values = NirspecMast.get_parameter_values("grating", coordinates=center, radius=radius)
    assert dict(zip(values["grating"], values["count"])) == dict(
        Counter(r["grating"] for r, keep in zip(CONE_ROWS, inside) if keep))


def test_cone_given_as_text_and_in_another_frame(server):
    server(CONE_ARCHIVE)
    center = SkyCoord(0.0005 * u.deg, -70.0 * u.deg)
    radius = 2 * u.arcmin
    expected = [r["ArchiveFileID"] for r, keep in zip(CONE_ROWS, CONE_COORDS.separation(center) <= radius)
                if keep]
    as_text = NirspecMast.query_filtered("ArchiveFileID", coordinates="0.0005 -70.0", radius="2 arcmin")
    galactic = NirspecMast.query_filtered("ArchiveFileID", coordinates=center.galactic, radius=radius)
    assert list(as_text["ArchiveFileID"]) == expected
    assert list(galactic["ArchiveFileID"]) == expected


# --------------------------------------------------------------------------- the wire

def test_requests_follow_the_protocol(server):
    srv = server()
    filters = {"exp_type": ["NRS_IFU", "NRS_FIXEDSLIT"], "effexptm": (100, 5000),
               "filename": "*_cal.fits", "date_obs": (Time("2023-01-01"), "2025-06-30"),
               "program": A_PROGRAM}
    payload = NirspecMast.query_filtered("filename, effexptm", pagesize=3, **filters, get_query_payload=True)
    assert srv.count() == 0                             # get_query_payload sends nothing
    table = NirspecMast.query_filtered("filename, effexptm", pagesize=3, **filters)
    low, high = Time("2023-01-01").mjd, Time("2025-06-30").mjd
    expected = [r["filename"] for r in ROWS
                if r["exp_type"] in ("NRS_IFU", "NRS_FIXEDSLIT") and ge(r["effexptm"], 100)
                and r["effexptm"] <= 5000 and fnmatch.fnmatchcase(r["filename"], "*_cal.fits")
                and low <= r["date_obs_mjd"] <= high and r["program"] == A_PROGRAM]
    assert list(table["filename"]) == expected and len(expected) > 3
    records = sorted(srv.log, key=lambda r: r.request["page"])   # pages may be fetched side by side
    assert len(records) == math.ceil(len(expected) / 3)
    breakers = set()
    for number, record in enumerate(records, start=1):
        assert (record.method, record.path, record.kind) == ("POST", "/api/v0/invoke", "invoke")
        headers = {k.lower(): v for k, v in record.headers.items()}
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        assert headers["accept"] == "text/plain"
        assert "authorization" not in headers
        request = record.request
        assert record.body.decode() == "request=" + urllib.parse.quote(json.dumps(request))
        assert record.body.decode() == encode_request(request)
        assert request["service"] == NIRSPEC_SERVICE and request["format"] == "json"
        assert request["params"] == payload["params"]
        assert (request["page"], request["pagesize"]) == (number, 3)
        breakers.add(request["cacheBreaker"])
    assert len(breakers) == 1
    sent = {f["paramName"]: f for f in records[0].request["params"]["filters"]}
    assert sent["exp_type"] == {"paramName": "exp_type", "values": ["NRS_IFU", "NRS_FIXEDSLIT"]}
    assert sent["effexptm"] == {"paramName": "effexptm", "values": [{"min": 100, "max": 5000}]}
    assert sent["filename"] == {"paramName": "filename", "values": [], "freeText": "%[_]cal.fits"}
    assert sent["date_obs_mjd"]["values"] == [{"min": pytest.approx(low), "max": pytest.approx(high)}]
    assert sent["program"] == {"paramName": "program", "values": [A_PROGRAM]}


def _wildcard_archive():
    rows = make_nirspec_rows(40, seed=3)
    names = ["a_s3d.fits", "abs3d.fits", "a_s3d.fitsx", "A_S3D.FITS", "x_y_s3d.fits", "100%_s3d.fits",
             "100x_s3d.fits", "br[1]_s3d.fits", "br1_s3d.fits", "a__s3d.fits"]
    for row, name in zip(rows, names):
        row["filename"] = name
    return make_archive(nirspec_rows=rows)


@pytest.mark.parametrize("pattern", ["*_s3d.fits", "a_s3d.fits", "a?s3d.fits", "100%*", "br[1]*",
                                     "*__*", "x_y*"])
def test_wildcards_keep_underscore_percent_and_bracket_literal(server, pattern):
    archive = _wildcard_archive()
    server(archive)
    table = NirspecMast.query_filtered("filename", filename=pattern)
    # only * and ? are wildcards; everything else (_ % [ ]) is literal; MAST ignores case
    regex = re.compile("".join({"*": ".*", "?": "."}.get(c, re.escape(c)) for c in pattern), re.IGNORECASE)
    expected = [r["filename"] for r in archive[NIRSPEC_SERVICE].rows if regex.fullmatch(r["filename"])]
    assert expected
    assert list(table["filename"]) == expected


ODD_VALUES = ["A&B=C+D%E", "Ünïcødé ☃ target", 'with "quotes" and \'apostrophes\'', "back\\slash/slash",
              "semi;colon, comma", "  padded  ", "tab\tand\nnewline", "100%_sure[1]"]


def test_odd_characters_in_values_arrive_intact(server):
    rows = make_nirspec_rows(60, seed=12)
    for k, row in enumerate(rows):
        row["targprop"] = ODD_VALUES[k % len(ODD_VALUES)]
    srv = server(make_archive(nirspec_rows=rows))
    for value in ODD_VALUES:
        table = NirspecMast.query_filtered(["ArchiveFileID", "targprop"], targprop=value, cache=False)
        assert list(table["ArchiveFileID"]) == [r["ArchiveFileID"] for r in rows if r["targprop"] == value]
        assert set(table["targprop"]) == {value}
    assert [q["params"]["filters"][0]["values"] for q in srv.requests()] == [[v] for v in ODD_VALUES]


def test_a_list_of_dates_is_refused_before_any_request(server):
    srv = server()
    wanted = [ROWS[3]["date_obs"], ROWS[700]["date_obs"]]
    as_iso = [Time(int(d[6:-2]) / 1000, format="unix", scale="utc").isot for d in wanted]
    with pytest.raises(InvalidQueryError, match=r"A list of dates is not accepted.*\(min, max\) range"):
        NirspecMast.query_filtered("ArchiveFileID", date_obs=as_iso)
    assert srv.count() == 0


def test_object_names_are_resolved_with_mast_name_lookup(server):
    center = SkyCoord(0.0005 * u.deg, -70.0 * u.deg)
    srv = server(CONE_ARCHIVE, names={"NGC 1068": (float(center.ra.deg), float(center.dec.deg))})
    radius = 2 * u.arcmin
    expected = [r["ArchiveFileID"] for r, keep in zip(CONE_ROWS, CONE_COORDS.separation(center) <= radius)
                if keep]
    table = NirspecMast.query_filtered("ArchiveFileID", coordinates="NGC 1068", radius=radius)
    assert list(table["ArchiveFileID"]) == expected
    lookup = srv.requests()[0]
    assert lookup["service"] == NAME_LOOKUP_SERVICE and lookup["params"]["input"] == "NGC 1068"
    assert all(q["service"] == NIRSPEC_SERVICE for q in srv.requests()[1:])
    resolved = NirspecMast.resolve_object("ngc  1068")
    assert resolved.separation(center) < 1 * u.mas


def test_an_unknown_name_raises_resolver_error_after_one_request(server):
    srv = server(names={"NGC 1068": (40.66963, -0.01328)})
    with pytest.raises(ResolverError, match=r"Could not resolve \"NGC 9999\""):
        NirspecMast.query_filtered(coordinates="NGC 9999", radius=1 * u.arcmin)
    assert [q["service"] for q in srv.requests()] == [NAME_LOOKUP_SERVICE]


# --------------------------------------------------------------------------- check_duplicates

FIELDS = [(0.002, 10.0), (53.16, -27.8), (150.1, 2.2), (210.8, 54.35), (270.0, 66.5)]
SETUPS = [("MSA", "G395M", "F290LP"), ("IFU", "G140H", "F100LP"), ("S200A1", "G235H", "F170LP"),
          ("IFU", "PRISM", "CLEAR"), ("S1600A1", "G395H", "F290LP")]


def _targets_and_caom():
    rng = np.random.default_rng(5)
    targets = []
    for f, (ra, dec) in enumerate(FIELDS):
        center = SkyCoord(ra * u.deg, dec * u.deg)
        for k in range(40):
            point = center.directional_offset_by(rng.uniform(0, 360) * u.deg, rng.uniform(0, 60) * u.arcsec)
            aperture, grating, filt = SETUPS[(f + k) % len(SETUPS)]
            targets.append({"name": f"F{f}-T{k:02d}", "ra": float(point.ra.deg), "dec": float(point.dec.deg),
                            "aperture": aperture, "grating": grating, "filter": filt,
                            "exposure_time": float(rng.uniform(500, 3000))})
    caom = []
    for f, (ra, dec) in enumerate(FIELDS):                 # background: executed and planned rows
        caom.extend(make_caom_rows(30, seed=f, center=(ra, dec), spread_deg=0.05))
    caom.extend(make_caom_rows(40, seed=99))               # elsewhere on the sky
    for row in caom:
        assert row["proposal_id"] not in ("4321", "5555", "7777")

    dup = targets[1]                                       # F0-T01: IFU G140H/F100LP
    assert (dup["aperture"], dup["grating"], dup["filter"]) == ("IFU", "G140H", "F100LP")
    at = SkyCoord(dup["ra"] * u.deg, dup["dec"] * u.deg).directional_offset_by(30 * u.deg, 1.5 * u.arcsec)
    caom.append(caom_row(proposal_id="4321", instrument_name="NIRSPEC/IFU", filters="F100LP;G140H",
                         calib_level=3, s_ra=float(at.ra.deg), s_dec=float(at.dec.deg),
                         t_exptime=dup["exposure_time"] * 3.5, intentType="science",
                         obs_id="jw04321-o002_t001_nirspec_g140h-f100lp"))

    planned = targets[42]                                  # F1-T02: IFU PRISM/CLEAR
    assert (planned["aperture"], planned["grating"], planned["filter"]) == ("IFU", "PRISM", "CLEAR")
    at = SkyCoord(planned["ra"] * u.deg, planned["dec"] * u.deg).directional_offset_by(200 * u.deg,
                                                                                      1 * u.arcsec)
    caom.append(caom_row(proposal_id="5555", calib_level=-1, instrument_name="NIRSPEC/IFU",
                         filters="CLEAR;PRISM", s_ra=float(at.ra.deg), s_dec=float(at.dec.deg),
                         t_exptime=planned["exposure_time"], obs_id="jw05555003001_xx101_00001_nirspec"))

    other = targets[82]                                    # a NIRCam row at a target position
    caom.append(caom_row(proposal_id="7777", instrument_name="NIRCAM/GRISM", filters="F444W;GRISMR",
                         calib_level=3, s_ra=other["ra"], s_dec=other["dec"],
                         t_exptime=other["exposure_time"],
                         obs_id="jw07777-o001_t001_nircam_f444w-grismr"))
    return Table(rows=targets), caom


def test_check_duplicates_one_request_per_field(server):
    targets, caom = _targets_and_caom()
    srv = server(make_archive(caom_rows=caom))
    report = NirspecMast.check_duplicates(targets)
    requests_sent = srv.requests(CAOM_POSITION_SERVICE)
    assert len(requests_sent) == len(FIELDS) == srv.count(CAOM_POSITION_SERVICE)
    # plus at most one MSA-metadata lookup per field with executed MOS rows (issue 11's budget)
    assert srv.count(NIRSPEC_SERVICE) <= len(FIELDS) and srv.count() <= 2 * len(FIELDS)
    assert report.meta["requests"] == len(FIELDS)
    assert set(report["target"]) == set(targets["name"])

    dup = report[(report["target"] == "F0-T01") & (report["proposal_id"] == "4321")]
    assert len(dup) == 1
    assert dup["verdict"][0] == "DUPLICATE" and dup["observation"][0] == "jw04321-o002"
    assert not dup["planned"][0]

    planned = report[report["proposal_id"] == "5555"]
    assert len(planned) >= 1
    assert set(planned["target"]) >= {"F1-T02"}
    assert all(planned["planned"])
    row = planned[planned["target"] == "F1-T02"][0]
    assert row["verdict"] == "DUPLICATE" and row["calib_level"] == -1

    assert "7777" not in set(report["proposal_id"].filled(""))
    assert not any("nircam" in str(o) for o in report["obs_id"].filled(""))


def test_check_duplicates_reads_the_targets_from_a_file(server, tmp_path):
    targets, caom = _targets_and_caom()
    srv = server(make_archive(caom_rows=caom))
    path = tmp_path / "targets.ecsv"
    targets[:40].write(path)
    report = NirspecMast.check_duplicates(str(path))
    assert srv.count(CAOM_POSITION_SERVICE) == 1 and srv.count() <= 2
    assert "DUPLICATE" in set(report[report["target"] == "F0-T01"]["verdict"])


def _summary(report):
    return sorted((str(r["target"]), str(r["observation"]), str(r["verdict"]), bool(r["planned"]))
                  for r in report)


def test_check_duplicates_over_several_pages_equals_one_page(server):
    targets, caom = _targets_and_caom()
    srv = server(make_archive(caom_rows=caom))
    one_page = NirspecMast.check_duplicates(targets, cache=False)
    assert srv.count(CAOM_POSITION_SERVICE) == len(FIELDS)
    with conf.set_temp("pagesize", 7):
        paged = NirspecMast.check_duplicates(targets, cache=False)
    assert srv.count(CAOM_POSITION_SERVICE) > 2 * len(FIELDS)
    assert _summary(paged) == _summary(one_page)


def test_check_duplicates_with_nothing_in_caom(server):
    targets, _ = _targets_and_caom()
    srv = server(make_archive(caom_rows=[]))
    report = NirspecMast.check_duplicates(targets[:50])
    assert srv.count() == 2                                # the first 50 targets lie in 2 fields
    assert sorted(report["target"]) == sorted(targets["name"][:50])
    assert set(report["verdict"]) == {"NOT_DUPLICATE"}
    assert np.all(report["observation"].mask)
