"""Filter translation and validation (pure, no HTTP)."""
import numpy as np
import pytest
import astropy.units as u
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.filters import (OPEN_BOUND, build_filters, parse_columns, translate,
                                        wildcard_to_like)


@pytest.mark.parametrize("pattern, like", [
    ("*_s3d.fits", "%[_]s3d.fits"),
    ("G?95H", "G_95H"),
    ("100%*", "100[%]%"),
    ("a[b]*", "a[[]b]%"),
])
def test_wildcard_to_like(pattern, like):
    assert wildcard_to_like(pattern) == like


def test_scalar_list_range_wildcard():
    assert translate("grating", "G395H") == {"paramName": "grating", "values": ["G395H"]}
    assert translate("exp_type", ["NRS_IFU", "NRS_MSASPEC"]) == {
        "paramName": "exp_type", "values": ["NRS_IFU", "NRS_MSASPEC"]}
    assert translate("effexptm", (100, 2000.5)) == {
        "paramName": "effexptm", "values": [{"min": 100, "max": 2000.5}]}
    assert translate("effexptm", (None, 50)) == {
        "paramName": "effexptm", "values": [{"min": -OPEN_BOUND, "max": 50}]}
    assert translate("filename", "*_x1d.fits") == {
        "paramName": "filename", "values": [], "freeText": "%[_]x1d.fits"}


def test_field_names_are_case_insensitive_and_canonical():
    assert translate("GRATING", "PRISM")["paramName"] == "grating"
    assert translate("Exp_Type", "NRS_IFU")["paramName"] == "exp_type"


def test_numeric_text_and_numpy_values():
    assert translate("program", "1345") == {"paramName": "program", "values": [1345]}
    assert translate("program", np.int64(1345)) == {"paramName": "program", "values": [1345]}
    assert translate("program", np.array([1345, 2736])) == {"paramName": "program", "values": [1345, 2736]}
    assert translate("program", {2736, 1345})["values"] == [1345, 2736]


def test_quantity_converted_to_field_unit():
    assert translate("effexptm", (1 * u.ks, None))["values"][0]["min"] == pytest.approx(1000.0)
    assert translate("targ_ra", 3600 * u.arcsec)["values"] == [pytest.approx(1.0)]


def test_dates_become_ranges_on_the_mjd_twin():
    f = translate("publicReleaseDate", (Time("2024-01-01"), "2024-02-01T00:00:00"))
    assert f["paramName"] == "publicReleaseDate_mjd"
    assert f["values"] == [{"min": pytest.approx(60310.0), "max": pytest.approx(60341.0)}]
    g = translate("publicReleaseDate", ("2025-01-01", None))
    assert g["values"][0]["max"] == OPEN_BOUND


@pytest.mark.parametrize("name, value, message", [
    ("gratng", "G395H", r"Unknown field 'gratng'.*Did you mean 'grating'"),
    ("effexptm", "long", r"Invalid value 'long' \(str\) for field 'effexptm'.*Text given for a numeric field"),
    ("effexptm", (2000, 100), r"inverted: min 2000 > max 100"),
    ("effexptm", (None, None), r"At least one bound"),
    ("effexptm", (1, 2, 3), r"exactly two bounds"),
    ("grating", [], r"The list is empty"),
    ("grating", ("A", "B"), r"Ranges apply to numeric and date fields only"),
    ("effexptm", 5 * u.m, r"cannot be converted to s"),
    ("program", 3 * u.s, r"has no unit"),
    ("effexptm", float("nan"), r"NaN"),
    ("effexptm", "1*", r"Wildcards apply to text fields only"),
    ("grating", ["G1*", "G2*"], r"Wildcards cannot be combined"),
    ("publicReleaseDate", "yesterday", r"not an ISO date"),
    ("grating", "", r"empty"),
    ("grating", 1.5, r"Invalid value 1.5 \(float\) for field 'grating'"),
    ("isRestricted", "maybe", r"Accepted: True or False"),
    ("targoopp", "yes", r"Invalid value 'yes' \(str\) for field 'targoopp' \(flag\).*"
                        r"Accepted: True, False, 't', 'T', 'f' or 'F'"),
    ("targoopp", "True", r"Invalid value 'True'.*Accepted: True, False, 't', 'T', 'f' or 'F'"),
    ("tsovisit", 1, r"Invalid value 1 \(int\) for field 'tsovisit'"),
    ("tsovisit", ["t", "x"], r"Invalid value 'x'"),
    ("bkgdtarg", "t*", r"Wildcards apply to text fields only"),
    ("crowdfld", ("f", "t"), r"Ranges apply to numeric and date fields only"),
])
def test_bad_values_name_the_value_and_what_is_accepted(name, value, message):
    with pytest.raises(InvalidQueryError, match=message):
        translate(name, value)


def test_same_field_twice_is_an_error():
    with pytest.raises(InvalidQueryError, match="given twice"):
        build_filters({"grating": "G140M", "GRATING": "G140H"})


def test_parse_columns():
    assert parse_columns("filename, GRATING,filter") == ["filename", "grating", "filter"]
    assert parse_columns(["targ_ra", "targ_dec", "targ_ra"]) == ["targ_ra", "targ_dec"]
    assert parse_columns("*") is None
    assert "publicReleaseDate_mjd" in parse_columns("publicReleaseDate*")
    with pytest.raises(InvalidQueryError, match="Unknown field 'filenme'.*'filename'"):
        parse_columns("filenme,grating")
    with pytest.raises(InvalidQueryError, match="non-empty field name"):
        parse_columns("filename,,grating")
    with pytest.raises(InvalidQueryError, match="matches no field"):
        parse_columns("zzz*")
    with pytest.raises(InvalidQueryError, match="Invalid columns 3"):
        parse_columns(3)


# --- one-letter FITS flags (issue 10 item 2) ------------------------------------------------

@pytest.mark.parametrize("value, sent", [
    (True, "t"), (False, "f"), (np.True_, "t"), ("t", "t"), ("T", "t"), ("f", "f"), ("F", "f"),
])
def test_flags_are_sent_in_their_stored_form(value, sent):
    assert translate("targoopp", value) == {"paramName": "targoopp", "values": [sent]}


def test_a_list_of_flags_is_sent_in_the_stored_form():
    assert translate("TSOVISIT", [True, "F"]) == {"paramName": "tsovisit", "values": ["t", "f"]}


def test_real_json_booleans_keep_their_form():
    # isRestricted, isItar and isStale are typed boolean by MAST, not one-letter flags
    assert translate("isRestricted", False) == {"paramName": "isRestricted", "values": ["False"]}
    assert translate("isItar", "true") == {"paramName": "isItar", "values": ["True"]}
