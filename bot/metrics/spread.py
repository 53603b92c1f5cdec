"""/spread's numbers: Russell 2000 minus Nasdaq-100 (and minus S&P 500) price return over a period.

Source: daily closes of ^RUT, ^NDX and ^GSPC. Pure: closes and an ``asof`` in, a frozen dataclass out.

All figures are taken on the closes the indices have in common, so every number describes one date
(``asof`` of the result = the last common close on or before the requested as-of; a series that is a
session behind pulls the whole reply back to its date rather than mixing dates). Returns are
close-to-close price returns (fractions) from the base of the period (bot.metrics.returns: the last
common close on or before the period's start; YTD: the last close of the previous year); gaps are in
percentage points, (R2K return − other return) × 100.

The year-to-date R2K − NDX gap is also followed through the current year (the year of ``asof``):

* ``widest``: the session of this year where the gap was furthest from zero (either sign);
* ``narrowest``: the session where it was closest to zero;
* trend: the least-squares slope, in pp per session, of the gap over its last 20 values (fewer early in
  January, counting the base close as a gap of 0). ``trend`` words it: "flat" when the slope is under
  ``TREND_FLAT_PP_PER_SESSION`` = 0.05 pp per session either way (less than 1 pp over 20 sessions: on
  2023–2026 the median is 0.14, and a quarter of sessions fall under 0.05 — noise of a gap that moves
  about 1 pp a day); otherwise "closing" when the slope points towards zero (the slope and today's gap
  have opposite signs) and "widening" when it points away. ``widening_pp_per_day`` is the same slope
  measured on the gap's distance from zero (slope × sign of today's gap), so its sign always agrees with
  the word: positive widening, negative closing (a reply can say "widening by 0.3 pp per session"
  without a minus sign that reads like the opposite). A zero gap is never closing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from bot.metrics import returns
from bot.metrics.returns import InsufficientData, Period, as_timestamp, day, truncate

# The periods /spread offers (``compute_spread`` also takes "1d").
PERIODS: tuple[Period, ...] = ("ytd", "1m", "3m", "1y", "5y")
TREND_SESSIONS = 20
# Below this slope (pp per session, either way) the gap is "little changed": see module doc.
TREND_FLAT_PP_PER_SESSION = 0.05
# Gaps this close to zero are float noise of two equal returns, not a side of zero.
_ZERO_PP = 1e-9
# Closes kept before a base date when aligning, so a holiday one index kept and another did not cannot
# push the common base out of the window.
_SLACK_ROWS = 10


def period_start(last: pd.Timestamp, period: str) -> pd.Timestamp:
    """The calendar date whose last close on or before it is the base of ``period`` ending at ``last``."""
    return as_timestamp(returns.period_start(period, day(last)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Spread:
    """R2K vs NDX (and S&P 500) over ``period`` ending at the common close ``asof``; see module doc."""

    period: str
    asof: date  # the last common close
    base_date: date  # the common close the period's returns are measured from
    rut: float  # R2K return over the period, fraction
    ndx: float
    spx: float | None  # None when no S&P 500 series was given
    gap_ndx_pp: float  # (rut − ndx) × 100
    gap_spx_pp: float | None
    widest_pp: float  # the YTD R2K − NDX gap furthest from zero this year
    widest_date: date
    narrowest_pp: float  # the YTD gap closest to zero this year
    narrowest_date: date
    trend_pp_per_day: float  # slope of the YTD gap over the last sessions, pp per session
    trend: Literal["closing", "widening", "flat"]  # see module doc
    # R2K − NDX return gap over the period (pp) at every common close from the base (0.0) to asof; for
    # the chart. A pandas Series, so it is left out of equality and repr.
    gap_series: pd.Series = field(compare=False, repr=False)
    ytd_gap_pp: float = 0.0  # today's YTD R2K − NDX gap (equals gap_ndx_pp when period is "ytd")
    trend_sessions: int = 0  # gap values the slope was fitted on

    @property
    def widening_pp_per_day(self) -> float:
        """The slope on the gap's distance from zero: > 0 widening, < 0 closing (pp per session)."""
        return self.trend_pp_per_day * (1.0 if self.ytd_gap_pp >= 0 else -1.0)


def _window(held: pd.Series, start: date) -> pd.Series:
    i = int(held.index.searchsorted(as_timestamp(start), side="right")) - 1 - _SLACK_ROWS
    return held.iloc[max(i, 0) :]


def _aligned(series: dict[str, pd.Series], start: date) -> pd.DataFrame:
    """The closes of every series on their common dates, from a little before ``start`` on."""
    frame = pd.concat({k: _window(v, start) for k, v in series.items()}, axis=1, join="inner")
    if frame.empty:
        raise InsufficientData("Russell 2000 and Nasdaq-100 closes on common dates")
    return frame


def _base_row(index: pd.DatetimeIndex, period: str, what: str) -> int:
    """Row of the period's base within ``index`` (whose last row is the end); InsufficientData if none."""
    end = day(index[-1])
    if period == "1d":
        row = len(index) - 2
    else:
        start = returns.period_start(period, end)  # type: ignore[arg-type]
        row = int(index.searchsorted(as_timestamp(start), side="right")) - 1
    if row < 0:
        raise InsufficientData(f"{what}: no common close before the start of the {period} period")
    return row


def _slope(values: np.ndarray) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ... (pp per session)."""
    x = np.arange(len(values), dtype="float64")
    x -= x.mean()
    return float(np.dot(x, values - values.mean()) / np.dot(x, x))


def _trend(slope: float, today: float) -> Literal["closing", "widening", "flat"]:
    if abs(slope) < TREND_FLAT_PP_PER_SESSION:
        return "flat"
    if abs(today) > _ZERO_PP and slope * today < 0:
        return "closing"
    return "widening"


def ytd_gap_series(rut: pd.Series, ndx: pd.Series) -> pd.Series:
    """R2K minus NDX year-to-date price return (pp) at every common close, each year based on the last
    common close of the year before: the series the spread_flip alert watches."""
    both = pd.concat([rut.rename("rut"), ndx.rename("ndx")], axis=1, join="inner").dropna()
    year_end = both.groupby(both.index.year).last()
    base = year_end.shift(1).reindex(both.index.year)
    base.index = both.index
    rel = both / base - 1.0
    return ((rel["rut"] - rel["ndx"]) * 100.0).dropna()


def compute_spread(
    rut: pd.Series, ndx: pd.Series, spx: pd.Series | None, asof: date, period: str = "ytd"
) -> Spread:
    """R2K − NDX and R2K − S&P 500 over ``period`` (one of PERIODS or "1d") as of ``asof``.

    Raises InsufficientData when the indices have no common close on or before ``asof``, or none at or
    before the start of the period or of the year (the YTD base).
    """
    if period not in returns.PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {', '.join(returns.PERIODS)}")
    held = {"rut": truncate(rut, asof, "Russell 2000"), "ndx": truncate(ndx, asof, "Nasdaq-100")}
    if spx is not None:
        held["spx"] = truncate(spx, asof, "S&P 500")
    end = min(s.index[-1] for s in held.values())
    # Align from the earlier of the period's start and the YTD base; redo once if the last common close
    # turns out earlier than every series' last close (a gap in one of them).
    for _ in range(2):
        start = min(returns.period_start(period, day(end)), date(end.year - 1, 12, 31))
        frame = _aligned({k: s.loc[:end] for k, s in held.items()}, start)
        if frame.index[-1] == end:
            break
        end = frame.index[-1]
    index = pd.DatetimeIndex(frame.index)
    values = {k: frame[k].to_numpy(dtype="float64") for k in frame.columns}

    base = _base_row(index, period, "Russell 2000, Nasdaq-100" + (", S&P 500" if spx is not None else ""))
    ret = {k: float(v[-1] / v[base] - 1.0) for k, v in values.items()}
    rel_r = values["rut"][base:] / values["rut"][base]
    rel_n = values["ndx"][base:] / values["ndx"][base]
    gap_series = pd.Series((rel_r - rel_n) * 100.0, index=index[base:], name="gap_pp")

    ybase = _base_row(index, "ytd", "Russell 2000 and Nasdaq-100 (year to date)")
    ytd = (
        values["rut"][ybase:] / values["rut"][ybase] - values["ndx"][ybase:] / values["ndx"][ybase]
    ) * 100.0
    this_year = ytd[1:]  # the base is last year's close
    i_wide = int(np.argmax(np.abs(this_year)))
    i_narrow = int(np.argmin(np.abs(this_year)))
    recent = ytd[-TREND_SESSIONS:]
    slope = _slope(recent)
    today = float(ytd[-1])

    spx_ret = ret.get("spx")
    return Spread(
        period=period,
        asof=day(index[-1]),
        base_date=day(index[base]),
        rut=ret["rut"],
        ndx=ret["ndx"],
        spx=spx_ret,
        gap_ndx_pp=(ret["rut"] - ret["ndx"]) * 100.0,
        gap_spx_pp=(ret["rut"] - spx_ret) * 100.0 if spx_ret is not None else None,
        widest_pp=float(this_year[i_wide]),
        widest_date=day(index[ybase + 1 + i_wide]),
        narrowest_pp=float(this_year[i_narrow]),
        narrowest_date=day(index[ybase + 1 + i_narrow]),
        trend_pp_per_day=slope,
        trend=_trend(slope, today),
        gap_series=gap_series,
        ytd_gap_pp=today,
        trend_sessions=len(recent),
    )
