"""
Reply → Table: one 20 000-row ``Mast.Jwst.Filtered.Nirspec`` reply, parsed by

- the bare parsers (``json.loads``, ``orjson.loads``),
- astroquery 0.4.x's own path (``discovery_portal._json_to_table(json.loads(...), col_config={})``),
- this package (``tables.reply_to_table``: the path of every page of a query, typed by
  msgspec when installed, else ``decoding.loads`` (orjson) + the same column builder),

all on the same bytes, interleaved, median of several rounds; then the peak memory of
each path and the memory its result holds (tracemalloc).
"""
import cProfile
import io
import json
import pstats

from common import (add_paths, main, fmt_bytes, fmt_seconds, median, print_table, timed_rounds,
                    traced_memory)

add_paths()

from astroquery.mast.discovery_portal import _json_to_table  # noqa: E402

from astroquery_nirspec import decoding, tables  # noqa: E402
from synthetic import reply_bytes  # noqa: E402

TARGET_VS_ASTROQUERY = 5.0      # at least this many times faster than astroquery
TARGET_VS_PARSE = 1.3           # at most this many times the bare json.loads
TARGET_MEMORY = 2.0             # peak at most this many times the final Table
OURS = "astroquery_nirspec (tables.reply_to_table)"


def ours(content):
    return tables.reply_to_table(content)[0]


def astroquery_path(content):
    return _json_to_table(json.loads(content), col_config={})


def run(n_rows=20_000, rounds=3, baseline_rounds=2, profile=False, quick=False):
    if quick:
        n_rows, rounds, baseline_rounds = 2_000, 1, 1
    content = reply_bytes(n_rows, seed=0)
    n_fields = len(json.loads(content[:content.index(b'"data"')] + b'"data":[]}')["fields"])
    print(f"\n## Reply -> Table: {n_rows} rows x {n_fields} fields, {len(content) / 1e6:.0f} MB of JSON")

    paths = {
        "json.loads alone": lambda: json.loads(content),
        "orjson.loads alone": lambda: decoding._orjson.loads(content),
        "astroquery _json_to_table(json.loads)": lambda: astroquery_path(content),
        OURS: lambda: ours(content),
    }
    if decoding._orjson is None:                        # pragma: no cover
        del paths["orjson.loads alone"]
    counts = {label: baseline_rounds if label.startswith("astroquery ") else rounds for label in paths}
    times = timed_rounds(paths, counts)

    def same_shape(table):                              # both Table paths give n_rows x n_fields
        assert len(table) == n_rows and len(table.colnames) == n_fields, (len(table), len(table.colnames))

    table_paths = ("astroquery _json_to_table(json.loads)",
                   OURS)
    memory = {label: traced_memory(call, same_shape if label in table_paths else None)
              for label, call in paths.items()}

    t_parse = median(times["json.loads alone"])
    t_aq = median(times["astroquery _json_to_table(json.loads)"])
    t_ours = median(times[OURS])
    rows = []
    for label in paths:
        t = median(times[label])
        peak, held = memory[label]
        rows.append((label, fmt_seconds(t), f"{min(times[label]):.2f}-{max(times[label]):.2f}",
                     len(times[label]), f"{t / t_ours:.2f}", fmt_bytes(peak), fmt_bytes(held),
                     f"{peak / held:.1f}"))
    print_table("Median time, spread, rounds; time relative to astroquery_nirspec; "
                "peak traced memory, memory the result holds, and their ratio",
                ("path", "median", "range (s)", "rounds", "x ours", "peak", "result", "peak/result"),
                rows)

    peak, held = memory[OURS]
    results = {
        "rows": n_rows, "fields": n_fields, "json_mb": len(content) / 1e6,
        "times": {k: sorted(v) for k, v in times.items()},
        "memory": {k: {"peak": p, "result": h} for k, (p, h) in memory.items()},
        "speedup_vs_astroquery": t_aq / t_ours,
        "ratio_vs_json_loads": t_ours / t_parse,
        "peak_over_table": peak / held,
    }
    checks = [
        (f">= {TARGET_VS_ASTROQUERY:g}x faster than astroquery", results["speedup_vs_astroquery"],
         results["speedup_vs_astroquery"] >= TARGET_VS_ASTROQUERY, "x"),
        (f"<= {TARGET_VS_PARSE:g}x the bare json.loads", results["ratio_vs_json_loads"],
         results["ratio_vs_json_loads"] <= TARGET_VS_PARSE, "x"),
        (f"peak <= {TARGET_MEMORY:g}x the final Table", results["peak_over_table"],
         results["peak_over_table"] <= TARGET_MEMORY, "x"),
    ]
    print_table("Targets", ("target", "measured", "met"),
                [(name, f"{value:.2f}{unit}", "yes" if ok else "NO") for name, value, ok, unit in checks])
    results["targets_met"] = {name: ok for name, _, ok, _ in checks}

    if profile or not all(ok for _, _, ok, _ in checks):
        results["profile"] = profile_ours(content)
    return results


def profile_ours(content, top=15):
    """Where our path spends its time (cProfile, cumulative), printed and returned."""
    profiler = cProfile.Profile()
    profiler.enable()
    table = ours(content)
    profiler.disable()
    del table
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    text = out.getvalue()
    print("\ncProfile of tables.reply_to_table (sorted by own time):\n")
    print(text[text.index("ncalls"):] if "ncalls" in text else text)
    return text


if __name__ == "__main__":
    main(run)
