"""
100 000 targets: ``NirspecMast.check_duplicates(targets)`` (the default, ``msa_sources=True``)
on 100 000 planned targets in 1 000 sky fields, through the local MAST server (own process)
answering every request, download included, after 100 ms.

The archive holds a few NIRSpec observations (executed and planned, every mode) around each
field, exact duplicates of 10 % of the targets, and, for every executed MOS observation, its
exposures in ``Mast.Jwst.Filtered.Nirspec`` naming an MSA metadata file that the server
serves (written in the jwst pipeline's layout by ``tests/msa_files.py``, with some targets
as primary sources in open shutters). Each check runs once in a fresh process: wall time,
requests, the process's peak resident memory (``resource.getrusage``); with ``--quick``
also the tracemalloc peak of a field-level run (tracemalloc slows the full run too much).
"""
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, add_paths, fmt_bytes, fmt_seconds, main, print_table

add_paths()

LATENCY = 0.1
TARGET_SECONDS = 120.0
TARGET_BYTES = 2e9
FULL = {"n_fields": 1000, "per_field": 100, "caom_per_field": 6}
QUICK = {"n_fields": 20, "per_field": 50, "caom_per_field": 6}
_OBS_ID = re.compile(r"^jw(\d{5})-o(\d{3})")


def _msa_archive(caom, targets, folder):
    """Exposure rows naming an MSA file per executed MOS observation, and the files (uri -> path)."""
    import mast_double
    from msa_files import msa_source, slitlet, write_msa_file

    template = mast_double.make_nirspec_rows(1, seed=0)[0]
    coords = np.radians(np.c_[targets["ra"], targets["dec"]])
    rows, files = [], {}
    for row in caom:
        match = _OBS_ID.match(str(row["obs_id"]))
        if row["instrument_name"] != "NIRSPEC/MSA" or row["calib_level"] < 2 or not match:
            continue
        program, observation = int(match[1]), int(match[2])
        name = f"jw{program:05d}{observation:03d}001_01_msa.fits"
        if name in files:
            continue
        # the targets within ~1' of the MSA centre are in its catalogue; half of them in a shutter
        near = np.flatnonzero((np.abs(coords[:, 1] - np.radians(row["s_dec"])) < 3e-4)
                              & (np.abs(coords[:, 0] - np.radians(row["s_ra"])) * np.cos(coords[:, 1])
                                 < 3e-4))[:40]
        sources = [msa_source(k + 1, float(targets["ra"][i]), float(targets["dec"][i]), program=program)
                   for k, i in enumerate(near)]
        shutters = [s for k in range(0, len(near), 2) for s in slitlet(k + 1, k + 1)]
        path = Path(folder) / name
        write_msa_file(path, sources, shutters or slitlet(1, 0))
        files[mast_double.msa_uri(name)] = str(path)
        rows += [dict(template, ArchiveFileID=700_000_000 + len(rows), program=program,
                      observtn=observation, visit=1, exp_type="NRS_MSASPEC",
                      filename=f"jw{program:05d}{observation:03d}001_03101_0000{k}_nrs1_cal.fits",
                      targ_ra=row["s_ra"], targ_dec=row["s_dec"], msametfl=name)
                 for k in (1, 2)]
    return rows, files


def scale_archive(spec):
    """The server's archive (and its files) for ``spec``: run inside `serve.py`'s process."""
    import mast_double
    from bench_duplicates import make_caom, make_targets

    targets = make_targets(spec["n_fields"], spec["per_field"])
    caom = make_caom(targets, per_field=spec["caom_per_field"])
    nirspec, files = _msa_archive(caom, targets, spec["folder"])
    return mast_double.make_archive(nirspec_rows=nirspec, caom_rows=caom), files


def check(url, spec):
    """One duplicate check in this process: what the child of `run` measures."""
    import resource
    import tracemalloc

    from bench_duplicates import make_targets

    from astroquery_nirspec import NirspecMastClass, conf

    targets = make_targets(spec["n_fields"], spec["per_field"])
    if spec.get("trace"):
        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    with conf.set_temp("server", url), conf.set_temp("progress", spec.get("progress", False)):
        report = NirspecMastClass().check_duplicates(targets, cache=False,
                                                     msa_sources=spec.get("msa_sources", True))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if spec.get("trace") else None
    verdicts = dict(zip(*np.unique(np.asarray(report["verdict"]), return_counts=True)))
    observed = report["source_observed"] if "source_observed" in report.colnames else np.zeros(0, bool)
    return {"seconds": seconds, "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "maxrss_before_bytes": before, "tracemalloc_peak_bytes": peak, "rows": len(report),
            "targets": len(set(report["target"])), "fields": int(report.meta["requests"]),
            "verdicts": {str(k): int(v) for k, v in verdicts.items()},
            "source_observed": int(np.sum(np.ma.filled(observed, False))),
            "report_bytes": sum(c.nbytes + getattr(getattr(c, "mask", None), "nbytes", 0)
                                for c in report.itercols())}


def _in_child(url, spec):
    """`check` in a fresh Python process (its peak memory is the check's alone)."""
    code = ("import json, sys; sys.path[:0] = ['benchmarks']; import bench_scale; "
            f"print(json.dumps(bench_scale.check({url!r}, json.loads(sys.argv[1]))))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(server, spec):
    """One check in a fresh process, and the requests it sent by kind."""
    server.clear()
    result = _in_child(server.url, spec)
    result["requests"] = {name: server.count(name) for name in ("caom", "nirspec", "download")}
    return result


def _rows(label, result):
    counts = result["requests"]
    return [(label, f"{counts['caom']} / {counts['nirspec']} / {counts['download']}",
             fmt_seconds(result["seconds"]), fmt_bytes(result["maxrss_bytes"]),
             "" if result["tracemalloc_peak_bytes"] is None else fmt_bytes(result["tracemalloc_peak_bytes"]),
             result["rows"], fmt_bytes(result["report_bytes"]))]


def run(quick=False):
    from bench_duplicates import print_targets
    from serve import ServerProcess

    spec = dict(QUICK if quick else FULL)
    with tempfile.TemporaryDirectory() as folder:
        with ServerProcess({"kind": "scale", "latency": LATENCY, **spec, "folder": folder}) as server:
            print(f"\n## 100 000 targets: {spec['n_fields'] * spec['per_field']} targets in "
                  f"{spec['n_fields']} sky fields, server latency {LATENCY * 1000:.0f} ms "
                  f"(archive built in {server.startup:.0f} s)", flush=True)
            default = _measure(server, spec)
            field_level = _measure(server, dict(spec, msa_sources=False))
            traced = _measure(server, dict(spec, msa_sources=False, trace=True)) if quick else None
    results = {"spec": spec, "latency": LATENCY, "default": default, "field_level": field_level,
               "traced": traced}
    print(f"\n{default['targets']} targets, {default['fields']} sky fields, {default['rows']} report rows "
          f"({', '.join(f'{k} {v}' for k, v in default['verdicts'].items())}); "
          f"{default['source_observed']} rows with the target in an open shutter")
    print_table("check_duplicates, one run each in a fresh process",
                ("check", "requests: CAOM / MSA lookups / MSA files", "wall time", "peak RSS",
                 "tracemalloc peak", "report rows", "report columns"),
                _rows("default (msa_sources=True)", default)
                + _rows("msa_sources=False", field_level)
                + (_rows("msa_sources=False, under tracemalloc", traced) if traced else []))
    checks = []
    for label, result in (("default", default), ("msa_sources=False", field_level)):
        checks += [(f"{label}: < {TARGET_SECONDS:g} s", fmt_seconds(result["seconds"]),
                    result["seconds"] < TARGET_SECONDS),
                   (f"{label}: peak memory < 2 GB", fmt_bytes(result["maxrss_bytes"]),
                    result["maxrss_bytes"] < TARGET_BYTES)]
    results["targets_met"] = print_targets(checks)
    return results


if __name__ == "__main__":
    main(run)
