"""Stooq daily CSV: the fallback for index and ETF bars when Yahoo fails.

``https://stooq.com/q/d/l/?s={symbol}&i=d`` (``d1``/``d2`` = first/last date as ``YYYYMMDD``) answers
``Date,Open,High,Low,Close,Volume``, oldest first, one row per session, dates exchange-local.

Symbols (Stooq's naming: indices carry a ``^``, US listings a ``.us`` suffix):

| series | Stooq symbol | status |
|---|---|---|
| SPX | ``^spx`` | listed: the recorded download in shared/data/fixtures/stooq is ``^spx`` (1789-2025) |
| NDX | ``^ndx`` | listed (Stooq's index list; widely used as ``^ndx``) |
| RUT | ``^rut`` | not confirmed: seen only in third-party fallback code; a "No data" answer means unlisted |
| IWM, IJR, SPY, QQQ | ``iwm.us``, ``ijr.us``, ``spy.us``, ``qqq.us`` | listed (US ETFs) |
| SP600 | — | no S&P SmallCap 600 index on Stooq that we know of: not covered |

Since early 2026 Stooq wants an ``apikey`` query parameter (a key from its CAPTCHA-gated form at
https://stooq.com/q/d/?s=spy.us&get_apikey); without one it answers HTTP 200 with an HTML page, and
since mid-2026 non-browser clients may get an HTML proof-of-work interstitial, also with 200. Both are
refused as "HTML instead of CSV". Other refusals: the literal ``No data`` body (unknown symbol or an
empty range) and ``Exceeded the daily hits limit`` (quota; retryable, as the key's quota resets daily).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx

from bot.errors import SourceError
from bot.series import series_key
from bot.sources.base import Fetched, within
from bot.sources.csvfile import ParsedCsv, parse_series_csv
from bot.sources.http import (
    DEFAULT_RETRY,
    HttpSource,
    RetryPolicy,
    Sleep,
    csv_body,
    describe_url,
)

SOURCE = "stooq"
NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = time(16, 0)
DAILY_URL = "https://stooq.com/q/d/l/"

STOOQ_SYMBOLS: dict[str, str] = {
    "SPX": "^spx",
    "NDX": "^ndx",
    "RUT": "^rut",
    "IWM": "iwm.us",
    "IJR": "ijr.us",
    "SPY": "spy.us",
    "QQQ": "qqq.us",
}


def parse_stooq_csv(text: str, series: str, *, origin: str = "stooq.com/q/d/l/") -> ParsedCsv:
    """A Stooq daily CSV body as a bar frame of ``series``; SourceError for anything that is not one.

    A trailing volume-0 row after rows with volume (a snapshot) is left out, as for any CSV; its
    date is ``dropped_partial``.
    """
    body = csv_body(
        text,
        source=SOURCE,
        what=series,
        origin=origin,
        html_hint=" (Stooq wants an apikey since 2026, and shows bot checks to scripts)",
    ).strip()
    lowered = body.lower()
    if lowered.startswith("no data"):
        raise SourceError(
            SOURCE, f"{origin} has no data for {series} (symbol not listed, or nothing in the range)"
        )
    if "exceeded the daily hits limit" in lowered:
        raise SourceError(SOURCE, f"{origin}: exceeded the daily hits limit", retryable=True)
    header = body.split("\n", 1)[0].strip().lower()
    if not header.startswith("date,") or "close" not in header.split(","):
        raise SourceError(
            SOURCE, f"{origin} header is {header[:80]!r}, expected 'Date,Open,High,Low,Close,Volume'"
        )
    return parse_series_csv(body, series, source=SOURCE, origin=origin, kind="bars")


class StooqSource(HttpSource):
    """Daily bars from Stooq. Implements bot.sources.base.Source.

    ``apikey`` is Stooq's download key (required by Stooq since 2026); it is sent as a query parameter
    and never appears in error messages.
    """

    name = vendor = SOURCE
    default_url = DAILY_URL

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        apikey: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Sleep = asyncio.sleep,
        url: str | None = None,
    ) -> None:
        super().__init__(client, retry=retry, sleep=sleep, url=url)
        self._apikey = apikey

    def covers(self, series: str) -> bool:
        return series_key(series) in STOOQ_SYMBOLS

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """Daily bars of ``series`` from ``start`` through ``end`` (None: all history / latest).

        Stooq updates today's bar while the session runs, so a last bar dated on or after today's
        New York date, fetched before the 16:00 close, is flagged ``partial_last`` (on early-close
        days that errs towards "not yet a close").
        """
        key = series_key(series)
        symbol = STOOQ_SYMBOLS.get(key)
        if symbol is None:
            raise SourceError(SOURCE, f"Stooq lists no symbol for {series!r}")
        params: dict[str, str] = {"s": symbol, "i": "d"}
        if start is not None:
            params["d1"] = start.strftime("%Y%m%d")
        if end is not None:
            params["d2"] = end.strftime("%Y%m%d")
        if self._apikey:
            params["apikey"] = self._apikey
        response = await self._get(self._url, params=params)
        origin = f"{describe_url(response.request.url)} ({symbol})"
        parsed = parse_stooq_csv(response.text, key, origin=origin)
        frame = within(parsed.frame, start, end)
        if frame.empty:
            raise SourceError(SOURCE, f"no {symbol} bars between {start or 'start'} and {end or 'now'}")
        meta: dict[str, object] = {"symbol": symbol}
        if parsed.dropped_partial is not None:
            meta["dropped_partial"] = parsed.dropped_partial
        return Fetched(
            series=key,
            source=SOURCE,
            frame=frame,
            fetched_at=now,
            partial_last=session_open(frame.index[-1].date(), now),
            meta=meta,
        )


def session_open(day: date, now: datetime) -> bool:
    """True when the New York session dated ``day`` has not reached its 16:00 close at ``now``."""
    local = now.astimezone(NEW_YORK)
    return day > local.date() or (day == local.date() and local.time() < REGULAR_CLOSE)
