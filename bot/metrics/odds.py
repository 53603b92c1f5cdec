"""FedWatch over stored strips: odds on a trade date, their changes, and the daily history of odds.

Pure functions of the stored ZQ strips, the FOMC calendar and the target-range history (FRED DFEDTARL,
dated from the day a change takes effect). ``bot/metrics/fedwatch.py`` does the CME method itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from bot.metrics.fedwatch import FedWatchResult, MeetingOdds, compute_fedwatch
from bot.sources.base import Strip

# How far back each comparison looks, and how much earlier than that its strip may be (a holiday, a
# day the fetch failed): a comparison with a strip older than that is not shown, never stretched.
COMPARISONS = ("1d", "1w", "1m")
_SLACK = timedelta(days=3)


@dataclass(frozen=True)
class Earlier:
    """FedWatch on an earlier trade date, for "vs <date>" changes: ``which`` is "1d" (the previous
    session), "1w" or "1m"."""

    which: str
    result: FedWatchResult

    @property
    def trade_date(self) -> date:
        return self.result.trade_date


@dataclass(frozen=True)
class OddsView:
    """FedWatch on ``result.trade_date`` for a reply about ``asof``, with the same meetings on the
    previous session, a week and a month earlier (each only when that day's strip is stored)."""

    result: FedWatchResult
    strip: Strip
    day_ago: FedWatchResult | None
    week_ago: FedWatchResult | None
    month_ago: FedWatchResult | None = None
    asof: date | None = None

    def previous(self, meeting: date, which: str) -> MeetingOdds | None:
        base = {"1d": self.day_ago, "1w": self.week_ago, "1m": self.month_ago}[which]
        if base is None:
            return None
        return next((m for m in base.meetings if m.meeting == meeting), None)

    def earlier(self) -> list[Earlier]:
        """The comparisons held, in COMPARISONS order."""
        found = zip(COMPARISONS, (self.day_ago, self.week_ago, self.month_ago), strict=True)
        return [Earlier(which, result) for which, result in found if result is not None]

    @property
    def upcoming(self) -> tuple[MeetingOdds, ...]:
        """Meetings not yet decided at ``asof``: a strip older than a decision still prices it, but a
        meeting already decided is never shown as upcoming."""
        if self.asof is None:
            return self.result.meetings
        return tuple(m for m in self.result.meetings if m.meeting > self.asof)

    @property
    def decided_since(self) -> tuple[date, ...]:
        """Meetings the strip priced that were decided by ``asof`` (the strip predates them)."""
        if self.asof is None:
            return ()
        return tuple(m.meeting for m in self.result.meetings if m.meeting <= self.asof)


def lower_bound_on(target_lower: pd.Series, day: date) -> float | None:
    """The target range's lower bound in effect at the close of ``day`` (FRED dates by effective day)."""
    upto = target_lower.loc[: pd.Timestamp(day)]
    return float(upto.iloc[-1]) if len(upto) else None


def fedwatch_on(strip: Strip, target_lower: pd.Series, meetings: Sequence[date]) -> FedWatchResult | None:
    lower = lower_bound_on(target_lower, strip.trade_date)
    if lower is None:
        return None
    return compute_fedwatch(strip.settles, meetings, trade_date=strip.trade_date, lower_bound=lower)


def odds_view(
    strips: Mapping[date, Strip],
    target_lower: pd.Series,
    meetings: Sequence[date],
    asof: date,
    previous_session: Callable[[date], date] | None = None,
) -> OddsView | None:
    """Odds from the latest strip on or before ``asof``, with the strips of the previous session and of
    the sessions a week and a calendar month before it.

    ``previous_session`` (``bot.calendar.previous_session``) names the session before a trade date;
    without it, the weekday before. A comparison whose strip is not stored (or is more than a few days
    older than its target) is left out rather than made against whatever older strip is held.
    """
    dates = sorted(d for d in strips if d <= asof)
    if not dates:
        return None
    latest = strips[dates[-1]]
    result = fedwatch_on(latest, target_lower, meetings)
    if result is None:
        return None
    before = previous_session or _previous_weekday
    day = before(latest.trade_date)
    day_ago = fedwatch_on(strips[day], target_lower, meetings) if day in strips else None
    week = _strip_near(strips, latest.trade_date - timedelta(days=7))
    month = _strip_near(strips, (pd.Timestamp(latest.trade_date) - pd.DateOffset(months=1)).date())
    return OddsView(
        result=result,
        strip=latest,
        day_ago=day_ago,
        week_ago=fedwatch_on(week, target_lower, meetings) if week is not None else None,
        month_ago=fedwatch_on(month, target_lower, meetings) if month is not None else None,
        asof=asof,
    )


def _previous_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _strip_near(strips: Mapping[date, Strip], target: date) -> Strip | None:
    """The latest strip on or before ``target`` and at most ``_SLACK`` before it."""
    held = [d for d in strips if target - _SLACK <= d <= target]
    return strips[max(held)] if held else None


def odds_history(strips: Mapping[date, Strip], target_lower: pd.Series, meetings: Sequence[date]) -> pd.DataFrame:
    """One row per stored trade date: the next meeting's date and its cut / hold / hike probabilities
    (fractions). This is the series the cut-odds alerts watch."""
    rows = []
    for day in sorted(strips):
        result = fedwatch_on(strips[day], target_lower, meetings)
        if result is None or not result.meetings:
            continue
        nxt = result.meetings[0]
        rows.append({"date": pd.Timestamp(day), "meeting": pd.Timestamp(nxt.meeting), "cut": nxt.cut, "hold": nxt.hold,
                     "hike": nxt.hike})
    if not rows:
        return pd.DataFrame(columns=["meeting", "cut", "hold", "hike"], index=pd.DatetimeIndex([], name="date"))
    return pd.DataFrame(rows).set_index("date")
