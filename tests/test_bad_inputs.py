"""
Bad inputs are refused before anything is sent.

One table of bad calls across ``query_filtered``, ``query_filtered_count``,
``get_parameter_values`` and ``check_duplicates``. Each must raise the documented
exception, whose message names the bad value and says what is accepted, and no
request may leave the client: ``NirspecMastClass._request`` records any call, and a
local MAST server (which also knows the name "NGC 1068") must see nothing.
"""
import contextlib
import io
import re

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec import NirspecMast, NirspecMastClass, conf
from mast_double import MastServer, make_archive

try:  # the command line, when this version has one
    from astroquery_nirspec.cli import main as cli_main
except ImportError:  # pragma: no cover - depends on the version under test
    cli_main = None

GOOD = {"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "IFU", "grating": "G395H",
        "filter": "F290LP", "exposure_time": 1000.0}
CONE = {"coordinates": "53.16 -27.79", "radius": 1 * u.arcmin}
NAMED_CONE = {"coordinates": "NGC 1068", "radius": 1 * u.arcmin}


def target(**changes):
    row = dict(GOOD, **changes)
    return [{k: v for k, v in row.items() if v is not ...}]


def query(**kwargs):
    return lambda tmp_path: NirspecMast.query_filtered(**kwargs)


def count(**kwargs):
    return lambda tmp_path: NirspecMast.query_filtered_count(**kwargs)


def values(field, **kwargs):
    return lambda tmp_path: NirspecMast.get_parameter_values(field, **kwargs)


def duplicates(targets, **kwargs):
    return lambda tmp_path: NirspecMast.check_duplicates(targets, **kwargs)


class CliExit(Exception):
    """What ``nirspec-mast`` did: its exit status and standard error, as one message."""

    def __init__(self, status, stderr):
        super().__init__(f"exit {status}: {stderr}")


def cli(*argv):
    """Run ``nirspec-mast`` (arguments may be callables of tmp_path) and raise CliExit."""
    def run(tmp_path):
        args = [a(tmp_path) if callable(a) else a for a in argv]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli_main(args)
        raise CliExit(status, err.getvalue())
    return run


def targets_csv(**changes):
    """A target-list file written into tmp_path, for the command line."""
    def write(tmp_path):
        path = tmp_path / "targets.csv"
        Table(rows=[tuple(dict(GOOD, **changes).values())], names=list(GOOD)).write(path, overwrite=True)
        return str(path)
    return write


def garbage_file(tmp_path):
    path = tmp_path / "targets.dat"
    path.write_bytes(b"\x00\x01\x02 not a table \xff\xfe")
    return NirspecMast.check_duplicates(str(path))


def missing_file(tmp_path):
    return NirspecMast.check_duplicates(str(tmp_path / "no_such_targets.ecsv"))


def table_without_filter(tmp_path):
    table = Table(rows=[tuple(GOOD.values())], names=list(GOOD))
    table.remove_column("filter")
    return NirspecMast.check_duplicates(table)


def file_with_duplicate_names(tmp_path):
    path = tmp_path / "targets.ecsv"
    Table(rows=[tuple(GOOD.values())] * 2, names=list(GOOD)).write(path)
    return NirspecMast.check_duplicates(path)


ACCEPTED_NUMBER = r"Accepted: a number"
ACCEPTED_TEXT = r"Accepted: a string \(with \* and \? as wildcards\)"

# (id, call, exception, regexes that must all match: the bad value, then what is accepted)
BAD = [
    # ---- field names
    ("unknown field", query(nosuchfield=1), InvalidQueryError,
     [r"'nosuchfield'", r"NirspecMast\.list_fields\(\)"]),
    ("misspelled field", query(gratng="G395H"), InvalidQueryError,
     [r"'gratng'", r"Did you mean 'grating'\?"]),
    ("misspelled column", query(columns="filename, efexptm"), InvalidQueryError,
     [r"'efexptm'", r"Did you mean 'effexptm'"]),
    ("column pattern matching nothing", query(columns=["zz*"]), InvalidQueryError,
     [r"'zz\*'", r"list_fields"]),
    ("empty column", query(columns=["filename", ""]), InvalidQueryError,
     [r"column ''", r"non-empty field name"]),
    ("columns of a wrong type", query(columns=5), InvalidQueryError,
     [r"columns 5 \(int\)", r"list of field names or a comma-separated string"]),
    ("same field twice", query(grating="G395H", GRATING="G140M"), InvalidQueryError,
     [r"'grating' is given twice", r"combine the values into one list or range"]),
    ("parameter values of a misspelled field", values("filtr"), InvalidQueryError,
     [r"'filtr'", r"Did you mean 'filter'"]),
    ("parameter values of a non-string field", values(42), InvalidQueryError,
     [r"not 42", r"must be a string"]),
    # ---- wrong types and values
    ("text for a number", query(effexptm="long"), InvalidQueryError, [r"'long'", ACCEPTED_NUMBER]),
    ("bool for an int", query(program=True), InvalidQueryError, [r"True \(bool\)", ACCEPTED_NUMBER]),
    ("float for text", query(grating=3.5), InvalidQueryError, [r"3\.5 \(float\)", ACCEPTED_TEXT]),
    ("dict for text", query(grating={"G395H": 1}), InvalidQueryError,
     [r"\{'G395H': 1\} \(dict\)", ACCEPTED_TEXT]),
    ("not a boolean", query(isRestricted="maybe"), InvalidQueryError,
     [r"'maybe'", r"Accepted: True or False"]),
    ("NaN value", query(effexptm=float("nan")), InvalidQueryError,
     [r"nan", r"NaN and infinity are not accepted"]),
    ("infinite value", query(effexptm=float("inf")), InvalidQueryError, [r"inf", ACCEPTED_NUMBER]),
    ("incompatible unit", query(effexptm=5 * u.m), InvalidQueryError,
     [r"5\. m", r"cannot be converted to s", r"a Quantity in s"]),
    ("unit on a unitless field", query(program=3 * u.s), InvalidQueryError,
     [r"3\. s", r"no unit, so give a plain number"]),
    ("inverted range", query(effexptm=(2000, 1000)), InvalidQueryError,
     [r"\(2000, 1000\)", r"min 2000 > max 1000", r"\(min, max\) tuple"]),
    ("inverted date range", query(date_obs=("2025-01-01", "2024-01-01")), InvalidQueryError,
     [r"'2025-01-01', '2024-01-01'", r"inverted", r"ISO date string"]),
    ("range with no bound", query(effexptm=(None, None)), InvalidQueryError,
     [r"\(None, None\)", r"At least one bound"]),
    ("range of three", query(effexptm=(1, 2, 3)), InvalidQueryError,
     [r"\(1, 2, 3\)", r"exactly two bounds \(min, max\)"]),
    ("range on a text field", query(grating=("G140M", "G395H")), InvalidQueryError,
     [r"\('G140M', 'G395H'\)", r"Ranges apply to numeric and date fields only"]),
    ("empty list", query(grating=[]), InvalidQueryError,
     [r"\[\] \(list\)", r"The list is empty", ACCEPTED_TEXT]),
    ("empty string", query(grating=""), InvalidQueryError, [r"'' \(str\)", r"The string is empty"]),
    ("wildcards in a list", query(grating=["G1*", "G3*"]), InvalidQueryError,
     [r"\['G1\*', 'G3\*'\]", r"give one pattern"]),
    ("wildcard on a number", query(effexptm="10*"), InvalidQueryError,
     [r"'10\*'", r"Wildcards apply to text fields only"]),
    ("not a date", query(date_obs="yesterday"), InvalidQueryError,
     [r"'yesterday'", r"Accepted: an astropy Time or ISO date string"]),
    ("wildcard on a date", query(date_obs="2023-07*"), InvalidQueryError,
     [r"'2023-07\*'", r"\(min, max\)"]),
    ("count with a bad value", count(program="abc"), InvalidQueryError, [r"'abc'", ACCEPTED_NUMBER]),
    ("count with an empty list", count(exp_type=[]), InvalidQueryError, [r"\[\]", r"The list is empty"]),
    ("parameter values with an inverted range", values("grating", effexptm=(10, 1)), InvalidQueryError,
     [r"\(10, 1\)", r"inverted"]),
    # ---- paging and limits
    ("pagesize zero", query(pagesize=0), InvalidQueryError, [r"pagesize 0", r"positive whole number"]),
    ("pagesize float", query(pagesize=2.5), InvalidQueryError, [r"pagesize 2\.5", r"positive whole number"]),
    ("page zero", query(page=0), InvalidQueryError, [r"page 0", r"numbered from 1"]),
    ("row_limit zero", query(row_limit=0), InvalidQueryError, [r"row_limit 0", r"-1 for no limit"]),
    ("row_limit as text", query(row_limit="10"), InvalidQueryError, [r"row_limit '10'", r"whole number"]),
    ("bad pagesize with a name to resolve", query(pagesize=0, **NAMED_CONE), InvalidQueryError,
     [r"pagesize 0", r"positive whole number"]),
    ("bad page with a name to resolve", query(page=-1, **NAMED_CONE), InvalidQueryError,
     [r"page -1", r"numbered from 1"]),
    # ---- positions
    ("NaN coordinates", query(coordinates=SkyCoord(np.nan * u.deg, 10 * u.deg), radius=1 * u.arcmin),
     InvalidQueryError, [r"nan", r"RA and Dec must be finite"]),
    ("NaN coordinates as text", query(coordinates="nan -27.79", radius=1 * u.arcmin), InvalidQueryError,
     [r"'nan -27\.79'", r"must be finite"]),
    ("dec > 90", query(coordinates="53.16 95", radius=1 * u.arcmin), InvalidQueryError,
     [r"95", r"outside \[-90, 90\]"]),
    ("dec < -90 in a count", count(coordinates="10.0 -90.5", radius=1 * u.arcmin),
     InvalidQueryError, [r"-90\.5", r"\[-90, 90\]"]),
    ("dec > 90 in sexagesimal", query(coordinates="10h00m00s +95d00m00s", radius=1 * u.arcmin),
     InvalidQueryError, [r"95", r"\[-90, 90\]"]),
    ("dec > 90 with units", query(coordinates="150.0d 95.0d", radius=1 * u.arcmin), InvalidQueryError,
     [r"95", r"\[-90, 90\]"]),
    ("coordinates of a wrong type", query(coordinates=[10, 20], radius=1 * u.arcmin), InvalidQueryError,
     [r"\[10, 20\] \(list\)", r"SkyCoord, an 'ra dec' string in degrees, or an object name"]),
    ("several positions", query(coordinates=SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), radius=1 * u.arcmin),
     InvalidQueryError, [r"array", r"single position"]),
    ("radius without unit", query(coordinates="53.16 -27.79", radius=5), InvalidQueryError,
     [r"radius 5 \(int\)", r"30 \* u\.arcsec"]),
    ("negative radius", query(coordinates="53.16 -27.79", radius=-1 * u.arcsec), InvalidQueryError,
     [r"-1\. arcsec", r"positive and finite"]),
    ("radius that is not an angle", values("grating", coordinates="53.16 -27.79", radius=5 * u.s),
     InvalidQueryError, [r"5\. s", r"angle \(arcsec, arcmin, deg\)"]),
    ("radius as bad text", count(coordinates="53.16 -27.79", radius="big"), InvalidQueryError,
     [r"'big'", r"'30arcsec'"]),
    ("radius above 180 deg", query(coordinates="53.16 -27.79", radius=200 * u.deg), InvalidQueryError,
     [r"200\. deg", r"not exceed 180 deg"]),
    ("negative radius with a name to resolve", query(coordinates="NGC 1068", radius=-2 * u.arcmin),
     InvalidQueryError, [r"-2\. arcmin", r"positive"]),
    ("radius without coordinates", query(radius=1 * u.arcmin), InvalidQueryError,
     [r"radius=", r"without coordinates="]),
    ("coordinates without radius", count(coordinates="NGC 1068"), InvalidQueryError,
     [r"radius=", r"an angle such as 2 \* u\.arcmin"]),
    ("cone and a targ_ra filter", query(targ_ra=(1, 2), **CONE), InvalidQueryError,
     [r"targ_ra", r"either coordinates= or a targ_ra filter"]),
    # ---- target lists
    ("missing target column", duplicates(target(grating=...)), InvalidQueryError,
     [r"lack the column 'grating'", r"required: name, ra and dec"]),
    ("missing column in a Table", table_without_filter, InvalidQueryError,
     [r"'filter'", r"required: name, ra and dec"]),
    ("duplicate target names", duplicates(target() + target()), InvalidQueryError,
     [r"'SN1' in rows 0 and 1", r"names must be unique"]),
    ("duplicate target names in a file", file_with_duplicate_names, InvalidQueryError,
     [r"'SN1'", r"must be unique"]),
    ("unknown grating/filter pair", duplicates(target(grating="G395H", filter="F070LP")), InvalidQueryError,
     [r"G395H/F070LP", r"valid filters for G395H: F290LP"]),
    ("unknown grating", duplicates(target(grating="G999X")), InvalidQueryError,
     [r"'G999X'", r"accepted: PRISM, G140M"]),
    ("unknown aperture", duplicates(target(aperture="SLIT")), InvalidQueryError,
     [r"'SLIT'", r"accepted: MSA, IFU, S200A1"]),
    ("zero exposure time", duplicates(target(exposure_time=0)), InvalidQueryError,
     [r"got 0", r"positive finite time"]),
    ("negative exposure time", duplicates(target(exposure_time=-5 * u.min)), InvalidQueryError,
     [r"-5\.? min", r"positive finite time"]),
    ("exposure time as text", duplicates(target(exposure_time="long")), InvalidQueryError,
     [r"'long'", r"number of seconds or a time Quantity"]),
    ("exposure time not a time", duplicates(target(exposure_time=5 * u.m)), InvalidQueryError,
     [r"5\.0 m", r"must be a time"]),
    ("target dec > 90", duplicates(target(dec=95.0)), InvalidQueryError, [r"95\.0", r"\[-90, 90\]"]),
    ("target ra NaN", duplicates(target(ra=float("nan"))), InvalidQueryError, [r"nan", r"\[0, 360\)"]),
    ("target ra as text", duplicates(target(ra="ten")), InvalidQueryError,
     [r"'ten'", r"number of degrees"]),
    ("no targets", duplicates([]), InvalidQueryError, [r"empty", r"No targets given"]),
    ("a single dict", duplicates(GOOD), InvalidQueryError, [r"single dict", r"wrap it in a list"]),
    ("targets of a wrong type", duplicates(42), InvalidQueryError,
     [r"got int", r"Table, a file path or a list of dicts"]),
    ("bad rules", duplicates(target(), rules="strict"), InvalidQueryError,
     [r"'strict'", r"DuplicationRules instance"]),
    ("missing file", missing_file, InvalidQueryError, [r"no_such_targets\.ecsv", r"no such file"]),
    ("unreadable file", garbage_file, InvalidQueryError,
     [r"targets\.dat", r"(?i)(ECSV|CSV|format|readable|Table\.read)"]),
]


USAGE = r"^exit 2: "                  # bad input: exit status 2
CLI = [
    ("cli: misspelled field", cli("query", "gratng=G395H"), CliExit,
     [USAGE, r"'gratng'", r"Did you mean 'grating'\?"]),
    ("cli: text for a number", cli("count", "effexptm>=abc"), CliExit, [USAGE, r"'abc'", ACCEPTED_NUMBER]),
    ("cli: filter without a value", cli("query", "grating"), CliExit,
     [USAGE, r"'grating'", r"write field=value, field=a,b"]),
    ("cli: strict comparison", cli("query", "effexptm>1000"), CliExit,
     [USAGE, r"'effexptm>1000'", r"use >= or <="]),
    ("cli: not equal", cli("query", "grating!=G395H"), CliExit, [USAGE, r"'grating!=G395H'", r"field=value"]),
    ("cli: inverted range", cli("query", "effexptm=2000..1000"), CliExit,
     [USAGE, r"min 2000\.0 > max 1000\.0", r"\(min, max\) tuple"]),
    ("cli: same field twice", cli("query", "grating=G395H", "grating=G140M"), CliExit,
     [USAGE, r"'grating' is given twice", r"grating=a,b"]),
    ("cli: dec > 90", cli("count", "--near", "53.16 95", "--radius", "1arcmin"), CliExit,
     [USAGE, r"95", r"\[-90, 90\]"]),
    ("cli: radius without unit", cli("count", "--near", "53.16 -27.79", "--radius", "5"), CliExit,
     [USAGE, r"radius <Quantity 5\.>", r"angle \(arcsec, arcmin, deg\)"]),
    ("cli: pagesize zero", cli("query", "--pagesize", "0", "grating=G395H"), CliExit,
     [USAGE, r"--pagesize", r"at least 1, not '0'"]),
    ("cli: values of a misspelled field", cli("values", "gratng"), CliExit,
     [USAGE, r"'gratng'", r"'grating'"]),
    ("cli: unknown output format", cli("query", "-o", lambda p: str(p / "out.xyz"), "grating=G395H"),
     CliExit, [USAGE, r"out\.xyz", r"\.ecsv"]),
    ("cli: missing target file", cli("duplicates", lambda p: str(p / "none.csv")), CliExit,
     [USAGE, r"none\.csv", r"No such file"]),
    ("cli: unknown grating/filter pair", cli("duplicates", targets_csv(filter="F070LP")), CliExit,
     [USAGE, r"G395H/F070LP", r"valid filters for G395H: F290LP"]),
    ("cli: radius override without unit", cli("duplicates", targets_csv(), "--radius", "IFU=5"), CliExit,
     [USAGE, r"IFU", r"must be an angle"]),
    ("cli: exposure factor below 1", cli("duplicates", targets_csv(), "--exptime-factor", "0.5"), CliExit,
     [USAGE, r"0\.5", r"number >= 1"]),
    ("cli: not an http server", cli("count", "--server", "ftp://mast.example", "grating=G395H"), CliExit,
     [USAGE, r"'ftp://mast\.example'", r"http:// or https:// URL"]),
]
if cli_main is not None:
    BAD += CLI


@pytest.fixture
def nothing_sent(monkeypatch, tmp_path):
    """Fail loudly if any request is attempted; yield the list of attempts."""
    attempts = []

    def refuse(self, method, url, *args, **kwargs):
        attempts.append((method, url, kwargs.get("data")))
        raise AssertionError(f"a request was sent: {method} {url}")

    monkeypatch.setattr(NirspecMastClass, "_request", refuse)
    monkeypatch.setattr(NirspecMast, "_cache_location", tmp_path / "cache")
    NirspecMast.logout()
    archive = make_archive(n_nirspec=10, seed=1)
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(MastServer(archive, names={"NGC 1068": (40.66963, -0.01328)}))
        for name, value in (("server", srv.url), ("progress", False), ("row_limit", -1),
                            ("pagesize", 50000), ("max_retries", 0)):
            stack.enter_context(conf.set_temp(name, value))
        yield attempts
        assert srv.count() == 0 and srv.log == []


@pytest.mark.parametrize("call, exception, patterns", [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_refused_before_any_request(nothing_sent, tmp_path, call, exception, patterns):
    with pytest.raises(exception) as info:
        call(tmp_path)
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert nothing_sent == []


def test_the_table_is_large_and_covers_every_entry_point():
    assert len(BAD) >= 30
    names = {c[1].__qualname__.split(".")[0] for c in BAD}
    assert {"query", "count", "values", "duplicates"} <= names
    assert cli_main is None or "cli" in names
