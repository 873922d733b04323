"""
The assumptions about MAST that the offline suite cannot check, each checked once
against the live service (``python -m pytest --remote-data``).

The offline tests (``tests/test_contract.py`` and the local server) are built on replies
recorded by public projects in 2018 and 2026. Each test here confirms or refutes one
thing those recordings show, so that the first run with a network says which still
holds; ``docs/troubleshooting.rst`` lists them. They use small public selections: ERO
SMACS J0723 (programme 2736, NIRSpec MOS) and the WASP-39 b transits of the ERS
programme 1366 (NIRSpec bright-object time series).
"""
import warnings

import numpy as np
import pytest
from astropy.time import Time
from astroquery.exceptions import NoResultsWarning

from astroquery_nirspec import NirspecMast, conf, transport
from astroquery_nirspec.duplication import msa_files, msa_lookup_requests, read_msa_sources
from astroquery_nirspec.fields import field_names

pytestmark = pytest.mark.remote_data

#: A small, stable selection: ERO SMACS 0723 MOS cal files of one detector.
SMALL = {"program": 2736, "exp_type": "NRS_MSASPEC", "grating": "G395M", "filter": "F290LP",
         "detector": "NRS1", "filename": "*_cal.fits"}

#: WASP-39 (ICRS, deg): NIRSpec BOTS with S1600A1 in ERS programme 1366.
WASP39 = {"name": "WASP-39", "ra": 217.32667, "dec": -3.44450, "aperture": "S1600A1",
          "grating": "G395H", "filter": "F290LP", "exposure_time": 30000}


@pytest.fixture(autouse=True)
def live_mast():
    NirspecMast.logout()
    with conf.set_temp("server", "https://mast.stsci.edu"), conf.set_temp("progress", False), \
            conf.set_temp("row_limit", -1):
        yield


@pytest.fixture(scope="module")
def raw_reply():
    """The parsed first page of a ``columns="*"`` reply, as MAST sends it."""
    with conf.set_temp("server", "https://mast.stsci.edu"), conf.set_temp("progress", False):
        responses = NirspecMast.query_filtered_async(cache=False, **SMALL)
    return transport.reply_json(responses[0])


def test_one_letter_flags_are_stored_as_t_or_f(raw_reply):
    """Addendum: FITS flags are text 't'/'f' (2026); a filter in that form matches."""
    types = {f["name"]: f["type"] for f in raw_reply["fields"]}
    assert types["targoopp"] == "string"
    assert {row["targoopp"] for row in raw_reply["data"]} <= {"t", "f", "T", "F", None}
    table = NirspecMast.query_filtered(["filename", "targoopp"], cache=False, targoopp=False, **SMALL)
    assert len(table) == len(raw_reply["data"])       # ERO data are not targets of opportunity
    assert table["targoopp"].dtype == bool and not table["targoopp"].any()


def test_an_empty_result_carries_every_field():
    """Addendum [I]: an empty reply still lists the requested fields, with no rows."""
    with pytest.warns(NoResultsWarning):
        table = NirspecMast.query_filtered(cache=False, grating="G395H", filter="CLEAR")
    assert len(table) == 0
    assert set(field_names()) <= set(table.colnames)


def test_declared_types_are_those_recorded(raw_reply):
    """Dates are typed ``date`` and hold /Date(ms)/; integer ids are typed string."""
    types = {f["name"]: f["type"] for f in raw_reply["fields"]}
    assert types["date_obs"] in ("date", "datetime", "string")
    assert types["publicReleaseDate"] in ("date", "datetime")
    assert str(raw_reply["data"][0]["publicReleaseDate"]).startswith("/Date(")
    for name in ("ArchiveFileID", "fileSize", "FileSetId"):
        assert isinstance(raw_reply["data"][0][name], int), name
    table = NirspecMast.query_filtered(cache=False, **SMALL)
    assert isinstance(table["publicReleaseDate"], Time)
    assert table["fileSize"].dtype == np.int64
    assert table["ArchiveFileID"].dtype == np.int64


def test_the_shipped_field_catalogue_is_the_live_one():
    """data/nirspec_fields.ecsv was rebuilt from the 2026 reply; refresh says what changed."""
    changes = NirspecMast.list_fields(refresh=True)
    added = [str(n) for n in changes["name"][changes["change"] == "added"]]
    removed = [str(n) for n in changes["name"][changes["change"] == "removed"]]
    assert not removed, f"fields MAST no longer sends: {removed}"
    assert not added, f"fields MAST sends that the catalogue lacks: {added}"


def test_caom_position_rows_bots_and_repeated_obsids():
    """CAOM names NIRSpec BOTS ``NIRSPEC/BOTS`` (or SLIT + timeseries); obsid may repeat."""
    responses = NirspecMast.check_duplicates_async([WASP39], cache=False)
    rows = [row for r in responses for row in (transport.reply_json(r).get("data") or [])]
    assert rows
    names = {(row.get("instrument_name"), row.get("dataproduct_type")) for row in rows}
    assert (("NIRSPEC/BOTS", "timeseries") in names
            or any(n == "NIRSPEC/BOTS" or (n == "NIRSPEC/SLIT" and t == "timeseries")
                   for n, t in names)), names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoResultsWarning)
        report = NirspecMast.check_duplicates([WASP39], cache=False)
    assert "DUPLICATE" in set(str(v) for v in report["verdict"])   # 1366 observed it


def test_pages_in_flight_give_the_rows_of_pages_one_at_a_time():
    """MAST serves ``conf.max_concurrent_pages`` (3) pages of one query at once, each page
    the rows it holds when they are fetched one at a time: no 429, none lost or repeated."""
    columns = ["filename", "ArchiveFileID"]
    total = NirspecMast.query_filtered_count(cache=False, **SMALL)
    assert total >= 4
    pagesize = total // 4                                 # four or five pages, three in flight
    tables = []
    for in_flight in (1, 3):
        with conf.set_temp("max_concurrent_pages", in_flight):
            tables.append(NirspecMast.query_filtered(columns, pagesize=pagesize, cache=False, **SMALL))
    one, three = tables
    assert len(one) == total
    assert list(one["ArchiveFileID"]) == list(three["ArchiveFileID"])
    assert len(set(one["ArchiveFileID"])) == len(one)


def test_msa_metadata_files_are_named_and_downloadable():
    """MOS exposures name their MSA metadata file (``msametfl``); it downloads as
    ``mast:JWST/product/<name>`` and holds SHUTTER_INFO and SOURCE_INFO (jwst layout)."""
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    smacs = SkyCoord(110.8 * u.deg, -73.46 * u.deg)       # ERO SMACS J0723, programme 2736
    request = msa_lookup_requests(smacs, 6 * u.arcmin, pagesize=5000)[0]
    pages = transport.invoke(NirspecMast, request)
    files = msa_files([transport.reply_json(p) for p in pages])
    assert 2736 in set(int(p) for p in files["program"])
    name = str(files["msametfl"][0])
    manifest = NirspecMast.download_files([f"mast:JWST/product/{name}"], verbose=False)
    assert str(manifest["Status"][0]) == "COMPLETE", manifest
    sources = read_msa_sources(str(manifest["Local Path"][0]))
    assert len(sources) > 0
