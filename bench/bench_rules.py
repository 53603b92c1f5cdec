"""Rule evaluation at scale: one tick of ``evaluate_group`` for 10k and 100k subscriptions of cut_odds,
each with its own random threshold, on a realistic moving series of next-meeting cut odds.

A tick is what the watch job does per rule per new bar: one ``evaluate_group`` call over a
``SubscriptionIndex`` kept between ticks (built once, like the watcher keeps it until subscriptions
change), which runs the state machine once per distinct params (thresholds have two decimals, so 100k
subscriptions hold about 9,800 distinct ones) and returns the changed states and the events per
subscription. Both sizes run side by side
on the same series; the figure is the median over the ticks. Goals: 10× the subscriptions costs at most
2× the time, and 100k subscriptions stay under 50 ms a tick.

    python -m bench.bench_rules
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.common import row
from bot.alerts.evaluator import AlertState, evaluate_group, index_subscriptions
from bot.alerts.rules import RULES

HISTORY_BARS = 750  # about three years of daily cut odds before the measured ticks
TICKS = 41


def cut_odds_path(seed: int = 11) -> pd.Series:
    """Daily next-meeting cut odds in percent: a bounded random walk with mostly small moves (sd 1.5 pp)
    and an occasional repricing jump (sd 12 pp, about one session in twenty), like FedWatch odds."""
    rng = np.random.default_rng(seed)
    n = HISTORY_BARS + TICKS
    steps = rng.normal(0.0, 1.5, n) + np.where(rng.random(n) < 0.05, rng.normal(0.0, 12.0, n), 0.0)
    values = np.empty(n)
    level = 40.0
    for i, step in enumerate(steps):
        level = min(99.5, max(0.5, level + step))
        values[i] = round(level, 2)
    return pd.Series(values, index=pd.bdate_range("2023-01-02", periods=n))


def tick_times(n: int, history: pd.Series, seed: int = 7) -> dict[str, Any]:
    """Median seconds per tick over the last TICKS bars, with n random thresholds in 1–99."""
    rng = np.random.default_rng(seed)
    rule = RULES["cut_odds"]
    subs = [
        (str(100_000 + i), {"threshold": float(round(t, 2))}) for i, t in enumerate(rng.uniform(1, 99, n))
    ]
    started = time.perf_counter()
    index = index_subscriptions(rule, subs)
    build = time.perf_counter() - started
    dates = [ts.date() for ts in history.index[-TICKS - 1 :]]
    states: dict[str, AlertState] = {}
    changed, _ = evaluate_group(rule, index, history, states, dates[0])  # the watch starts one bar earlier
    states.update(changed)
    times, events, moves = [], 0, []
    for day in dates[1:]:
        t0 = time.perf_counter()
        changed, by_scope = evaluate_group(rule, index, history, states, day)
        times.append(time.perf_counter() - t0)
        states.update(changed)
        events += sum(len(v) for v in by_scope.values())
        moves.append(abs(history.loc[pd.Timestamp(day)] - history.loc[: pd.Timestamp(day)].iloc[-2]))
    return {
        "tick": statistics.median(times),
        "worst": max(times),
        "events": events,
        "build": build,
        "median_move": statistics.median(moves),
        "distinct": sum(len(g.thresholds) for g in index.groups),
    }


def run() -> list[dict[str, Any]]:
    history = cut_odds_path()
    tick_times(2_000, history)  # warm-up: imports, numpy code paths
    small = tick_times(10_000, history)
    large = tick_times(100_000, history)
    growth = large["tick"] / small["tick"]
    return [
        row(
            f"rule tick ms, 10k subs, {small['distinct']} distinct params ({small['events']} events over "
            f"{TICKS} ticks, median move {small['median_move']:.2f} pp)",
            small["tick"] * 1000,
            "reference",
        ),
        row(
            f"rule tick ms, 100k subs, {large['distinct']} distinct params ({large['events']} events; worst tick "
            f"{large['worst'] * 1000:.1f} ms)",
            large["tick"] * 1000,
            "<= 50 ms",
            large["tick"] * 1000 <= 50,
        ),
        row("rule tick growth 100k / 10k subs", growth, "<= 2.0", growth <= 2.0),
        row("index build ms, 100k subs (once per subscription change)", large["build"] * 1000, "reference"),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
