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
    """One "then" of the then-and-now comparisons: ``which`` is "1d" (the previous session), "1w" or
    "1m"; ``wanted`` the day it compares with (the previous session, a week or a calendar month before
    the trade date); ``result`` FedWatch on the strip stored for it (at most a few days before
    ``wanted``), None when no such strip is stored."""

    which: str
    wanted: date
    result: FedWatchResult | None

    @property
    def trade_date(self) -> date:
        """The trade date compared with: the stored strip's, else the day wanted."""
        return self.result.trade_date if self.result is not None else self.wanted


@dataclass(frozen=True)
class OddsView:
    """FedWatch on ``result.trade_date`` for a reply about ``asof``, with the same meetings on the
    previous session, a week and a month earlier (``comparisons``, in COMPARISONS order; each with a
    result only when that day's strip is stored)."""

    result: FedWatchResult
    strip: Strip
    comparisons: tuple[Earlier, ...] = ()
    asof: date | None = None

    def previous(self, meeting: date, which: str) -> MeetingOdds | None:
        base = next((c.result for c in self.comparisons if c.which == which), None)
        if base is None:
            return None
        return next((m for m in base.meetings if m.meeting == meeting), None)

    def earlier(self) -> list[Earlier]:
        """The comparisons held (a strip stored for them), in COMPARISONS order."""
        return [c for c in self.comparisons if c.result is not None]

    @property
    def upcoming(self) -> tuple[MeetingOdds, ...]:
        """Meetings not yet decided at ``asof``: a strip older than a decision still prices it, but a
        meeting already decided is never shown as upcoming."""
        if self.asof is None:
            return self.result.meetings
        return tuple(m for m in self.result.meetings if m.meeting > self.asof)


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
    older than the day it aims at) has no result, rather than one made against whatever older strip is
    held: the reply says that day's settlements are missing.
    """
    dates = sorted(d for d in strips if d <= asof)
    if not dates:
        return None
    latest = strips[dates[-1]]
    result = fedwatch_on(latest, target_lower, meetings)
    if result is None:
        return None
    before = previous_session or _previous_weekday
    wanted = {
        "1d": before(latest.trade_date),
        "1w": latest.trade_date - timedelta(days=7),
        "1m": (pd.Timestamp(latest.trade_date) - pd.DateOffset(months=1)).date(),
    }
    comparisons = []
    for which in COMPARISONS:
        # The previous session's own strip, never an older one; a week or a month: a few days' slack.
        strip = strips.get(wanted[which]) if which == "1d" else _strip_near(strips, wanted[which])
        earlier = fedwatch_on(strip, target_lower, meetings) if strip is not None else None
        comparisons.append(Earlier(which, wanted[which], earlier))
    return OddsView(result=result, strip=latest, comparisons=tuple(comparisons), asof=asof)


def _previous_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _strip_near(strips: Mapping[date, Strip], target: date) -> Strip | None:
    """The latest strip on or before ``target`` and at most ``_SLACK`` before it."""
    held = [d for d in strips if target - _SLACK <= d <= target]
    return strips[max(held)] if held else None


ODDS_COLUMNS = ["meeting", "cut", "hold", "hike", "ye_year", "ye_rate"]


def odds_history(strips: Mapping[date, Strip], target_lower: pd.Series, meetings: Sequence[date]) -> pd.DataFrame:
    """One row per stored trade date: the next meeting's date and its cut / hold / hike probabilities
    (fractions), the series the cut-odds alerts watch; and the first year end the strip prices ahead
    (``ye_year``) with the implied rate then (``ye_rate``, percent; NaN when it prices none), which the
    fed_path_gap alert compares with the Fed's SEP median."""
    rows = []
    for day in sorted(strips):
        result = fedwatch_on(strips[day], target_lower, meetings)
        if result is None or not result.meetings:
            continue
        nxt = result.meetings[0]
        year = min(result.year_end_rates, default=None)
        rows.append({"date": pd.Timestamp(day), "meeting": pd.Timestamp(nxt.meeting), "cut": nxt.cut, "hold": nxt.hold,
                     "hike": nxt.hike, "ye_year": float("nan") if year is None else float(year),
                     "ye_rate": float("nan") if year is None else result.year_end_rates[year]})
    if not rows:
        return pd.DataFrame(columns=ODDS_COLUMNS, index=pd.DatetimeIndex([], name="date"))
    return pd.DataFrame(rows).set_index("date")
