"""/risk's numbers: volatility and drawdowns of the Russell 2000 beside the S&P 500 and Nasdaq-100.

Pure. Volatility is the standard deviation of daily log returns × √252 (fraction). A drawdown is the
fall of a close below the highest close before it (fraction, positive = a loss).

The worst drawdown "in" a year is the deepest peak-to-trough fall of daily closes whose trough falls in
that year, the peak being the highest close from the start of the previous year up to the trough. The
lookback lets a bear market that began the year before count in full (2021-11 -> 2022-06 for the
Russell 2000), without measuring 2008 from the 2000 dot-com peak. Closes, not intraday lows: where the
seed article quotes other figures (it dates 2008's trough to March 2009, or uses intraday lows), we
report what the closes say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.metrics.r2k import InsufficientData, truncate

TRADING_DAYS = 252
CRISIS_YEARS = (2008, 2020, 2022)
LONG_RUN_START = pd.Timestamp("1990-01-01")


@dataclass(frozen=True)
class Drawdown:
    depth: float  # fraction, >= 0
    peak_date: date
    trough_date: date


@dataclass(frozen=True)
class IndexRisk:
    name: str
    asof: date
    vol_20d: float | None
    vol_1y: float | None
    vol_long: float | None  # since 1990 (or the first close after it)
    long_start: date | None
    drawdown_now: float  # below the all-time-high close, fraction >= 0
    ath_date: date
    crises: dict[int, Drawdown | None]  # the worst drawdown whose trough falls in each year


def _vol(log_returns: np.ndarray) -> float | None:
    if len(log_returns) < 2:
        return None
    return float(np.std(log_returns, ddof=1) * np.sqrt(TRADING_DAYS))


def worst_drawdown_in_year(closes: pd.Series, year: int) -> Drawdown | None:
    window = closes.loc[pd.Timestamp(year - 1, 1, 1) : pd.Timestamp(year, 12, 31)]
    in_year = window.index.year == year
    if not in_year.any():
        return None
    values = window.to_numpy()
    running = np.maximum.accumulate(values)
    depth = np.where(in_year, 1.0 - values / running, -1.0)
    trough = int(np.argmax(depth))
    peak = int(np.flatnonzero(values[: trough + 1] == running[trough])[-1])
    return Drawdown(max(0.0, float(depth[trough])), window.index[peak].date(), window.index[trough].date())


def compute_risk(name: str, closes: pd.Series, asof: date, years: tuple[int, ...] = CRISIS_YEARS) -> IndexRisk:
    series = truncate(closes, asof)
    if len(series) < 2:
        raise InsufficientData(f"{name} closes")
    logs = np.diff(np.log(series.to_numpy()))
    long = series.loc[LONG_RUN_START:]
    long_logs = np.diff(np.log(long.to_numpy())) if len(long) > 1 else np.array([])
    ath_pos = int(np.argmax(series.to_numpy()))
    return IndexRisk(
        name=name,
        asof=series.index[-1].date(),
        vol_20d=_vol(logs[-20:]) if len(logs) >= 20 else None,
        vol_1y=_vol(logs[-TRADING_DAYS:]) if len(logs) >= TRADING_DAYS else None,
        vol_long=_vol(long_logs),
        long_start=long.index[0].date() if len(long) else None,
        drawdown_now=float(1.0 - series.iloc[-1] / series.iloc[ath_pos]),
        ath_date=series.index[ath_pos].date(),
        crises={y: worst_drawdown_in_year(series, y) for y in years if y <= series.index[-1].year},
    )
