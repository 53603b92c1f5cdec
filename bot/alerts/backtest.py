"""Backtests: run a rule over stored history and report when it would have fired and what followed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.alerts.evaluator import AlertState, evaluate
from bot.alerts.rules import Rule

HORIZONS = (1, 3, 12)  # months


@dataclass(frozen=True)
class BacktestResult:
    rule_id: str
    start: date
    end: date
    firings: tuple[date, ...]
    median_rut_return: dict[int, float | None]  # months -> median R2K return after a firing (fraction)
    counted: dict[int, int]  # firings with a complete window

    @property
    def last_five(self) -> tuple[date, ...]:
        return self.firings[-5:]


def backtest(rule: Rule, history: pd.Series, rut_close: pd.Series, start: date | None = None, end: date | None = None) -> BacktestResult:
    """Evaluate ``rule`` bar by bar over ``history`` (one subscriber from ``start``), then measure the
    Russell 2000 1/3/12 months after each firing (close-to-close from the firing's close)."""
    series = history.dropna()
    if start is not None:
        series = series.loc[pd.Timestamp(start) :]
    if end is not None:
        series = series.loc[: pd.Timestamp(end)]
    state: AlertState | None = None
    firings: list[date] = []
    for ts in series.index:
        state, events = evaluate(rule, history, state, ts.date())
        firings += [e.bar for e in events if e.kind == "firing"]
    last = rut_close.index[-1] if len(rut_close) else None
    medians: dict[int, float | None] = {}
    counted: dict[int, int] = {}
    for months in HORIZONS:
        returns = []
        for day in firings:
            target = pd.Timestamp(day) + pd.DateOffset(months=months)
            base = rut_close.loc[: pd.Timestamp(day)]
            if last is None or target > last or base.empty:
                continue
            returns.append(float(rut_close.loc[:target].iloc[-1] / base.iloc[-1] - 1.0))
        counted[months] = len(returns)
        medians[months] = statistics.median(returns) if returns else None
    first = series.index[0].date() if len(series) else (start or date.min)
    final = series.index[-1].date() if len(series) else (end or date.min)
    return BacktestResult(rule.id, first, final, tuple(firings), medians, counted)
