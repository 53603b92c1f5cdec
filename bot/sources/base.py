"""What every data source returns, and the one interface they share.

Frame conventions (the whole code base relies on them):
- A daily **bar frame** is a ``pd.DataFrame`` indexed by a ``DatetimeIndex`` named ``date`` holding
  naive, midnight-normalised *exchange-local* dates (America/New_York for US markets), strictly
  increasing, no duplicates; float64 columns from ``PRICE_COLUMNS`` (``close`` always present).
- A **scalar series frame** (FRED rates, P/E observations) has the same index and one float64 column
  ``value``.
- Missing observations are dropped, never stored as NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import pandas as pd

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adjclose", "volume")
VALUE_COLUMN = "value"


@dataclass(frozen=True)
class Fetched:
    """One successful fetch.

    ``partial_last`` is True when the last row is an intraday snapshot of a session that has not
    closed (Yahoo's live bar, a CSV whose last row has volume 0): it must never be treated as a close.
    """

    series: str
    source: str
    frame: pd.DataFrame
    fetched_at: datetime
    partial_last: bool = False
    meta: dict[str, object] = field(default_factory=dict)


class Source(Protocol):
    """A provider that can fetch some series. Every implementation takes an ``httpx.AsyncClient``."""

    name: str

    def covers(self, series: str) -> bool: ...

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """Fetch ``series`` from ``start`` (None = full history) through ``end`` (None = latest).

        Raises SourceError naming the source and the fault; never returns a half-parsed frame.
        """
        ...


@dataclass(frozen=True)
class Strip:
    """One trade date's settlement strip of 30-day Fed funds futures (ZQ).

    ``settles`` maps the first day of each contract month to its settlement price (float, the
    ``settle`` field with any ``A``/``B`` suffix stripped; months without a settlement are absent).
    """

    trade_date: date
    settles: dict[date, float]
    source: str
    fetched_at: datetime | None = None


def within(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """The rows of ``frame`` from ``start`` through ``end`` (None: unbounded); a vendor's answer that
    strays outside the range asked for is trimmed rather than trusted."""
    index = frame.index
    keep = None
    if start is not None:
        keep = index >= pd.Timestamp(start)
    if end is not None:
        upper = index <= pd.Timestamp(end)
        keep = upper if keep is None else keep & upper
    return frame if keep is None or keep.all() else frame.loc[keep]
