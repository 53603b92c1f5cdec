"""/r2k's numbers: the Russell 2000 at a close, its returns and highs, and its ratio to the Nasdaq-100.

Source: daily closes of ^RUT (and optionally ^NDX) as stored in history. Pure: closes and an ``asof`` in,
a frozen dataclass out; only closes dated on or before ``asof`` are read, so an ``asof`` on a holiday
describes the session before it.

"High" always means a daily *close* above earlier closes, never an intraday high (DESIGN.md: the 2021
record fell on the close of 2025-09-18; intraday highs would say 2024-11-25). For the last close C on
date T:

* ``is_ath``: C is strictly above every earlier close (a close that only ties the record is not one).
* ``prev_record`` (only when ``is_ath``): ``(date, close)`` of the highest close before T, i.e. the
  record C broke. On 2025-09-18 (2467.70) it is ``(2021-11-08, 2442.74)`` and no close in between was
  above it, so a reply can say "highest close since November 2021 (the 2021-11-08 record of 2442.74)".
  During a run of records it is the previous session's record.
* ``first_record_after_gap`` (only when ``is_ath``): the record it broke is at least ``RECORD_GAP`` (365
  days) older, so C is "the first record since <that date>" — news on 2025-09-18, nearly four years
  after the 2021-11-08 record. Inside a run of records (2026-01-22 broke the record of 2026-01-21) it is
  False and C is simply a new all-time high; calling it "the highest close since January 2026" would
  say nothing true.
* ``highest_since`` (only when not ``is_ath``): the date D of the most recent earlier close at or above
  C. Every close strictly between D and T is below C, so C is "the highest close since D"; how far back
  D lies is the news (the /r2k reply mentions it beyond a year).

``InsufficientData`` and ``truncate`` are re-exported from bot.metrics.returns for callers that import
them from here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.metrics.returns import (
    InsufficientData,
    as_timestamp,
    check_closes,
    day,
    period_return_held,
    truncate,
)

__all__ = ["InsufficientData", "R2KSnapshot", "compute_r2k", "truncate"]

# "52 weeks" is taken literally (364 days), as quote pages do; period returns use calendar months.
WEEKS_52 = timedelta(weeks=52)
# A record is "the first record since <date>" only when the record it broke is at least this old.
RECORD_GAP = timedelta(days=365)


@dataclass(frozen=True)
class R2KSnapshot:
    """The Russell 2000 at its last close on or before the as-of date.

    Levels are index points; returns and changes are fractions (0.0733 = +7.33 %). ``ytd`` is based on
    the last close of the previous calendar year; ``ret_1m/3m/1y`` on the last close on or before one,
    three and twelve calendar months before ``date`` (None when the history held is shorter).
    ``high_52w`` is the highest close dated within the 52 weeks ending on ``date`` (both ends included);
    ``ath`` the highest close up to ``date`` (its first date when tied). ``distance_to_ath`` is
    close / ath − 1 (0.0 at a record). See the module docstring for ``is_ath``, ``prev_record`` and
    ``highest_since``.

    The ratio is RUT close / NDX close on their last common date (``ratio_date``), and
    ``ratio_ndx_52w_change`` its change since the last common date on or before 52 weeks earlier. Ratio
    fields are None without an NDX series, or without a common close to compare with.
    """

    date: dt.date  # the close described (last RUT session on or before asof)
    close: float
    day_change: float  # points vs the previous close
    day_change_pct: float  # fraction
    ytd: float  # fraction, base = last close of the previous year
    ret_1m: float | None
    ret_3m: float | None
    ret_1y: float | None
    high_52w: float
    high_52w_date: dt.date
    ath: float
    ath_date: dt.date
    distance_to_ath: float  # fraction, <= 0
    is_ath: bool
    prev_record: tuple[dt.date, float] | None  # when is_ath: the record close it broke
    highest_since: dt.date | None  # when not is_ath: the last earlier close at or above this one
    ratio_ndx: float | None
    ratio_ndx_52w_change: float | None  # fraction
    prev_date: dt.date | None = None  # the previous close, base of the day change
    prev_close: float | None = None
    highest_since_close: float | None = None  # the close on ``highest_since``
    ratio_date: dt.date | None = None  # the common close the ratio describes
    first_record_after_gap: bool = False  # is_ath and the broken record is RECORD_GAP old or older


def _optional(held: pd.Series, period: str) -> float | None:
    try:
        return period_return_held(held, period, "RUT").value  # type: ignore[arg-type]
    except InsufficientData:
        return None


def _ratio(rut: pd.Series, ndx: pd.Series, asof: date) -> tuple[float, date, float | None] | None:
    """(ratio, its date, 52-week change) on the last common close; None when the two never overlap."""
    check_closes(ndx, "NDX")
    cut = int(ndx.index.searchsorted(as_timestamp(asof), side="right"))
    if cut == 0:
        return None
    end = min(rut.index[-1], ndx.index[cut - 1])
    # Aligning only the last 52 weeks (plus slack for holidays) keeps this cheap on 40 years of closes.
    start = end - WEEKS_52 - timedelta(days=10)
    a = rut.loc[start:end]
    b = ndx.iloc[:cut].loc[start:end]
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return None
    ratios = a.reindex(common).to_numpy() / b.reindex(common).to_numpy()
    now_ts = common[-1]
    i_before = int(common.searchsorted(now_ts - WEEKS_52, side="right")) - 1
    change = float(ratios[-1] / ratios[i_before] - 1.0) if i_before >= 0 else None
    return float(ratios[-1]), day(now_ts), change


def compute_r2k(rut: pd.Series, ndx: pd.Series | None, asof: date) -> R2KSnapshot:
    """The Russell 2000 snapshot from ^RUT closes (and ^NDX closes for the ratio) up to ``asof``.

    Raises InsufficientData with fewer than two RUT closes on or before ``asof``, or without a close at
    or before the previous year's end (the YTD base).
    """
    held = truncate(rut, asof, "RUT")
    if len(held) < 2:
        raise InsufficientData("Russell 2000: at least two closes are needed for a day change")
    values = held.to_numpy(dtype="float64")
    index = held.index
    close = float(values[-1])
    prev = float(values[-2])
    last_ts = index[-1]

    ytd = period_return_held(held, "ytd", "Russell 2000").value

    first_52w = int(index.searchsorted(last_ts - WEEKS_52, side="left"))
    i52 = first_52w + int(np.argmax(values[first_52w:]))
    iath = int(np.argmax(values))  # first occurrence of the highest close

    earlier = values[:-1]
    i_prev_max = int(np.argmax(earlier))
    is_ath = bool(close > earlier[i_prev_max])
    prev_record: tuple[date, float] | None = None
    highest_since: date | None = None
    highest_since_close: float | None = None
    if is_ath:
        prev_record = (day(index[i_prev_max]), float(earlier[i_prev_max]))
    else:
        i_higher = int(np.flatnonzero(earlier >= close)[-1])
        highest_since = day(index[i_higher])
        highest_since_close = float(values[i_higher])

    ratio = ratio_change = None
    ratio_date = None
    if ndx is not None:
        found = _ratio(held, ndx, asof)
        if found is not None:
            ratio, ratio_date, ratio_change = found

    return R2KSnapshot(
        date=day(last_ts),
        close=close,
        day_change=close - prev,
        day_change_pct=close / prev - 1.0,
        ytd=ytd,
        ret_1m=_optional(held, "1m"),
        ret_3m=_optional(held, "3m"),
        ret_1y=_optional(held, "1y"),
        high_52w=float(values[i52]),
        high_52w_date=day(index[i52]),
        ath=float(values[iath]),
        ath_date=day(index[iath]),
        distance_to_ath=close / float(values[iath]) - 1.0,
        is_ath=is_ath,
        prev_record=prev_record,
        highest_since=highest_since,
        ratio_ndx=ratio,
        ratio_ndx_52w_change=ratio_change,
        prev_date=day(index[-2]),
        prev_close=prev,
        highest_since_close=highest_since_close,
        ratio_date=ratio_date,
        first_record_after_gap=prev_record is not None and day(last_ts) - prev_record[0] >= RECORD_GAP,
    )
