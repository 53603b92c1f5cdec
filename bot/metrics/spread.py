"""/spread's numbers: Russell 2000 minus Nasdaq-100 and minus S&P 500 price return over a period.

Pure: closes in, a frozen dataclass out. Returns are close-to-close price returns (fractions); gaps are
in percentage points. The base of a period is the last close on or before its start (YTD: the last
close of the previous year), so the figures match an independent computation from the same closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.metrics.r2k import InsufficientData, truncate

PERIODS = ("ytd", "1m", "3m", "1y", "5y")
TREND_SESSIONS = 20


def period_start(last: pd.Timestamp, period: str) -> pd.Timestamp:
    """The base date of ``period`` ending at ``last``."""
    if period == "ytd":
        return pd.Timestamp(last.year - 1, 12, 31)
    offsets = {"1m": pd.DateOffset(months=1), "3m": pd.DateOffset(months=3), "1y": pd.DateOffset(years=1), "5y": pd.DateOffset(years=5)}
    if period not in offsets:
        raise ValueError(f"unknown period {period!r}")
    return last - offsets[period]


@dataclass(frozen=True)
class Spread:
    period: str
    asof: date  # the last common close
    base_date: date  # the close the returns are measured from
    rut: float  # R2K return over the period, fraction
    ndx: float
    spx: float | None
    gap_ndx_pp: float  # (rut - ndx) * 100
    gap_spx_pp: float | None
    widest_pp: float  # most negative R2K−NDX YTD gap this year (small caps furthest behind)
    widest_date: date
    narrowest_pp: float  # the gap closest to (or most above) zero this year: its maximum
    narrowest_date: date
    trend_pp_per_day: float  # slope of the R2K−NDX YTD gap over the last 20 sessions, pp per session
    closing: bool  # the gap is moving in small caps' favour (slope > 0)
    gap_series: pd.Series  # R2K−NDX return gap over the period, pp, per common close (for the chart)


def _aligned(rut: pd.Series, ndx: pd.Series, asof: date) -> pd.DataFrame:
    frame = pd.concat([truncate(rut, asof).rename("rut"), truncate(ndx, asof).rename("ndx")], axis=1, join="inner").dropna()
    if len(frame) < 2:
        raise InsufficientData("Russell 2000 and Nasdaq-100 closes on common dates")
    return frame


def _gap_since(frame: pd.DataFrame, base: pd.Timestamp) -> pd.Series:
    """R2K−NDX return gap (pp) at each close after ``base``, both measured from the close on ``base``."""
    anchor = frame.loc[:base]
    if anchor.empty:
        raise InsufficientData("closes before the start of the period")
    start = anchor.iloc[-1]
    after = frame.loc[frame.index > anchor.index[-1]]
    rel = after / start - 1.0
    return ((rel["rut"] - rel["ndx"]) * 100.0).rename("gap_pp")


def compute_spread(rut: pd.Series, ndx: pd.Series, spx: pd.Series | None, asof: date, period: str = "ytd") -> Spread:
    frame = _aligned(rut, ndx, asof)
    last = frame.index[-1]
    base = period_start(last, period)
    anchor = frame.loc[:base]
    if anchor.empty:
        raise InsufficientData(f"closes before the start of the {period} period")
    base_ts = anchor.index[-1]
    r = float(frame["rut"].iloc[-1] / anchor["rut"].iloc[-1] - 1.0)
    n = float(frame["ndx"].iloc[-1] / anchor["ndx"].iloc[-1] - 1.0)
    s = None
    if spx is not None:
        spx_t = truncate(spx, last.date())
        spx_base = spx_t.loc[:base_ts]
        if len(spx_base) and len(spx_t):
            s = float(spx_t.iloc[-1] / spx_base.iloc[-1] - 1.0)
    gap_series = _gap_since(frame, base_ts)

    ytd = _gap_since(frame, pd.Timestamp(last.year - 1, 12, 31))
    widest_at = ytd.idxmin()
    narrowest_at = ytd.idxmax()
    recent = ytd.iloc[-TREND_SESSIONS:] if len(ytd) >= 2 else gap_series.iloc[-TREND_SESSIONS:]
    slope = float(np.polyfit(np.arange(len(recent)), recent.to_numpy(), 1)[0]) if len(recent) >= 2 else 0.0
    return Spread(
        period=period,
        asof=last.date(),
        base_date=base_ts.date(),
        rut=r,
        ndx=n,
        spx=s,
        gap_ndx_pp=(r - n) * 100.0,
        gap_spx_pp=(r - s) * 100.0 if s is not None else None,
        widest_pp=float(ytd.loc[widest_at]),
        widest_date=widest_at.date(),
        narrowest_pp=float(ytd.loc[narrowest_at]),
        narrowest_date=narrowest_at.date(),
        trend_pp_per_day=slope,
        closing=slope > 0,
        gap_series=gap_series,
    )
