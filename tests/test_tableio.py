"""Tests of `astroquery_nirspec.tableio`: result tables to and from ECSV, CSV, VOTable, FITS."""
import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table
from astropy.time import Time

from astroquery_nirspec import cli, tableio
from astroquery_nirspec.tableio import (EXTENSIONS, FORMATS, TableFileError, check_destination,
                                        format_for, read_table, writable_table, write_table)

ALL_EXTENSIONS = [pytest.param(ext, fmt, id=ext.lstrip(".")) for ext, fmt in EXTENSIONS.items()]


def _awkward_table():
    when = Time(["2023-05-01T12:00:00", "2023-06-01T00:00:00"])
    table = Table({"when": when,
                   "region": np.array(["POLYGON 1 2 3 4 5 6", None], dtype=object),
                   "n": [1, 2]},
                  meta={"filters": [{"paramName": "grating", "values": ["G140M"]}], "service": "X"})
    table["when"][1] = np.ma.masked
    return table


def _empty_result():
    """An empty query result as the Table conversion gives it: every column, typed, no rows."""
    table = Table({
        "filename": MaskedColumn(np.array([], dtype="U1"), mask=[]),
        "effexptm": MaskedColumn(np.array([], dtype=float), unit=u.s, mask=[]),
        "date_obs": Time([], format="isot"),
        "isRestricted": np.array([], dtype=bool),
        "s_region": MaskedColumn(np.array([], dtype=object), mask=[]),
        "program": np.array([], dtype=np.int64),
    }, meta={"service": "Mast.Jwst.Filtered.Nirspec",
             "filters": [{"paramName": "grating", "values": ["G395H"]}]})
    table["effexptm"].info.description = "Effective exposure time"
    return table


# ---- formats and destinations ------------------------------------------------------------------

@pytest.mark.parametrize("ext, fmt", ALL_EXTENSIONS)
def test_format_for_every_extension(ext, fmt):
    assert format_for(f"result{ext}") == fmt
    assert format_for(f"RESULT{ext.upper()}") == fmt
    assert format_for(f"result{ext}", "csv") == "csv"        # an explicit format wins


def test_format_for_unknown():
    with pytest.raises(TableFileError, match=r"Cannot tell the format of 't\.txt' .*--format"):
        format_for("t.txt")
    with pytest.raises(TableFileError, match="Unknown table format 'xlsx': give one of ecsv, csv"):
        format_for("t.ecsv", "xlsx")


def test_check_destination(tmp_path):
    assert check_destination("-") == "ecsv"
    assert check_destination("-", "votable") == "votable"
    assert check_destination(tmp_path / "r.fits") == "fits"
    with pytest.raises(TableFileError, match="Cannot write FITS to standard output"):
        check_destination("-", "fits")
    missing = tmp_path / "missing-dir" / "r.ecsv"
    with pytest.raises(TableFileError, match=r"Cannot write .*: the directory .* does not exist"):
        check_destination(missing)
    assert not missing.parent.exists()                       # nothing made


# ---- writing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, ext", [("ecsv", "ecsv"), ("csv", "csv"), ("votable", "xml"),
                                      ("votable", "vot"), ("fits", "fits")])
def test_write_table_round_trip_of_masked_time_and_objects(tmp_path, fmt, ext):
    path = tmp_path / f"t.{ext}"
    assert write_table(_awkward_table(), str(path)) == fmt
    back = Table.read(path, format=FORMATS[fmt])
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
    assert isinstance(table.meta["filters"], list)


def test_writable_table_ecsv_keeps_times_and_metadata():
    out = writable_table(_awkward_table(), "ecsv")
    assert isinstance(out["when"], Time)
    assert out.meta["filters"] == [{"paramName": "grating", "values": ["G140M"]}]


@pytest.mark.parametrize("ext, fmt", ALL_EXTENSIONS)
def test_an_empty_result_keeps_every_column(tmp_path, ext, fmt):
    table = _empty_result()
    path = tmp_path / f"empty{ext}"
    assert write_table(table, path) == fmt
    back = read_table(path)
    assert len(back) == 0
    assert back.colnames == table.colnames
    if fmt != "csv":                                          # CSV has no units
        assert back["effexptm"].unit == u.s
    if fmt == "ecsv":
        assert isinstance(back["date_obs"], Time)
        assert back["effexptm"].info.description == "Effective exposure time"
        assert back.meta["filters"] == table.meta["filters"]


def test_write_table_to_stdout(capsys):
    assert write_table(Table({"grating": ["G395H"], "count": [3]}), "-", "csv") == "csv"
    assert capsys.readouterr().out == "grating,count\nG395H,3\n"
    assert write_table(Table({"grating": ["G395H"]}), "-") == "ecsv"
    assert capsys.readouterr().out.startswith("# %ECSV")


def test_write_table_unknown_extension(tmp_path):
    with pytest.raises(TableFileError, match="Cannot tell the format of .*--format"):
        write_table(_awkward_table(), str(tmp_path / "t.txt"))
    assert write_table(_awkward_table(), str(tmp_path / "t.txt"), "csv") == "csv"


def test_write_table_fits_to_stdout_is_refused():
    with pytest.raises(TableFileError, match="Cannot write FITS to standard output"):
        write_table(_awkward_table(), "-", "fits")


def test_write_table_to_an_unwritable_place(tmp_path):
    with pytest.raises(TableFileError, match="Cannot write"):
        write_table(_awkward_table(), str(tmp_path / "missing-dir" / "t.ecsv"))
    folder = tmp_path / "a-folder.ecsv"
    folder.mkdir()                              # the name is taken by a directory
    with pytest.raises(TableFileError, match=f"Cannot write '{folder}'"):
        write_table(_awkward_table(), folder)


def test_write_table_replaces_a_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old\n")
    write_table(Table({"a": [1]}), path)
    assert path.read_text() == "a\n1\n"


# ---- reading -----------------------------------------------------------------------------------

@pytest.mark.parametrize("ext, fmt", ALL_EXTENSIONS)
def test_read_table_by_extension(tmp_path, ext, fmt):
    path = tmp_path / f"t{ext}"
    write_table(Table({"dataURI": ["mast:JWST/product/a.fits"], "n": [3]}), path)
    back = read_table(path)
    assert back.colnames == ["dataURI", "n"]
    value = back["dataURI"][0]
    assert (value.decode() if isinstance(value, bytes) else str(value)) == "mast:JWST/product/a.fits"


def test_read_table_errors(tmp_path):
    with pytest.raises(TableFileError, match=r"No such file: '.*missing\.ecsv'\."):
        read_table(tmp_path / "missing.ecsv")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not a table")
    with pytest.raises(TableFileError, match=f"Cannot read '{bad}' as FITS: "):
        read_table(bad)
    odd = tmp_path / "t.txt"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(TableFileError, match="Cannot tell the format"):
        read_table(odd)
    assert list(read_table(odd, "csv")["b"]) == [2]


def test_the_cli_uses_this_module():
    """One writer: the command line's names are this module's (and stay importable there)."""
    assert cli.write_table is tableio.write_table
    assert cli.writable_table is tableio.writable_table
    assert cli.FORMATS is tableio.FORMATS and cli.EXTENSIONS is tableio.EXTENSIONS
