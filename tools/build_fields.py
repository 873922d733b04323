#!/usr/bin/env python
"""
Build ``astroquery_nirspec/data/nirspec_fields.ecsv``, the shipped field catalogue of
``Mast.Jwst.Filtered.Nirspec``, from recorded MAST replies.

Inputs (``shared/data``, beside the repository; see its README.md for provenance):

- ``dja/dja_dashboard_nirspec_jwst_filtered.csv``: 443 rows of the service recorded in
  2026. Its header, minus the five columns the DJA dashboard adds itself, gives the
  field names in the service's column order.
- ``jwql/jwst_filtered_miri_2018_reply.json`` (optional): a 2018 reply of the sibling
  ``Mast.Jwst.Filtered.Miri`` service with MAST's declared types; it shows which fields
  are real JSON booleans and which one-letter flags held ``'T'``/``'F'`` then.
- the catalogue as shipped: the type, unit and description of every field that survives.

Types: a field keeps its catalogued type, except that

- ``flag``: a text column whose recorded values are only t/f (either letter case,
  nulls ignored) in either reply, or a catalogued logical (``boolean``/``flag``) with no
  recorded value at all (a FITS logical keyword, stored by MAST the same way);
- ``boolean``: only the fields MAST declares ``boolean`` (JSON ``true``/``false``);
- a field new to the catalogue takes the type its recorded values show, no unit.

Fields absent from the 2026 reply are dropped. Run from the repository root::

    python tools/build_fields.py [--data ../shared/data] [--output PATH] [--check]

``--check`` writes nothing and exits 1 when the shipped file differs from the build.
"""
import argparse
import csv
import datetime
import json
import re
import sys
from pathlib import Path

from astropy.table import Table

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "astroquery_nirspec" / "data" / "nirspec_fields.ecsv"
SERVICE = "Mast.Jwst.Filtered.Nirspec"
DJA_CSV = Path("dja") / "dja_dashboard_nirspec_jwst_filtered.csv"
JWQL_REPLY = Path("jwql") / "jwst_filtered_miri_2018_reply.json"

#: Columns the DJA dashboard adds to MAST's (shared/data/README.md).
DJA_ONLY = ("prog_pi", "filter-pupil", "inst-mode", "release", "observed")

#: Descriptions the recorded replies proved wrong, replaced.
CORRECTIONS = {
    "checksum": "Checksum of the archived file: 32 hexadecimal digits in 2026 replies, an integer "
                "in 2018 ones; the algorithm is not documented publicly.",
    "isRestricted": "Whether retrieval of the file is currently restricted (exclusive access); "
                    "a JSON true/false.",
    "isItar": "Whether the file is subject to ITAR export restrictions; a JSON true/false.",
    "isStale": "Whether MAST flags the archived file as stale (superseded by newer processing); "
               "a JSON true/false.",
}

COMMENTS = [
    f"Field catalogue of {SERVICE}: one row per service column, in service order.",
    "Built by tools/build_fields.py from recorded replies (shared/data, see its README.md).",
    "Names/order: header of the 443-row DJA dashboard export of the service (2026) minus its",
    "non-MAST columns (" + ", ".join(DJA_ONLY) + ").",
    "Types/units/descriptions: kept from the previous catalogue (JWST datamodel schema titles,",
    "stdatamodels 6.0.0, and the JWST Keyword Dictionary; MAST archive columns by hand).",
    "flag: one-letter FITS logical, typed string by MAST, stored as 't'/'f' ('T'/'F' in 2018):",
    "text columns whose recorded values are only t/f, and logicals with no recorded value.",
    "boolean: the fields MAST declares boolean (JSON true/false).",
]

COLUMN_DESCRIPTIONS = {
    "name": "Column name as returned by the service (MAST matches names case-insensitively)",
    "type": "Value type: string, int, float, boolean (JSON true/false), flag (one-letter FITS logical "
            "stored as 't'/'f' text) or datetime (MS-JSON /Date(ms)/ string with a float <name>_mjd twin)",
    "unit": "Astropy unit string of the values, empty when dimensionless or not applicable",
    "description": "One-sentence description of the field",
}

_INT = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"/Date\(-?\d+([+-]\d{4})?\)/")


def read_dja(path):
    """``(names, rows)`` of the DJA export: MAST's columns only, rows as dicts of text."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        names = [name for name in reader.fieldnames if name not in DJA_ONLY]
    return names, rows


def columns_holding(names, rows, allowed):
    """The columns whose recorded values (nulls and empty text ignored) are all in ``allowed``."""
    found = []
    for name in names:
        values = {row.get(name) for row in rows} - {None, ""}
        if values and all(isinstance(v, str) for v in values) and values <= allowed:
            found.append(name)
    return found


def flag_columns(names, rows):
    """The text columns whose recorded values are only t/f, in either letter case."""
    return columns_holding(names, rows, {"t", "f", "T", "F"})


def _recorded(names, rows):
    """The names with at least one recorded value."""
    return {name for name in names if any(row.get(name) not in (None, "") for row in rows)}


def _value_type(values):
    """The catalogue type that text values show (for a field new to the catalogue)."""
    values = [v for v in values if v != ""]
    if values and all(_INT.fullmatch(v) and not (len(v) > 1 and v.startswith("0")) for v in values):
        return "int"
    try:
        [float(v) for v in values]
    except ValueError:
        pass
    else:
        if values:
            return "float"
    if values and all(_DATE.fullmatch(v) for v in values):
        return "datetime"
    return "string"


def read_shipped(path=SHIPPED):
    """``{name: (type, unit, description)}`` of the catalogue as shipped."""
    table = Table.read(path, format="ascii.ecsv")
    columns = [table[c].filled("") if hasattr(table[c], "filled") else table[c]
               for c in ("name", "type", "unit", "description")]
    return {str(n): (str(t), str(u), str(d)) for n, t, u, d in zip(*columns)}


def _field_type(name, old, flags, booleans, recorded):
    if name in flags or (old in ("boolean", "flag") and name not in recorded and name not in booleans):
        return "flag"
    if name in booleans:
        return "boolean"
    if old == "boolean":             # a logical MAST does not declare boolean holds text
        return "string"
    return old


def build(data_dir, shipped=SHIPPED, built=None):
    """
    The catalogue as a Table (columns name, type, unit, description; meta with sources).

    Parameters
    ----------
    data_dir : path-like
        The ``shared/data`` folder.
    shipped : path-like
        The current catalogue, source of types, units and descriptions.
    built : str, optional
        ISO date written in the meta (default today, UTC).
    """
    data_dir = Path(data_dir)
    names, rows = read_dja(data_dir / DJA_CSV)
    flags, recorded = set(flag_columns(names, rows)), _recorded(names, rows)
    # JSON true/false, written by pandas as True/False
    booleans = set(columns_holding(names, rows, {"True", "False"}))
    sources = [f"DJA dashboard export of {SERVICE} (443 rows, 2026): shared/data/{DJA_CSV.as_posix()}"]
    if (data_dir / JWQL_REPLY).is_file():
        reply = json.loads((data_dir / JWQL_REPLY).read_text(encoding="utf-8"))
        declared = {f["name"]: f["type"] for f in reply["fields"]}
        flags |= set(flag_columns(list(declared), reply["data"]))
        booleans |= {name for name, kind in declared.items() if kind == "boolean"}
        recorded |= _recorded(list(declared), reply["data"])
        sources.append(f"2018 Mast.Jwst.Filtered.Miri reply (derived): shared/data/{JWQL_REPLY.as_posix()}")
    old = read_shipped(shipped)
    out = []
    for name in names:
        kind, unit, description = old.get(name) or (_value_type([r[name] for r in rows]), "",
                                                     "Column of the live service, not described yet.")
        kind = _field_type(name, kind, flags, booleans, recorded)
        out.append((name, kind, unit, CORRECTIONS.get(name, description)))
    table = Table(rows=out, names=("name", "type", "unit", "description"), dtype=(str,) * 4)
    for column, text in COLUMN_DESCRIPTIONS.items():
        table[column].description = text
    table.meta["service"] = SERVICE
    table.meta["built"] = built or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    table.meta["sources"] = sources + ["stdatamodels 6.0.0 JWST datamodel schemas (fits_keyword titles)",
                                       "JWST Keyword Dictionary, archive.stsci.edu/jwst/keyword"]
    return table


def write(table, path):
    """Write the ECSV with `COMMENTS` as comment lines after its first line."""
    table.write(path, format="ascii.ecsv", overwrite=True)
    first, rest = Path(path).read_text(encoding="utf-8").split("\n", 1)
    comments = "".join(f"# # {line}\n" for line in COMMENTS) + "#\n"
    Path(path).write_text(f"{first}\n{comments}{rest}", encoding="utf-8")


def _rows(table):
    return [tuple(str(v) for v in row) for row in table.iterrows("name", "type", "unit", "description")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared/data folder (default: beside the repository)")
    parser.add_argument("--output", type=Path, default=SHIPPED, help="where to write the ECSV")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the shipped catalogue differs from the build")
    args = parser.parse_args(argv)
    if not (args.data / DJA_CSV).is_file():
        parser.error(f"{args.data / DJA_CSV} not found: give --data, the shared/data folder")
    table = build(args.data)
    if args.check:
        same = _rows(table) == _rows(Table.read(SHIPPED, format="ascii.ecsv").filled(""))
        print("up to date" if same else f"{SHIPPED} differs from the build")
        return 0 if same else 1
    removed = sorted(set(read_shipped()) - set(table["name"]))
    write(table, args.output)
    print(f"wrote {len(table)} fields to {args.output}; dropped {len(removed)}: {', '.join(removed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
