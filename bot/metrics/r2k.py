"""The Russell 2000 snapshot: level, returns, highs, and the R2K/NDX ratio.

Source: daily closes of ^RUT (and optionally ^NDX), as stored in history. "High" always means a daily
*close* above earlier closes, never an intraday high (DESIGN.md: the 2021 record fell on the close of
2025-09-18; intraday highs would say 2024-11-25).

Record semantics, for the last close L on date T:

* ``is_ath``: L is strictly above every earlier close (true for a series' first close).
* ``prev_record``: when ``is_ath``, the highest close before T — the record L broke (date, close). On
  2025-09-18 (2467.70) that is 2021-11-08 (2442.74): no close in between was above it, so the reply can
  say "highest close since November 2021 (the 2021-11-08 record of 2442.74)". On a run of records it is
  the previous day's record. None when there is no earlier close.
* ``highest_since``: when not ``is_ath``, the most recent earlier close strictly above L (date, close);
  L is the highest close of every session after that date. On 2026-02-20 (2663.78) this is 2026-02-19.
  None when ``is_ath``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.metrics.returns import (
    DatedClose,
    InsufficientData,
    PeriodReturn,
    add_months,
    as_timestamp,
    check_closes,
    close_on_or_before,
    day,
    period_return_held,
    truncate,
)


@dataclass(frozen=True)
class R2KSnapshot:
    """Russell 2000 as of its last close on or before ``asof``.

    Returns are fractions; ``None`` marks a period longer than the history held (never NaN).
    ``high_52w`` is the highest close dated after (last date − 1 calendar year). ``distance_to_ath`` is
    last / ATH − 1 (0.0 at a record, negative below it). The ratio is RUT close / NDX close on their last
    common date; ``ratio_change_52w`` compares it with the ratio on the last common date on or before one
    calendar year earlier. Ratio fields are None without an NDX series (or without enough overlap).
    """

    last: DatedClose
    prev: DatedClose
    day_change: float  # index points
    day_change_pct: float  # fraction
    ytd: PeriodReturn | None
    m1: PeriodReturn | None
    m3: PeriodReturn | None
    y1: PeriodReturn | None
    high_52w: DatedClose
    ath: DatedClose
    distance_to_ath: float  # fraction, <= 0
    is_ath: bool
    prev_record: DatedClose | None
    highest_since: DatedClose | None
    ratio: float | None = None
    ratio_date: date | None = None
    ratio_change_52w: float | None = None  # fraction


def _maybe(held: pd.Series, period: str) -> PeriodReturn | None:
    try:
        return period_return_held(held, period, "RUT")  # type: ignore[arg-type]
    except InsufficientData:
        return None


def _ratio(rut: pd.Series, ndx: pd.Series, asof: date) -> tuple[float, date, float | None] | None:
    held_ndx = truncate(ndx, asof, "NDX")
    end = min(rut.index[-1], held_ndx.index[-1])
    # Only the last year (plus slack for holidays) is aligned: cheap on 40 years of closes.
    start = as_timestamp(add_months(day(end), -12)) - timedelta(days=10)
    a = rut.loc[start:end]
    b = held_ndx.loc[start:end]
    common = a.index.intersection(b.index)
    if len(common) == 0:
        return None
    ratio = a.reindex(common) / b.reindex(common)
    now_date = day(common[-1])
    now = float(ratio.iat[-1])
    before = close_on_or_before(ratio, add_months(now_date, -12))
    change = now / before.close - 1.0 if before is not None and before.date < now_date else None
    return now, now_date, change


def compute_r2k(rut: pd.Series, ndx: pd.Series | None, asof: date) -> R2KSnapshot:
    """The Russell 2000 snapshot from ^RUT closes (and ^NDX closes for the ratio) up to ``asof``.

    Raises InsufficientData when fewer than two RUT closes are dated on or before ``asof``.
    """
    held = truncate(rut, asof, "RUT")
    if len(held) < 2:
        raise InsufficientData("RUT: at least two closes are needed for a day change")
    values = held.to_numpy()
    index = held.index
    last_value = float(values[-1])
    last = DatedClose(day(index[-1]), last_value)
    prev = DatedClose(day(index[-2]), float(values[-2]))

    year_ago = as_timestamp(add_months(last.date, -12))
    first_in_window = int(index.searchsorted(year_ago, side="right"))
    window = values[first_in_window:]
    i52 = first_in_window + int(np.argmax(window))
    iath = int(np.argmax(values))

    earlier = values[:-1]
    i_prev_max = int(np.argmax(earlier))
    is_ath = bool(last_value > earlier[i_prev_max])
    prev_record = DatedClose(day(index[i_prev_max]), float(earlier[i_prev_max])) if is_ath else None
    highest_since = None
    if not is_ath:
        i_higher = int(np.flatnonzero(earlier > last_value)[-1])
        highest_since = DatedClose(day(index[i_higher]), float(values[i_higher]))

    ratio = ratio_date = ratio_change = None
    if ndx is not None:
        check_closes(ndx, "NDX")
        try:
            found = _ratio(held, ndx, asof)
        except InsufficientData:
            found = None
        if found is not None:
            ratio, ratio_date, ratio_change = found

    ath = DatedClose(day(index[iath]), float(values[iath]))
    return R2KSnapshot(
        last=last,
        prev=prev,
        day_change=last.close - prev.close,
        day_change_pct=last.close / prev.close - 1.0,
        ytd=_maybe(held, "ytd"),
        m1=_maybe(held, "1m"),
        m3=_maybe(held, "3m"),
        y1=_maybe(held, "1y"),
        high_52w=DatedClose(day(index[i52]), float(values[i52])),
        ath=ath,
        distance_to_ath=last.close / ath.close - 1.0,
        is_ath=is_ath,
        prev_record=prev_record,
        highest_since=highest_since,
        ratio=ratio,
        ratio_date=ratio_date,
        ratio_change_52w=ratio_change,
    )
