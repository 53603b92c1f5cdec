"""Yahoo Finance quoteSummary: the trailing (and forward) P/E of ETF holdings (PE_SPY, PE_IJR, PE_IWM,
PE_QQQ).

``https://query2.finance.yahoo.com/v10/finance/quoteSummary/{symbol}?modules=summaryDetail&crumb=...``
needs Yahoo's cookie and crumb: GET https://fc.yahoo.com (any status: it only sets the cookie), GET
``/v1/test/getcrumb`` (text), then the summary; a 401 (crumb expired) fetches a fresh crumb once.
``trailingPE`` is the trailing P/E of the ETF's holdings; ``forwardPE`` is passed along when present. The
observation is dated on the New York date of ``now``.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd

from bot.errors import SourceError
from bot.series import SERIES, series_key
from bot.sources.base import VALUE_COLUMN, Fetched
from bot.sources.http import DEFAULT_RETRY, HttpSource, RetryPolicy, Sleep, decode_json, describe_url
from bot.sources.yahoo import JSON_ERROR_STATUSES, NEW_YORK, SOURCE

PE_SOURCE = "yahoo_pe"
QUOTE_SUMMARY_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary/{symbol}"
CRUMB_URL = "https://query2.finance.yahoo.com/v1/test/getcrumb"
COOKIE_URL = "https://fc.yahoo.com"
_CRUMB = re.compile(r"[^\s<>{}\"']{4,64}")


@dataclass(frozen=True)
class PERatios:
    """P/E ratios of an ETF's holdings from Yahoo ``summaryDetail`` (plain ratios, not percent)."""

    symbol: str
    trailing: float | None
    forward: float | None


def parse_summary_detail(raw: bytes | str | Mapping[str, Any], *, symbol: str) -> PERatios:
    """``trailingPE`` and ``forwardPE`` from a quoteSummary ``summaryDetail`` answer.

    Accepts raw numbers (``formatted=false``) and ``{"raw": ..., "fmt": ...}`` objects. SourceError
    for a ``quoteSummary.error``, a missing module, or neither ratio present.
    """
    payload = (
        raw
        if isinstance(raw, Mapping)
        else decode_json(raw, source=SOURCE, where=f"quoteSummary of {symbol}")
    )
    summary = payload.get("quoteSummary") if isinstance(payload, Mapping) else None
    if not isinstance(summary, Mapping):
        raise SourceError(SOURCE, f"quoteSummary of {symbol}: the answer has no 'quoteSummary' object")
    error = summary.get("error")
    if error:
        code = error.get("code", "error") if isinstance(error, Mapping) else "error"
        text = error.get("description", "") if isinstance(error, Mapping) else str(error)
        raise SourceError(SOURCE, f"quoteSummary of {symbol}: Yahoo says {code}: {text}".rstrip(": "))
    results = summary.get("result")
    detail = (
        results[0].get("summaryDetail")
        if isinstance(results, list) and results and isinstance(results[0], Mapping)
        else None
    )
    if not isinstance(detail, Mapping):
        raise SourceError(SOURCE, f"quoteSummary of {symbol}: no summaryDetail module in the answer")
    trailing = _ratio(detail.get("trailingPE"), "trailingPE", symbol)
    forward = _ratio(detail.get("forwardPE"), "forwardPE", symbol)
    if trailing is None and forward is None:
        raise SourceError(
            SOURCE, f"quoteSummary of {symbol}: summaryDetail has neither trailingPE nor forwardPE"
        )
    return PERatios(symbol=symbol, trailing=trailing, forward=forward)


def _ratio(value: Any, name: str, symbol: str) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("raw")
    if value is None or value == {}:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceError(SOURCE, f"quoteSummary of {symbol}: {name} is {value!r}, not a number")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise SourceError(SOURCE, f"quoteSummary of {symbol}: {name} {number} is not a P/E")
    return number


class YahooPESource(HttpSource):
    """Trailing P/E of ETF holdings (PE_SPY, PE_IJR, PE_IWM, PE_QQQ). Implements bot.sources.base.Source.

    Yahoo serves only today's figure, so ``fetch`` returns one row dated on the New York date of
    ``now``; history builds up as the bot records one observation per session.
    """

    name = PE_SOURCE
    vendor = SOURCE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(client, retry=retry, sleep=sleep)
        self._crumb: str | None = None
        self._lock = asyncio.Lock()

    def covers(self, series: str) -> bool:
        info = SERIES.get(series_key(series))
        return info is not None and PE_SOURCE in info.sources

    async def _fresh_crumb(self) -> str:
        # fc.yahoo.com answers 404 (or worse) but sets the A3 cookie getcrumb needs; its status is moot.
        await self._get(COOKIE_URL, allow_status=range(100, 600))
        response = await self._get(CRUMB_URL)
        crumb = response.text.strip()
        if not _CRUMB.fullmatch(crumb):
            shown = crumb[:40] if crumb else "an empty body"
            raise SourceError(SOURCE, f"getcrumb sent {shown!r} instead of a crumb (no Yahoo cookie?)")
        return crumb

    async def crumb(self, *, refresh: bool = False) -> str:
        """Yahoo's crumb for this client's cookie, fetched once and shared by concurrent callers."""
        async with self._lock:
            if self._crumb is None or refresh:
                self._crumb = await self._fresh_crumb()
            return self._crumb

    async def fetch_ratios(self, symbol: str) -> PERatios:
        """P/E ratios of ``symbol``'s holdings; fetches a new crumb once if Yahoo rejects the old one."""
        url = QUOTE_SUMMARY_URL.format(symbol=quote(symbol, safe=""))
        crumb = await self.crumb()
        for attempt in (1, 2):
            response = await self._get(
                url,
                params={"modules": "summaryDetail", "formatted": "false", "crumb": crumb},
                allow_status={401, *JSON_ERROR_STATUSES},
            )
            if response.status_code == 401:
                if attempt == 2:
                    raise SourceError(
                        SOURCE, f"quoteSummary of {symbol}: HTTP 401, Yahoo refused a fresh crumb too"
                    )
                crumb = await self.crumb(refresh=True)
                continue
            if response.status_code >= 400:
                try:
                    payload = decode_json(response.content, source=SOURCE, where=describe_url(url))
                except SourceError:
                    payload = None
                if not (
                    isinstance(payload, dict)
                    and isinstance(payload.get("quoteSummary"), dict)
                    and payload["quoteSummary"].get("error")
                ):
                    raise SourceError(
                        SOURCE,
                        f"HTTP {response.status_code} {response.reason_phrase} from {describe_url(url)}",
                    )
                return parse_summary_detail(payload, symbol=symbol)
            return parse_summary_detail(response.content, symbol=symbol)
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """Today's trailing P/E of the ETF behind ``series`` as a one-row ``value`` frame."""
        key = series_key(series)
        info = SERIES.get(key)
        if info is None or PE_SOURCE not in info.sources:
            raise SourceError(SOURCE, f"no Yahoo P/E for {series!r}")
        symbol = info.symbol or key
        today = now.astimezone(NEW_YORK).date()
        if end is not None and end < today:
            raise SourceError(
                SOURCE, f"Yahoo gives only the current P/E of {symbol} (as of {today}), not one up to {end}"
            )
        ratios = await self.fetch_ratios(symbol)
        if ratios.trailing is None:
            raise SourceError(SOURCE, f"quoteSummary of {symbol}: no trailingPE (forwardPE {ratios.forward})")
        frame = pd.DataFrame(
            {VALUE_COLUMN: [ratios.trailing]},
            index=pd.DatetimeIndex([pd.Timestamp(today)], name="date").astype("datetime64[ns]"),
        )
        return Fetched(
            series=key,
            source=PE_SOURCE,
            frame=frame,
            fetched_at=now,
            partial_last=False,
            meta={
                "symbol": symbol,
                "forward_pe": ratios.forward,
                "label": f"trailing P/E of {symbol} holdings, Yahoo",
            },
        )
