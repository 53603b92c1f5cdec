"""Daily prices of 30-day Fed funds futures (ZQ) per contract, one long CSV -> one strip per trade date.

The layout is that of ``shared/data/zq/ZQ_contracts_daily_1990_2025_pyfedwatch.csv`` (pyfedwatch's
per-contract workbooks, converted): one row per contract and trade date,

    symbol,expiry_year,expiry_month,date,open,high,low,close,volume,open_interest
    ZQF90,1990,1,1989-08-25,91.52,91.52,91.52,91.52,0,0

``close`` is the day's settlement (the file's final prices equal 100 − the month's average EFFR), so it
is what a strip holds. A contract trades through the last business day of its month; some contracts
carry one more row dated after it (ZQN23 on 2023-08-01): such a row is no trade of a live contract and
never enters a strip (counted in ``dropped_after_expiry``).

A file that is not this shape (another header, a symbol that disagrees with its expiry columns, a date
or price that does not parse, a contract listed twice on one date) is rejected whole with a SourceError;
nothing is half-parsed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.errors import SourceError
from bot.sources.base import Strip

COLUMNS: tuple[str, ...] = (
    "symbol",
    "expiry_year",
    "expiry_month",
    "date",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "open_interest",
)
MONTH_CODES = "FGHJKMNQUVXZ"  # CME month codes, January .. December
SHAPE = ",".join(COLUMNS) + " (one row per ZQ contract and trade date)"


@dataclass(frozen=True)
class ZqDailyFile:
    """What a daily-contracts file holds: ``strips`` by trade date, ascending; ``contracts`` the distinct
    contract months; ``rows`` the data rows read; ``dropped_after_expiry`` the rows dated after their
    contract's month (not in any strip)."""

    strips: tuple[Strip, ...]
    contracts: int
    rows: int
    dropped_after_expiry: int

    @property
    def first(self) -> date:
        return self.strips[0].trade_date

    @property
    def last(self) -> date:
        return self.strips[-1].trade_date


def looks_like_zq_daily(head: bytes) -> bool:
    """True when ``head`` (the file's first bytes) starts with this layout's header."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    return tuple(c.strip().lower() for c in first.split(",")) == COLUMNS


def parse_zq_daily(data: bytes, *, origin: str) -> ZqDailyFile:
    """Parse the daily-contracts CSV ``data`` (``origin``: the file's name, which labels every strip as
    ``csv:<origin>``) into one Strip per trade date. Raises SourceError naming the fault."""
    source = f"csv:{origin}"
    if not looks_like_zq_daily(data[:4096]):
        raise SourceError(source, f"not a ZQ daily-contracts file: the header must be {SHAPE}")
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            encoding="utf-8-sig",
            usecols=["symbol", "expiry_year", "expiry_month", "date", "close"],
            dtype={"symbol": str, "close": "float64"},
            keep_default_na=False,
            na_values=[""],
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise SourceError(source, f"a row does not parse ({exc}); expected {SHAPE}") from None
    if frame.empty:
        raise SourceError(source, "no rows after the header")

    def fail(mask: np.ndarray | pd.Series, what: str) -> None:
        where = np.flatnonzero(np.asarray(mask))
        if len(where):
            line = int(where[0]) + 2  # 1-based, after the header
            raise SourceError(source, f"line {line}: {what} ({len(where)} such rows)")

    fail(frame["close"].isna(), "no close price")
    fail(
        ~np.isfinite(frame["close"]) | (frame["close"] <= 0) | (frame["close"] >= 200),
        "a close that is not a ZQ price",
    )
    years = pd.to_numeric(frame["expiry_year"], errors="coerce")
    months = pd.to_numeric(frame["expiry_month"], errors="coerce")
    fail(
        years.isna() | months.isna() | ~months.between(1, 12) | ~years.between(1980, 2200),
        "an expiry that is not a year and month",
    )
    years, months = years.astype("int64"), months.astype("int64")
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    fail(dates.isna(), "a date that is not YYYY-MM-DD")
    # Checked once per distinct (symbol, year, month): a few hundred, not a row at a time.
    combos = pd.DataFrame({"symbol": frame["symbol"], "year": years, "month": months}).drop_duplicates()
    expected = [
        f"ZQ{MONTH_CODES[m - 1]}{y % 100:02d}" for y, m in zip(combos["year"], combos["month"], strict=True)
    ]
    wrong = combos.index[combos["symbol"].str.strip().str.upper().to_numpy() != np.array(expected)]
    fail(frame.index.isin(wrong), "a symbol that disagrees with its expiry year and month")

    month_start = pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1}))
    fail(
        pd.DataFrame({"m": month_start, "d": dates}).duplicated().to_numpy(),
        "a contract listed twice on one date",
    )
    # After its month a contract has stopped trading: a row dated then is not a settlement of a live contract.
    after = (dates >= month_start + pd.offsets.MonthBegin(1)).to_numpy()
    keep = ~after

    trade = dates.to_numpy()[keep].astype("M8[D]")
    month = month_start.to_numpy()[keep].astype("M8[D]")
    close = frame["close"].to_numpy()[keep]
    if not len(trade):
        raise SourceError(source, "every row is dated after its contract's month")
    order = np.lexsort((month, trade))
    trade, month, close = trade[order], month[order], close[order]
    trade_days = trade.tolist()
    month_days = month.tolist()
    values = close.tolist()
    bounds = [0, *(np.flatnonzero(trade[1:] != trade[:-1]) + 1).tolist(), len(trade)]
    strips = tuple(
        Strip(
            trade_date=trade_days[lo],
            settles=dict(zip(month_days[lo:hi], values[lo:hi], strict=True)),
            source=source,
        )
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    )
    return ZqDailyFile(
        strips=strips,
        contracts=len(np.unique(month)),
        rows=len(frame),
        dropped_after_expiry=int(after.sum()),
    )


ACCEPTED_ZQ_FILES = (
    "a CME settlements JSON (as saved from cmegroup.com, one trade date) or a ZQ daily-contracts CSV "
    f"with the header {SHAPE}"
)


def is_zq_daily_file(data: bytes, *, origin: str) -> bool:
    """Which ZQ file ``data`` is: True for a daily-contracts CSV, False for a CME settlements JSON.
    Anything else raises a SourceError naming the two shapes ``capgap import --series ZQ`` accepts
    (a CSV in another layout used to be reported as "invalid JSON", which named neither)."""
    head = data[:4096]
    if looks_like_zq_daily(head):
        return True
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return False
    raise SourceError(
        f"csv:{origin}" if b"," in head else origin, f"not a ZQ file: --series ZQ takes {ACCEPTED_ZQ_FILES}"
    )
