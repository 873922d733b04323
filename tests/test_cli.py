"""
Tests of the ``nirspec-mast`` command line (`astroquery_nirspec.cli`).

Three layers: pure tests of the filter-token parser and the table writer; ``main([...])``
run in-process against the local MAST server (``tests/mast_server.py``); and the real
entry points (``python -m astroquery_nirspec`` and, when installed, the ``nirspec-mast``
console script) run as subprocesses against the same server.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec import NirspecMast, conf
from astroquery_nirspec import cli
from astroquery_nirspec.cli import main, parse_filter_token, parse_filter_tokens, writable_table

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("query", "count", "values", "fields", "duplicates", "download")


# ---------------------------------------------------------------------------------------------
# Filter tokens (pure)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token, expected", [
    ("exp_type=NRS_IFU", ("exp_type", "NRS_IFU")),
    ("grating=G395H,G395M", ("grating", ["G395H", "G395M"])),
    ("grating = G395H , G395M", ("grating", ["G395H", "G395M"])),
    ("effexptm>=1000", ("effexptm", (1000.0, None))),
    ("effexptm<=1000", ("effexptm", (None, 1000.0))),
    ("effexptm=500..1000", ("effexptm", (500.0, 1000.0))),
    ("effexptm=..1000", ("effexptm", (None, 1000.0))),
    ("effexptm=500..", ("effexptm", (500.0, None))),
    ("program=1345", ("program", "1345")),            # numbers stay text: the API reads them
    ("program=1345,2736", ("program", ["1345", "2736"])),
    ("program>=1345", ("program", (1345.0, None))),
    ("targ_ra=10.5..11", ("targ_ra", (10.5, 11.0))),
    ("date_obs>=2023-01-01", ("date_obs", ("2023-01-01", None))),
    ("date_obs=2023-01-01..2023-06-30T12:00:00", ("date_obs", ("2023-01-01", "2023-06-30T12:00:00"))),
    ("filename=*_s3d.fits", ("filename", "*_s3d.fits")),
    ("targname=NGC?1068", ("targname", "NGC?1068")),
    ("filename=jw01345..fits", ("filename", "jw01345..fits")),   # '..' is a range only for numbers/dates
    ("isRestricted=false", ("isRestricted", "false")),
    ("GRATING=G140M", ("GRATING", "G140M")),                   # case is the API's business
    ("grating==G140M", ("grating", "G140M")),
    ("effexptm>=abc", ("effexptm", ("abc", None))),            # the API names the bad value
    ("gratng=G140M", ("gratng", "G140M")),                     # and the unknown field
])
def test_parse_filter_token(token, expected):
    assert parse_filter_token(token) == expected


@pytest.mark.parametrize("token, message", [
    ("G395H", "Invalid filter 'G395H': write field=value"),
    ("effexptm>1000", "strict comparisons"),
    ("effexptm<1000", "strict comparisons"),
    ("grating!=G140M", "!= is not supported"),
    ("=G140M", "no field name"),
    ("grating=", "no value after '='"),
    ("effexptm>=", "no value after '>='"),
    ("effexptm=..", "at least one bound"),
])
def test_parse_filter_token_errors(token, message):
    with pytest.raises(InvalidQueryError, match=message):
        parse_filter_token(token)


def test_parse_filter_tokens_merges_open_ranges():
    assert parse_filter_tokens(["effexptm>=1000", "effexptm<=5000", "grating=G140M"]) == {
        "effexptm": (1000.0, 5000.0), "grating": "G140M"}
    assert parse_filter_tokens(["effexptm<=5000", "effexptm>=1000"]) == {"effexptm": (1000.0, 5000.0)}


@pytest.mark.parametrize("tokens", [["grating=G140M", "grating=G395H"],
                                    ["effexptm>=1", "effexptm>=2"],
                                    ["effexptm=1..2", "effexptm<=5"]])
def test_parse_filter_tokens_repeated_field(tokens):
    with pytest.raises(InvalidQueryError, match="given twice"):
        parse_filter_tokens(tokens)


@pytest.mark.parametrize("tokens, kwargs", [
    (["exp_type=NRS_IFU", "grating=G395H", "effexptm>=1000"],
     dict(exp_type="NRS_IFU", grating="G395H", effexptm=(1000, None))),
    (["program=1345", "exp_type=NRS_MSASPEC,NRS_IFU"],
     dict(program=1345, exp_type=["NRS_MSASPEC", "NRS_IFU"])),
    (["filename=*_s3d.fits", "effexptm=10..20"], dict(filename="*_s3d.fits", effexptm=(10, 20))),
    (["date_obs=2023-01-01..2023-02-01"], dict(date_obs=("2023-01-01", "2023-02-01"))),
    (["date_obs<=2023-02-01"], dict(date_obs=(None, "2023-02-01"))),
])
def test_tokens_give_the_payload_of_the_python_api(tokens, kwargs):
    from_cli = NirspecMast.query_filtered(get_query_payload=True, **parse_filter_tokens(tokens))
    from_python = NirspecMast.query_filtered(get_query_payload=True, **kwargs)
    assert from_cli["params"] == from_python["params"]


# ---------------------------------------------------------------------------------------------
# Writing tables (pure)
# ---------------------------------------------------------------------------------------------

def _awkward_table():
    when = Time(["2023-05-01T12:00:00", "2023-06-01T00:00:00"])
    table = Table({"when": when,
                   "region": np.array(["POLYGON 1 2 3 4 5 6", None], dtype=object),
                   "n": [1, 2]},
                  meta={"filters": [{"paramName": "grating", "values": ["G140M"]}], "service": "X"})
    table["when"][1] = np.ma.masked
    return table


@pytest.mark.parametrize("fmt, ext", [("ecsv", "ecsv"), ("csv", "csv"), ("votable", "xml"),
                                      ("votable", "vot"), ("fits", "fits")])
def test_write_table_round_trip_of_masked_time_and_objects(tmp_path, fmt, ext):
    path = tmp_path / f"t.{ext}"
    assert cli.write_table(_awkward_table(), str(path)) == fmt
    back = Table.read(path, format=cli.FORMATS[fmt])
    assert len(back) == 2
    when, region = back["when"], back["region"]
    if fmt == "ecsv":
        assert isinstance(when, Time) and when.masked and bool(when.mask[1])
        assert when[0].isot == "2023-05-01T12:00:00.000"
    else:
        assert str(when[0]) == "2023-05-01T12:00:00.000"
        assert np.ma.is_masked(when[1]) or str(when[1]) == ""
    assert str(region[0]) == "POLYGON 1 2 3 4 5 6"
    assert np.ma.is_masked(region[1]) or str(region[1]) in ("", "None") or region[1] is None


def test_writable_table_keeps_the_original():
    table = _awkward_table()
    out = writable_table(table, "fits")
    assert isinstance(table["when"], Time) and table["region"].dtype.kind == "O"
    assert out["when"].dtype.kind == "U" and out["region"].dtype.kind == "U"
    assert out.meta["filters"] == '[{"paramName": "grating", "values": ["G140M"]}]'


def test_write_table_unknown_extension(tmp_path):
    with pytest.raises(cli.CommandError, match="Cannot tell the format of .*--format"):
        cli.write_table(_awkward_table(), str(tmp_path / "t.txt"))
    assert cli.write_table(_awkward_table(), str(tmp_path / "t.txt"), "csv") == "csv"


def test_write_table_fits_to_stdout_is_refused():
    with pytest.raises(cli.CommandError, match="Cannot write FITS to standard output"):
        cli.write_table(_awkward_table(), "-", "fits")


def test_write_table_to_an_unwritable_place(tmp_path):
    with pytest.raises(cli.CommandError, match="Cannot write"):
        cli.write_table(_awkward_table(), str(tmp_path / "missing-dir" / "t.ecsv"))


# ---------------------------------------------------------------------------------------------
# The parser and commands that need no server
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: nirspec-mast {command}" in out
    assert "examples:" in out
    assert f"nirspec-mast {command}" in out.split("examples:")[1]


def test_main_help_lists_commands_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    assert "exit status" in out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert main(["query", "--timeout", "-3"]) == 2
    err = capsys.readouterr().err
    assert "must be a positive number" in err


def test_version(capsys):
    from astroquery_nirspec import __version__
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_fields(capsys):
    assert main(["fields", "--match", "gwa_x"]) == 0
    out = capsys.readouterr().out
    assert "gwa_xp_v" in out and "gwa_xtil" in out and "gwa_ytil" not in out


def test_fields_to_csv(tmp_path, capsys):
    path = tmp_path / "fields.csv"
    assert main(["fields", "-o", str(path)]) == 0
    assert f"wrote {len(NirspecMast.list_fields())} rows to {path} (CSV)" in capsys.readouterr().err
    back = Table.read(path, format="ascii.csv")
    assert list(back["name"]) == list(NirspecMast.list_fields()["name"])


def test_format_without_output_writes_to_stdout(capsys):
    assert main(["fields", "--match", "gwa_x", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "name,type,unit,description"
    assert out.splitlines()[1].startswith("gwa_xp_v,float,")


def test_bad_server_url(capsys):
    assert main(["count", "--server", "ftp://example.org"]) == 2
    assert "nirspec-mast: error: Invalid --server 'ftp://example.org'" in capsys.readouterr().err


def test_invalid_filter_is_one_line_exit_2(capsys):
    assert main(["count", "gratng=G140M", "--server", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    with pytest.raises(InvalidQueryError) as api_error:
        NirspecMast.query_filtered_count(gratng="G140M", get_query_payload=True)
    assert err == f"nirspec-mast: error: {api_error.value}\n"
    assert "Did you mean 'grating'?" in err


def test_one_line_of_a_long_message():
    assert cli._one_line("Cannot read 'x':\nERROR: bad\nmore\nmore") == (
        "Cannot read 'x': ERROR: bad [...; --debug shows the whole message]")
    assert cli._one_line("simple") == "simple"


def test_options_before_and_after_the_command():
    parser = cli.build_parser()
    before = parser.parse_args(["--server", "http://a", "--no-cache", "count", "grating=G140M"])
    after = parser.parse_args(["count", "grating=G140M", "--server", "http://a", "--no-cache"])
    assert before.server == after.server == "http://a"
    assert before.no_cache and after.no_cache
