"""Close-to-close period returns and the helpers every metric shares.

Inputs are daily close series: a float64 ``pd.Series`` indexed by a naive ``DatetimeIndex`` of exchange
dates (bot/sources/base.py), strictly increasing, no NaN. Every function takes an explicit ``asof`` and
reads only closes dated on or before it; an ``asof`` on a weekend or holiday therefore means "the last
session before it". Nothing here reads the clock, the network or module state.

Returns are fractions (0.1129 = +11.29 %). A period's base is the last close on or before the period's
start; its end is the last close on or before ``asof``:

    1d   the close before the last close
    ytd  the last close of the previous calendar year (of the end close's year)
    1m, 3m, 1y, 5y   the last close on or before (end date − 1, 3, 12, 60 calendar months);
                     a month end that does not exist is clamped (31 Mar − 1m = 28/29 Feb)
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, get_args

import numpy as np
import pandas as pd

from bot.errors import CapgapError

Period = Literal["1d", "ytd", "1m", "3m", "1y", "5y"]
PERIODS: Final[tuple[Period, ...]] = get_args(Period)
_MONTHS: Final[dict[str, int]] = {"1m": 1, "3m": 3, "1y": 12, "5y": 60}


class InsufficientData(CapgapError, ValueError):
    """The data held cannot answer: too short, nothing on or before ``asof``, an empty series.

    ``what`` says in plain words what is missing; handlers turn it into ``NoDataError(what=...)``.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


@dataclass(frozen=True)
class DatedClose:
    """One close and its exchange date."""

    date: dt.date
    close: float


@dataclass(frozen=True)
class PeriodReturn:
    """Close-to-close return over ``period``: ``value`` = end.close / base.close − 1 (fraction)."""

    period: Period
    base: DatedClose
    end: DatedClose
    value: float


def day(ts: pd.Timestamp) -> date:
    """A bar's index entry as a plain date."""
    return date(ts.year, ts.month, ts.day)


def as_timestamp(d: date) -> pd.Timestamp:
    """Midnight of ``d`` (any time of day a ``datetime`` carries is ignored)."""
    return pd.Timestamp(d.year, d.month, d.day)


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole calendar months, the day clamped to the target month's length."""
    total = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def check_closes(closes: pd.Series, name: str = "series") -> None:
    """Raise ValueError unless ``closes`` follows the close-series convention (see module doc)."""
    index = closes.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is not None:
        raise ValueError(f"{name}: index must be a naive DatetimeIndex")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise ValueError(f"{name}: dates must be strictly increasing")
    if closes.dtype.kind not in "fiu":
        raise ValueError(f"{name}: values must be numbers (float64), got {closes.dtype}")
    if closes.dtype.kind == "f" and np.isnan(closes.to_numpy()).any():
        raise ValueError(f"{name}: NaN values (missing observations must be dropped)")


def truncate(closes: pd.Series, asof: date, name: str = "series") -> pd.Series:
    """``closes`` dated on or before ``asof``; InsufficientData when nothing is left."""
    check_closes(closes, name)
    end = closes.index.searchsorted(as_timestamp(asof), side="right")
    if end == 0:
        if len(closes) == 0:
            raise InsufficientData(f"{name}: empty series")
        raise InsufficientData(f"{name}: no close on or before {asof.isoformat()}")
    return closes.iloc[:end]


def value_at(closes: pd.Series, i: int) -> float:
    """The ``i``-th value of ``closes`` as a plain float (negative ``i`` counts from the end)."""
    return float(closes.to_numpy(dtype="float64")[i])


def close_on_or_before(closes: pd.Series, when: date) -> DatedClose | None:
    """The last close dated on or before ``when`` (``closes`` already validated), or None."""
    i = int(closes.index.searchsorted(as_timestamp(when), side="right")) - 1
    if i < 0:
        return None
    return DatedClose(day(closes.index[i]), value_at(closes, i))


def period_start(period: Period, end: date) -> date:
    """The calendar date whose last close on or before it is the base of ``period`` ending on ``end``.

    For ``1d`` the base is the previous close, not a calendar date; this returns the day before ``end``.
    """
    if period == "1d":
        return date.fromordinal(end.toordinal() - 1)
    if period == "ytd":
        return date(end.year - 1, 12, 31)
    if period in _MONTHS:
        return add_months(end, -_MONTHS[period])
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


def period_return(closes: pd.Series, period: Period, asof: date, name: str = "series") -> PeriodReturn:
    """Return of ``closes`` over ``period`` ending at the last close on or before ``asof``."""
    held = truncate(closes, asof, name)
    return period_return_held(held, period, name)


def period_return_held(held: pd.Series, period: Period, name: str = "series") -> PeriodReturn:
    """As :func:`period_return` on a series already truncated and validated."""
    end = DatedClose(day(held.index[-1]), value_at(held, -1))
    if period == "1d":
        if len(held) < 2:
            raise InsufficientData(f"{name}: no close before {end.date.isoformat()} for the 1d return")
        base = DatedClose(day(held.index[-2]), value_at(held, -2))
    else:
        start = period_start(period, end.date)
        found = close_on_or_before(held, start)
        if found is None:
            raise InsufficientData(
                f"{name}: no close on or before {start.isoformat()} for the {period} return"
            )
        base = found
    return PeriodReturn(period=period, base=base, end=end, value=end.close / base.close - 1.0)


def rebase(closes: pd.Series, base: date | None = None, name: str = "series") -> pd.Series:
    """``closes`` scaled so the base close reads 100 (for charts; not a result type).

    ``base`` None = the first close; otherwise the last close on or before ``base``, and the result starts
    there.
    """
    check_closes(closes, name)
    if len(closes) == 0:
        raise InsufficientData(f"{name}: empty series")
    if base is None:
        start = 0
    else:
        start = int(closes.index.searchsorted(as_timestamp(base), side="right")) - 1
        if start < 0:
            raise InsufficientData(f"{name}: no close on or before {base.isoformat()} to rebase on")
    window = closes.iloc[start:]
    rebased: pd.Series = window * (100.0 / value_at(window, 0))
    return rebased
