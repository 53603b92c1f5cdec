"""`python -m bench` (or `make bench`): run every benchmark and print one table of figures and goals."""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.common import print_table, row

BENCHMARKS = (
    "bench.bench_latency",
    "bench.bench_fanout",
    "bench.bench_digest",
    "bench.bench_rules",
    "bench.bench_data",
    "bench.bench_fedwatch",
    "bench.bench_memory",
    "bench.bench_leadership",
)


def main(argv: list[str]) -> int:
    wanted = [f"bench.bench_{a}" if not a.startswith("bench.") else a for a in argv] or list(BENCHMARKS)
    rows = []
    for name in wanted:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(name)
            rows += module.run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            rows.append(row(f"{name}: failed", type(exc).__name__, "runs", False))
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    print()
    print_table(rows)
    return 0 if all(r.get("pass") is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
