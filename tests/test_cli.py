"""
Tests of the ``nirspec-mast`` command line (`astroquery_nirspec.cli`).

Three layers: pure tests of the filter-token parser (table files: test_tableio.py);
``main([...])`` run in-process against the local MAST server (``tests/mast_double/``); and the real
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
from astropy.table import MaskedColumn, Table
from astropy.time import Time
from astroquery.exceptions import InvalidQueryError
from astroquery.query import cache_conf

from astroquery_nirspec import NirspecMast, conf
from astroquery_nirspec import cli
from astroquery_nirspec.cli import main, parse_filter_token, parse_filter_tokens
from astroquery_nirspec.tableio import EXTENSIONS, FORMATS

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


def test_verdict_summary_counts_each_targets_worst_verdict():
    """The printed line counts targets by their worst verdict, as summarize_duplicates does."""
    report = Table({"target": ["A", "A", "B", "C", "C", "D", "E", "E"],
                    "observation": MaskedColumn(["o1", "o2", "o1", "o3", "o4", "", "o1", "o2"],
                                                mask=[0, 0, 0, 0, 0, 1, 0, 0]),
                    "verdict": ["NOT_DUPLICATE", "POSSIBLE", "DUPLICATE", "POSSIBLE",
                                "NOT_DUPLICATE", "NOT_DUPLICATE", "NOT_DUPLICATE", "DUPLICATE"]})
    assert cli._verdict_summary(report) == "5 targets: 2 DUPLICATE, 2 POSSIBLE, 1 NOT_DUPLICATE"
    assert cli._verdict_summary(report[:1]) == "1 target: 1 NOT_DUPLICATE"


def test_verdict_summary_refuses_an_unknown_verdict():
    """One ranking of verdicts (summarize_duplicates): a verdict it does not know is named."""
    report = Table({"target": ["A"], "observation": ["o1"], "verdict": ["UNCLASSIFIED"]})
    with pytest.raises(InvalidQueryError, match="UNCLASSIFIED"):
        cli._verdict_summary(report)


def test_options_before_and_after_the_command():
    parser = cli.build_parser()
    before = parser.parse_args(["--server", "http://a", "--no-cache", "count", "grating=G140M"])
    after = parser.parse_args(["count", "grating=G140M", "--server", "http://a", "--no-cache"])
    assert before.server == after.server == "http://a"
    assert before.no_cache and after.no_cache


# ---------------------------------------------------------------------------------------------
# In-process runs of main() against the local MAST server
# ---------------------------------------------------------------------------------------------

from mast_double import (NIRSPEC_SERVICE, Fault, MastServer, caom_row,  # noqa: E402
                         make_archive, make_nirspec_rows, match_service)

NGC1068 = (40.669629, -0.013281)


def _make_archive():
    rows = make_nirspec_rows(160, seed=21)
    # IFU G395H cubes with long exposures, and G235H data around NGC 1068
    for row in rows[:24]:
        row.update(exp_type="NRS_IFU", grating="G395H", filter="F290LP", effexptm=1500.0)
    near = make_nirspec_rows(24, seed=22, center=NGC1068, spread_deg=0.004)
    for row in near[:12]:
        row.update(grating="G235H", filter="F170LP")
    caom = [caom_row(s_ra=10.0, s_dec=-20.0, filters="F290LP;G395H", t_exptime=1000.0),
            caom_row(calib_level=-1, s_ra=10.0002, s_dec=-20.0, proposal_id="4321")]
    return make_archive(nirspec_rows=rows + near, caom_rows=caom)


def _served_files(rows):
    """File contents for the download endpoint; the rows' size and checksum describe them."""
    import hashlib
    files = {}
    for row in rows:
        content = f"content of {row['filename']}\n".encode() * 3
        row.update(fileSize=len(content), checksum=hashlib.md5(content).hexdigest().upper())
        files[row["dataURI"]] = content
    return files


ARCHIVE = _make_archive()
ROWS = ARCHIVE[NIRSPEC_SERVICE].rows
FILES = _served_files(ROWS[:24])
MSA_PROGRAM = next(str(row["program"]) for row in ROWS if row["exp_type"] == "NRS_MSASPEC")

TARGETS_CSV = """\
name,ra,dec,aperture,grating,filter,exposure_time
A,10.0,-20.0,IFU,G395H,F290LP,1000
B,150.0,2.0,S200A1,G140M,F100LP,2000
"""
CLEAN_TARGETS_CSV = """\
name,ra,dec,aperture,grating,filter,exposure_time
B,150.0,2.0,S200A1,G140M,F100LP,2000
"""


@pytest.fixture(scope="module")
def mast():
    with MastServer(ARCHIVE, names={"NGC 1068": NGC1068}, files=FILES) as srv:
        yield srv


@pytest.fixture
def server(mast, monkeypatch, tmp_path):
    """The local server's URL, with quick retries and the cache in tmp_path."""
    monkeypatch.setattr(NirspecMast, "_cache_location", tmp_path / "cache")
    NirspecMast.logout()
    mast.clear_faults()
    with conf.set_temp("retry_backoff", 0.01), conf.set_temp("poll_interval", 0.01), \
            conf.set_temp("progress", False):
        yield mast.url


@pytest.fixture
def api(server):
    """Run the Python API against the local server (what the command line must match)."""
    with conf.set_temp("server", server):
        yield NirspecMast


def _column_text(column):
    """A column as comparable text, masked entries as '--'."""
    if isinstance(column, Time):
        mask = (np.broadcast_to(np.asarray(column.mask, bool), column.shape) if column.masked
                else np.zeros(len(column), bool))
        return ["--" if m else str(v) for v, m in zip(np.atleast_1d(column.isot), mask)]
    mask = np.ma.getmaskarray(column)
    values = np.asarray(column)
    if values.dtype.kind == "S":                    # FITS gives bytes back
        values = np.char.decode(values, "utf-8")
    return ["--" if m else str(v) for v, m in zip(values, mask)]


def _assert_same_rows(got, expected, time_as_text=False):
    assert got.colnames == expected.colnames
    assert len(got) == len(expected)
    for name in expected.colnames:
        want = _column_text(expected[name])
        have = _column_text(got[name])
        if not isinstance(expected[name], Time) and expected[name].dtype.kind == "f":
            have = [h if h == "--" else f"{float(h):.9g}" for h in have]
            want = [w if w == "--" else f"{float(w):.9g}" for w in want]
        if expected[name].dtype.kind == "b" if not isinstance(expected[name], Time) else False:
            have = [str(h).lower() in ("true", "1") if h != "--" else h for h in have]
            want = [str(w).lower() in ("true", "1") if w != "--" else w for w in want]
        assert have == want, name


QUERY = ["exp_type=NRS_IFU", "grating=G395H", "effexptm>=1000"]
QUERY_KWARGS = dict(exp_type="NRS_IFU", grating="G395H", effexptm=(1000, None))


def test_query_to_ecsv_equals_the_api(server, api, tmp_path, capsys):
    path = tmp_path / "ifu.ecsv"
    assert main(["query", *QUERY, "--columns", "filename,targname,effexptm", "-o", str(path),
                 "--server", server, "--no-cache"]) == 0
    expected = api.query_filtered("filename,targname,effexptm", cache=False, **QUERY_KWARGS)
    assert len(expected) >= 24
    _assert_same_rows(Table.read(path), expected)
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"nirspec-mast: wrote {len(expected)} rows to {path} (ECSV)\n"


def test_query_sends_the_filters_of_the_api(server, mast):
    mast.clear_log()
    tokens = ["exp_type=NRS_IFU,NRS_FIXEDSLIT", "effexptm=100..2000", "filename=*_s3d.fits",
              "date_obs>=2023-01-01"]
    assert main(["query", *tokens, "--server", server, "--no-cache", "-o", os.devnull,
                 "--format", "csv"]) == 0
    sent = mast.requests(NIRSPEC_SERVICE)[-1]["params"]["filters"]
    expected = NirspecMast.query_filtered(
        exp_type=["NRS_IFU", "NRS_FIXEDSLIT"], effexptm=(100, 2000), filename="*_s3d.fits",
        date_obs=("2023-01-01", None), get_query_payload=True)["params"]["filters"]
    assert sent == expected


@pytest.mark.parametrize("ext", ["ecsv", "csv", "xml", "vot", "fits"])
def test_every_format_round_trips_a_real_query_result(server, api, tmp_path, ext):
    path = tmp_path / f"all.{ext}"
    assert main(["query", "--server", server, "--no-cache", "-o", str(path)]) == 0
    expected = api.query_filtered(cache=False)
    fmt = FORMATS[EXTENSIONS[f".{ext}"]]
    back = Table.read(path, format=fmt)
    assert len(back) == len(ROWS)
    assert back.colnames == expected.colnames
    # the columns with nulls, dates, booleans and long text survive
    for name in ("filename", "targname", "effexptm", "fxd_slit", "date_obs", "publicReleaseDate",
                 "isRestricted", "s_region", "dataURI", "program"):
        got, want = _column_text(back[name]), _column_text(expected[name])
        # (dates are Time in ECSV and ISO text in the other formats: the same text here)
        if ext in ("xml", "vot", "fits") and (isinstance(expected[name], Time)
                                             or expected[name].dtype.kind == "U"):
            want = ["" if w == "--" else w for w in want]   # no null text in VOTable and FITS
            got = ["" if g == "--" else g for g in got]
        if expected[name].dtype.kind == "f" if not isinstance(expected[name], Time) else False:
            got = [g if g == "--" else f"{float(g):.9g}" for g in got]
            want = [w if w == "--" else f"{float(w):.9g}" for w in want]
        if name == "isRestricted":
            got = [str(g).lower() in ("true", "1") for g in got]
            want = [str(w).lower() in ("true", "1") for w in want]
        assert got == want, name
    if ext == "ecsv":
        assert isinstance(back["date_obs"], Time)
        assert back.meta["service"] == "Mast.Jwst.Filtered.Nirspec"
    if ext != "csv":                               # CSV has no units
        assert back["effexptm"].unit == "s"


def test_query_prints_a_table(server, api, capsys):
    assert main(["query", "exp_type=NRS_IFU", "-c", "filename,effexptm", "--all",
                 "--server", server, "--no-cache"]) == 0
    out = capsys.readouterr().out
    expected = api.query_filtered("filename,effexptm", exp_type="NRS_IFU", cache=False)
    lines = out.splitlines()
    assert lines[0].split() == ["filename", "effexptm"]
    assert len(lines) == len(expected) + 3          # names, unit, dashes, rows
    assert all(name in out for name in expected["filename"])


def test_query_screenful(server, capsys):
    assert main(["query", "-c", "filename", "--max-lines", "10", "--server", server,
                 "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert f"Length = {len(ROWS)} rows" in out
    assert len(out.splitlines()) <= 11


def test_query_near_a_name(server, api, tmp_path, capsys):
    path = tmp_path / "near.ecsv"
    assert main(["query", "--near", "NGC 1068", "--radius", "30arcsec", "grating=G235H",
                 "--server", server, "--no-cache", "-o", str(path)]) == 0
    expected = api.query_filtered(coordinates="NGC 1068", radius="30arcsec", grating="G235H",
                                  cache=False)
    assert len(expected) > 0
    _assert_same_rows(Table.read(path), expected)
    assert "separation" in expected.colnames


def test_query_near_coordinates(server, capsys):
    assert main(["query", "--near", f"{NGC1068[0]} {NGC1068[1]}", "--radius", "1arcmin",
                 "-c", "filename", "--server", server, "--no-cache", "--all"]) == 0
    assert "jw" in capsys.readouterr().out


def test_query_limit_pagesize_and_page(server, mast, capsys):
    mast.clear_log()
    assert main(["query", "-c", "filename", "--pagesize", "50", "--all", "--server", server,
                 "--no-cache"]) == 0
    assert mast.count(NIRSPEC_SERVICE) == -(-len(ROWS) // 50)
    capsys.readouterr()
    assert main(["query", "-c", "filename", "--limit", "3", "--server", server, "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 + 3
    assert err.startswith("nirspec-mast: warning: Only the first 3 of")
    assert main(["query", "-c", "filename", "--pagesize", "10", "--page", "2", "--all",
                 "--server", server, "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 + 10
    assert ROWS[10]["filename"] in out and ROWS[0]["filename"] not in out


def test_query_without_results_warns_and_succeeds(server, capsys):
    assert main(["query", "program=99999", "-c", "filename", "--server", server, "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert err == "nirspec-mast: warning: Query returned no results.\n"
    assert out.split() == ["filename", "--------"]


# ---- an empty result (issue 10, item 1) ---------------------------------------------------------
#
# MAST types its dates ``date``; an empty reply still lists every field. On such a reply the
# Table conversion must give an empty Table with every column (tables.py), and the command
# line prints astroquery's NoResultsWarning and succeeds.

EMPTY_QUERY = ["grating=G395H", "filter=CLEAR"]     # no such pair: nothing matches
NO_RESULTS = "nirspec-mast: warning: Query returned no results.\n"


@pytest.fixture(scope="module")
def dated_mast():
    """A server declaring the date columns ``date``, as the recorded replies do."""
    archive = make_archive(nirspec_rows=make_nirspec_rows(40, seed=31), date_type="date")
    with MastServer(archive) as srv:
        yield srv


@pytest.fixture
def dated_server(dated_mast, monkeypatch, tmp_path):
    monkeypatch.setattr(NirspecMast, "_cache_location", tmp_path / "cache")
    with conf.set_temp("retry_backoff", 0.01), conf.set_temp("progress", False):
        yield dated_mast.url


def _all_columns(url):
    """The columns of a query that matches: what an empty result must have too."""
    with conf.set_temp("server", url):
        table = NirspecMast.query_filtered(cache=False)
    assert len(table) > 0 and isinstance(table["date_obs"], Time)
    return table


def _check_empty_query(url, tmp_path, capsys):
    expected = _all_columns(url)
    assert main(["query", *EMPTY_QUERY, "--server", url, "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert err == NO_RESULTS
    assert out.split()[:len(expected.colnames)] == expected.colnames
    for ext in ("ecsv", "fits"):
        path = tmp_path / f"empty.{ext}"
        assert main(["query", *EMPTY_QUERY, "--server", url, "--no-cache", "-o", str(path)]) == 0
        assert capsys.readouterr().err == NO_RESULTS + f"nirspec-mast: wrote 0 rows to {path} " \
                                                       f"({ext.upper()})\n"
        back = Table.read(path)
        assert len(back) == 0 and back.colnames == expected.colnames
        assert back["effexptm"].unit == "s"
        if ext == "ecsv":
            assert isinstance(back["date_obs"], Time)


def test_empty_query_with_dated_fields_warns_and_succeeds(dated_server, tmp_path, capsys):
    """``nirspec-mast query grating=G395H filter=CLEAR``: a warning and exit 0, not exit 4.

    Needs the empty-reply fix of tables.py (issue 10, item 1): before it, the conversion
    raises and the command exits 4 with an internal error.
    """
    _check_empty_query(dated_server, tmp_path, capsys)


def test_empty_query_output_with_every_column(dated_server, tmp_path, monkeypatch, capsys):
    """The command line's side alone: given the empty Table with every column, typed."""
    from astroquery_nirspec import tables
    template = _all_columns(dated_server)
    convert = tables.rows_to_table

    def rows_to_table(fields, rows):                 # the conversion as fixed: typed, no rows
        if rows:
            return convert(fields, rows)
        assert [f["name"] for f in fields] == template.colnames
        return template[:0].copy()

    monkeypatch.setattr(tables, "rows_to_table", rows_to_table)
    _check_empty_query(dated_server, tmp_path, capsys)


def test_count_equals_the_api(server, api, capsys):
    assert main(["count", "exp_type=NRS_MSASPEC", f"program={MSA_PROGRAM}", "--server", server,
                 "--no-cache"]) == 0
    expected = api.query_filtered_count(exp_type="NRS_MSASPEC", program=MSA_PROGRAM, cache=False)
    assert expected > 0
    assert capsys.readouterr().out == f"{expected}\n"


def test_count_in_a_cone(server, api, capsys):
    assert main(["count", "--near", "NGC 1068", "--radius", "30arcsec", "--server", server,
                 "--no-cache"]) == 0
    expected = api.query_filtered_count(coordinates="NGC 1068", radius="30arcsec", cache=False)
    assert int(capsys.readouterr().out) == expected > 0


def test_values_equal_the_api(server, api, capsys):
    assert main(["values", "grating", "--where", "exp_type=NRS_FIXEDSLIT", "--server", server,
                 "--no-cache", "--format", "csv"]) == 0
    expected = api.get_parameter_values("grating", exp_type="NRS_FIXEDSLIT", cache=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "grating,count"
    assert lines[1:] == [f"{g},{n}" for g, n in zip(expected["grating"], expected["count"])]


def test_values_with_positional_filters(server, capsys):
    assert main(["values", "exp_type", "grating=G395H", "--server", server, "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "NRS_IFU" in out and "count" in out


def test_cache_is_used_unless_no_cache(server, mast, capsys):
    mast.clear_log()
    with cache_conf.set_temp("cache_active", True):   # astroquery's setting, not the user's
        for _ in range(2):
            assert main(["count", "grating=G140M", "--server", server]) == 0
        assert mast.count(NIRSPEC_SERVICE) == 1
        for _ in range(2):
            assert main(["count", "grating=G140M", "--server", server, "--no-cache"]) == 0
        assert mast.count(NIRSPEC_SERVICE) == 3


def test_server_and_timeout_apply_only_during_the_command(server):
    before = (conf.server, conf.timeout)
    assert main(["count", "--server", server, "--timeout", "12.5", "--no-cache"]) == 0
    assert (conf.server, conf.timeout) == before


# ---- errors and exit codes -------------------------------------------------------------------

def test_unknown_field_is_the_api_message(server, capsys):
    assert main(["query", "gratng=G395H", "--server", server]) == 2
    with pytest.raises(InvalidQueryError) as api_error:
        NirspecMast.query_filtered(gratng="G395H", get_query_payload=True)
    assert capsys.readouterr().err == f"nirspec-mast: error: {api_error.value}\n"


def test_bad_value_is_the_api_message(server, capsys):
    assert main(["count", "effexptm>=lots", "--server", server]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nirspec-mast: error: Invalid value 'lots' (str) for field 'effexptm'")
    assert len(err.splitlines()) == 1


def test_unresolvable_name_exit_2(server, capsys):
    assert main(["query", "--near", "No Such Object", "--radius", "1arcmin", "--server", server,
                 "--no-cache"]) == 2
    assert capsys.readouterr().err.startswith(
        'nirspec-mast: error: Could not resolve "No Such Object"')


@pytest.mark.parametrize("radius, message", [(None, "needs radius="), ("30", "single angle")])
def test_bad_cone_exit_2(server, capsys, radius, message):
    args = ["count", "--near", "10 20", "--server", server]
    if radius:
        args += ["--radius", radius]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_service_error_exit_3(server, mast, capsys):
    mast.add_fault(Fault.error("Something broke on the server."), match=match_service(NIRSPEC_SERVICE))
    assert main(["count", "grating=G140M", "--server", server, "--no-cache"]) == 3
    assert capsys.readouterr().err == (
        "nirspec-mast: error: MAST returned an error: Something broke on the server.\n")


def test_timeout_exit_3(server, mast, capsys):
    mast.add_fault(Fault.delay(2.0), match=match_service(NIRSPEC_SERVICE))
    assert main(["count", "--server", server, "--no-cache", "--timeout", "0.3"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("nirspec-mast: error: Timeout limit of 0.3 s exceeded")
    assert len(err.splitlines()) == 1


def _closed_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_exit_3(server, capsys):
    assert main(["count", "--server", f"http://127.0.0.1:{_closed_port()}", "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert "Connection to MAST failed" in err and len(err.splitlines()) == 1


def test_debug_shows_the_traceback(server, capsys):
    assert main(["count", "gratng=G140M", "--server", server, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("nirspec-mast: error: Unknown field 'gratng'")


def test_internal_error_exit_4(server, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")
    monkeypatch.setattr(NirspecMast, "query_filtered_count", broken)
    assert main(["count", "--server", server]) == 4
    assert capsys.readouterr().err.startswith(
        "nirspec-mast: error: internal error: ZeroDivisionError: oops (run again with --debug")


def test_interrupt_exit_130(server, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(NirspecMast, "query_filtered_count", interrupted)
    assert main(["count", "--server", server]) == 130
    assert capsys.readouterr().err == "nirspec-mast: interrupted\n"


def test_login_needs_the_environment_token(server, monkeypatch, capsys):
    monkeypatch.delenv("MAST_API_TOKEN", raising=False)
    assert main(["count", "--login", "--server", server]) == 2
    assert "No MAST token" in capsys.readouterr().err
    monkeypatch.setenv("MAST_API_TOKEN", "a-test-token")
    assert main(["count", "--login", "--server", server]) == 0
    assert NirspecMast._token is None          # logged out again after the command


# ---- duplicates --------------------------------------------------------------------------------

@pytest.fixture
def targets(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text(TARGETS_CSV)
    clean = tmp_path / "clean.csv"
    clean.write_text(CLEAN_TARGETS_CSV)
    return path, clean



def test_duplicates_found_exit_1(server, api, targets, tmp_path, capsys):
    path, _ = targets
    report_path = tmp_path / "report.ecsv"
    assert main(["duplicates", str(path), "-o", str(report_path), "--server", server,
                 "--no-cache"]) == 1
    expected = api.check_duplicates(str(path), cache=False)
    back = Table.read(report_path)
    assert len(back) == len(expected)
    assert list(back["verdict"]) == list(expected["verdict"])
    assert "DUPLICATE" in list(back["verdict"])
    err = capsys.readouterr().err
    assert "2 targets: 1 DUPLICATE, 1 NOT_DUPLICATE" in err


def test_duplicates_printed_summary(server, targets, capsys):
    path, _ = targets
    assert main(["duplicates", str(path), "--server", server, "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:6] == ["target", "target_mode", "target_aperture",
                                               "target_grating", "target_filter", "verdict"]
    assert "DUPLICATE" in out and "NOT_DUPLICATE" in out


def test_no_duplicates_exit_0(server, targets, capsys):
    _, clean = targets
    assert main(["duplicates", str(clean), "--server", server, "--no-cache"]) == 0
    assert "1 target: 1 NOT_DUPLICATE" in capsys.readouterr().err


@pytest.mark.parametrize("ext", ["csv", "xml", "fits"])
def test_duplicates_report_in_other_formats(server, api, targets, tmp_path, ext):
    path, _ = targets
    out = tmp_path / f"report.{ext}"
    assert main(["duplicates", str(path), "-o", str(out), "--server", server, "--no-cache"]) == 1
    back = Table.read(out, format=FORMATS[EXTENSIONS[f".{ext}"]])
    expected = NirspecMast.check_duplicates(str(path), cache=False)
    assert _column_text(back["verdict"]) == list(expected["verdict"])
    assert _column_text(back["target"]) == list(expected["target"])


def test_duplicates_rules_options(server, targets, capsys):
    path, _ = targets
    # exposure 1000 s planned vs 1000 s archived: a factor of 1 still matches
    assert main(["duplicates", str(path), "--exptime-factor", "1", "--radius", "IFU=5arcsec",
                 "--server", server, "--no-cache"]) == 1
    capsys.readouterr()
    assert main(["duplicates", str(path), "--radius", "IFU", "--server", server]) == 2
    assert "write APERTURE=ANGLE" in capsys.readouterr().err
    assert main(["duplicates", str(path), "--radius", "XYZ=3arcsec", "--server", server]) == 2
    assert "Unknown aperture 'XYZ'" in capsys.readouterr().err
    assert main(["duplicates", str(path), "--exptime-factor", "0.5", "--server", server]) == 2
    assert "exptime_factor" in capsys.readouterr().err


def test_duplicates_bad_target_files(server, tmp_path, capsys):
    assert main(["duplicates", str(tmp_path / "missing.csv"), "--server", server]) == 2
    assert capsys.readouterr().err == f"nirspec-mast: error: No such file: '{tmp_path / 'missing.csv'}'.\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ra,dec\nA,10,-20\n")
    assert main(["duplicates", str(bad), "--server", server]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nirspec-mast: error: ") and len(err.splitlines()) == 1
    assert "aperture" in err


def test_duplicates_plot(server, targets, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path, _ = targets
    png = tmp_path / "report.png"
    assert main(["duplicates", str(path), "--plot", str(png), "--server", server,
                 "--no-cache"]) == 1
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"drew the report to {png}" in capsys.readouterr().err


def test_duplicates_plot_takes_positions_from_the_report(server, targets, tmp_path, monkeypatch):
    """--plot draws the report as it is: no second reading of the target list."""
    from astroquery_nirspec import plotting
    calls = []

    def spy(report, filename=None, *, fields=None, ncols=None, figsize=None, targets=None,
            layout="grid", dpi=150):
        calls.append((report, filename, targets, fields))

    monkeypatch.setattr(plotting, "plot_duplicates", spy)
    path, _ = targets
    png = tmp_path / "report.png"
    assert main(["duplicates", str(path), "--plot", str(png), "--server", server,
                 "--no-cache", "-q"]) == 1
    (report, filename, given_targets, given_fields), = calls
    assert filename == str(png)
    assert given_targets is None and given_fields is None
    assert {"target_ra", "target_dec", "field"} <= set(report.colnames)
    assert set(report["target"]) == {"A", "B"}


def test_duplicates_plot_unavailable_exit_2(server, targets, tmp_path, monkeypatch, capsys):
    path, _ = targets
    monkeypatch.setitem(sys.modules, "astroquery_nirspec.plotting", None)  # import fails
    import astroquery_nirspec
    monkeypatch.delattr(astroquery_nirspec, "plotting", raising=False)
    assert main(["duplicates", str(path), "--plot", str(tmp_path / "r.png"), "--server", server]) == 2
    assert capsys.readouterr().err.startswith("nirspec-mast: error: --plot is not available")


# ---- download ----------------------------------------------------------------------------------


def test_download(server, tmp_path, capsys):
    table_path = tmp_path / "ifu.ecsv"
    assert main(["query", *QUERY, "--server", server, "--no-cache", "-o", str(table_path)]) == 0
    data = tmp_path / "data"
    data.mkdir()
    assert main(["download", str(table_path), "--dir", str(data), "--server", server]) == 0
    got = sorted(p.name for p in data.iterdir())
    expected = sorted(str(row["filename"]) for row in ROWS[:24])
    assert got == expected
    for row in ROWS[:24]:
        assert (data / row["filename"]).read_bytes() == FILES[row["dataURI"]]


def test_download_skips_files_already_there(server, tmp_path, capsys):
    table_path = tmp_path / "ifu.ecsv"
    assert main(["query", *QUERY, "--server", server, "--no-cache", "-o", str(table_path)]) == 0
    data = tmp_path / "data"
    assert main(["download", str(table_path), "--dir", str(data), "--server", server]) == 0
    capsys.readouterr()
    assert main(["download", str(table_path), "--dir", str(data), "--server", server]) == 0
    out, err = capsys.readouterr()
    assert "SKIPPED" in out and "COMPLETE" not in out
    assert err.endswith("nirspec-mast: 24 files: 24 SKIPPED\n")


def test_download_failures_exit_3(server, tmp_path, capsys):
    table = Table({"dataURI": ["mast:JWST/product/jw_missing_file.fits", ROWS[0]["dataURI"]]})
    table_path = tmp_path / "two.csv"
    table.write(table_path)
    data = tmp_path / "data"
    assert main(["download", str(table_path), "--dir", str(data), "--server", server]) == 3
    out, err = capsys.readouterr()
    assert "ERROR" in out and "COMPLETE" in out
    assert err.endswith("nirspec-mast: error: 1 of 2 files failed (see the Message column)\n")
    assert (data / ROWS[0]["filename"]).read_bytes() == FILES[ROWS[0]["dataURI"]]


def test_download_bad_table_exit_2(server, tmp_path, capsys):
    assert main(["download", str(tmp_path / "missing.ecsv"), "--server", server]) == 2
    assert capsys.readouterr().err == (
        f"nirspec-mast: error: No such file: '{tmp_path / 'missing.ecsv'}'.\n")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not a table")
    assert main(["download", str(bad), "--server", server]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nirspec-mast: error: Cannot read '{bad}' as FITS")
    assert err.count("\n") == 1
    no_uri = tmp_path / "no_uri.csv"
    Table({"filename": ["a.fits"]}).write(no_uri)
    assert main(["download", str(no_uri), "--server", server]) == 2
    assert "dataURI" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The real entry points, as subprocesses
# ---------------------------------------------------------------------------------------------

def _entry_points():
    entries = [pytest.param([sys.executable, "-m", "astroquery_nirspec"], id="python-m")]
    script = shutil.which("nirspec-mast")
    entries.append(pytest.param([script] if script else None, id="console-script",
                                marks=pytest.mark.skipif(script is None,
                                                         reason="nirspec-mast is not installed")))
    return entries


@pytest.fixture(params=_entry_points())
def run(request, mast, tmp_path):
    """Run the command line as a subprocess in tmp_path; returns CompletedProcess."""
    command = request.param
    env = dict(os.environ)
    # the source tree first, so that `python -m` works from a checkout too
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["ASTROPY_CACHE_DIR"] = str(tmp_path / "astropy-cache")
    os.makedirs(env["ASTROPY_CACHE_DIR"], exist_ok=True)
    env["MPLBACKEND"] = "Agg"
    env.pop("MAST_API_TOKEN", None)
    mast.clear_faults()

    def _run(*args, server=True):
        extra = ["--server", mast.url] if server else []
        return subprocess.run(command + list(args) + extra, cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)

    _run.console_script = request.node.callspec.id == "console-script"
    return _run


def test_entry_point_query_to_file(run, tmp_path, api):
    result = run("query", *QUERY, "--columns", "filename,targname,effexptm", "-o", "ifu.ecsv")
    assert result.returncode == 0, result.stderr
    expected = api.query_filtered("filename,targname,effexptm", cache=False, **QUERY_KWARGS)
    _assert_same_rows(Table.read(tmp_path / "ifu.ecsv"), expected)
    assert result.stdout == ""
    assert result.stderr == f"nirspec-mast: wrote {len(expected)} rows to ifu.ecsv (ECSV)\n"


def test_entry_point_query_near(run, api):
    result = run("query", "--near", "NGC 1068", "--radius", "30arcsec", "grating=G235H",
                 "--columns", "filename", "--all")
    assert result.returncode == 0, result.stderr
    expected = api.query_filtered("filename", coordinates="NGC 1068", radius="30arcsec",
                                  grating="G235H", cache=False)
    printed = [word for word in result.stdout.split() if word.endswith(".fits")]
    assert len(expected) > 0
    assert sorted(printed) == sorted(expected["filename"])


def test_entry_point_count(run, api):
    result = run("count", "exp_type=NRS_MSASPEC", f"program={MSA_PROGRAM}")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == api.query_filtered_count(exp_type="NRS_MSASPEC",
                                                          program=MSA_PROGRAM, cache=False)


def test_entry_point_values(run, api):
    result = run("values", "grating", "--where", "exp_type=NRS_FIXEDSLIT", "--format", "csv")
    assert result.returncode == 0, result.stderr
    expected = api.get_parameter_values("grating", exp_type="NRS_FIXEDSLIT", cache=False)
    assert result.stdout.splitlines()[1:] == [f"{g},{n}" for g, n in
                                              zip(expected["grating"], expected["count"])]


def test_entry_point_fields(run):
    result = run("fields", "--match", "exp", server=False)
    assert result.returncode == 0, result.stderr
    assert "exp_type" in result.stdout and "effexptm" in result.stdout


def test_entry_point_duplicates(run, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "targets.csv").write_text(TARGETS_CSV)
    result = run("duplicates", "targets.csv", "-o", "report.ecsv", "--plot", "report.png")
    assert result.returncode == 1, result.stderr
    report = Table.read(tmp_path / "report.ecsv")
    assert "DUPLICATE" in list(report["verdict"])
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert "2 targets: 1 DUPLICATE, 1 NOT_DUPLICATE" in result.stderr


def test_entry_point_download(run, tmp_path):
    result = run("query", *QUERY, "-o", "ifu.ecsv")
    assert result.returncode == 0, result.stderr
    result = run("download", "ifu.ecsv", "--dir", "data/")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        str(row["filename"]) for row in ROWS[:24])


def test_entry_point_errors(run):
    result = run("query", "gratng=G395H")
    assert result.returncode == 2
    assert result.stderr.startswith("nirspec-mast: error: Unknown field 'gratng'")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    result = run("count", "--timeout", "1", "--server", f"http://127.0.0.1:{_closed_port()}",
                 server=False)
    assert result.returncode == 3
    assert result.stderr.startswith("nirspec-mast: error: ") and "Traceback" not in result.stderr
    result = run("query", "--frobnicate")
    assert result.returncode == 2 and "unrecognized arguments: --frobnicate" in result.stderr


def test_entry_point_help(run):
    result = run("duplicates", "--help", server=False)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: nirspec-mast duplicates")
    assert "examples:" in result.stdout


@pytest.mark.parametrize("output, message", [
    ("out.xyz", "Cannot tell the format of"),
    ("no-such-dir/out.ecsv", "does not exist"),
])
def test_bad_output_is_refused_before_any_request(server, mast, tmp_path, output, message, capsys):
    mast.clear_log()
    assert main(["query", "grating=G395H", "-o", str(tmp_path / output), "--server", server]) == 2
    assert message in capsys.readouterr().err
    assert mast.count() == 0
    assert main(["values", "grating", "--format", "fits", "--server", server]) == 2
    assert "Cannot write FITS to standard output" in capsys.readouterr().err
    assert mast.count() == 0
