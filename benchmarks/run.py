"""
Run the benchmarks: ``python benchmarks/run.py [reply] [e2e] [duplicates] [crowded] [scale] [--quick] [--json FILE]``.

Each benchmark runs in its own Python process (so one's memory does not weigh on the
next), against astroquery on the same data in the same run, and prints its tables.
With ``--json`` the machine description and every number are written to FILE.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine  # noqa: E402

BENCHMARKS = {"reply": "bench_reply.py", "e2e": "bench_e2e.py", "duplicates": "bench_duplicates.py",
              "crowded": "bench_crowded.py",
              "scale": "bench_scale.py"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small data, one round: a smoke run")
    parser.add_argument("--json", help="write the machine and all results to this JSON file")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    facts = machine()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    results = {"machine": facts, "quick": args.quick}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, str(HERE / BENCHMARKS[name]), "--json", str(out)]
            if args.quick:
                command.append("--quick")
            start = time.monotonic()
            code = subprocess.call(command, cwd=HERE.parent)
            elapsed = time.monotonic() - start
            print(f"\n({name}: {elapsed:.0f} s)", flush=True)
            if code != 0 or not out.exists():
                failed.append(name)
                continue
            results[name] = json.loads(out.read_text())
            results[name]["benchmark_seconds"] = elapsed
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
