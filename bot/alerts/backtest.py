"""Backtests: run a rule over stored history, list when it would have fired and what the R2K did next.

The rule runs through the same state machine as live alerts (bot/alerts/evaluator.py), bar by bar over
the whole metric history, starting from the state before the first bar; ``start``/``end`` only choose
which firings are reported, so a window ("52w", "since:…") or a ``for_sessions`` count sees the bars
before ``start`` as it would live. An end date (``expires``) and repeats are about a subscription's
delivery, not about when the condition fired, and are ignored.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from bot.alerts.evaluator import advance, implied_state, prepare
from bot.alerts.rules import Rule

HORIZONS = (1, 3, 12)  # months after a firing


@dataclass(frozen=True)
class Firing:
    """One firing and the Russell 2000's close-to-close return (fraction) ``months`` later, from the
    close on (or last before) the firing's date; None where that date is past the last close."""

    bar: date
    value: float  # the metric at the firing
    rut_returns: Mapping[int, float | None]


@dataclass(frozen=True)
class BacktestResult:
    rule_id: str
    params: Mapping[str, Any]  # the effective params the rule ran with
    start: date | None  # first and last bar of the metric inside the requested range (None: no bar)
    end: date | None
    firings: tuple[date, ...]  # every firing, oldest first
    outcomes: tuple[Firing, ...]  # the same firings with what followed
    median_rut_return: Mapping[int, float | None]  # months -> median over firings whose window is complete
    counted: Mapping[int, int]  # months -> firings whose window is complete

    @property
    def count(self) -> int:
        return len(self.firings)

    @property
    def last_five(self) -> tuple[date, ...]:
        return self.firings[-5:]


def forward_return(rut_close: pd.Series, day: date, months: int) -> float | None:
    """R2K return from the close on (or last before) ``day`` to the close on (or last before) ``day`` plus
    ``months`` calendar months; None when that date is after the last close or no base close exists."""
    base_at = pd.Timestamp(day)
    target = base_at + pd.DateOffset(months=months)
    if rut_close.empty or target > rut_close.index[-1]:
        return None
    base = rut_close.loc[:base_at]
    if base.empty:
        return None
    return float(rut_close.loc[:target].iloc[-1] / base.iloc[-1] - 1.0)


def backtest(
    rule: Rule,
    params: Mapping[str, Any],
    history: pd.Series,
    rut_close: pd.Series,
    start: date | None = None,
    end: date | None = None,
) -> BacktestResult:
    """Where ``rule`` with ``params`` would have fired over ``history`` (the metric series), between
    ``start`` and ``end`` inclusive (None: the whole history), and the R2K's median 1/3/12-month return
    after those firings (``rut_close``: daily closes, the same convention as every bar frame)."""
    eff = rule.with_params(params)
    sig = prepare(eff, history)
    rut = rut_close.dropna().sort_index()
    lo = 0 if start is None else int(np.searchsorted(sig.days, start.toordinal(), side="left"))
    hi = len(sig.days) if end is None else int(np.searchsorted(sig.days, end.toordinal(), side="right"))
    state = implied_state(eff, sig, eff.threshold, -1)
    firings: list[date] = []
    values: list[float] = []
    for p in range(hi):
        state, kind = advance(eff, sig, eff.threshold, state, p)
        if kind == "firing" and p >= lo:
            firings.append(sig.day(p))
            values.append(float(sig.value[p]))
    outcomes = tuple(
        Firing(day, value, {m: forward_return(rut, day, m) for m in HORIZONS})
        for day, value in zip(firings, values, strict=True)
    )
    medians: dict[int, float | None] = {}
    counted: dict[int, int] = {}
    for months in HORIZONS:
        complete = [r for o in outcomes if (r := o.rut_returns[months]) is not None]
        counted[months] = len(complete)
        medians[months] = statistics.median(complete) if complete else None
    return BacktestResult(
        rule_id=rule.id,
        params=eff.effective_params(),
        start=sig.day(lo) if lo < hi else None,
        end=sig.day(hi - 1) if lo < hi else None,
        firings=tuple(firings),
        outcomes=outcomes,
        median_rut_return=medians,
        counted=counted,
    )
