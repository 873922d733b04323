"""
``list_fields(refresh=True)`` and ``nirspec-mast fields --refresh`` through the local server:
one small request reads the live ``fields``, the changes against the shipped catalogue are
reported, and validation follows the live list for the rest of the process.
"""
import pytest
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec import NirspecMast, fields
from astroquery_nirspec.cli import main
from mast_double import NIRSPEC_SERVICE, make_archive


@pytest.fixture
def live(local_mast):
    srv = local_mast(make_archive(n_nirspec=20), pagesize=50000, timeout=30.0)()
    yield srv
    fields.reset_fields()


def test_refresh_reports_changes_and_validates_against_the_live_list(live):
    changes = NirspecMast.list_fields(refresh=True)
    assert live.count(NIRSPEC_SERVICE) == 1
    assert live.requests(NIRSPEC_SERVICE)[0]["pagesize"] == 1
    removed = [str(n) for n in changes["name"][changes["change"] == "removed"]]
    assert removed                              # the local server sends fewer fields than MAST
    with pytest.raises(InvalidQueryError, match=removed[0]):
        NirspecMast.query_filtered(get_query_payload=True, **{removed[0]: 1})
    fields.reset_fields()
    NirspecMast.query_filtered(get_query_payload=True, **{removed[0]: 1})   # shipped list again


def test_fields_refresh_on_the_command_line(live, capsys):
    assert main(["fields", "--refresh", "--server", live.url]) == 0
    captured = capsys.readouterr()
    assert "removed" in captured.out and "differ from the shipped catalogue" in captured.err
