"""MAST JSON → Table (pure, from the fixtures in tests/data)."""
import json
from pathlib import Path

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time
from astroquery.exceptions import MaxResultsWarning, NoResultsWarning

from astroquery_nirspec.fields import catalogue
from table_checks import assert_same_table

from astroquery_nirspec.tables import (LONG_STRING, empty_table, pages_to_table, rows_to_table,
                                       value_counts)

DATA = Path(__file__).parent / "data"


def load(name):
    return json.loads((DATA / name).read_text())


@pytest.fixture
def table():
    reply = load("nirspec_three_rows.json")
    return rows_to_table(reply["fields"], reply["data"])


def test_column_order_and_types(table):
    reply = load("nirspec_three_rows.json")
    assert table.colnames == [f["name"] for f in reply["fields"]]
    assert table["program"].dtype == np.int64
    assert table["effexptm"].dtype == np.float64
    assert table["isRestricted"].dtype == bool
    assert table["grating"].dtype.kind == "U"
    assert list(table["grating"]) == ["G235H", "G140H", "G140M"]


def test_nulls_are_masked(table):
    assert table["duration"].mask.tolist() == [False, True, False]
    assert table["fileSize"].mask.tolist() == [False, False, True]
    assert table["fxd_slit"].mask.tolist() == [False, False, True]
    assert table["publicReleaseDate"].mask.tolist() == [False, True, False]


def test_ms_json_dates_become_iso_times(table):
    date = table["publicReleaseDate"]
    assert isinstance(date, Time)
    assert str(date[0].isot) == "2026-08-11T12:02:11.000"
    # the MJD twin and the converted date agree
    assert float(date[0].mjd) == pytest.approx(float(table["publicReleaseDate_mjd"][0]), abs=1e-6)


def test_units_and_descriptions_from_the_catalogue(table):
    assert table["effexptm"].unit == u.s
    assert table["targ_ra"].unit == u.deg
    assert table["grating"].description


def test_long_text_stays_object_and_short_text_fixed_width(table):
    assert table["s_region"].dtype == object
    assert max(len(s) for s in table["s_region"].compressed()) > LONG_STRING
    assert table["filename"].dtype.kind == "U"


def test_numbers_in_a_text_column_become_numbers():
    t = rows_to_table([{"name": "obsid", "type": "string"}], [{"obsid": 2003585980}, {"obsid": None}])
    assert t["obsid"].dtype == np.int64
    assert t["obsid"].mask.tolist() == [False, True]


def test_boolean_strings():
    t = rows_to_table([{"name": "isRestricted", "type": "boolean"}],
                      [{"isRestricted": "True"}, {"isRestricted": "f"}, {"isRestricted": None}])
    assert t["isRestricted"].tolist() == [True, False, None]


def test_no_rows_keeps_the_columns():
    reply = load("nirspec_empty.json")
    t = rows_to_table(reply["fields"], reply["data"])
    assert len(t) == 0 and "grating" in t.colnames
    e = empty_table(["filename", "effexptm", "program"])
    assert e.colnames == ["filename", "effexptm", "program"] and e["program"].dtype == np.int64


def test_large_reply_is_built_without_per_cell_python(monkeypatch):
    """100 000 rows: the builder must not call a Python function per cell."""
    calls = []
    import astroquery_nirspec.tables as tables_module
    original = tables_module.build_column

    def counting(name, kind, values, field=None):
        calls.append(name)
        return original(name, kind, values, field)

    monkeypatch.setattr(tables_module, "build_column", counting)
    fields = [{"name": "effexptm", "type": "float"}, {"name": "grating", "type": "string"}]
    rows = [{"effexptm": float(i), "grating": "G140M"} for i in range(100_000)]
    t = rows_to_table(fields, rows)
    assert len(t) == 100_000 and calls == ["effexptm", "grating"]
    assert t["effexptm"][-1] == 99_999.0


def test_json_fallback_parses_the_same(monkeypatch):
    """Where orjson cannot be installed, the standard library gives the same rows."""
    import astroquery_nirspec.decoding as decoding
    content = (DATA / "nirspec_three_rows.json").read_bytes()
    fast = decoding.loads(content)
    monkeypatch.setattr(decoding, "_orjson", None)
    assert decoding.loads(content) == fast


# --- empty replies (issue 10 item 1) -------------------------------------------------

#: The fields of an empty ``columns="*"``-style reply as MAST declares them: dates typed
#: ``date``/``datetime``, integer ids typed ``string`` (see tests/data/README.rst).
EMPTY_REPLY_FIELDS = [
    {"name": "ArchiveFileID", "type": "string"}, {"name": "filename", "type": "string"},
    {"name": "program", "type": "int"}, {"name": "effexptm", "type": "float"},
    {"name": "date_obs", "type": "date"}, {"name": "publicReleaseDate", "type": "datetime"},
    {"name": "publicReleaseDate_mjd", "type": "float"}, {"name": "isRestricted", "type": "boolean"},
    {"name": "fileSize", "type": "string"}, {"name": "grating", "type": "string"},
]


def test_empty_reply_with_date_fields_gives_every_column_in_its_natural_type():
    t = rows_to_table(EMPTY_REPLY_FIELDS, [])
    assert len(t) == 0
    assert t.colnames == [f["name"] for f in EMPTY_REPLY_FIELDS]
    assert isinstance(t["date_obs"], Time) and isinstance(t["publicReleaseDate"], Time)
    assert t["date_obs"].format == "isot"
    assert t["program"].dtype == np.int64
    assert t["ArchiveFileID"].dtype == np.int64         # typed string, catalogued int
    assert t["fileSize"].dtype == np.int64 and t["fileSize"].unit == u.byte
    assert t["effexptm"].dtype == np.float64 and t["effexptm"].unit == u.s
    assert t["isRestricted"].dtype == bool
    assert t["grating"].dtype.kind == "U"
    assert t["grating"].description and t["date_obs"].info.description


def test_empty_table_follows_the_catalogue_types():
    e = empty_table(["filename", "effexptm", "program", "publicReleaseDate", "isRestricted",
                     "not_a_field"])
    assert e.colnames == ["filename", "effexptm", "program", "publicReleaseDate", "isRestricted",
                          "not_a_field"]
    assert isinstance(e["publicReleaseDate"], Time) and len(e["publicReleaseDate"]) == 0
    assert e["program"].dtype == np.int64 and e["effexptm"].dtype == np.float64
    assert e["isRestricted"].dtype == bool
    assert e["filename"].dtype.kind == e["not_a_field"].dtype.kind == "U"
    assert e["effexptm"].unit == u.s and e["program"].description


def test_other_services_ignore_the_nirspec_catalogue():
    # CAOM also has a column named like a NIRSpec one; its empty column stays text
    t = rows_to_table([{"name": "ArchiveFileID", "type": "string"}], [], describe=False)
    assert t["ArchiveFileID"].dtype.kind == "U"


# --- types as MAST declares them (issue 10 item 6) ------------------------------------

def test_date_and_datetime_columns_become_times_whatever_the_zone_suffix():
    t = rows_to_table([{"name": "date_obs", "type": "date"}, {"name": "date", "type": "datetime"}],
                      [{"date_obs": "/Date(1453010667879)/", "date": "/Date(1515978335783-0500)/"},
                       {"date_obs": None, "date": "/Date(1515978335783+0100)/"},
                       {"date_obs": "/Date(-86400000)/", "date": None}])
    assert isinstance(t["date_obs"], Time) and isinstance(t["date"], Time)
    assert t["date_obs"].isot[0] == "2016-01-17T06:04:27.879"
    assert t["date_obs"].isot[2] == "1969-12-31T00:00:00.000"
    assert t["date_obs"].mask.tolist() == [False, True, False]
    # the ms are UTC; the zone is informational
    assert t["date"].isot[0] == t["date"].isot[1] == "2018-01-15T01:05:35.783"
    assert t["date"].mask.tolist() == [False, False, True]


def test_integer_ids_typed_string_become_int64_and_hex_checksums_stay_text():
    fields = [{"name": n, "type": "string"} for n in ("ArchiveFileID", "fileSize", "FileSetId", "checksum")]
    rows_2018 = [{"ArchiveFileID": 5748878, "fileSize": 4631040, "FileSetId": 153974, "checksum": 547966661},
                 {"ArchiveFileID": 5748879, "fileSize": None, "FileSetId": 153975, "checksum": 1}]
    t = rows_to_table(fields, rows_2018)
    for name in ("ArchiveFileID", "fileSize", "FileSetId", "checksum"):
        assert t[name].dtype == np.int64, name
    assert t["fileSize"].mask.tolist() == [False, True]
    assert t["ArchiveFileID"].tolist() == [5748878, 5748879]
    hex_2026 = "0125ce8664d371d6069f6fa59d079995"
    t = rows_to_table(fields, [{"ArchiveFileID": 243907813, "fileSize": 11151360, "FileSetId": 6499538,
                                "checksum": hex_2026}])
    assert t["checksum"].dtype.kind == "U" and t["checksum"][0] == hex_2026


def test_all_null_columns_take_the_declared_or_catalogued_type():
    fields = [{"name": "fileSize", "type": "string"}, {"name": "program", "type": "int"},
              {"name": "bkglevel", "type": "float"}, {"name": "date_obs", "type": "date"},
              {"name": "isStale", "type": "boolean"}, {"name": "targname", "type": "string"},
              {"name": "publicReleaseDate", "type": "string"}]
    t = rows_to_table(fields, [dict.fromkeys(f["name"] for f in fields)] * 3)
    assert t["fileSize"].dtype == np.int64 and t["program"].dtype == np.int64
    assert t["bkglevel"].dtype == np.float64 and t["isStale"].dtype == bool
    assert t["targname"].dtype.kind == "U"
    assert isinstance(t["date_obs"], Time) and isinstance(t["publicReleaseDate"], Time)
    for name in t.colnames:
        assert np.all(t[name].mask), name


def test_mixed_values_give_one_text_column_not_a_mixed_object_column():
    # one checksum column over files of both eras: a JSON integer and 32 hex digits
    t = rows_to_table([{"name": "checksum", "type": "string"}],
                      [{"checksum": 547966661}, {"checksum": "0125ce8664d371d6069f6fa59d079995"},
                       {"checksum": None}])
    assert t["checksum"].dtype.kind == "U"
    assert t["checksum"].tolist() == ["547966661", "0125ce8664d371d6069f6fa59d079995", None]


@pytest.mark.parametrize("field, value", [
    ({"name": "isRestricted", "type": "boolean"}, "maybe"),
    ({"name": "date_obs", "type": "date"}, "not a date"),
    ({"name": "program", "type": "int"}, "1345a"),
])
def test_values_that_do_not_fit_the_declared_type_are_kept_as_text(field, value):
    name = field["name"]
    t = rows_to_table([field], [{name: value}, {name: None}])
    assert t[name].dtype.kind == "U"
    assert t[name].tolist() == [value, None]


# --- one-letter FITS flags (issue 10 item 2) ------------------------------------------------

def test_flags_become_masked_bool_columns_in_either_letter_case():
    fields = [{"name": "targoopp", "type": "string"}, {"name": "tsovisit", "type": "string"},
              {"name": "isRestricted", "type": "boolean"}]
    t = rows_to_table(fields, [{"targoopp": "t", "tsovisit": "F", "isRestricted": False},
                               {"targoopp": "f", "tsovisit": "T", "isRestricted": True},
                               {"targoopp": None, "tsovisit": "f", "isRestricted": None}])
    assert t["targoopp"].dtype == t["tsovisit"].dtype == t["isRestricted"].dtype == bool
    assert t["targoopp"].tolist() == [True, False, None]
    assert t["tsovisit"].tolist() == [False, True, False]
    assert t["isRestricted"].tolist() == [False, True, None]


def test_a_flag_holding_another_value_keeps_its_text():
    t = rows_to_table([{"name": "targoopp", "type": "string"}], [{"targoopp": "t"}, {"targoopp": "?"}])
    assert t["targoopp"].tolist() == ["t", "?"]


def test_empty_and_all_null_flags_are_bool():
    fields = [{"name": "bkgdtarg", "type": "string"}]
    assert rows_to_table(fields, [])["bkgdtarg"].dtype == bool
    t = rows_to_table(fields, [{"bkgdtarg": None}])
    assert t["bkgdtarg"].dtype == bool and t["bkgdtarg"].mask.tolist() == [True]
    assert empty_table(["crowdfld"])["crowdfld"].dtype == bool


# --- pages_to_table and value_counts (issue 13 item 3) ------------------------------------------

POS_FIELDS = [{"name": "filename", "type": "string"}, {"name": "targ_ra", "type": "float"},
              {"name": "targ_dec", "type": "float"}, {"name": "effexptm", "type": "float"}]


def _page(rows, rows_filtered=None, fields=POS_FIELDS):
    paging = {"rowsFiltered": len(rows) if rows_filtered is None else rows_filtered}
    return {"status": "COMPLETE", "msg": "", "fields": fields, "data": rows, "paging": paging}


def _rows(n, start=0):
    return [{"filename": f"f{i}", "targ_ra": 10.0 + i / 3600, "targ_dec": 0.0, "effexptm": float(i)}
            for i in range(start, start + n)]


def test_pages_are_joined_in_order_with_the_service_and_filters_in_meta():
    request = {"params": {"filters": [{"paramName": "grating", "values": ["G140M"]}]}}
    t = pages_to_table([_page(_rows(2), 3), _page(_rows(1, 2), 3)], request=request)
    assert t["filename"].tolist() == ["f0", "f1", "f2"]
    assert t.meta == {"service": "Mast.Jwst.Filtered.Nirspec", "filters": request["params"]["filters"]}


def test_row_limit_cuts_and_warns_with_the_total():
    with pytest.warns(MaxResultsWarning, match="Only the first 2 of 5 rows"):
        t = pages_to_table([_page(_rows(2), 5)], row_limit=2)
    assert len(t) == 2
    with pytest.warns(MaxResultsWarning, match="first 1 of 3"):
        assert len(pages_to_table([_page(_rows(3))], row_limit=1)) == 1
    assert len(pages_to_table([_page(_rows(2))], row_limit=2)) == 2     # exactly the limit: no warning


def test_an_empty_reply_gives_typed_columns_and_a_no_results_warning():
    with pytest.warns(NoResultsWarning, match="no results"):
        t = pages_to_table([_page([], fields=EMPTY_REPLY_FIELDS)])
    assert t.colnames == [f["name"] for f in EMPTY_REPLY_FIELDS] and isinstance(t["date_obs"], Time)
    assert len(pages_to_table([_page([], fields=EMPTY_REPLY_FIELDS)], warn_empty=False)) == 0


def test_a_reply_without_fields_gives_the_requested_columns_even_with_a_cone():
    cone = (SkyCoord(10 * u.deg, 0 * u.deg), Angle(1 * u.arcmin))
    with pytest.warns(NoResultsWarning):
        t = pages_to_table([{"status": "COMPLETE", "data": []}], columns=["filename", "effexptm"], cone=cone)
    assert t.colnames == ["filename", "effexptm", "separation"]
    assert t["effexptm"].dtype == np.float64
    with pytest.warns(NoResultsWarning):
        assert len(pages_to_table([{"data": []}]).colnames) == len(catalogue())


def test_a_cone_keeps_the_rows_inside_and_drops_positions_not_asked_for():
    cone = (SkyCoord(10 * u.deg, 0 * u.deg), Angle(2.5 * u.arcsec))
    t = pages_to_table([_page(_rows(5), 500)], columns=["filename"], cone=cone, row_limit=10)
    assert t.colnames == ["filename", "effexptm", "separation"]
    assert t["filename"].tolist() == ["f0", "f1", "f2"]
    assert t["separation"].unit == u.arcsec
    kept = pages_to_table([_page(_rows(5))], columns=["filename", "targ_ra"], cone=cone)
    assert "targ_ra" in kept.colnames and "targ_dec" not in kept.colnames


def test_value_counts_most_frequent_first_with_the_nulls_masked():
    t = rows_to_table([{"name": "grating", "type": "string"}, {"name": "effexptm", "type": "float"},
                       {"name": "targoopp", "type": "string"}, {"name": "date_obs", "type": "date"}],
                      [{"grating": g, "effexptm": e, "targoopp": f, "date_obs": d} for g, e, f, d in [
                          ("PRISM", 10.0, "t", "/Date(0)/"), ("G140M", None, "f", None),
                          ("G140M", 10.0, None, "/Date(0)/"), (None, 20.0, "f", "/Date(1000)/")]])
    counts = value_counts(t, "grating")
    assert counts["grating"].tolist() == ["G140M", "PRISM", None]
    assert counts["count"].tolist() == [2, 1, 1] and counts.meta["service"] == "Mast.Jwst.Filtered.Nirspec"
    assert counts["grating"].description and counts["count"].description
    e = value_counts(t, "effexptm")
    assert e["effexptm"].unit == u.s and e["effexptm"].tolist()[0] == 10.0
    assert value_counts(t, "targoopp")["targoopp"].tolist()[0] is False
    d = value_counts(t, "date_obs")
    assert d["date_obs"].tolist()[0] == "1970-01-01T00:00:00.000" and d["count"][0] == 2


def test_value_counts_of_no_rows_warns():
    with pytest.warns(NoResultsWarning):
        out = value_counts(rows_to_table([{"name": "grating", "type": "string"}], []), "grating")
    assert len(out) == 0 and out.colnames == ["grating", "count"]


def test_a_fraction_in_an_int_column_is_never_truncated():
    for rows in ([{"program": 1345}, {"program": 2.5}], [{"program": 1345}, {"program": 2.5}, {"program": None}]):
        t = rows_to_table([{"name": "program", "type": "int"}], rows)
        assert t["program"].dtype == np.float64 and t["program"].tolist()[:2] == [1345.0, 2.5]


# --- the column builders' fast paths give what the general ones give (issue 12, Conversion) ------

def test_integers_with_nulls_beyond_float_precision_stay_exact():
    big = 2 ** 53 + 1                       # not a float64: the fast path must not round it
    t = rows_to_table([{"name": "program", "type": "int"}], [{"program": big}, {"program": None}])
    assert t["program"].dtype == np.int64 and t["program"].tolist() == [big, None]
    t = rows_to_table([{"name": "program", "type": "int"}], [{"program": -7}, {"program": None}])
    assert t["program"].dtype == np.int64 and t["program"].tolist() == [-7, None]


@pytest.mark.parametrize("texts, unix", [
    (["/Date(1786449731000)/", None, "/Date(-1000)/"], [1786449731.0, None, -1.0]),
    (["/Date(1786449731000+0100)/", "/Date(1000-0500)/", None], [1786449731.0, 1.0, None]),
])
def test_ms_json_dates_with_and_without_a_zone(texts, unix):
    t = rows_to_table([{"name": "publicReleaseDate", "type": "string"}],
                      [{"publicReleaseDate": v} for v in texts])
    column = t["publicReleaseDate"]
    assert isinstance(column, Time)
    assert column.mask.tolist() == [v is None for v in unix]
    seconds = getattr(column.unix, "unmasked", column.unix)
    assert seconds[~column.mask].tolist() == pytest.approx([v for v in unix if v is not None], abs=1e-3)


def test_text_that_only_looks_like_a_date_stays_text():
    texts = ["/Date(1000)/", "/Date(12)/x/Date("]
    t = rows_to_table([{"name": "note", "type": "string"}], [{"note": v} for v in texts])
    assert t["note"].tolist() == texts


def test_every_spelling_of_a_flag():
    rows = [{"targoopp": v} for v in ("t", "F", "True", "false", None, True, "TRUE")]
    t = rows_to_table([{"name": "targoopp", "type": "string"}], rows)
    assert t["targoopp"].dtype == bool
    assert t["targoopp"].tolist() == [True, False, True, False, None, True, True]


# --- page Tables joined (issue 12: each page converted while the next downloads) ----------------

def _reply(fields, rows):
    return json.dumps({"status": "COMPLETE", "fields": fields, "data": rows}).encode()


def _joined_and_whole(fields, pages):
    from astroquery_nirspec.tables import join_pages, reply_to_table
    joined = join_pages([reply_to_table(_reply(fields, rows))[0] for rows in pages])
    return joined, rows_to_table(fields, [row for rows in pages for row in rows])


@pytest.mark.parametrize("fields, pages", [
    # text of different widths; long footprints (objects) on one page only
    ([{"name": "grating", "type": "string"}, {"name": "s_region", "type": "string"}],
     [[{"grating": "PRISM", "s_region": "POLYGON 1 2 3"}],
      [{"grating": "G140M_LONGER", "s_region": "POLYGON " + "1.5 " * 200}, {"grating": None, "s_region": None}]]),
    # ints on one page, a fraction on the next: floats, as for the whole reply
    ([{"name": "program", "type": "int"}], [[{"program": 1345}], [{"program": 2.5}, {"program": None}]]),
    # a column null throughout a page (typed from the catalogue) beside text, numbers and dates
    ([{"name": "checksum", "type": "string"}, {"name": "effexptm", "type": "float"},
      {"name": "publicReleaseDate", "type": "string"}, {"name": "targoopp", "type": "string"}],
     [[{"checksum": None, "effexptm": None, "publicReleaseDate": None, "targoopp": None}] * 2,
      [{"checksum": "a1b2c3", "effexptm": 12.5, "publicReleaseDate": "/Date(1786449731000)/",
        "targoopp": "t"}]]),
    # dates on every page, some null
    ([{"name": "date_obs", "type": "date"}],
     [[{"date_obs": "/Date(1453010667879)/"}], [{"date_obs": None}, {"date_obs": "/Date(-86400000)/"}]]),
])
def test_page_tables_join_as_the_whole_reply(fields, pages):
    joined, whole = _joined_and_whole(fields, pages)
    assert_same_table(joined, whole)


def test_pages_whose_kinds_differ_are_not_joined():
    from astroquery_nirspec.tables import join_pages, reply_to_table
    fields = [{"name": "checksum", "type": "string"}]
    pages = [reply_to_table(_reply(fields, [{"checksum": 547966661}]))[0],     # a number (2018)
             reply_to_table(_reply(fields, [{"checksum": "a1b2c3"}]))[0]]      # text
    assert join_pages(pages) is None
    assert rows_to_table(fields, [{"checksum": 547966661}, {"checksum": "a1b2c3"}])["checksum"].tolist() \
        == ["547966661", "a1b2c3"]


def test_dates_of_the_same_width_and_not_are_read_alike():
    """All 13-digit (read as bytes), mixed widths (read by int), a sign (by int)."""
    texts = ["/Date(1786449731000)/", "/Date(1453010667879)/", None]
    for extra in ([], ["/Date(999999999999)/"], ["/Date(-86400000)/"]):
        rows = [{"date_obs": v} for v in texts + extra]
        t = rows_to_table([{"name": "date_obs", "type": "date"}], rows)
        unix = getattr(t["date_obs"].unix, "unmasked", t["date_obs"].unix)
        want = [1786449731.0, 1453010667.879] + [int(v[6:-2]) / 1000 for v in extra]
        assert unix[~t["date_obs"].mask].tolist() == pytest.approx(want, abs=1e-3)
        assert t["date_obs"].mask.tolist() == [False, False, True] + [False] * len(extra)


def test_short_text_without_nulls_and_with_them():
    t = rows_to_table([{"name": "grating", "type": "string"}, {"name": "filter", "type": "string"}],
                      [{"grating": "G140M", "filter": None}, {"grating": "PRISM", "filter": "CLEAR"}])
    assert t["grating"].dtype == np.dtype("U5") and not t["grating"].mask.any()
    assert t["filter"].tolist() == [None, "CLEAR"]
