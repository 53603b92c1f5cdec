"""/r2k's numbers: the Russell 2000 at a close, its highs, and its ratio to the Nasdaq-100.

Pure: closes in, a frozen dataclass out. A "new high" is a daily close above every earlier close
(the 2021 record fell on the close of 2025-09-18; intraday highs would say 2024-11-25).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd


class InsufficientData(ValueError):
    """Not enough history up to the as-of date for the metric asked."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


@dataclass(frozen=True)
class R2KSnapshot:
    date: date  # the close described (last session on or before asof)
    close: float
    day_change: float  # points vs the previous close
    day_change_pct: float  # fraction
    ytd: float  # fraction, base = last close of the previous year
    ret_1m: float | None
    ret_3m: float | None
    ret_1y: float | None
    high_52w: float
    high_52w_date: date
    ath: float  # highest close up to and including ``date``
    ath_date: date
    distance_to_ath: float  # fraction, <= 0
    is_ath: bool  # this close is above every earlier close
    prev_record: tuple[date, float] | None  # when is_ath: the previous record close it beat
    highest_since: date | None  # when not is_ath: the date of the last higher close before this one
    ratio_ndx: float | None  # R2K / NDX on ``date``
    ratio_ndx_52w_change: float | None  # fraction change of the ratio over 52 weeks


def truncate(closes: pd.Series, asof: date) -> pd.Series:
    return closes.loc[: pd.Timestamp(asof)]


def period_return(closes: pd.Series, start: pd.Timestamp) -> float | None:
    """Return from the last close on or before ``start`` to the last close; None without a base."""
    base = closes.loc[:start]
    if base.empty:
        return None
    return float(closes.iloc[-1] / base.iloc[-1] - 1.0)


def compute_r2k(rut: pd.Series, ndx: pd.Series | None, asof: date) -> R2KSnapshot:
    closes = truncate(rut, asof)
    if len(closes) < 2:
        raise InsufficientData("Russell 2000 closes")
    values = closes.to_numpy()
    last_ts = closes.index[-1]
    close = float(values[-1])
    prev = float(values[-2])
    year_base = closes.loc[: pd.Timestamp(last_ts.year - 1, 12, 31)]
    ytd = close / float(year_base.iloc[-1]) - 1.0 if len(year_base) else close / float(values[0]) - 1.0

    window = closes.loc[last_ts - pd.DateOffset(weeks=52) :]
    high_52w_pos = int(np.argmax(window.to_numpy()))
    ath_pos = int(np.argmax(values))  # first occurrence of the highest close
    ath = float(values[ath_pos])
    earlier = values[:-1]
    is_ath = bool(close > earlier.max())
    prev_record: tuple[date, float] | None = None
    highest_since: date | None = None
    if is_ath:
        pos = int(np.argmax(earlier))
        prev_record = (closes.index[pos].date(), float(earlier[pos]))
    else:
        higher = np.flatnonzero(earlier >= close)
        highest_since = closes.index[higher[-1]].date()

    ratio = ratio_change = None
    if ndx is not None:
        aligned = pd.concat([closes, truncate(ndx, asof)], axis=1, join="inner").dropna()
        if len(aligned):
            ratios = aligned.iloc[:, 0] / aligned.iloc[:, 1]
            ratio = float(ratios.iloc[-1])
            base = ratios.loc[: ratios.index[-1] - pd.DateOffset(weeks=52)]
            ratio_change = float(ratio / base.iloc[-1] - 1.0) if len(base) else None

    return R2KSnapshot(
        date=last_ts.date(),
        close=close,
        day_change=close - prev,
        day_change_pct=close / prev - 1.0,
        ytd=ytd,
        ret_1m=period_return(closes, last_ts - pd.DateOffset(months=1)),
        ret_3m=period_return(closes, last_ts - pd.DateOffset(months=3)),
        ret_1y=period_return(closes, last_ts - pd.DateOffset(years=1)),
        high_52w=float(window.iloc[high_52w_pos]),
        high_52w_date=window.index[high_52w_pos].date(),
        ath=ath,
        ath_date=closes.index[ath_pos].date(),
        distance_to_ath=close / ath - 1.0,
        is_ath=is_ath,
        prev_record=prev_record,
        highest_since=highest_since,
        ratio_ndx=ratio,
        ratio_ndx_52w_change=ratio_change,
    )
