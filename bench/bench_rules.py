"""Rule evaluation: one tick of cut_odds for 10k and 100k subscriptions with random custom thresholds.

A tick is what the watcher does per rule per new bar: observe the metric, step every subscriber's state
(vectorised), and turn the changed ones into events. Measured side by side in one run; the goal is that
10× the subscriptions costs at most 2× the time and 100k stay under 50 ms.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.common import row
from bot.alerts.evaluator import AlertState, GroupStates, events_of, observe, step
from bot.alerts.rules import RULES

TICKS = 40


def tick_times(n: int, seed: int = 7) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    rule = RULES["cut_odds"]
    thresholds = rng.uniform(1, 99, n)
    scopes = [str(i) for i in range(n)]
    # A realistic path of next-meeting cut odds: a random walk in percent.
    values = np.clip(50 + np.cumsum(rng.normal(0, 4, TICKS + 1)), 0, 100)
    history = pd.Series(values, index=pd.bdate_range("2026-01-05", periods=len(values)))
    states = GroupStates.from_states([AlertState()] * n)
    times, events = [], 0
    for ts in history.index:
        started = time.perf_counter()
        obs = observe(rule, history, ts.date())
        assert obs is not None
        fired, resolved, repeat = step(rule, thresholds, states, obs)
        events += len(events_of(rule, scopes, thresholds, obs, fired, resolved, repeat))
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]), events


def run() -> list[dict[str, Any]]:
    t10, e10 = tick_times(10_000)
    t100, e100 = tick_times(100_000)
    growth = t100 / t10
    return [
        row(f"rule tick, 10k subscriptions ms ({e10} events over {TICKS} ticks)", t10 * 1000, "reference"),
        row(f"rule tick, 100k subscriptions ms ({e100} events)", t100 * 1000, "<= 50 ms", t100 * 1000 <= 50),
        row("rule tick growth 100k / 10k", growth, "<= 2.0", growth <= 2.0),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
