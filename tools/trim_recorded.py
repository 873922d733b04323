#!/usr/bin/env python
"""
Copy trimmed pieces of the recorded MAST replies in ``shared/data`` into ``tests/data``.

The test suite reads the whole recorded files from ``shared/data`` when it lies beside
the repository, and these trimmed copies always (provenance in tests/data/README.rst):

- ``dja_nirspec_2026_trimmed.csv``: rows of the DJA export of ``Mast.Jwst.Filtered.Nirspec``
  (2026), every column and value unchanged; the rows chosen by `dja_rows` (IFU, fixed-slit
  and MOS rows, the t values of rare flags, continuation ids).
- ``jwst_filtered_miri_2018_trimmed.json``: the 2018 ``Mast.Jwst.Filtered.Miri`` reply
  (itself derived: a printed reply re-serialised) with the rows chosen by `jwql_rows`;
  ``status``, ``msg`` and ``fields`` unchanged, ``paging`` rewritten to the rows kept.
- ``advSearchPos.json``: astroquery's recorded ``Mast.Caom.Filtered.Position`` reply, whole.

Run from the repository root: ``python tools/trim_recorded.py [--data ../shared/data]``.
"""
import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data"
DJA = Path("dja") / "dja_dashboard_nirspec_jwst_filtered.csv"
JWQL = Path("jwql") / "jwst_filtered_miri_2018_reply.json"
ADV_POS = Path("astroquery_mast_tests") / "advSearchPos.json"


def _first(indices, n):
    return list(indices)[:n]


def dja_rows(rows):
    """Indices of the DJA rows kept, in file order."""
    def where(test):
        return [i for i, row in enumerate(rows) if test(row)]
    mos = sorted(where(lambda r: r["exp_type"] == "NRS_MSASPEC"), key=lambda i: len(rows[i]["s_region"]))
    keep = (_first(where(lambda r: r["exp_type"] == "NRS_IFU"), 10)
            + _first(where(lambda r: r["exp_type"] == "NRS_FIXEDSLIT"), 10)
            + mos[:3]                                      # the shortest MOS footprints (~5-8 kB)
            + _first(where(lambda r: r["bkgdtarg"] == "t"), 2)
            + _first(where(lambda r: r["crowdfld"] == "t"), 2)
            + _first(where(lambda r: r["cont_id"] != ""), 2)
            + _first(where(lambda r: r["hybridff"] == "f"), 2))
    return sorted(set(keep))


def jwql_rows(data):
    """Indices of the 2018 rows kept, in reply order."""
    def where(test):
        return [i for i, row in enumerate(data) if test(row)]
    keep = (list(range(10))
            + where(lambda r: r["publicReleaseDate"] == "/Date(1513141200000)/")
            + _first(where(lambda r: r["publicReleaseDate"] is None), 10)
            + _first(where(lambda r: r["selfref"] == "F"), 8))
    return sorted(set(keep))


def trim(data_dir, out=OUT):
    """Write the three files into ``out``; return {file name: rows kept}."""
    data_dir = Path(data_dir)
    with open(data_dir / DJA, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    kept = dja_rows(rows)
    with open(out / "dja_nirspec_2026_trimmed.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[i] for i in kept)
    reply = json.loads((data_dir / JWQL).read_text(encoding="utf-8"))
    rows_2018 = jwql_rows(reply["data"])
    reply["data"] = [reply["data"][i] for i in rows_2018]
    reply["paging"].update(rows=len(rows_2018), rowsFiltered=len(rows_2018), rowsTotal=len(rows_2018))
    (out / "jwst_filtered_miri_2018_trimmed.json").write_text(json.dumps(reply, indent=1) + "\n",
                                                              encoding="utf-8")
    shutil.copyfile(data_dir / ADV_POS, out / "advSearchPos.json")
    return {"dja_nirspec_2026_trimmed.csv": kept, "jwst_filtered_miri_2018_trimmed.json": rows_2018}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared/data folder (default: beside the repository)")
    args = parser.parse_args(argv)
    for name, kept in trim(args.data).items():
        print(f"{name}: {len(kept)} rows, indices {kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
