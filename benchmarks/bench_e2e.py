"""
End to end: a 100 000-row, multi-page ``Mast.Jwst.Filtered.Nirspec`` query through the
local MAST server (run in its own process), by

- astroquery 0.4.x: ``MastClass().service_request("Mast.Jwst.Filtered.Nirspec", params)``,
  its portal URLs pointed at the server (astroquery binds them when it is imported, so
  ``astroquery.mast.conf.set_temp("server", ...)`` does not redirect it);
- this package: ``NirspecMast.query_filtered()`` under ``conf.set_temp("server", url)``;
- the floor: the same pages fetched with ``requests`` and not parsed;
- a prototype of concurrent page fetching (2 and 4 pages in flight), built here from
  the transport's pieces, to tell whether the package should do it.

Page sizes 10 000 and 50 000, the same server and rows for all.
"""
import concurrent.futures
import json
import urllib.parse

from common import add_paths, astroquery_client, main, fmt_seconds, median, print_table, timed_rounds

add_paths()

import requests  # noqa: E402
from astroquery.mast import MastClass  # noqa: E402

from astroquery_nirspec import NirspecMastClass, conf, tables, transport  # noqa: E402
from serve import ServerProcess  # noqa: E402

SERVICE = "Mast.Jwst.Filtered.Nirspec"
TARGET_SPEEDUP = 3.0


def run_astroquery(client, pagesize):
    return client.service_request(SERVICE, {"columns": "*", "filters": []}, pagesize=pagesize)


def run_ours(url, pagesize):
    with conf.set_temp("server", url), conf.set_temp("pagesize", pagesize), \
            conf.set_temp("progress", False):
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


def run_concurrent(url, pagesize, workers):
    """Prototype: page 1, then the other pages ``workers`` at a time; one Table at the end."""
    with conf.set_temp("server", url), conf.set_temp("pagesize", pagesize):
        request = {"service": SERVICE, "params": {"columns": "*", "filters": []}, "format": "json",
                   "pagesize": pagesize, "page": 1}
        first = transport.invoke(NirspecMastClass(), request, retrieve_all=False)[0]
        reply = transport.reply_json(first)
        pages = int(reply["paging"]["pagesFiltered"])
        clients = [NirspecMastClass() for _ in range(workers)]

        def fetch(page):
            query = clients[page % workers]
            response = transport.invoke(query, dict(request, page=page), retrieve_all=False)[0]
            return transport.reply_json(response)

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            replies = [reply] + list(pool.map(fetch, range(2, pages + 1)))
        rows = [row for r in replies for row in r["data"]]
        return tables.rows_to_table(reply["fields"], rows)


def run(n_rows=100_000, pagesizes=(10_000, 50_000), rounds=3, baseline_rounds=2, quick=False):
    if quick:
        n_rows, pagesizes, rounds, baseline_rounds = 4_000, (1_000, 2_000), 1, 1
    print(f"\n## End to end: {n_rows} rows of {SERVICE} through the local MAST server "
          "(separate process)")
    results = {"rows": n_rows, "times": {}}
    with ServerProcess({"kind": "nirspec", "rows": n_rows, "seed": 1}) as server:
        print(f"(server with {n_rows} generated rows started in {server.startup:.1f} s at {server.url})")
        client = astroquery_client(MastClass, server.url)
        session = requests.Session()
        # warm-up and checks: astroquery fetches its columns config once; same rows from both
        theirs = run_astroquery(client, pagesizes[0])
        mine = run_ours(server.url, pagesizes[0])
        assert len(theirs) == len(mine) == n_rows, (len(theirs), len(mine))
        assert len(run_concurrent(server.url, pagesizes[0], 2)) == n_rows
        del theirs, mine

        paths = {}
        for size in pagesizes:
            paths[f"astroquery service_request, pages of {size}"] = \
                (lambda s=size: run_astroquery(client, s))
            paths[f"astroquery_nirspec query_filtered, pages of {size}"] = \
                (lambda s=size: run_ours(server.url, s))
            paths[f"requests only, unparsed, pages of {size}"] = \
                (lambda s=size: run_raw(session, server.url, s, n_rows))
        for workers in (2, 4):
            paths[f"prototype: {workers} pages in flight, pages of {pagesizes[0]}"] = \
                (lambda w=workers: run_concurrent(server.url, pagesizes[0], w))
        counts = {label: baseline_rounds if label.startswith("astroquery ") else rounds for label in paths}
        times = timed_rounds(paths, counts)

    rows = []
    for size in pagesizes:
        t_aq = median(times[f"astroquery service_request, pages of {size}"])
        t_ours = median(times[f"astroquery_nirspec query_filtered, pages of {size}"])
        results[f"speedup_{size}"] = t_aq / t_ours
    best_ours = min(median(times[f"astroquery_nirspec query_filtered, pages of {s}"]) for s in pagesizes)
    for label, values in times.items():
        rows.append((label, fmt_seconds(median(values)), f"{min(values):.2f}-{max(values):.2f}",
                     len(values), f"{median(values) / best_ours:.2f}"))
    print_table("Median wall time, spread and rounds; time relative to the best astroquery_nirspec run",
                ("path", "median", "range (s)", "rounds", "x ours"), rows)
    results["times"] = {k: sorted(v) for k, v in times.items()}
    checks = [(f">= {TARGET_SPEEDUP:g}x faster than astroquery, pages of {size}", results[f"speedup_{size}"],
               results[f"speedup_{size}"] >= TARGET_SPEEDUP) for size in pagesizes]
    print_table("Targets", ("target", "measured", "met"),
                [(name, f"{value:.2f}x", "yes" if ok else "NO") for name, value, ok in checks])
    results["targets_met"] = {name: ok for name, _, ok in checks}
    sequential = median(times[f"astroquery_nirspec query_filtered, pages of {pagesizes[0]}"])
    results["concurrency_gain"] = {
        workers: sequential / median(times[f"prototype: {workers} pages in flight, pages of {pagesizes[0]}"])
        for workers in (2, 4)}
    print("\nConcurrent page fetching, relative to one page at a time (pages of "
          f"{pagesizes[0]}): " + ", ".join(f"{w} in flight {g:.2f}x"
                                           for w, g in results["concurrency_gain"].items()))
    return results


if __name__ == "__main__":
    main(run)
