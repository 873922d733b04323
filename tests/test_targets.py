"""
Offline tests of reading and validating planned NIRSpec targets (no HTTP at all).
"""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, QTable, Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.duplication import TARGET_COLUMNS, read_targets


def rows(**changes):
    """Two valid targets as a list of dicts; ``changes`` update the second one."""
    first = dict(name="NGC 1068", ra=40.669629, dec=-0.013281, aperture="IFU", grating="G235H",
                 filter="F170LP", exposure_time=2000.0)
    second = dict(name="SN 1987A", ra=83.86675, dec=-69.26974, aperture="S200A1", grating="G395H",
                  filter="F290LP", exposure_time=1000.0)
    second.update(changes)
    return [first, second]


def as_table(dicts):
    return Table(rows=[list(d.values()) for d in dicts], names=list(dicts[0]))


# --- accepted inputs -------------------------------------------------------------------------

def test_list_of_dicts_is_normalised():
    result = read_targets(rows(aperture="s200a1", grating="g395h", filter="f290lp"))
    assert tuple(result.colnames) == TARGET_COLUMNS
    assert list(result["name"]) == ["NGC 1068", "SN 1987A"]
    assert list(result["aperture"]) == ["IFU", "S200A1"]
    assert list(result["mode"]) == ["IFU", "FS"]
    assert list(result["grating"]) == ["G235H", "G395H"]
    assert list(result["filter"]) == ["F170LP", "F290LP"]
    assert result["ra"].unit == u.deg and result["exposure_time"].unit == u.s
    assert result["exposure_time"][1] == 1000.0
    assert isinstance(result["coord"], SkyCoord)
    assert result["coord"][1].dec.deg == pytest.approx(-69.26974)


def test_table_with_upper_case_columns():
    table = as_table(rows())
    table.rename_columns(table.colnames, [name.upper() for name in table.colnames])
    result = read_targets(table)
    assert list(result["name"]) == ["NGC 1068", "SN 1987A"]
    assert result["ra"][0] == pytest.approx(40.669629)


def test_ecsv_file(tmp_path):
    path = tmp_path / "targets.ecsv"
    as_table(rows()).write(path)
    assert list(read_targets(path)["aperture"]) == ["IFU", "S200A1"]
    assert list(read_targets(str(path))["aperture"]) == ["IFU", "S200A1"]


def test_csv_file(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text("Name,RA,Dec,Aperture,Grating,Filter,Exposure_Time\n"
                    "A,10.5,-20.25,msa,prism,clear,3600\n")
    result = read_targets(path)
    assert result["name"][0] == "A"
    assert result["aperture"][0] == "MSA"
    assert result["exposure_time"][0] == 3600.0


def test_file_with_unknown_extension_is_read_as_ascii(tmp_path):
    path = tmp_path / "targets.txt"
    path.write_text("name ra dec aperture grating filter exposure_time\n"
                    "A 10.5 -20.25 MSA PRISM CLEAR 3600\n")
    assert read_targets(path)["dec"][0] == -20.25


def test_skycoord_column():
    table = as_table(rows())
    coord = SkyCoord(table["ra"], table["dec"], unit="deg").transform_to("galactic")
    table.remove_columns(["ra", "dec"])
    table["coord"] = coord
    result = read_targets(table)
    assert result["ra"][1] == pytest.approx(83.86675)
    assert result["dec"][1] == pytest.approx(-69.26974)
    assert result["coord"].frame.name == "icrs"


def test_skycoord_values_in_dicts():
    dicts = rows()
    for d in dicts:
        d["coord"] = SkyCoord(d.pop("ra") * u.deg, d.pop("dec") * u.deg)
    assert read_targets(dicts)["ra"][0] == pytest.approx(40.669629)


def test_quantity_exposure_times_convert_to_seconds():
    result = read_targets(rows(exposure_time=0.5 * u.hour))
    assert result["exposure_time"][1] == pytest.approx(1800.0)
    table = QTable(as_table(rows()))
    table["exposure_time"] = [1, 2] * u.min
    table["ra"] = table["ra"] * u.deg
    table["dec"] = (table["dec"] * u.deg).to(u.arcmin)
    result = read_targets(table)
    assert list(result["exposure_time"]) == [60.0, 120.0]
    assert result["dec"][1] == pytest.approx(-69.26974)


def test_exposure_time_string_with_unit():
    assert read_targets(rows(exposure_time="2 ks"))["exposure_time"][1] == pytest.approx(2000.0)


def test_normalised_table_reads_back_unchanged():
    first = read_targets(rows())
    second = read_targets(first)
    assert list(second["name"]) == list(first["name"])
    assert np.allclose(second["ra"], first["ra"]) and np.allclose(second["dec"], first["dec"])


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["name", "aperture", "grating", "filter", "exposure_time", "ra", "dec"])
def test_missing_column(column):
    dicts = rows()
    for d in dicts:
        del d[column]
    with pytest.raises(InvalidQueryError, match=f"lack the column '{column}'; required: name, ra and dec"):
        read_targets(dicts)


def test_missing_value_in_one_row_names_the_row():
    dicts = rows()
    del dicts[1]["grating"]
    with pytest.raises(InvalidQueryError, match=r"row 1 \(target 'SN 1987A'\) has no grating"):
        read_targets(dicts)


def test_masked_value_names_the_row():
    table = as_table(rows())
    table["filter"] = MaskedColumn(table["filter"], mask=[False, True])
    with pytest.raises(InvalidQueryError, match=r"row 1 \(target 'SN 1987A'\) has no filter"):
        read_targets(table)


def test_unknown_aperture():
    with pytest.raises(InvalidQueryError,
                       match=r"row 1 \(target 'SN 1987A'\): unknown aperture 'S300A1'; accepted: "
                             r"MSA, IFU, S200A1, S200A2, S200B1, S400A1, S1600A1"):
        read_targets(rows(aperture="S300A1"))


def test_unknown_grating():
    with pytest.raises(InvalidQueryError, match="unknown grating 'G500H'; accepted: PRISM, G140M"):
        read_targets(rows(grating="G500H"))


def test_invalid_grating_filter_pair_lists_valid_filters():
    with pytest.raises(InvalidQueryError,
                       match="invalid grating/filter pair G140H/F170LP; "
                             "valid filters for G140H: F070LP, F100LP"):
        read_targets(rows(grating="G140H", filter="F170LP"))


@pytest.mark.parametrize("value", [0, -10.0, np.nan, np.inf])
def test_non_positive_or_nan_exposure_time(value):
    with pytest.raises(InvalidQueryError, match=r"row 1 .*exposure_time must be a positive finite time"):
        read_targets(rows(exposure_time=value))


def test_exposure_time_with_non_time_unit():
    with pytest.raises(InvalidQueryError, match=r"exposure_time must be a time, got 10.0 m \(unit 'm'\)"):
        read_targets(rows(exposure_time=10 * u.m))


def test_exposure_time_column_with_non_time_unit():
    table = as_table(rows())
    table["exposure_time"].unit = u.m
    with pytest.raises(InvalidQueryError, match="column 'exposure_time' must be a time, got unit 'm'"):
        read_targets(table)


def test_exposure_time_not_a_number():
    with pytest.raises(InvalidQueryError,
                       match="exposure_time must be a number of seconds or a time Quantity"):
        read_targets(rows(exposure_time="long"))


def test_nan_ra():
    with pytest.raises(InvalidQueryError, match=r"row 1 .*ra must be in \[0, 360\) degrees, got nan"):
        read_targets(rows(ra=np.nan))


@pytest.mark.parametrize("ra", [-1.0, 360.0, 400.0])
def test_ra_out_of_range(ra):
    with pytest.raises(InvalidQueryError, match=r"ra must be in \[0, 360\) degrees"):
        read_targets(rows(ra=ra))


@pytest.mark.parametrize("dec", [90.5, -91.0, np.nan])
def test_dec_out_of_range(dec):
    with pytest.raises(InvalidQueryError, match=r"row 1 \(target 'SN 1987A'\): dec must be in \[-90, 90\]"):
        read_targets(rows(dec=dec))


def test_ra_not_a_number():
    with pytest.raises(InvalidQueryError, match="ra must be a number of degrees, got '05h35m'"):
        read_targets(rows(ra="05h35m"))


def test_coord_not_a_skycoord():
    dicts = rows()
    for d in dicts:
        d["coord"] = "83.8 -69.3"
    with pytest.raises(InvalidQueryError, match="coord must be a SkyCoord"):
        read_targets(dicts)


def test_duplicate_names():
    with pytest.raises(InvalidQueryError, match="Duplicate target name 'NGC 1068' in rows 0 and 1"):
        read_targets(rows(name="NGC 1068"))


def test_empty_list():
    with pytest.raises(InvalidQueryError, match="No targets given"):
        read_targets([])


def test_empty_table():
    with pytest.raises(InvalidQueryError, match="No targets given"):
        read_targets(as_table(rows())[:0])


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.ecsv"
    with pytest.raises(InvalidQueryError, match=f"Cannot read targets from '{path}': no such file"):
        read_targets(path)


def test_unreadable_file_names_the_path(tmp_path):
    path = tmp_path / "broken.ecsv"
    path.write_text("# %ECSV 1.0\n# ---\n# datatype: [oops\nname ra\n")
    with pytest.raises(InvalidQueryError, match=f"Cannot read targets from '{path}'"):
        read_targets(path)


def test_file_without_rows_names_the_path(tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text("name,ra,dec,aperture,grating,filter,exposure_time\n")
    with pytest.raises(InvalidQueryError, match=f"the target list in '{path}' is empty"):
        read_targets(path)


def test_file_missing_a_column_names_the_path(tmp_path):
    path = tmp_path / "no_filter.csv"
    path.write_text("name,ra,dec,aperture,grating,exposure_time\nA,1,2,MSA,PRISM,100\n")
    with pytest.raises(InvalidQueryError, match=f"Targets in '{path}' lack the column 'filter'"):
        read_targets(path)


def test_single_dict_is_refused():
    with pytest.raises(InvalidQueryError, match="got a single dict"):
        read_targets(rows()[0])


def test_list_of_non_dicts_is_refused():
    with pytest.raises(InvalidQueryError, match="row 0 is a tuple, not a dict"):
        read_targets([("A", 1.0, 2.0)])


def test_unsupported_type():
    with pytest.raises(InvalidQueryError, match="got int"):
        read_targets(42)


def test_columns_differing_only_in_case():
    table = as_table(rows())
    table["NAME"] = ["x", "y"]
    with pytest.raises(InvalidQueryError, match="two columns named 'name'"):
        read_targets(table)
