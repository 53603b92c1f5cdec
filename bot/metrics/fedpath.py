"""The market's path of the fed funds rate beside the Fed's own (the SEP median), and the gap in bp.

The market path is the FedWatch result of one ZQ strip (bot/metrics/fedwatch.py): after each upcoming
FOMC meeting, its expected rate E (the futures-implied average effective rate after the decision). A year
end is the last FOMC decision of that year in the calendar: the market's rate there is that meeting's E
(``FedWatchResult.year_end_rates``), the rate going into the new year. The Fed's path is the median of the
FOMC's Summary of Economic Projections for the end of that year (FRED FEDTARMD, stored one row per SEP
release, see bot/sources/fred.py): the SEP in use at a date is the last one released on or before it.
The gap is market − SEP in basis points. (The SEP projects the midpoint of the target range; the futures
price the effective rate, which trades a few bp from the midpoint: a gap of 5 bp or so is no news.)

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.metrics.fedwatch import FedWatchResult
from bot.metrics.odds import OddsView
from bot.sources.fred import sep_median

BP = 100.0  # basis points per percentage point


@dataclass(frozen=True)
class YearEnd:
    """The market's rate after the last FOMC meeting of ``year`` beside the SEP median for its end."""

    year: int
    meeting: date  # the year's last FOMC decision
    market: float  # percent
    sep: float | None  # percent; None when the SEP in use does not project this year (or none is used)

    @property
    def gap_bp(self) -> float | None:
        return None if self.sep is None else (self.market - self.sep) * BP


@dataclass(frozen=True)
class FedPath:
    trade_date: date  # the strip's
    lower_bound: float  # the target range's lower bound on the trade date
    start_rate: float | None  # the implied rate before the first upcoming meeting (its S); None: none
    path: tuple[tuple[date, float], ...]  # (meeting, expected rate after it), upcoming meetings only
    year_ends: tuple[YearEnd, ...]
    sep_release: date | None  # the SEP the medians come from (its decision day); None: none used


def sep_in_use(sep: pd.DataFrame | None, day: date) -> pd.Series | None:
    """The row of the last SEP released on or before ``day`` (rows dated by release); None if none."""
    if sep is None or sep.empty:
        return None
    upto = sep.loc[: pd.Timestamp(day)]
    return upto.iloc[-1] if len(upto) else None


def _year_ends(result: FedWatchResult, upcoming: Sequence[date], sep_row: pd.Series | None) -> tuple[YearEnd, ...]:
    out = []
    for year, rate in sorted(result.year_end_rates.items()):
        meetings = [m for m in upcoming if m.year == year]
        if not meetings:  # that year's last decision is already behind the as-of
            continue
        median = sep_median(sep_row, year) if sep_row is not None else None
        out.append(YearEnd(year, meetings[-1], rate, median))
    return tuple(out)


def fed_path(view: OddsView, sep: pd.DataFrame | None) -> FedPath:
    """The path priced by ``view``'s strip after each meeting not yet decided at its as-of, and each year
    end beside the SEP in use at that as-of (pass ``sep=None`` to leave the Fed's path out: stale, absent)."""
    upcoming = view.upcoming
    asof = view.asof or view.result.trade_date
    sep_row = sep_in_use(sep, asof)
    return FedPath(
        trade_date=view.result.trade_date,
        lower_bound=view.result.lower_bound,
        start_rate=upcoming[0].start_rate if upcoming else None,
        path=tuple((m.meeting, m.expected_rate) for m in upcoming),
        year_ends=_year_ends(view.result, [m.meeting for m in upcoming], sep_row),
        sep_release=pd.Timestamp(sep_row.name).date() if sep_row is not None else None,
    )


def path_gap_series(odds: pd.DataFrame, sep: pd.DataFrame) -> pd.Series:
    """|market − SEP| in bp at the first year end each strip prices ahead (the current year until its last
    FOMC decision, the next year from that decision on), per stored strip from the first SEP release on:
    the series the fed_path_gap alert watches. ``odds`` is the recorded odds history (CUTPROB_NEXT, whose
    ``ye_year``/``ye_rate`` record_odds keeps per strip, so no strip is priced again here); each day's
    SEP is the last released by then. Days without a SEP, or whose SEP has no median for that year, are
    left out."""
    days: list[pd.Timestamp] = []
    gaps: list[float] = []
    if sep.empty or odds.empty or "ye_rate" not in odds.columns:
        return pd.Series(gaps, index=pd.DatetimeIndex(days, name="date"), dtype=float)
    for day, year, rate in zip(odds.index, odds["ye_year"], odds["ye_rate"], strict=True):
        row = sep_in_use(sep, day.date())
        median = sep_median(row, int(year)) if row is not None and year == year else None  # year == year: not NaN
        if median is not None and rate == rate:
            days.append(day)
            gaps.append(abs(rate - median) * BP)
    return pd.Series(gaps, index=pd.DatetimeIndex(days, name="date"), dtype=float)
