"""/compare's numbers: Russell 2000 vs S&P 500 vs Nasdaq-100 price returns over a window a user names.

Source: daily closes of ^RUT, ^GSPC and ^NDX. Pure: closes, the window and an ``asof`` in, a frozen
dataclass out; only closes dated on or before ``asof`` are read.

**Window.** The user names FROM and either TO (a date) or a period (``PERIODS``: calendar months from
FROM, a month end that does not exist clamped as in bot.metrics.returns.add_months), or nothing (to the
last close). The figures are taken on the closes the three indices have in common, so every number
describes the same two sessions: the first common close on or after FROM and the last common close on or
before TO — the nearest sessions *inside* the window (a FROM on a weekend starts at the Monday close).
A TO after the last common close on or before ``asof`` is cut there (``cut`` says so); a window that
cannot be answered raises :class:`WindowError` with its reason (FROM not before TO, FROM before the first
date all three indices have, FROM after ``asof`` or after the last close, fewer than two closes inside).

**Returns** are close-to-close *price* returns (fractions; index levels carry no dividends); gaps are in
percentage points, (R2K return − other return) × 100. ``rebased`` holds the three closes over the window
scaled to 100 at the first close, for the chart.

What the data says (../shared/data): from the 2009-03-09 close to the 2014-03-07 close (the last session
of ``2009-03-09 5y``) the Russell 2000 rose +250.56 %, the S&P 500 +177.60 % and the Nasdaq-100
+254.78 % — not the "about 187 % against 107 %" sometimes quoted; from 2000-03-10 to 2003-03-10 the
Russell 2000 fell 42.36 %, the S&P 500 42.12 % and the Nasdaq-100 78.98 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import pandas as pd

from bot.errors import CapgapError
from bot.metrics.returns import InsufficientData, add_months, as_timestamp, day, truncate

# Calendar months of each period /compare accepts after FROM.
PERIODS: dict[str, int] = {"1m": 1, "3m": 3, "6m": 6, "1y": 12, "3y": 36, "5y": 60, "10y": 120}
# The order indices are reported in; the gaps are the first minus each of the others.
NAMES: tuple[str, ...] = ("RUT", "SPX", "NDX")

WindowFault = Literal["reversed", "before_data", "future", "after_data", "too_short"]


class WindowError(CapgapError, ValueError):
    """The window cannot be answered from the data; ``reason`` says why, ``bound`` is the date that
    limits it (the first common date for "before_data", the last common close for "after_data" and
    "too_short", the as-of for "future", TO for "reversed")."""

    def __init__(self, reason: WindowFault, bound: date) -> None:
        self.reason = reason
        self.bound = bound
        super().__init__(f"{reason}: {bound.isoformat()}")


@dataclass(frozen=True)
class IndexReturn:
    """One index over the window: its first and last close used, with their dates, and the return."""

    name: str  # "RUT" | "SPX" | "NDX"
    first_date: date
    first_close: float
    last_date: date
    last_close: float
    ret: float  # last_close / first_close − 1 (fraction, price return)


@dataclass(frozen=True)
class Comparison:
    """R2K vs S&P 500 vs NDX from ``start`` to ``end`` (see module doc)."""

    start: date  # FROM as asked
    end: date | None  # TO as asked or FROM + period; None = to the last close
    period: str | None  # the period asked, if any
    cut: bool  # TO lies after the last close: the window ends at ``last_date``
    first_date: date  # the first common close used (on or after ``start``)
    last_date: date  # the last common close used: the as-of of the reply
    indices: tuple[IndexReturn, ...]  # in NAMES order
    gap_spx_pp: float  # (R2K − S&P 500) × 100
    gap_ndx_pp: float  # (R2K − NDX) × 100
    # The three closes over the window, each 100 at first_date; for the chart (left out of equality).
    rebased: pd.DataFrame = field(compare=False, repr=False)

    def index(self, name: str) -> IndexReturn:
        return next(i for i in self.indices if i.name == name)

    @property
    def best(self) -> IndexReturn:
        return max(self.indices, key=lambda i: i.ret)


def window_end(start: date, period: str) -> date:
    """FROM + ``period`` in calendar months (the day clamped to the month's length)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")
    return add_months(start, PERIODS[period])


def compute_compare(
    rut: pd.Series,
    spx: pd.Series,
    ndx: pd.Series,
    start: date,
    asof: date,
    *,
    end: date | None = None,
    period: str | None = None,
) -> Comparison:
    """Price returns of the three indices over [start, end or start + period or the last close].

    Raises WindowError for a window the data cannot answer, InsufficientData when an index has no close
    on or before ``asof`` at all.
    """
    if end is not None and period is not None:
        raise ValueError("give TO or a period, not both")
    # Every check below compares plain dates before any conversion to a pandas Timestamp: a FROM in
    # year 1 or 9999 is an answerable mistake, not an out-of-bounds error.
    if end is not None and end <= start:
        raise WindowError("reversed", end)
    if start > asof:
        raise WindowError("future", asof)
    held = {
        "RUT": truncate(rut, asof, "Russell 2000"),
        "SPX": truncate(spx, asof, "S&P 500"),
        "NDX": truncate(ndx, asof, "Nasdaq-100"),
    }
    begins = max(day(s.index[0]) for s in held.values())
    if start < begins:
        raise WindowError("before_data", begins)
    if period is not None:
        end = window_end(start, period)
    frame = pd.concat({k: s.loc[as_timestamp(start) :] for k, s in held.items()}, axis=1, join="inner")
    if frame.empty:
        last_common = pd.concat(held, axis=1, join="inner").index
        if len(last_common) == 0:
            raise InsufficientData("Russell 2000, S&P 500 and Nasdaq-100 closes on common dates")
        raise WindowError("after_data", day(last_common[-1]))
    last_close = day(frame.index[-1])
    cut = end is not None and end > last_close
    if not cut and end is not None:
        frame = frame.loc[: as_timestamp(end)]
    if len(frame) < 2:
        raise WindowError("too_short", last_close if cut or end is None else end)
    first, last = frame.iloc[0], frame.iloc[-1]
    first_date, last_date = day(frame.index[0]), day(frame.index[-1])
    indices = tuple(
        IndexReturn(name, first_date, float(first[name]), last_date, float(last[name]), float(last[name] / first[name] - 1.0))
        for name in NAMES
    )
    ret = {i.name: i.ret for i in indices}
    return Comparison(
        start=start,
        end=end,
        period=period,
        cut=cut,
        first_date=first_date,
        last_date=last_date,
        indices=indices,
        gap_spx_pp=(ret["RUT"] - ret["SPX"]) * 100.0,
        gap_ndx_pp=(ret["RUT"] - ret["NDX"]) * 100.0,
        rebased=frame[list(NAMES)] / first[list(NAMES)] * 100.0,
    )
