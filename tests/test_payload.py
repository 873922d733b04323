"""The request payload of a NIRSpec query: paging, row limit and columns (pure, no server)."""
import pytest
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec import conf
from astroquery_nirspec.payload import Paging, checked_row_limit, nirspec_request, sent_columns


def test_paging_defaults_to_conf_and_every_page():
    with conf.set_temp("pagesize", 1234):
        assert Paging.checked() == Paging(1234, None)
        assert nirspec_request("*", [])["pagesize"] == 1234


@pytest.mark.parametrize("pagesize, page, bad", [(0, None, "pagesize 0"), (True, None, "pagesize True"),
                                                 (10, 0, "page 0"), (10, 1.0, "page 1.0")])
def test_bad_paging_names_the_value(pagesize, page, bad):
    with pytest.raises(InvalidQueryError, match=bad):
        Paging.checked(pagesize, page)


def test_bad_conf_pagesize_is_named():
    with conf.set_temp("pagesize", -5), pytest.raises(InvalidQueryError, match="pagesize -5"):
        nirspec_request("*", [])


@pytest.mark.parametrize("value, expected", [(1, 1), (-1, None)])
def test_row_limit(value, expected):
    assert checked_row_limit(value) == expected


@pytest.mark.parametrize("value", [0, -2, 2.5, "10", False])
def test_bad_row_limit(value):
    with pytest.raises(InvalidQueryError, match="row_limit"):
        checked_row_limit(value)


def test_one_page_request():
    request = nirspec_request("grating", [{"paramName": "program", "values": [1345]}], Paging(50, 3))
    assert (request["pagesize"], request["page"], request["params"]["columns"]) == (50, 3, "grating")


def test_cone_adds_only_missing_positions():
    assert sent_columns(["targ_dec", "grating"], cone=True) == "targ_dec, grating, targ_ra"
    assert sent_columns(["grating"]) == "grating"
