"""Shared helpers of the benchmarks: timing, memory, the machine, tables of numbers."""
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_paths():
    """Import the package from this tree, and the local MAST server from tests/."""
    for path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def machine():
    """The facts a reader needs to compare numbers: cores, versions, the commit measured."""
    import importlib.metadata
    import subprocess

    import astropy
    import astroquery
    import numpy

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(terse=True), "astropy": astropy.__version__,
            "astroquery": astroquery.__version__, "numpy": numpy.__version__,
            "msgspec": version("msgspec"), "orjson": version("orjson"), "commit": commit}


def timed_rounds(paths, rounds, *, setup=None):
    """
    Run each path ``rounds`` times, interleaved (A B C A B C ...), and return the times.

    Parameters
    ----------
    paths : dict
        ``{label: callable}``; each call's result is dropped before the next.
    rounds : int or dict
        Rounds per path (a dict gives each path its own number).
    setup : callable, optional
        Called before every call (not timed).

    Returns
    -------
    times : dict
        ``{label: [seconds, ...]}``.
    """
    counts = {label: rounds if isinstance(rounds, int) else rounds[label] for label in paths}
    times = {label: [] for label in paths}
    for index in range(max(counts.values())):
        for label, call in paths.items():
            if index >= counts[label]:
                continue
            if setup:
                setup()
            gc.collect()
            start = time.perf_counter()
            result = call()
            times[label].append(time.perf_counter() - start)
            del result
    gc.collect()
    return times


def traced_memory(call, check=None):
    """
    (peak bytes allocated during the call, bytes still held by its result), by tracemalloc.

    numpy reports its array buffers to tracemalloc, so both Python objects and arrays count.
    ``check``, if given, is called with the result (after the measurement).
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = call()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if check is not None:
        check(result)
    del result
    gc.collect()
    return peak - base, current - base


def median(values):
    return statistics.median(values)


def fmt_seconds(value):
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def fmt_bytes(value):
    return f"{value / 1e9:.2f} GB" if value >= 1e9 else f"{value / 1e6:.0f} MB"


def print_table(title, header, rows):
    """A plain-text table (also valid reStructuredText "simple table" markup)."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    print(f"\n{title}\n")
    print(rule)
    print("  ".join(c.ljust(w) for c, w in zip(cells[0], widths)))
    print(rule)
    for row in cells[1:]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print(rule)
    sys.stdout.flush()


def main(run):
    """Command line of one benchmark module: ``python bench_x.py [--json FILE] [--quick]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=run.__module__)
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    results = run(quick=args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return results


def astroquery_client(cls, url):
    """
    An astroquery MAST client (``MastClass``, ``ObservationsClass``) whose portal
    requests go to ``url``: astroquery 0.4.11 binds its service URLs when
    ``astroquery.mast`` is imported, so ``astroquery.mast.conf.set_temp`` cannot.
    """
    client = cls()
    portal = client._portal_api_connection
    portal.MAST_REQUEST_URL = url + "/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = url + "/portal/Mashup/Mashup.asmx/columnsconfig"
    return client
