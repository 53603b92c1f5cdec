"""FedWatch history: how the odds of each outcome of one FOMC meeting moved over the trade dates before it.

For a meeting M and every stored ZQ strip dated before M's announcement, the probability of each target
range after M by the SPEC method (``bot/metrics/fedwatch.py``), over the FOMC calendar and the target in
effect on that trade date. Computed on demand from the stored strips; nothing here is stored.

The target in effect on a trade date d (the tree's start, SPEC step 7):

- from 2008-12-16 the range's lower bound, FRED DFEDTARL; before it the single target, FRED DFEDTAR.
  A single target T is the node T itself (lower bound = T): the method's probabilities come from S and E
  alone, so the start only names the outcomes, and "T + 25k bp" reads as the target rate the Fed would
  set, with cut / hold / hike measured against T as they are against L for a range. Outcomes before
  2008-12-16 are labelled as single targets ("5.25%"), after it as ranges ("4.00–4.25").
- FRED dates a change from its effective day, the day after the announcement, but ZQ settles after the
  announcement: on a decision day the target is FRED's value of the next day (SPEC's worked example:
  2026-09-17 is priced from the range raised at the 2026-09-16 meeting).

A limit of the method, not of this module: each meeting's move is measured between futures-implied
rates (S, E), so the outcomes are right only where the effective rate trades at the target. In late 2008
it traded far below the 1.00 % target, and the 2008-12-16 history reads "hold or hike" for what was a cut
to 0–0.25 %.

A meeting after 2008-12-16 is charted from 2008-12-16 on: odds over a single target and odds over a range
are different outcomes, so one chart never mixes them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.metrics.fedwatch import compute_fedwatch
from bot.sources.base import Strip

RANGE_START = date(2008, 12, 16)
"""The first day of a target range (0–0.25 %); before it the FOMC set a single target (FRED DFEDTAR)."""


@dataclass(frozen=True)
class OddsHistory:
    """The odds of one FOMC meeting's outcomes on each trade date before it.

    ``probabilities``: index ``date`` (trade dates, ascending), one column per outcome: the lower bound
    of the target range after the meeting (percent, ascending; the target itself when ``single_target``),
    values fractions in [0, 1], each row summing to 1 (0 where the outcome had no weight that day).
    ``lower_bounds``: the target in effect on each trade date (the tree's start), same index. ``source``
    labels the strips (e.g. ``csv:ZQ_contracts_daily_1990_2025_pyfedwatch.csv``, ``cme``).
    """

    meeting: date
    probabilities: pd.DataFrame
    lower_bounds: pd.Series
    single_target: bool
    source: str

    @property
    def first(self) -> date:
        return self.probabilities.index[0].date()  # type: ignore[no-any-return]

    @property
    def last(self) -> date:
        """The last trade date used: the history's as-of."""
        return self.probabilities.index[-1].date()  # type: ignore[no-any-return]

    def on(self, day: date) -> dict[float, float]:
        """The outcome probabilities on trade date ``day`` (only outcomes with weight)."""
        row = self.probabilities.loc[pd.Timestamp(day)]
        return {float(lower): float(p) for lower, p in row.items() if p > 0}


def target_lower_bound(dfedtarl: pd.Series | None, dfedtar: pd.Series | None) -> pd.Series:
    """One start series for the tree: DFEDTAR (the single target) before 2008-12-16, DFEDTARL after.

    Both indexed by FRED's (effective) dates, ascending; either may be missing (None or empty)."""
    parts = []
    if dfedtar is not None and not dfedtar.empty:
        parts.append(dfedtar.loc[: pd.Timestamp(RANGE_START - timedelta(days=1))])
    if dfedtarl is not None and not dfedtarl.empty:
        parts.append(dfedtarl.loc[pd.Timestamp(RANGE_START) :])
    if not parts:
        return pd.Series([], index=pd.DatetimeIndex([], name="date"), dtype="float64")
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def lower_bounds_on(target: pd.Series, days: Sequence[date], meetings: Sequence[date]) -> list[float | None]:
    """The target in effect at the settlement of each of ``days`` (ascending or not): FRED's value on the
    day, or on the next day when the day is a decision day (module docstring). None before the series,
    and None from 2008-12-16 on when the series has no range yet: the last single target (1.00 %) is
    not the range in effect years later."""
    stamps = target.index.to_numpy(dtype="datetime64[ns]")
    values = target.to_numpy(dtype="float64")
    decided = set(meetings)
    looked = np.array([d + timedelta(days=1) if d in decided else d for d in days], dtype="datetime64[ns]")
    at = np.searchsorted(stamps, looked, side="right") - 1
    first_range = np.datetime64(RANGE_START, "ns")
    return [
        float(values[i]) if i >= 0 and (stamps[i] >= first_range or day < first_range) else None
        for i, day in zip(at.tolist(), looked, strict=True)
    ]


def _collect(
    strips: Iterable[Strip], target: pd.Series, meetings: Sequence[date], wanted: set[date] | None
) -> dict[date, list[tuple[date, float, dict[float, float]]]]:
    """For each meeting in ``wanted`` (None: every meeting), (trade date, start, probabilities) per strip
    that solves it, in the order of ``strips``. Each strip is solved once for all its meetings."""
    items = list(strips)
    lowers = lower_bounds_on(target, [s.trade_date for s in items], meetings)
    out: dict[date, list[tuple[date, float, dict[float, float]]]] = {}
    for strip, lower in zip(items, lowers, strict=True):
        if lower is None or not strip.settles:
            continue
        day = strip.trade_date
        result = compute_fedwatch(strip.settles, meetings, trade_date=day, lower_bound=lower)
        for odds in result.meetings:
            m = odds.meeting
            if wanted is not None and m not in wanted:
                continue
            if (day < RANGE_START) != (m <= RANGE_START):
                continue  # a range meeting on a single-target day, or the reverse (module docstring)
            out.setdefault(m, []).append((day, lower, odds.probabilities))
    return out


def _history(meeting: date, rows: list[tuple[date, float, dict[float, float]]], source: str) -> OddsHistory:
    index = pd.DatetimeIndex([pd.Timestamp(day) for day, _, _ in rows], name="date")
    frame = pd.DataFrame.from_records([probs for _, _, probs in rows], index=index).fillna(0.0)
    frame = frame[sorted(frame.columns)]
    frame.columns = pd.Index([float(c) for c in frame.columns], name="lower_bound")
    lowers = pd.Series([lower for _, lower, _ in rows], index=index, name="lower_bound", dtype="float64")
    return OddsHistory(meeting, frame, lowers, meeting <= RANGE_START, source)


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _reaching(strip: Strip, meeting: date, decision_months: set[date], horizon: date) -> Strip:
    """``strip`` without the contract months that cannot change ``meeting``'s odds: those after the first
    priced month after the meeting's month that holds no decision. That month is an anchor (SPEC step 3):
    it fixes E of the meeting month before it, so no later price reaches ``meeting`` or any earlier step
    of the tree. A strip holds up to three years of months; the cut leaves every number as it was (a test
    compares) and saves most of the work. A month past the calendar's horizon is no anchor: no cut then.
    """
    month = _next_month(date(meeting.year, meeting.month, 1))
    while month < horizon and (month in decision_months or month not in strip.settles):
        month = _next_month(month)
    if month >= horizon:
        return strip
    return Strip(strip.trade_date, {m: p for m, p in strip.settles.items() if m <= month}, strip.source)


def meeting_odds_history(
    strips: Mapping[date, Strip],
    target: pd.Series,
    meetings: Sequence[date],
    meeting: date,
    *,
    asof: date | None = None,
) -> OddsHistory | None:
    """The odds of ``meeting``'s outcomes on every stored trade date before it (and on or before
    ``asof``) whose strip solves it; None when no strip does.

    ``target``: the start series from ``target_lower_bound``; ``meetings``: the full decision calendar
    (``meeting`` among them). A strip is skipped without solving when it cannot reach the meeting (its
    last contract month is before the meeting's month)."""
    month = date(meeting.year, meeting.month, 1)
    end = meeting if asof is None else min(meeting, asof + timedelta(days=1))
    days = sorted(strips)
    days = days[: bisect.bisect_left(days, end)]
    decision_months = {date(m.year, m.month, 1) for m in meetings}
    horizon = date(max(meetings).year, max(meetings).month, 1)  # months from here on are never anchors
    chosen = [
        _reaching(strips[d], meeting, decision_months, horizon)
        for d in days
        if strips[d].settles and max(strips[d].settles) >= month
    ]
    rows = _collect(chosen, target, meetings, {meeting}).get(meeting)
    if not rows:
        return None
    return _history(meeting, rows, chosen[-1].source)


def backfill_odds_history(
    strips: Mapping[date, Strip], target: pd.Series, meetings: Sequence[date]
) -> dict[date, OddsHistory]:
    """The odds history of every meeting that some stored strip solves, each strip solved once."""
    ordered = [strips[d] for d in sorted(strips)]
    source = ordered[-1].source if ordered else ""
    return {
        m: _history(m, rows, source) for m, rows in sorted(_collect(ordered, target, meetings, None).items())
    }
