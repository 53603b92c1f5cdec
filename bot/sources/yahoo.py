"""Yahoo Finance's chart endpoint: daily bars (v8 chart) and ZQ contracts as a strip fallback. (ETF P/E
from quoteSummary, another URL family, is bot/sources/yahoo_pe.py.)

**Chart** ``https://query2.finance.yahoo.com/v8/finance/chart/{symbol}?interval=1d&period1=&period2=``
(``period1``/``period2`` in epoch seconds) answers ``chart.result[0]`` with ``meta``, ``timestamp[]``
and ``indicators.quote[0].{open,high,low,close,volume}[]`` plus ``indicators.adjclose[0].adjclose[]``;
or ``chart.error`` (``{"code": "Not Found", "description": "No data found, symbol may be delisted"}``,
usually with HTTP 404). How the answer becomes a bar frame:

- timestamps (the session's opening instant) become dates in ``meta.exchangeTimezoneName`` (falling
  back to ``meta.gmtoffset``), so a bar is dated by its exchange session;
- null bars (every field null: Yahoo pads halted days) are dropped; a bar with prices but a null
  close is refused; ``close`` is never NaN, while a field Yahoo leaves null inside an otherwise
  complete bar (volume, typically) stays NaN;
- two bars on one session date (Yahoo sometimes appends the live quote as an extra row) are refused
  as a duplicated date rather than merged by guesswork;
- a range with no bars comes back without ``timestamp`` and with ``indicators.quote == [{}]`` (the
  recorded ^VXAPL response): **refused** as ``SourceError("yahoo", "no data for ^VXAPL ...")``, like
  every empty result, so ask with an overlap onto the last stored bar;
- the last bar is flagged ``partial_last`` while its session is open at ``now``: its date is the
  session of ``meta.currentTradingPeriod.regular`` and ``now`` is before that period's ``end``. It is
  Yahoo's live snapshot, never a close.

**ZQ strip** (fallback for CME): each contract ``ZQ{month code}{yy}.CBT`` through the same chart
endpoint; the strip holds each contract's daily close on the newest completed session. Yahoo's
daily close for a future is the exchange settlement once published (the last trade before that).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import numpy as np
import pandas as pd

from bot.errors import SourceError
from bot.series import SERIES, series_key
from bot.sources.base import PRICE_COLUMNS, Fetched, Strip, within
from bot.sources.cme import CHICAGO, contract_month, contract_name
from bot.sources.csvfile import order_fault
from bot.sources.http import DEFAULT_RETRY, HttpSource, RetryPolicy, Sleep, decode_json, describe_url

SOURCE = "yahoo"
CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart/{symbol}"
NEW_YORK = ZoneInfo("America/New_York")
# period1 for "all history": ^GSPC starts in 1927, so 1900-01-01 (Yahoo accepts negative epochs).
FULL_HISTORY_START = date(1900, 1, 1)
# Yahoo sends JSON error objects with these statuses; anything else non-2xx is an HTTP failure.
JSON_ERROR_STATUSES = frozenset({400, 404, 422})
# Contracts of a ZQ strip fetched at once: Yahoo throttles bursts with 429s.
STRIP_CONCURRENCY = 4
STRIP_MONTHS = 18


def yahoo_symbol(series: str) -> str:
    """Yahoo's symbol for a series: ``RUT`` -> ``^RUT``, ``SPX`` -> ``^GSPC``, ``ZQV26`` -> ``ZQV26.CBT``.

    SourceError for a series Yahoo does not chart (FRED rates, P/E series).
    """
    month = contract_month(series)
    if month is not None:
        return f"{contract_name(month)}.CBT"
    key = series_key(series)
    info = SERIES.get(key)
    if info is None or info.kind != "bars" or SOURCE not in info.sources:
        raise SourceError(SOURCE, f"no Yahoo chart symbol for {series!r}")
    return info.symbol or info.name


def chart_url(symbol: str) -> str:
    """The chart URL of ``symbol`` with ``^`` and ``=`` percent-encoded in the path."""
    return CHART_URL.format(symbol=quote(symbol, safe=""))


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class ChartBars:
    """A parsed v8 chart answer: the bar frame, whether its last bar is live, and facts from ``meta``."""

    symbol: str
    frame: pd.DataFrame
    partial_last: bool
    meta: dict[str, object] = field(default_factory=dict)


def parse_chart(raw: bytes | str | Mapping[str, Any], *, symbol: str, now: datetime) -> ChartBars:
    """A v8 chart body (bytes, text or decoded JSON) for ``symbol`` as daily bars, judged at ``now``.

    Raises SourceError("yahoo", ...) for a ``chart.error``, a body that is not a chart, no bars,
    a granularity other than 1d, arrays of unequal length, a null close, or dates out of order.
    """
    payload = raw if isinstance(raw, Mapping) else decode_json(raw, source=SOURCE, where=f"chart of {symbol}")
    chart = payload.get("chart") if isinstance(payload, Mapping) else None
    if not isinstance(chart, Mapping):
        raise SourceError(SOURCE, f"chart of {symbol}: the answer has no 'chart' object")
    error = chart.get("error")
    if error:
        code = error.get("code", "error") if isinstance(error, Mapping) else "error"
        text = error.get("description", "") if isinstance(error, Mapping) else str(error)
        raise SourceError(SOURCE, f"chart of {symbol}: Yahoo says {code}: {text}".rstrip(": "))
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        raise SourceError(SOURCE, f"chart of {symbol}: empty result")
    result = results[0]
    meta: Mapping[str, Any] = result["meta"] if isinstance(result.get("meta"), Mapping) else {}
    granularity = meta.get("dataGranularity")
    if granularity not in (None, "1d"):
        raise SourceError(SOURCE, f"chart of {symbol}: {granularity} bars, expected daily (1d)")

    stamps = result.get("timestamp")
    if not stamps:
        kind = meta.get("instrumentType") or "instrument"
        raise SourceError(
            SOURCE, f"no data for {symbol} in the requested range ({kind}: no timestamps in the chart)"
        )
    indicators: Mapping[str, Any] = (
        result["indicators"] if isinstance(result.get("indicators"), Mapping) else {}
    )
    quote_block = _first_block(indicators.get("quote"))
    columns: dict[str, Any] = {
        k: quote_block[k] for k in ("open", "high", "low", "close", "volume") if k in quote_block
    }
    adj_block = _first_block(indicators.get("adjclose"))
    if "adjclose" in adj_block:
        columns["adjclose"] = adj_block["adjclose"]
    if "close" not in columns:
        raise SourceError(SOURCE, f"chart of {symbol}: {len(stamps)} timestamps but no close prices")

    n = len(stamps)
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if not isinstance(values, list) or len(values) != n:
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise SourceError(SOURCE, f"chart of {symbol}: {n} timestamps but {got} {name} values")
        try:
            arrays[name] = np.array(values, dtype="float64")  # JSON null -> NaN
        except (TypeError, ValueError) as exc:
            raise SourceError(
                SOURCE, f"chart of {symbol}: {name} holds a value that is not a number"
            ) from exc
    try:
        seconds = np.asarray(stamps, dtype="int64")
    except (TypeError, ValueError, OverflowError) as exc:
        raise SourceError(SOURCE, f"chart of {symbol}: timestamps are not epoch seconds") from exc
    zone = _exchange_zone(meta)
    days = _local_days(seconds, zone, meta.get("gmtoffset"))

    # Plain numpy until the one DataFrame at the end: an incremental refresh parses a handful of bars,
    # where pandas' per-call overhead would be most of the cost.
    ordered = [c for c in PRICE_COLUMNS if c in arrays]
    prices = [arrays[c] for c in ("open", "high", "low", "close", "adjclose") if c in arrays]
    close = arrays["close"]
    null_bar = np.logical_and.reduce([np.isnan(a) for a in prices])
    no_close = np.isnan(close) & ~null_bar
    if no_close.any():
        day = _iso_day(days[int(np.flatnonzero(no_close)[0])])
        raise SourceError(SOURCE, f"chart of {symbol}: bar of {day} has prices but a null (NaN) close")
    keep = ~null_bar
    if not keep.any():
        raise SourceError(SOURCE, f"no data for {symbol} in the requested range (every bar is null)")
    days, close = days[keep], close[keep]
    bad_close = ~np.isfinite(close) | (close <= 0)
    if bad_close.any():
        i = int(np.flatnonzero(bad_close)[0])
        raise SourceError(
            SOURCE, f"chart of {symbol}: close {close[i]} on {_iso_day(days[i])} is not a price"
        )
    index = pd.DatetimeIndex(days, name="date")
    fault = order_fault(index)
    if fault is not None:
        raise SourceError(SOURCE, f"chart of {symbol}: {fault[1]}")
    values = np.column_stack([arrays[c][keep] for c in ordered])
    frame = pd.DataFrame(values, index=index, columns=ordered, copy=False)

    session_end = _session_end(meta)
    last_day = frame.index[-1].date()
    partial = _is_live(last_day, session_end, zone, now)
    info: dict[str, object] = {
        "symbol": meta.get("symbol", symbol),
        "exchange_timezone": meta.get("exchangeTimezoneName"),
        "instrument_type": meta.get("instrumentType"),
        "currency": meta.get("currency"),
    }
    if session_end is not None:
        info["session_end"] = session_end
    return ChartBars(symbol=symbol, frame=frame, partial_last=partial, meta=info)


_NS_PER_DAY = 86_400 * 10**9


def _local_days(seconds: np.ndarray, zone: ZoneInfo | None, gmtoffset: Any) -> np.ndarray:
    """Epoch seconds as the exchange's local dates (naive midnight, datetime64[ns]).

    With the exchange's zone, each bar's own UTC offset (DST included); without one, Yahoo's fixed
    ``gmtoffset``.
    """
    if len(seconds) and (seconds.min() < -(2**33) or seconds.max() > 2**33):
        raise SourceError(SOURCE, "chart timestamps are not epoch seconds (out of range)")
    nanos = seconds * 10**9
    if zone is None:
        if not isinstance(gmtoffset, int | float | None) or not math.isfinite(gmtoffset or 0):
            raise SourceError(SOURCE, f"chart gmtoffset {gmtoffset!r} is not a number of seconds")
        local = nanos + int(gmtoffset or 0) * 10**9
    else:
        local = pd.DatetimeIndex(nanos.view("datetime64[ns]"), tz=UTC).tz_convert(zone).tz_localize(None).asi8
    return (local // _NS_PER_DAY * _NS_PER_DAY).view("datetime64[ns]")


def _iso_day(day: np.datetime64) -> str:
    return str(day.astype("datetime64[D]"))


def _first_block(blocks: Any) -> Mapping[str, Any]:
    """``indicators.quote[0]`` / ``indicators.adjclose[0]``, or {} when Yahoo sent none."""
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], Mapping):
        return blocks[0]
    return {}


def _exchange_zone(meta: Mapping[str, Any]) -> ZoneInfo | None:
    name = meta.get("exchangeTimezoneName")
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _session_end(meta: Mapping[str, Any]) -> datetime | None:
    period = meta.get("currentTradingPeriod")
    regular = period.get("regular") if isinstance(period, Mapping) else None
    end = regular.get("end") if isinstance(regular, Mapping) else None
    if not isinstance(end, int | float):
        return None
    return datetime.fromtimestamp(end, UTC)


def _is_live(last_day: date, session_end: datetime | None, zone: ZoneInfo | None, now: datetime) -> bool:
    """Whether the session of the last bar (``last_day``) is still running at ``now``."""
    tz = zone or NEW_YORK
    if session_end is not None:
        # The session Yahoo describes is dated by the end of its regular period (futures periods start
        # the evening before).
        session_day = (session_end - timedelta(seconds=1)).astimezone(tz).date()
        if last_day == session_day:
            return now < session_end
        if last_day < session_day:
            return False
    # No trading period, or a bar newer than the period Yahoo describes: live unless its day is past.
    return last_day >= now.astimezone(tz).date()


class YahooSource(HttpSource):
    """Daily bars from the Yahoo v8 chart. Implements bot.sources.base.Source and cme.StripSource."""

    name = vendor = SOURCE

    def covers(self, series: str) -> bool:
        try:
            yahoo_symbol(series)
        except SourceError:
            return False
        return True

    async def chart(self, symbol: str, *, period1: int, period2: int, now: datetime) -> ChartBars:
        """The daily chart of Yahoo ``symbol`` between two epoch seconds."""
        url = chart_url(symbol)
        response = await self._get(
            url,
            params={"interval": "1d", "period1": period1, "period2": period2, "includePrePost": "false"},
            allow_status=JSON_ERROR_STATUSES,
        )
        if response.status_code >= 400:
            # Yahoo explains a 404 in a chart.error object; without one it is a plain HTTP failure.
            try:
                payload = decode_json(response.content, source=SOURCE, where=describe_url(url))
            except SourceError:
                payload = None
            error = payload.get("chart", {}).get("error") if isinstance(payload, dict) else None
            if not error:
                raise SourceError(
                    SOURCE, f"HTTP {response.status_code} {response.reason_phrase} from {describe_url(url)}"
                )
            return parse_chart(payload, symbol=symbol, now=now)
        return parse_chart(response.content, symbol=symbol, now=now)

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """Daily bars of ``series`` from ``start`` through ``end`` (None: all history / up to ``now``)."""
        symbol = yahoo_symbol(series)
        period1 = _epoch(start or FULL_HISTORY_START)
        period2 = _epoch(end + timedelta(days=1)) if end is not None else int(now.timestamp())
        bars = await self.chart(symbol, period1=period1, period2=period2, now=now)
        frame = within(bars.frame, start, end)
        if frame.empty:
            raise SourceError(SOURCE, f"no data for {symbol} between {start or 'start'} and {end or 'now'}")
        partial = bars.partial_last and frame.index[-1] == bars.frame.index[-1]
        key = series.strip().upper() if contract_month(series) else series_key(series)
        return Fetched(
            series=key, source=SOURCE, frame=frame, fetched_at=now, partial_last=partial, meta=bars.meta
        )

    async def fetch_strip(
        self, trade_date: date | None = None, *, now: datetime, months: int = STRIP_MONTHS
    ) -> Strip:
        """ZQ closes of ``months`` contracts from the trade date's month, on ``trade_date`` or the newest
        completed session. Contracts Yahoo has no bar for on that date are absent; a missing front
        month is an error (FedWatch cannot start without it)."""
        anchor = trade_date or now.astimezone(CHICAGO).date()
        front = anchor.replace(day=1)
        contract_months = [_add_months(front, k) for k in range(months)]
        period1 = _epoch(anchor - timedelta(days=10))
        period2 = _epoch(anchor + timedelta(days=1)) if trade_date else int(now.timestamp())
        gate = asyncio.Semaphore(STRIP_CONCURRENCY)

        async def one(month: date) -> tuple[date, pd.Series | None]:
            symbol = f"{contract_name(month)}.CBT"
            async with gate:
                try:
                    bars = await self.chart(symbol, period1=period1, period2=period2, now=now)
                except SourceError as exc:
                    if exc.retryable:
                        raise
                    return month, None  # not listed on Yahoo, or no bars in the window
            closes = bars.frame["close"]
            if bars.partial_last:
                closes = closes.iloc[:-1]
            return month, closes.loc[closes.index <= pd.Timestamp(anchor)]

        results = await asyncio.gather(*(one(m) for m in contract_months))
        closes = {m: s for m, s in results if s is not None and not s.empty}
        front_closes = closes.get(front)
        if front_closes is None:
            raise SourceError(
                SOURCE, f"no completed Yahoo bar for the front ZQ contract {contract_name(front)}.CBT"
            )
        day = pd.Timestamp(trade_date) if trade_date else front_closes.index[-1]
        if day not in front_closes.index:
            raise SourceError(SOURCE, f"{contract_name(front)}.CBT has no close on {day.date().isoformat()}")
        settles = {m: float(s.loc[day]) for m, s in closes.items() if day in s.index}
        return Strip(
            trade_date=day.date(), settles=dict(sorted(settles.items())), source=SOURCE, fetched_at=now
        )


async def fetch_zq_strip(
    client: httpx.AsyncClient,
    *,
    now: datetime,
    trade_date: date | None = None,
    months: int = STRIP_MONTHS,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Sleep = asyncio.sleep,
) -> Strip:
    """The ZQ strip from Yahoo's per-contract charts (the CME fallback); see ``YahooSource.fetch_strip``."""
    return await YahooSource(client, retry=retry, sleep=sleep).fetch_strip(trade_date, now=now, months=months)


def _add_months(month: date, k: int) -> date:
    index = month.year * 12 + month.month - 1 + k
    return date(index // 12, index % 12 + 1, 1)
