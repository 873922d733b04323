"""
End to end: a 100 000-row, multi-page ``Mast.Jwst.Filtered.Nirspec`` query through the
local MAST server (run in its own process), by

- astroquery 0.4.x: ``MastClass().service_request("Mast.Jwst.Filtered.Nirspec", params)``,
  its portal URLs pointed at the server (astroquery binds them when it is imported, so
  ``astroquery.mast.conf.set_temp("server", ...)`` does not redirect it);
- this package: ``NirspecMast.query_filtered()`` under ``conf.set_temp("server", url)``;
- the floor: the same pages fetched with ``requests`` and not parsed.

This package runs with ``conf.max_concurrent_pages`` 1 (one page at a time) and the
default (pages after the first fetched that many at a time). Two servers: a warm one
that answers at once (pages of 10 000 and 50 000), and a "cold" one that spends
``COLD_LATENCY`` seconds on every page, as MAST does while it prepares a page (pages of
10 000). The same rows for all.
"""
import json
import urllib.parse

from common import add_paths, astroquery_client, main, fmt_seconds, median, print_table, timed_rounds

add_paths()

import requests  # noqa: E402
from astroquery.mast import MastClass  # noqa: E402

from astroquery_nirspec import NirspecMastClass, conf, transport  # noqa: E402
from serve import ServerProcess  # noqa: E402

SERVICE = "Mast.Jwst.Filtered.Nirspec"
TARGET_SPEEDUP = 3.0
TARGET_COLD_SPEEDUP = 2.0
COLD_LATENCY = 0.5


def run_astroquery(client, pagesize):
    return client.service_request(SERVICE, {"columns": "*", "filters": []}, pagesize=pagesize)


def run_ours(url, pagesize, workers=None):
    workers = conf.max_concurrent_pages if workers is None else workers
    with conf.set_temp("server", url), conf.set_temp("pagesize", pagesize), \
            conf.set_temp("progress", False), conf.set_temp("max_concurrent_pages", workers):
        return NirspecMastClass().query_filtered(cache=False)


def run_raw(session, url, pagesize, n_rows):
    """Every page as bytes, unparsed: what the server and the socket cost."""
    pages = -(-n_rows // pagesize)
    total = 0
    for page in range(1, pages + 1):
        body = "request=" + urllib.parse.quote(json.dumps(
            {"service": SERVICE, "params": {"columns": "*", "filters": []}, "format": "json",
             "pagesize": pagesize, "page": page}))
        total += len(session.post(url + "/api/v0/invoke", data=body,
                                  headers=transport.HEADERS).content)
    return total


def ours(workers, size):
    return f"astroquery_nirspec, {workers} in flight, pages of {size}"


def paths_for(url, client, session, pagesizes, n_rows, workers, *, raw=True):
    """The timed paths on one server: astroquery, ours one page at a time and concurrent."""
    paths = {}
    for size in pagesizes:
        paths[f"astroquery service_request, pages of {size}"] = lambda s=size: run_astroquery(client, s)
        for w in sorted({1, workers}):
            paths[ours(w, size)] = lambda s=size, w=w: run_ours(url, s, w)
        if raw:
            paths[f"requests only, unparsed, pages of {size}"] = \
                (lambda s=size: run_raw(session, url, s, n_rows))
    return paths


def measure(spec, pagesizes, n_rows, workers, rounds, baseline_rounds, *, raw=True):
    """Median times of every path on a server started from ``spec``."""
    with ServerProcess(spec) as server:
        print(f"(server with {n_rows} generated rows, latency {spec.get('latency', 0)} s, started in "
              f"{server.startup:.1f} s at {server.url})", flush=True)
        client = astroquery_client(MastClass, server.url)
        session = requests.Session()
        # warm-up and checks: astroquery fetches its columns config once; same rows from all
        theirs = run_astroquery(client, pagesizes[0])
        mine = run_ours(server.url, pagesizes[0], workers)
        assert len(theirs) == len(mine) == n_rows, (len(theirs), len(mine))
        assert mine.pformat(max_lines=30) == run_ours(server.url, pagesizes[0], 1).pformat(max_lines=30)
        del theirs, mine
        paths = paths_for(server.url, client, session, pagesizes, n_rows, workers, raw=raw)
        counts = {label: baseline_rounds if label.startswith("astroquery ") else rounds for label in paths}
        return timed_rounds(paths, counts)


def run(n_rows=100_000, pagesizes=(10_000, 50_000), rounds=3, baseline_rounds=2, quick=False):
    if quick:
        n_rows, pagesizes, rounds, baseline_rounds = 4_000, (1_000, 2_000), 1, 1
    workers = int(conf.max_concurrent_pages)
    print(f"\n## End to end: {n_rows} rows of {SERVICE} through the local MAST server "
          f"(separate process); conf.max_concurrent_pages = {workers}")
    results = {"rows": n_rows, "workers": workers, "cold_latency": COLD_LATENCY}
    spec = {"kind": "nirspec", "rows": n_rows, "seed": 1}
    warm = measure(spec, pagesizes, n_rows, workers, rounds, baseline_rounds)
    cold = measure(dict(spec, latency=COLD_LATENCY), pagesizes[:1], n_rows, workers,
                   max(1, rounds - 1), 1, raw=False)
    results["times"] = {"warm": {k: sorted(v) for k, v in warm.items()},
                        "cold": {k: sorted(v) for k, v in cold.items()}}
    checks = []
    for name, times, sizes, target in (("warm", warm, pagesizes, TARGET_SPEEDUP),
                                       ("cold", cold, pagesizes[:1], TARGET_COLD_SPEEDUP)):
        best = min(median(times[ours(workers, s)]) for s in sizes)
        print_table(f"{name} server: median wall time, spread and rounds; time relative to the best "
                    "concurrent astroquery_nirspec run", ("path", "median", "range (s)", "rounds", "x ours"),
                    [(label, fmt_seconds(median(v)), f"{min(v):.2f}-{max(v):.2f}", len(v),
                      f"{median(v) / best:.2f}") for label, v in times.items()])
        for size in sizes:
            t_aq = median(times[f"astroquery service_request, pages of {size}"])
            for w in sorted({1, workers}):
                ratio = t_aq / median(times[ours(w, size)])
                results[f"speedup_{name}_{size}_{w}"] = ratio
                if w == workers:
                    checks.append((f"{name}: >= {target:g}x astroquery, pages of {size}, {w} in flight",
                                   ratio, ratio >= target))
    print_table("Targets", ("target", "measured", "met"),
                [(label, f"{value:.2f}x", "yes" if ok else "NO") for label, value, ok in checks])
    print("\nRatios to astroquery: " + ", ".join(
        f"{k[len('speedup_'):]} {v:.2f}x" for k, v in results.items() if k.startswith("speedup_")))
    results["targets_met"] = {label: ok for label, _, ok in checks}
    return results


if __name__ == "__main__":
    main(run)
