"""
100 000 targets: ``NirspecMast.check_duplicates(targets)`` (the default, ``msa_sources=True``)
on 100 000 planned targets in 1 000 sky fields, through the local MAST server (own process)
answering every request, download included, after 100 ms.

The archive holds a few NIRSpec observations (executed and planned, every mode) around each
field, exact duplicates of 10 % of the targets, and, for every executed MOS observation, its
exposures in ``Mast.Jwst.Filtered.Nirspec`` naming an MSA metadata file that the server
serves (written in the jwst pipeline's layout by ``tests/msa_files.py``, with some targets
as primary sources in open shutters). Each check runs once in a fresh process, with
``conf.max_concurrent_pages`` 3 (the default) and 4 (the polite limit): wall time,
requests, the process's peak resident memory (``resource.getrusage``) and the wall time
of each phase (`PHASES`); with ``--quick`` also the tracemalloc peak of a field-level run
(tracemalloc slows the full run too much).
"""
import functools
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
#: ``conf.max_concurrent_pages`` of the measured checks.
CONCURRENCY = (3, 4)
#: The timed phases: (module or class, attribute, label). Reading the MSA files happens
#: inside their download (each file as it arrives), so its time is part of that phase's.
PHASES = (("astroquery_nirspec.transport", "invoke_many", None),
          ("astroquery_nirspec.core.NirspecMastClass", "_parse_result", "field-level report"),
          ("astroquery_nirspec.core.NirspecMastClass", "_download_msa_files",
           "MSA file downloads (reading included)"),
          ("astroquery_nirspec.msa_evidence", "read_msa_sources", "  of which reading MSA files"))
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


def _owner(dotted):
    """The module, or the class in a module, that ``dotted`` names."""
    import importlib
    module, _, name = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), name)


def _label(label, args):
    """A phase's label; `None`: the requests, by the service of the first one."""
    return label or f"requests: {args[1][0]['service']}"


def time_phases(phases):
    """Wrap each of `PHASES` so that its wall time adds up in ``phases`` (seconds by label)."""
    for dotted, attribute, label in PHASES:
        owner = _owner(dotted)
        real = getattr(owner, attribute)

        def timed(*args, _real=real, _label_=label, **kwargs):
            start = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                name = _label(_label_, args)
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
        setattr(owner, attribute, functools.wraps(real)(timed))


def check(url, spec):
    """One duplicate check in this process: what the child of `run` measures."""
    import resource
    import tracemalloc

    from bench_duplicates import make_targets

    from astroquery_nirspec import NirspecMastClass, conf

    targets = make_targets(spec["n_fields"], spec["per_field"])
    phases = {}
    time_phases(phases)
    if spec.get("trace"):
        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    with conf.set_temp("server", url), conf.set_temp("progress", spec.get("progress", False)), \
            conf.set_temp("max_concurrent_pages", spec.get("max_concurrent_pages", 3)):
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
            "source_observed": int(np.sum(np.ma.filled(observed, False))), "phases": phases,
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


def _measure_all(server, spec, quick):
    """``{n: {"default": ..., "field_level": ...}}`` for each ``n`` of `CONCURRENCY`."""
    checks = {}
    for n in CONCURRENCY:
        checks[n] = {"default": _measure(server, dict(spec, max_concurrent_pages=n)),
                     "field_level": _measure(server, dict(spec, max_concurrent_pages=n,
                                                          msa_sources=False))}
    if quick:
        checks[CONCURRENCY[0]]["traced"] = _measure(server, dict(spec, msa_sources=False, trace=True))
    return checks


def _print_phases(checks):
    """Where the wall time of each check went (`PHASES`; the rest is the client's own work)."""
    seen = list(dict.fromkeys(name for by in checks.values() for r in by.values()
                              for name in r["phases"]))
    fixed = [label for *_, label in PHASES if label]
    labels = [name for name in seen if name not in fixed] + [name for name in fixed if name in seen]
    columns = [(f"{kind}, {n} in flight", r) for n, by in checks.items()
               for kind, r in by.items() if kind != "traced"]
    rows = [(name, *(fmt_seconds(r["phases"].get(name, 0.0)) for _, r in columns)) for name in labels]
    rest = [r["seconds"] - sum(t for name, t in r["phases"].items() if not name.startswith(" "))
            for _, r in columns]
    print_table("Where the time went (wall time of each phase)", ("phase", *(c for c, _ in columns)),
                rows + [("targets, sky fields, MSA evidence (the rest)", *map(fmt_seconds, rest))])


def run(quick=False):
    from bench_duplicates import print_targets
    from serve import ServerProcess

    spec = dict(QUICK if quick else FULL)
    with tempfile.TemporaryDirectory() as folder:
        with ServerProcess({"kind": "scale", "latency": LATENCY, **spec, "folder": folder}) as server:
            print(f"\n## 100 000 targets: {spec['n_fields'] * spec['per_field']} targets in "
                  f"{spec['n_fields']} sky fields, server latency {LATENCY * 1000:.0f} ms "
                  f"(archive built in {server.startup:.0f} s)", flush=True)
            checks = _measure_all(server, spec, quick)
    first = checks[CONCURRENCY[0]]
    default, traced = first["default"], first.get("traced")
    results = {"spec": spec, "latency": LATENCY, "default": default, "field_level": first["field_level"],
               "traced": traced, "by_concurrency": checks}
    print(f"\n{default['targets']} targets, {default['fields']} sky fields, {default['rows']} report rows "
          f"({', '.join(f'{k} {v}' for k, v in default['verdicts'].items())}); "
          f"{default['source_observed']} rows with the target in an open shutter")
    rows, targets = [], []
    for n, by in checks.items():
        for kind, label in (("default", "default (msa_sources=True)"), ("field_level", "msa_sources=False")):
            rows += _rows(f"{label}, {n} in flight", by[kind])
            seconds, memory = by[kind]["seconds"], by[kind]["maxrss_bytes"]
            targets += [(f"{label}, {n} in flight: < {TARGET_SECONDS:g} s", fmt_seconds(seconds),
                         seconds < TARGET_SECONDS),
                        (f"{label}, {n} in flight: peak memory < 2 GB", fmt_bytes(memory),
                         memory < TARGET_BYTES)]
    if traced:
        rows += _rows("msa_sources=False, under tracemalloc", traced)
    print_table("check_duplicates, one run each in a fresh process",
                ("check", "requests: CAOM / MSA lookups / MSA files", "wall time", "peak RSS",
                 "tracemalloc peak", "report rows", "report columns"), rows)
    _print_phases(checks)
    results["targets_met"] = print_targets(targets)
    return results


if __name__ == "__main__":
    main(run)
