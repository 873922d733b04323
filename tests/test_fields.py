"""Tests of the shipped field catalogue of Mast.Jwst.Filtered.Nirspec (astroquery_nirspec.fields)."""
import csv
import importlib.util
import json
import re

import pytest
import astropy.units as u
from astropy.table import Table
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec import fields
from astroquery_nirspec.fields import (
    SERVICE, Field, catalogue, field_names, fields_table, get_field)

from shared_data import ROOT, needs_shared, shared_file

# Real service rows exported by the DJA dashboard, shipped beside (never inside) the repo.
DJA_NAME = "dja/dja_dashboard_nirspec_jwst_filtered.csv"
DJA_CSV = shared_file(DJA_NAME)
# The 2018 Mast.Jwst.Filtered.Miri reply (derived: a printed reply re-serialised).
JWQL_NAME = "jwql/jwst_filtered_miri_2018_reply.json"
# Columns the dashboard adds itself: they are not MAST columns.
DJA_ONLY_COLUMNS = {"prog_pi", "filter-pupil", "inst-mode", "release", "observed"}
needs_dja_csv = needs_shared(DJA_NAME)

ALLOWED_TYPES = {"string", "int", "float", "boolean", "flag", "datetime"}
MS_JSON_DATE = re.compile(r"/Date\(-?\d+\)/")


def _dja_rows():
    with DJA_CSV.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


# --- the shipped file ------------------------------------------------------------

def test_data_file_is_valid_ecsv_with_the_expected_columns():
    table = Table.read(fields._DATA_FILE, format="ascii.ecsv")
    assert table.colnames == ["name", "type", "unit", "description"]
    assert table.meta["service"] == SERVICE
    assert len(table) == len(catalogue()) > 200


def test_names_are_unique_even_ignoring_case():
    names = field_names()
    assert len(names) == len(set(names))
    # MAST matches names case-insensitively, so two names differing in case would be ambiguous.
    assert len({n.lower() for n in names}) == len(names)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) for n in names)


def test_types_are_in_the_allowed_set():
    bad = {f.name: f.type for f in catalogue().values() if f.type not in ALLOWED_TYPES}
    assert not bad


def test_every_unit_parses_with_astropy():
    for field in catalogue().values():
        if field.unit:
            assert isinstance(u.Unit(field.unit), u.UnitBase), field
            assert field.quantity_unit == u.Unit(field.unit)
        else:
            assert field.quantity_unit is None


def test_only_numeric_fields_have_units():
    with_unit = {f.name: f.type for f in catalogue().values() if f.unit and not f.is_numeric}
    assert not with_unit


def test_descriptions_are_short_sentences():
    for field in catalogue().values():
        assert field.description.strip(), field.name
        assert field.description[0].isupper(), field
        assert field.description.endswith("."), field
        assert len(field.description) <= 200, field
        assert "\n" not in field.description


def test_every_datetime_has_a_float_mjd_twin_in_days_right_after_it():
    names = field_names()
    cat = catalogue()
    datetimes = [n for n in names if cat[n].type == "datetime"]
    assert len(datetimes) >= 10
    for name in datetimes:
        twin = cat.get(name + "_mjd")
        assert twin is not None, name
        assert (twin.type, twin.unit) == ("float", "d")
        assert names.index(twin.name) == names.index(name) + 1
    # ... and every *_mjd column belongs to a datetime
    for name in names:
        if name.endswith("_mjd"):
            assert cat[name[:-4]].type == "datetime", name


@pytest.mark.parametrize("name, type_, unit", [
    ("targ_ra", "float", "deg"),
    ("targ_dec", "float", "deg"),
    ("prop_ra", "float", "deg"),
    ("gs_ra", "float", "deg"),
    ("va_ra", "float", "deg"),
    ("effexptm", "float", "s"),
    ("duration", "float", "s"),
    ("effinttm", "float", "s"),
    ("tframe", "float", "s"),
    ("tgroup", "float", "s"),
    ("expstart", "float", "d"),
    ("expmid", "float", "d"),
    ("bstrtime", "float", "d"),
    ("program", "int", ""),
    ("observtn", "int", ""),
    ("ArchiveFileID", "int", ""),
    ("grating", "string", ""),
    ("filter", "string", ""),
    ("exp_type", "string", ""),
    ("fxd_slit", "string", ""),
    ("productLevel", "string", ""),
    ("visit_id", "string", ""),  # leading zeros: '04524001001'
    ("act_id", "string", ""),  # base 36: '0A'
    ("publicReleaseDate", "datetime", ""),
    ("publicReleaseDate_mjd", "float", "d"),
    ("date_obs", "datetime", ""),
    ("dataURI", "string", ""),
    ("fileSize", "int", "byte"),
    ("s_region", "string", ""),
    ("isRestricted", "boolean", ""),
    ("bkgdtarg", "flag", ""),
    ("targoopp", "flag", ""),
    ("xoffset", "float", "arcsec"),
    ("mu_ra", "float", "arcsec / yr"),
])
def test_key_fields(name, type_, unit):
    field = get_field(name)
    assert (field.name, field.type, field.unit) == (name, type_, unit)
    assert field.is_numeric == (type_ in ("int", "float"))


def test_catalogue_order_starts_like_the_service_and_ends_with_archive_columns():
    names = field_names()
    assert names[:4] == ("ArchiveFileID", "filename", "fileSetName", "productLevel")
    assert names[-1] == "dataURI"
    assert names.index("targ_dec") + 1 == names.index("targ_ra")


#: Fields of an older key dump of the service that the 2026 replies no longer carry.
STALE_FIELDS = ["refframe", "dva_ra", "dva_dec", "eph_time", "eph_type", "filetype", "jwst_x", "jwst_y",
                "jwst_z", "jwst_dx", "jwst_dy", "jwst_dz", "texptime", "subpxnum", "subpxpns"]


@pytest.mark.parametrize("name", STALE_FIELDS)
def test_fields_absent_from_the_2026_replies_are_not_accepted(name):
    assert name not in catalogue()
    with pytest.raises(InvalidQueryError, match=f"Unknown field '{name}'"):
        get_field(name)


def test_quantity_unit_converts():
    assert (1 * get_field("fileSize").quantity_unit).to(u.kibibyte).value == pytest.approx(1 / 1024)
    assert get_field("targ_ra").quantity_unit.is_equivalent(u.rad)


# --- catalogue() / field_names() ---------------------------------------------------

def test_catalogue_is_ordered_like_field_names_and_safe_to_modify():
    cat = catalogue()
    assert tuple(cat) == field_names()
    assert all(isinstance(f, Field) and f.name == k for k, f in cat.items())
    cat.clear()
    assert len(catalogue()) == len(field_names()) > 0


# --- get_field ---------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["grating", "GRATING", "Grating", "gRaTiNg"])
def test_lookup_is_case_insensitive_and_returns_the_canonical_field(spelling):
    assert get_field(spelling) == catalogue()["grating"]


def test_case_insensitive_lookup_of_camel_case_names():
    assert get_field("filesize").name == "fileSize"
    assert get_field("PUBLICRELEASEDATE_MJD").name == "publicReleaseDate_mjd"
    assert get_field("archivefileid").name == "ArchiveFileID"


def test_unknown_field_suggests_a_close_name():
    with pytest.raises(InvalidQueryError) as excinfo:
        get_field("gratng")
    assert str(excinfo.value) == (
        "Unknown field 'gratng' for Mast.Jwst.Filtered.Nirspec. Did you mean 'grating'? "
        "See NirspecMast.list_fields().")


def test_unknown_field_lists_up_to_three_suggestions_best_first():
    with pytest.raises(InvalidQueryError) as excinfo:
        get_field("exptype")
    message = str(excinfo.value)
    match = re.fullmatch(
        r"Unknown field 'exptype' for Mast\.Jwst\.Filtered\.Nirspec\. "
        r"Did you mean ('[^']+'(?:, '[^']+')* or )?'[^']+'\? See NirspecMast\.list_fields\(\)\.",
        message)
    assert match, message
    suggested = re.findall(r"'([^']+)'", message.split("Did you mean", 1)[1])
    assert suggested[0] == "exp_type"
    assert 1 <= len(suggested) <= 3
    assert all(s in catalogue() for s in suggested)
    if len(suggested) == 3:
        assert f"'{suggested[0]}', '{suggested[1]}' or '{suggested[2]}'?" in message


def test_suggestions_use_canonical_spelling():
    with pytest.raises(InvalidQueryError, match="Did you mean 'fileSize'"):
        get_field("FILESIZ")


def test_unknown_field_without_close_match_has_no_suggestion():
    with pytest.raises(InvalidQueryError) as excinfo:
        get_field("zzzzzz")
    assert str(excinfo.value) == (
        "Unknown field 'zzzzzz' for Mast.Jwst.Filtered.Nirspec. See NirspecMast.list_fields().")


@pytest.mark.parametrize("bad", [None, 42, b"grating", ["grating"]])
def test_non_string_name_is_rejected_naming_value_and_type(bad):
    with pytest.raises(InvalidQueryError) as excinfo:
        get_field(bad)
    message = str(excinfo.value)
    assert repr(bad) in message
    assert type(bad).__name__ in message


def test_empty_name_is_unknown():
    with pytest.raises(InvalidQueryError, match="Unknown field ''"):
        get_field("")


# --- fields_table --------------------------------------------------------------------

def test_fields_table_has_string_columns_and_service_meta():
    table = fields_table()
    assert table.colnames == ["name", "type", "unit", "description"]
    assert all(table[c].dtype.kind == "U" for c in table.colnames)
    assert not table.has_masked_values
    assert table.meta["service"] == SERVICE
    assert table["name"].tolist() == list(field_names())


def test_fields_table_substring_match_over_name_and_description():
    names = fields_table(match="exp")["name"].tolist()
    assert "exp_type" in names
    assert "effexptm" in names
    assert "grating" not in names
    # case-insensitive, and the description is searched too ("Effective exposure time.")
    assert "effexptm" in fields_table(match="EXPOSURE TIME")["name"].tolist()


def test_fields_table_wildcard_match():
    assert fields_table(match="gwa_*")["name"].tolist() == [
        n for n in field_names() if n.startswith("gwa_")]
    assert fields_table(match="TARG_??")["name"].tolist() == ["targ_ra"]
    assert set(fields_table(match="*_mjd")["name"]) == {n for n in field_names() if n.endswith("_mjd")}


def test_fields_table_without_matches_is_empty_but_well_formed():
    table = fields_table(match="no such text anywhere")
    assert len(table) == 0
    assert table.colnames == ["name", "type", "unit", "description"]
    assert table.meta["service"] == SERVICE


def test_fields_table_returns_a_new_table_each_call():
    first = fields_table()
    first.remove_rows(slice(None))
    first.meta["service"] = "changed"
    second = fields_table()
    assert len(second) == len(field_names())
    assert second.meta["service"] == SERVICE


def test_fields_table_rejects_non_string_match():
    with pytest.raises(InvalidQueryError, match="int"):
        fields_table(match=5)


# --- agreement with real service rows ------------------------------------------------

@needs_dja_csv
def test_every_mast_column_of_the_real_export_is_catalogued_in_order():
    header, _ = _dja_rows()
    mast_columns = [c for c in header if c not in DJA_ONLY_COLUMNS]
    missing = [c for c in mast_columns if c not in catalogue()]
    assert not missing
    # the catalogue keeps the service's column order
    positions = [field_names().index(c) for c in mast_columns]
    assert positions == sorted(positions)


@needs_dja_csv
def test_the_catalogue_is_exactly_the_mast_columns_of_the_2026_rows():
    header, _ = _dja_rows()
    assert field_names() == tuple(c for c in header if c not in DJA_ONLY_COLUMNS)


@needs_dja_csv
def test_the_shipped_catalogue_is_what_the_tool_builds():
    spec = importlib.util.spec_from_file_location("build_fields", ROOT / "tools" / "build_fields.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    built = tool.build(DJA_CSV.parents[1])
    assert [tuple(row) for row in built.iterrows()] == [tuple(f) for f in catalogue().values()]
    assert tool.main(["--data", str(DJA_CSV.parents[1]), "--check"]) == 0


@needs_dja_csv
def test_dashboard_only_columns_are_not_catalogued():
    assert not DJA_ONLY_COLUMNS & set(field_names())


@needs_dja_csv
def test_values_of_the_real_export_fit_the_catalogued_types():
    header, rows = _dja_rows()
    assert rows
    cat = catalogue()
    problems = []
    for column in header:
        if column in DJA_ONLY_COLUMNS:
            continue
        field = cat[column]
        for value in (row[column] for row in rows):
            if value == "":
                continue
            if field.type == "int":
                ok = re.fullmatch(r"[+-]?\d+", value) is not None
            elif field.type == "float":
                try:
                    float(value)
                    ok = True
                except ValueError:
                    ok = False
            elif field.type == "boolean":
                ok = value in {"True", "False"}        # JSON true/false written by pandas
            elif field.type == "flag":
                ok = value in {"t", "f"}
            elif field.type == "datetime":
                ok = MS_JSON_DATE.fullmatch(value) is not None
            else:
                ok = True
            if not ok:
                problems.append((column, field.type, value))
                break
    assert not problems


@needs_dja_csv
def test_string_typed_identifiers_keep_leading_zeros_in_the_export():
    # Proof that these must not be typed int: an int would drop the leading zero.
    _, rows = _dja_rows()
    for column in ("visit_id", "visitgrp", "act_id"):
        assert get_field(column).type == "string"
        assert any(row[column].startswith("0") for row in rows), column


# --- one-letter FITS flags (issue 10 item 2) -----------------------------------------------

def _flag_columns(header, rows):
    """Text columns whose recorded values are only t/f (either case), ignoring nulls."""
    found = set()
    for column in header:
        values = {row[column] for row in rows} - {"", None}
        if values and values <= {"t", "f", "T", "F"}:
            found.add(column)
    return found


@needs_dja_csv
def test_every_t_f_column_of_the_2026_rows_is_a_flag():
    header, rows = _dja_rows()
    flags = _flag_columns(header, rows)
    assert {"targoopp", "tsovisit", "bkgdtarg", "crowdfld"} <= flags
    assert flags == {name for name in flags if get_field(name).type == "flag"}


@needs_shared(JWQL_NAME)
def test_every_T_F_column_of_the_2018_reply_is_a_flag_and_typed_string_there():
    reply = json.loads(shared_file(JWQL_NAME).read_text())
    declared = {f["name"]: f["type"] for f in reply["fields"]}
    flags = _flag_columns(list(declared), reply["data"])
    assert {"targoopp", "tsovisit", "selfref"} <= flags
    assert all(declared[name] == "string" for name in flags)
    assert all(get_field(name).type == "flag" for name in flags if name in catalogue())
    # the real JSON booleans are typed boolean and are not flags
    assert {n for n, t in declared.items() if t == "boolean"} == {"isRestricted", "isItar", "isStale"}
    assert all(get_field(n).type == "boolean" for n in ("isRestricted", "isItar", "isStale"))


# --- the live field list (issue 10 item 5) ---------------------------------------------------

@pytest.fixture
def live_fields():
    """use_live_fields, undone after the test whatever happens."""
    yield fields.use_live_fields
    fields.reset_fields()


def _reply_fields(names, kind="string"):
    return [{"name": name, "type": kind} for name in names]


def test_live_fields_report_added_and_removed_and_take_over_validation(live_fields):
    from astroquery_nirspec.filters import translate
    shipped = field_names()
    live = _reply_fields(n for n in shipped if n not in ("grating", "texp_new"))
    live.insert(3, {"name": "nrs_newkey", "type": "int"})
    live.append({"name": "_selected_", "type": "boolean"})
    changes = live_fields(live)
    assert changes.colnames == ["name", "change", "type", "unit", "description"]
    assert changes["name"].tolist() == ["grating", "nrs_newkey"]
    assert changes["change"].tolist() == ["removed", "added"]
    assert changes.meta == {"service": SERVICE, "live": len(shipped), "shipped": len(shipped)}
    # validation now follows the live list, in its order
    assert field_names()[3] == "nrs_newkey" and "grating" not in field_names()
    assert get_field("NRS_NEWKEY") == Field("nrs_newkey", "int", "", get_field("nrs_newkey").description)
    assert translate("nrs_newkey", "5") == {"paramName": "nrs_newkey", "values": [5]}
    with pytest.raises(InvalidQueryError, match="Unknown field 'grating'"):
        translate("grating", "G140M")
    # fields in both keep the catalogue's type, unit and flag marking
    assert get_field("effexptm").unit == "s" and get_field("targoopp").type == "flag"
    assert fields_table().meta["source"] == "live service"
    fields.reset_fields()
    assert field_names() == shipped and get_field("grating").name == "grating"
    assert fields_table().meta["source"] == "shipped catalogue"


def test_tables_use_the_live_list(live_fields):
    from astroquery_nirspec.tables import empty_table, rows_to_table
    live_fields(_reply_fields(field_names()) + [{"name": "nrs_when", "type": "date"}])
    assert isinstance(empty_table(["nrs_when"])["nrs_when"], Time)
    t = rows_to_table([{"name": "nrs_when", "type": "string"}], [{"nrs_when": None}])
    assert t["nrs_when"].info.description.startswith("Returned by the live service")


@pytest.mark.parametrize("declared, kind", [
    ("int", "int"), ("long", "int"), ("float", "float"), ("double", "float"), ("date", "datetime"),
    ("datetime", "datetime"), ("boolean", "boolean"), ("string", "string"), ("char", "string"),
    ("something", "string"),
])
def test_live_only_fields_take_their_declared_type(live_fields, declared, kind):
    changes = live_fields([{"name": "x_new", "type": declared}])
    assert get_field("x_new").type == kind and get_field("x_new").unit == ""
    assert changes["name"][-1] == "x_new" and len(changes) == len(fields._load()) + 1


def test_live_spelling_wins_for_a_shipped_field(live_fields):
    changes = live_fields([{"name": "EFFEXPTM", "type": "float"}])
    assert get_field("effexptm").name == "EFFEXPTM" and get_field("effexptm").unit == "s"
    assert "effexptm" not in changes["name"]


def test_the_same_list_as_shipped_changes_nothing(live_fields):
    changes = live_fields(_reply_fields(field_names()))
    assert len(changes) == 0 and changes.colnames[:2] == ["name", "change"]
    assert tuple(catalogue().values()) == fields._load()


@pytest.mark.parametrize("bad", [[], None, {"name": "grating"}, [{"type": "string"}], ["grating"],
                                 [{"name": ""}]])
def test_a_malformed_live_list_is_a_service_error_and_changes_nothing(live_fields, bad):
    from astroquery.exceptions import RemoteServiceError
    with pytest.raises(RemoteServiceError, match="shipped catalogue stays in use"):
        live_fields(bad)
    assert field_names() == tuple(f.name for f in fields._load())
