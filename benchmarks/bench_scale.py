"""
100 000 targets: ``NirspecMast.check_duplicates(targets)`` (the default, ``msa_sources=True``)
on 100 000 planned targets in 1 000 sky fields, through the local MAST server (own process)
answering every request, download included, after 100 ms.

The archive holds a few NIRSpec observations (executed and planned, every mode) around each
field, exact duplicates of 10 % of the targets, and, for every executed MOS observation, its
exposures in ``Mast.Jwst.Filtered.Nirspec`` naming an MSA metadata file that the server
serves (written in the jwst pipeline's layout by ``tests/msa_files.py``, with some targets
as primary sources in open shutters). The check runs once in a fresh process: wall time,
requests, the process's peak resident memory (``resource.getrusage``) and, in a second
run, the tracemalloc peak.
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
        report = NirspecMastClass().check_duplicates(targets, cache=False)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if spec.get("trace") else None
    verdicts = dict(zip(*np.unique(np.asarray(report["verdict"]), return_counts=True)))
    observed = report["source_observed"]
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


def run(quick=False):
    from serve import ServerProcess

    spec = dict(QUICK if quick else FULL)
    with tempfile.TemporaryDirectory() as folder:
        with ServerProcess({"kind": "scale", "latency": LATENCY, **spec, "folder": folder}) as server:
            print(f"\n## 100 000 targets: {spec['n_fields'] * spec['per_field']} targets in "
                  f"{spec['n_fields']} sky fields, server latency {LATENCY * 1000:.0f} ms "
                  f"(archive built in {server.startup:.0f} s)")
            server.clear()
            timed = _in_child(server.url, spec)
            counts = {name: server.count(name) for name in ("caom", "nirspec", "download")}
            traced = _in_child(server.url, dict(spec, trace=True))
    results = {"spec": spec, "latency": LATENCY, "run": timed, "traced": traced, "requests": counts}
    print_table("One check_duplicates (msa_sources=True)", ("measure", "value"), [
        ("targets / sky fields", f"{timed['targets']} / {timed['fields']}"),
        ("report rows", timed["rows"]),
        ("verdicts", ", ".join(f"{k} {v}" for k, v in timed["verdicts"].items())),
        ("rows with the target in an open shutter", timed["source_observed"]),
        ("requests: CAOM fields / MSA lookups / MSA downloads",
         f"{counts['caom']} / {counts['nirspec']} / {counts['download']}"),
        ("wall time", fmt_seconds(timed["seconds"])),
        ("peak resident memory (maxrss)", fmt_bytes(timed["maxrss_bytes"])),
        ("tracemalloc peak (second run)", fmt_bytes(traced["tracemalloc_peak_bytes"])),
        ("report (column buffers)", fmt_bytes(timed["report_bytes"]))])
    checks = [(f"< {TARGET_SECONDS:g} s", fmt_seconds(timed["seconds"]), timed["seconds"] < TARGET_SECONDS),
              ("peak memory < 2 GB", fmt_bytes(timed["maxrss_bytes"]), timed["maxrss_bytes"] < TARGET_BYTES)]
    print_table("Targets", ("target", "measured", "met"),
                [(name, value, "yes" if ok else "NO") for name, value, ok in checks])
    results["targets_met"] = {name: ok for name, _, ok in checks}
    return results


if __name__ == "__main__":
    main(run)
