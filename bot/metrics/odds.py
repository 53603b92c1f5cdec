"""FedWatch over stored strips: odds on a trade date, their changes, and the daily history of odds.

Pure functions of the stored ZQ strips, the FOMC calendar and the target-range history (FRED DFEDTARL,
dated from the day a change takes effect). ``bot/metrics/fedwatch.py`` does the CME method itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from bot.metrics.fedwatch import FedWatchResult, MeetingOdds, compute_fedwatch
from bot.sources.base import Strip


@dataclass(frozen=True)
class OddsView:
    """FedWatch on ``result.trade_date`` with the same meetings one session and one week earlier."""

    result: FedWatchResult
    strip: Strip
    day_ago: FedWatchResult | None
    week_ago: FedWatchResult | None

    def previous(self, meeting: date, which: str) -> MeetingOdds | None:
        base = self.day_ago if which == "1d" else self.week_ago
        if base is None:
            return None
        return next((m for m in base.meetings if m.meeting == meeting), None)


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
    strips: Mapping[date, Strip], target_lower: pd.Series, meetings: Sequence[date], asof: date
) -> OddsView | None:
    """Odds from the latest strip on or before ``asof``, with the strips one session and ≥7 days older."""
    dates = sorted(d for d in strips if d <= asof)
    if not dates:
        return None
    latest = strips[dates[-1]]
    result = fedwatch_on(latest, target_lower, meetings)
    if result is None:
        return None
    day_ago = fedwatch_on(strips[dates[-2]], target_lower, meetings) if len(dates) > 1 else None
    week_dates = [d for d in dates if d <= dates[-1] - timedelta(days=7)]
    week_ago = fedwatch_on(strips[week_dates[-1]], target_lower, meetings) if week_dates else None
    return OddsView(result=result, strip=latest, day_ago=day_ago, week_ago=week_ago)


def odds_history(strips: Mapping[date, Strip], target_lower: pd.Series, meetings: Sequence[date]) -> pd.DataFrame:
    """One row per stored trade date: the next meeting's date and its cut / hold / hike probabilities
    (fractions). This is the series the cut-odds alerts watch."""
    rows = []
    for day in sorted(strips):
        result = fedwatch_on(strips[day], target_lower, meetings)
        if result is None or not result.meetings:
            continue
        nxt = result.meetings[0]
        rows.append({"date": pd.Timestamp(day), "meeting": pd.Timestamp(nxt.meeting), "cut": nxt.cut, "hold": nxt.hold, "hike": nxt.hike})
    if not rows:
        return pd.DataFrame(columns=["meeting", "cut", "hold", "hike"], index=pd.DatetimeIndex([], name="date"))
    return pd.DataFrame(rows).set_index("date")
