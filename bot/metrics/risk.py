"""/risk's numbers: volatility and drawdowns of the Russell 2000 beside the S&P 500 and Nasdaq-100.

Source: daily closes (^RUT, ^GSPC, ^NDX). Pure: closes and an ``asof`` in, a frozen dataclass out.

Volatility: the sample standard deviation (ddof=1) of daily log returns × √252, as a fraction, over the
last 20 returns, the last 252 returns, and every return between closes dated 1990-01-01 or later
("since 1990"; from the first close when a series starts later). A window longer than the history
held gives None.

Drawdown: the fall of a close below the highest close before it, as a positive fraction (0.25 = 25 %
below the peak). ``drawdown_now`` is measured from the all-time-high close.

The worst drawdown *in* a year Y is the deepest peak-to-trough fall of daily closes whose trough falls
in Y, the peak being the highest close from 1 January of Y − 1 up to the trough. The one-year lookback
lets a bear market that began the year before count in full (Russell 2000: 2021-11-08 → 2022-06-16)
without measuring 2008 from the 2000 dot-com peak (Nasdaq-100). Closes, not intraday lows.

What the closes say, against the seed article (R2K / S&P 500: 59 % / 50 % in 2008, 45 % / 35 % in 2020,
>30 % / 19 % in 2022), under three definitions (RUT / SPX / NDX, %):

    year  this definition     peak = all-time high   within the calendar year only
    2008  55.0 / 51.9 / 53.7  55.0 / 51.9 / 78.0     49.5 / 48.0 / 49.6
    2020  41.9 / 33.9 / 28.0  43.1 / 33.9 / 28.0     41.9 / 33.9 / 28.0
    2022  32.5 / 25.4 / 35.6  32.5 / 25.4 / 35.6     27.4 / 25.4 / 35.3

No definition on closes reproduces the article: its 59 % for 2008 is the whole bear market to the
March 2009 trough (59.9 % on closes; the S&P 500 then fell 56.8 %, not 50 %), and its 19 % for the
S&P 500 in 2022 is the calendar-year return (−19.4 %), not a drawdown (25.4 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.metrics.returns import InsufficientData, as_timestamp, day, truncate

TRADING_DAYS = 252
VOL_SHORT = 20
CRISIS_YEARS = (2008, 2020, 2022)
LONG_RUN_START = date(1990, 1, 1)


@dataclass(frozen=True)
class Drawdown:
    """A peak-to-trough fall of closes; ``depth`` = 1 − trough / peak (fraction, >= 0)."""

    depth: float
    peak_date: date
    trough_date: date
    peak_close: float = 0.0
    trough_close: float = 0.0
    complete: bool = True  # False when the year had not ended by the as-of date (the worst so far)


@dataclass(frozen=True)
class IndexRisk:
    """Volatility and drawdowns of one index as of its last close on or before the as-of date."""

    name: str
    asof: date
    vol_20d: float | None  # annualised, fraction
    vol_1y: float | None
    vol_long: float | None  # since 1990 (or the first close after it)
    long_start: date | None  # the first close of the long window
    drawdown_now: float  # below the all-time-high close, fraction >= 0
    ath_date: date
    crises: dict[int, Drawdown | None]  # the worst drawdown whose trough falls in each year
    close: float = 0.0  # the last close
    ath: float = 0.0  # the all-time-high close


def _vol(log_returns: np.ndarray) -> float:
    return float(np.std(log_returns, ddof=1) * np.sqrt(TRADING_DAYS))


def worst_drawdown_in_year(closes: pd.Series, year: int, asof: date | None = None) -> Drawdown | None:
    """The worst drawdown whose trough falls in ``year`` (see module doc); None without a close in it.

    ``closes`` must already be truncated to the as-of date; ``asof`` only decides ``complete``.
    """
    index = closes.index
    lo = int(index.searchsorted(pd.Timestamp(year - 1, 1, 1), side="left"))
    first_in_year = int(index.searchsorted(pd.Timestamp(year, 1, 1), side="left"))
    hi = int(index.searchsorted(pd.Timestamp(year + 1, 1, 1), side="left"))
    if first_in_year >= hi:
        return None
    values = closes.to_numpy(dtype="float64")[lo:hi]
    running = np.maximum.accumulate(values)
    depth = 1.0 - values / running
    offset = first_in_year - lo
    trough = offset + int(np.argmax(depth[offset:]))
    peak = int(np.argmax(values[: trough + 1]))
    last = asof if asof is not None else day(index[-1])
    return Drawdown(
        depth=max(0.0, float(depth[trough])),
        peak_date=day(index[lo + peak]),
        trough_date=day(index[lo + trough]),
        peak_close=float(values[peak]),
        trough_close=float(values[trough]),
        complete=last >= date(year, 12, 31),
    )


def compute_risk(
    name: str, closes: pd.Series, asof: date, years: tuple[int, ...] = CRISIS_YEARS
) -> IndexRisk:
    """Volatility, current drawdown and the worst drawdowns in ``years`` of one index as of ``asof``.

    Raises InsufficientData with fewer than two closes on or before ``asof``.
    """
    series = truncate(closes, asof, name)
    if len(series) < 2:
        raise InsufficientData(f"{name}: at least two closes are needed for volatility")
    values = series.to_numpy(dtype="float64")
    logs = np.diff(np.log(values))
    first_long = int(series.index.searchsorted(as_timestamp(LONG_RUN_START), side="left"))
    long_logs = logs[first_long:]  # returns whose both closes are dated in or after 1990
    iath = int(np.argmax(values))
    last_year = series.index[-1].year
    return IndexRisk(
        name=name,
        asof=day(series.index[-1]),
        vol_20d=_vol(logs[-VOL_SHORT:]) if len(logs) >= VOL_SHORT else None,
        vol_1y=_vol(logs[-TRADING_DAYS:]) if len(logs) >= TRADING_DAYS else None,
        vol_long=_vol(long_logs) if len(long_logs) >= 2 else None,
        long_start=day(series.index[first_long]) if len(long_logs) >= 2 else None,
        drawdown_now=float(1.0 - values[-1] / values[iath]),
        ath_date=day(series.index[iath]),
        crises={y: worst_drawdown_in_year(series, y, asof) for y in years if y <= last_year},
        close=float(values[-1]),
        ath=float(values[iath]),
    )
