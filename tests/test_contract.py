"""
The recorded replies are the contract: every one of them, run through the Table
conversion, gives the natural column types, masks exactly where the JSON has null,
dates equal to the ``/Date(ms)/`` instants, one row per JSON row, and the very values
of the JSON (issue 10, "Tests").

Replies (provenance in tests/data/README.rst): trimmed copies in tests/data always, and
the whole recorded files of ``shared/data`` when they lie beside the repository. The
2026 ``Mast.Jwst.Filtered.Nirspec`` rows were recorded as CSV by the DJA dashboard;
`dja_envelope` wraps them in a reply envelope here (derived, not recorded), typed as
MAST types its replies.
"""
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.time import Time

from astroquery_nirspec.fields import catalogue
from astroquery_nirspec.tables import pages_to_table, rows_to_table
from shared_data import shared_file
from table_checks import DECODERS, assert_same_table, use_decoder

DATA = Path(__file__).parent / "data"

#: Columns the DJA dashboard adds to MAST's (shared/data/README.md).
DJA_ONLY = {"prog_pi", "filter-pupil", "inst-mode", "release", "observed"}
#: How MAST declares each catalogue type (the 2018 reply: dates ``date``, flags ``string``).
WIRE_TYPE = {"int": "int", "float": "float", "boolean": "boolean", "flag": "string",
             "datetime": "date", "string": "string"}
#: Integer ids MAST declares ``string`` while sending JSON integers (2018 reply).
STRING_TYPED_IDS = {"ArchiveFileID", "fileSize", "FileSetId", "checksum"}
MS_JSON = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")


def _json_value(kind, text):
    """A CSV cell as the JSON value MAST sent: empty → null, numbers and booleans typed."""
    if text == "":
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "boolean":
        return {"True": True, "False": False}[text]
    return text


def dja_envelope(path):
    """
    A ``Mast.Jwst.Filtered.Nirspec`` reply envelope around the DJA rows (DERIVED: the rows
    are recorded, the envelope is built here). Declared types as MAST declares them; an
    empty CSV cell is a JSON null; the five DJA-added columns are left out.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        names = [n for n in reader.fieldnames if n not in DJA_ONLY]
        rows = list(reader)
    kinds = {name: catalogue()[name].type for name in names}
    fields = [{"name": n, "type": "string" if n in STRING_TYPED_IDS else WIRE_TYPE[kinds[n]]}
              for n in names]
    data = [{n: _json_value(kinds[n], row[n]) for n in names} for row in rows]
    paging = {"page": 1, "pageSize": len(data), "pagesFiltered": 1, "rows": len(data),
              "rowsFiltered": len(data), "rowsTotal": len(data)}
    return {"status": "COMPLETE", "msg": "", "fields": fields, "data": data, "paging": paging}


def _load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


#: name → (how to load it, NIRSpec catalogue applies, path or None when absent)
REPLIES = {
    "2018 Jwst.Filtered.Miri, trimmed": (_load_json, True, DATA / "jwst_filtered_miri_2018_trimmed.json"),
    "2018 Jwst.Filtered.Miri, whole": (_load_json, True, shared_file("jwql/jwst_filtered_miri_2018_reply.json")),
    "2026 Jwst.Filtered.Nirspec rows, trimmed": (dja_envelope, True, DATA / "dja_nirspec_2026_trimmed.csv"),
    "2026 Jwst.Filtered.Nirspec rows, whole": (
        dja_envelope, True, shared_file("dja/dja_dashboard_nirspec_jwst_filtered.csv")),
    "Caom.Filtered.Position (advSearchPos)": (_load_json, False, DATA / "advSearchPos.json"),
    "Caom.Filtered (advSearch)": (_load_json, False, shared_file("astroquery_mast_tests/advSearch.json")),
    "Caom.Cone (caom)": (_load_json, False, shared_file("astroquery_mast_tests/caom.json")),
}


def _reply_params():
    for name, (load, nirspec, path) in REPLIES.items():
        marks = [] if path is not None else [pytest.mark.skip(reason=f"{name}: shared/data absent")]
        yield pytest.param(load, nirspec, path, id=name, marks=marks)


def convert(reply, nirspec):
    """The package's conversion: the query path for Jwst replies, the CAOM path otherwise."""
    if nirspec:
        return pages_to_table([reply], warn_empty=False)
    return rows_to_table(reply["fields"], reply["data"], describe=False)


def _expected_kind(declared, values, field):
    """What the column must be: int, float, bool, flag, date or text (from the reply alone)."""
    declared = declared.lower()
    if field is not None and field.type == "flag" and declared == "string":
        return "flag"
    simple = {"int": "int", "float": "float", "boolean": "bool", "date": "date", "datetime": "date"}
    if declared in simple:
        return simple[declared]
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        mapping = {"int": "int", "float": "float", "boolean": "bool", "datetime": "date"}
        return mapping.get(field.type, "text") if field is not None else "text"
    if kinds == {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    if kinds == {str} and all(MS_JSON.fullmatch(v) for v in values if v is not None):
        return "date"
    return "text"


def _check_dtype(name, column, kind):
    if kind == "date":
        assert isinstance(column, Time), name
        return
    assert not isinstance(column, Time), name
    wanted = {"int": "i", "float": "f", "bool": "b", "flag": "b", "text": "UO"}[kind]
    assert column.dtype.kind in wanted, (name, column.dtype, kind)
    if column.dtype.kind == "O":            # long text only, never mixed objects
        assert all(isinstance(v, str) for v in column.compressed()), name


def _plain(column, kind):
    """The column's values as plain numbers/text/bools (dates as integer ms since 1970)."""
    if kind == "date":
        return np.round(np.asarray(column.unix, dtype=float) * 1000).astype(np.int64).tolist()
    return np.asarray(column).tolist()


def _same(kind, got, value):
    if kind == "date":
        return got == int(MS_JSON.fullmatch(value).group(1))
    if kind == "flag":
        return bool(got) is (value.lower() == "t")
    if kind == "text":
        return got == value
    return got == value and (kind != "bool" or isinstance(value, bool))


@pytest.mark.parametrize("load, nirspec, path", list(_reply_params()))
def test_every_recorded_reply_converts_to_its_natural_exact_table(load, nirspec, path):
    reply = load(path)
    table = convert(reply, nirspec)
    fields = [f for f in reply["fields"] if f["name"] != "_selected_"]
    rows = reply["data"]
    assert len(table) == len(rows) > 0
    assert table.colnames == [f["name"] for f in fields]
    known = catalogue() if nirspec else {}
    for field in fields:
        name = field["name"]
        values = [row.get(name) for row in rows]
        column = table[name]
        kind = _expected_kind(field["type"], values, known.get(name))
        _check_dtype(name, column, kind)
        mask = column.mask if isinstance(column, Time) else np.ma.getmaskarray(column)
        assert np.broadcast_to(mask, len(column)).tolist() == [v is None for v in values], name
        plain = _plain(column, kind)
        wrong = [(i, value, plain[i]) for i, value in enumerate(values)
                 if value is not None and not _same(kind, plain[i], value)]
        assert not wrong, (name, kind, wrong[:3])


def test_the_recorded_replies_show_what_the_conversion_relies_on():
    """The facts of the addendum of the protocol notes, in the trimmed copies themselves."""
    reply = _load_json(DATA / "jwst_filtered_miri_2018_trimmed.json")
    declared = {f["name"]: f["type"] for f in reply["fields"]}
    assert {t for n, t in declared.items() if n in ("date_obs", "publicReleaseDate")} == {"date"}
    assert all(declared[n] == "string" for n in STRING_TYPED_IDS)
    assert all(isinstance(row["ArchiveFileID"], int) for row in reply["data"])
    assert {row["targoopp"] for row in reply["data"]} == {"F"}
    assert any(row["publicReleaseDate"] is None for row in reply["data"])
    t = convert(reply, True)
    assert t["targoopp"].dtype == bool and not t["targoopp"].any()
    assert t["ArchiveFileID"].dtype == np.int64 and t["checksum"].dtype == np.int64
    dja = dja_envelope(DATA / "dja_nirspec_2026_trimmed.csv")
    t = convert(dja, True)
    assert t["checksum"].dtype.kind == "U" and len(t["checksum"][0]) == 32
    assert t["crowdfld"].dtype == bool and t["crowdfld"].any() and not t["crowdfld"].all()
    assert t["s_region"].dtype == object                   # MOS footprints are long
    caom = _load_json(DATA / "advSearchPos.json")
    t = convert(caom, False)
    assert len(t) == 12 and len(set(t["obsid"])) == 6     # an obsid repeats across rows


# --- reply bytes → Table in one step (issue 12, "Conversion") ---------------------------------

@pytest.fixture(params=DECODERS)
def decoder(request, monkeypatch):
    return use_decoder(request.param, monkeypatch)


@pytest.mark.parametrize("load, nirspec, path", list(_reply_params()))
def test_reply_bytes_give_the_same_table_as_the_parsed_reply(load, nirspec, path, decoder):
    from astroquery_nirspec.tables import reply_to_table
    reply = load(path)
    table, envelope = reply_to_table(json.dumps(reply).encode(), describe=nirspec)
    assert_same_table(table, convert(reply, nirspec))
    assert envelope["fields"] == [{"name": f["name"], "type": f["type"]} for f in reply["fields"]]
    assert (envelope["status"], envelope["paging"]) == (reply["status"], reply["paging"])


@pytest.mark.parametrize("rows", [
    [{"program": "1345a", "effexptm": 1.0}],            # text in an int column
    [{"program": 1, "effexptm": "long"}],               # text in a float column
    [{"program": 1.5, "effexptm": 2}, {"program": None, "effexptm": None}],   # a fraction in an int column
])
def test_values_that_do_not_fit_their_type_decode_like_plain_json(rows, decoder):
    from astroquery_nirspec.tables import reply_to_table
    fields = [{"name": "program", "type": "int"}, {"name": "effexptm", "type": "float"}]
    content = json.dumps({"status": "COMPLETE", "fields": fields, "data": rows}).encode()
    table, _ = reply_to_table(content)
    assert_same_table(table, rows_to_table(fields, rows))


def test_a_reply_without_rows_or_fields_decodes(decoder):
    from astroquery_nirspec.decoding import decode_reply
    assert decode_reply(b'{"status": "ERROR", "msg": "bad column"}') == (
        {"status": "ERROR", "msg": "bad column", "paging": None, "fields": []}, {})
    envelope, columns = decode_reply(json.dumps({"fields": EMPTY_FIELDS, "data": []}).encode())
    assert columns == {"date_obs": (), "program": ()}


EMPTY_FIELDS = [{"name": "date_obs", "type": "date"}, {"name": "program", "type": "int"},
                {"name": "_selected_", "type": "boolean"}]


def test_malformed_json_is_an_error(decoder):
    from astroquery_nirspec.decoding import decode_reply
    with pytest.raises(ValueError):
        decode_reply(b'{"status": "COMPLETE", "data": [')


@pytest.mark.skipif(shared_file("jwql/jwst_filtered_miri_2018_reply.json") is None
                    or shared_file("dja/dja_dashboard_nirspec_jwst_filtered.csv") is None
                    or shared_file("astroquery_mast_tests/advSearchPos.json") is None,
                    reason="shared/data not found beside the repository")
def test_the_trimmed_copies_are_what_the_tool_writes(tmp_path):
    import importlib.util
    from shared_data import ROOT, SHARED_DATA
    spec = importlib.util.spec_from_file_location("trim_recorded", ROOT / "tools" / "trim_recorded.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.trim(SHARED_DATA, tmp_path)
    for name in ("dja_nirspec_2026_trimmed.csv", "jwst_filtered_miri_2018_trimmed.json", "advSearchPos.json"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


@pytest.mark.parametrize("order", ["fields first", "rows first"])
def test_the_fields_block_is_found_before_or_after_the_rows_and_checked(order, decoder):
    """One pass when the ``fields`` near an end are the reply's own; a decoy falls back to two."""
    from astroquery_nirspec.decoding import decode_reply
    fields = [{"name": "note", "type": "string"}, {"name": "program", "type": "int"}]
    rows = [{"note": 'say "fields": [1]', "program": 1345}, {"note": None, "program": None}]
    decoy = {"fields": [{"name": "note", "type": "int"}]}            # not the reply's own fields
    for paging in ({"rowsFiltered": 2}, dict(decoy, rowsFiltered=2)):
        parts = {"status": "COMPLETE", "fields": fields, "data": rows, "paging": paging}
        if order == "rows first":
            parts = {"data": rows, "status": "COMPLETE", "paging": paging, "fields": fields}
        envelope, columns = decode_reply(json.dumps(parts).encode())
        assert columns == {"note": ('say "fields": [1]', None), "program": (1345, None)}
        assert envelope["fields"] == fields and envelope["paging"] == paging
