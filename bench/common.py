"""Shared helpers of the benchmarks: timing, rows of the results table, the real data."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CAPGAP_SHARED_DATA", REPO.parent / "shared" / "data"))


def row(name: str, value: Any, goal: str = "", passed: bool | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "goal": goal, "pass": passed, **extra}


def median_time(fn: Callable[[], Any], *, repeat: int = 7) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        raise SystemExit(f"benchmarks need the real data at {SHARED_DATA} (set CAPGAP_SHARED_DATA)")
    return SHARED_DATA


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max((len(str(r["name"])) for r in rows), default=10)
    print(f"{'benchmark':<{width}}  {'value':>16}  {'goal':<22} result")
    print("-" * (width + 50))
    for r in rows:
        value = r["value"]
        text = f"{value:,.3f}" if isinstance(value, float) else str(value)
        verdict = "" if r.get("pass") is None else ("PASS" if r["pass"] else "FAIL")
        print(f"{r['name']:<{width}}  {text:>16}  {r.get('goal', ''):<22} {verdict}")
