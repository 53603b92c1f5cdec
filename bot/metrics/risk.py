"""/risk's numbers: volatility and drawdowns of the Russell 2000 beside the S&P 500 and Nasdaq-100.

Source: daily closes (^RUT, ^GSPC, ^NDX). Pure: closes and an ``asof`` in, a frozen dataclass out.

Volatility: the sample standard deviation (ddof=1) of daily log returns × √252, as a fraction, over the
last 20 returns (sessions, not calendar days), the last 252 returns ("1 year" = 252 sessions, not a
calendar year), and every return between closes dated 1990-01-01 or later ("since 1990"; from the first
close when a series starts later). A window longer than the history held gives None.

Drawdown: the fall of a close below a peak close, as a positive fraction (0.25 = 25 % below the peak).
``drawdown_now`` is measured from the all-time-high close.

Crisis drawdowns are measured per *named episode* (``EPISODES``), not per calendar year: a calendar
year cuts the financial crisis at the 2008-11-20 low and misses the March 2009 trough. For each episode
the trough is the lowest close dated inside the episode (``start``..``end``), and the peak is the last
record close (the all-time-high close) on or before that trough. One guard: a record older than the
episode's ``peak_from`` is not this episode's peak (the Nasdaq-100's last record before the financial
crisis is the 2000-03-27 dot-com close; 78 % below it in 2008 is the dot-com bust as much as the
crisis). Then the peak is the highest close from ``peak_from`` to the trough and ``peak_is_record`` is
False, which the reply says.

On the real closes (peak → trough, depth):

    financial crisis 2007–09  RUT 2007-07-13 → 2009-03-09 59.9 %   SPX 2007-10-09 → 2009-03-09 56.8 %
                              NDX 2007-10-31 → 2008-11-20 53.7 % (not a record; the record is 2000-03-27)
    COVID 2020                RUT 2018-08-31 → 2020-03-18 43.1 %   SPX 2020-02-19 → 2020-03-23 33.9 %
                              NDX 2020-02-19 → 2020-03-20 28.0 %
    2022 bear market          RUT 2021-11-08 → 2022-06-16 32.5 %   SPX 2022-01-03 → 2022-10-12 25.4 %
                              NDX 2021-11-19 → 2022-12-28 35.6 %

The commonly quoted GFC bear markets (about 59 % for the Russell 2000, 57 % for the S&P 500) are these
closes' 59.9 % and 56.8 %. Closes, not intraday lows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.metrics.returns import InsufficientData, as_timestamp, day, truncate

TRADING_DAYS = 252
VOL_SHORT = 20
LONG_RUN_START = date(1990, 1, 1)


@dataclass(frozen=True)
class Episode:
    """A named market episode: its trough is searched in ``start``..``end``; see module doc."""

    key: str  # "gfc", "covid", "bear2022"
    start: date
    end: date
    peak_from: date  # a record older than this is not the episode's peak


EPISODES: tuple[Episode, ...] = (
    # Dates bound the search only; the peaks and troughs are whatever the closes say.
    Episode("gfc", date(2007, 6, 1), date(2009, 12, 31), peak_from=date(2007, 1, 1)),
    Episode("covid", date(2020, 2, 1), date(2020, 12, 31), peak_from=date(2018, 1, 1)),
    Episode("bear2022", date(2022, 1, 1), date(2022, 12, 31), peak_from=date(2021, 1, 1)),
)


@dataclass(frozen=True)
class Drawdown:
    """A peak-to-trough fall of closes; ``depth`` = 1 − trough / peak (fraction, >= 0)."""

    depth: float
    peak_date: date
    trough_date: date
    peak_close: float = 0.0
    trough_close: float = 0.0
    complete: bool = True  # False when the episode had not ended by the as-of date (the trough so far)
    peak_is_record: bool = True  # False when the last record predates the episode's ``peak_from``


@dataclass(frozen=True)
class IndexRisk:
    """Volatility and drawdowns of one index as of its last close on or before the as-of date."""

    name: str
    asof: date
    vol_20d: float | None  # annualised, fraction; last 20 sessions
    vol_1y: float | None  # last 252 sessions
    vol_long: float | None  # since 1990 (or the first close after it)
    long_start: date | None  # the first close of the long window
    drawdown_now: float  # below the all-time-high close, fraction >= 0
    ath_date: date
    episodes: dict[str, Drawdown | None]  # per episode key; None: no close in the episode
    close: float = 0.0  # the last close
    ath: float = 0.0  # the all-time-high close


def _vol(log_returns: np.ndarray) -> float:
    return float(np.std(log_returns, ddof=1) * np.sqrt(TRADING_DAYS))


def drawdown_series(closes: pd.Series) -> pd.Series:
    """Percent below the highest close so far, at every close (0 at a record): the series the
    r2k_drawdown alert watches."""
    return (1.0 - closes / np.maximum.accumulate(closes)) * 100.0


def episode_drawdown(closes: pd.Series, episode: Episode, asof: date | None = None) -> Drawdown | None:
    """The drawdown of ``episode`` (see module doc); None without a close dated in the episode.

    ``closes`` must already be truncated to the as-of date; ``asof`` only decides ``complete``.
    """
    index = closes.index
    lo = int(index.searchsorted(as_timestamp(episode.start), side="left"))
    hi = int(index.searchsorted(as_timestamp(episode.end), side="right"))
    if lo >= hi:
        return None
    values = closes.to_numpy(dtype="float64")
    trough = lo + int(np.argmin(values[lo:hi]))
    record = int(np.argmax(values[: trough + 1]))  # first date of the highest close up to the trough
    # The last record: the latest close equal to that maximum (a later tie is a record close too).
    record = int(np.flatnonzero(values[: trough + 1] >= values[record])[-1])
    peak_is_record = day(index[record]) >= episode.peak_from
    if peak_is_record:
        peak = record
    else:
        first = int(index.searchsorted(as_timestamp(episode.peak_from), side="left"))
        peak = first + int(np.argmax(values[first : trough + 1]))
    last = asof if asof is not None else day(index[-1])
    return Drawdown(
        depth=max(0.0, 1.0 - float(values[trough]) / float(values[peak])),
        peak_date=day(index[peak]),
        trough_date=day(index[trough]),
        peak_close=float(values[peak]),
        trough_close=float(values[trough]),
        complete=last >= episode.end,
        peak_is_record=peak_is_record,
    )


def compute_risk(
    name: str, closes: pd.Series, asof: date, episodes: tuple[Episode, ...] = EPISODES
) -> IndexRisk:
    """Volatility, current drawdown and the drawdown of each episode begun by ``asof``, of one index.

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
    last = day(series.index[-1])
    return IndexRisk(
        name=name,
        asof=last,
        vol_20d=_vol(logs[-VOL_SHORT:]) if len(logs) >= VOL_SHORT else None,
        vol_1y=_vol(logs[-TRADING_DAYS:]) if len(logs) >= TRADING_DAYS else None,
        vol_long=_vol(long_logs) if len(long_logs) >= 2 else None,
        long_start=day(series.index[first_long]) if len(long_logs) >= 2 else None,
        drawdown_now=float(1.0 - values[-1] / values[iath]),
        ath_date=day(series.index[iath]),
        episodes={e.key: episode_drawdown(series, e, asof) for e in episodes if e.start <= last},
        close=float(values[-1]),
        ath=float(values[iath]),
    )
