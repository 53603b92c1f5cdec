"""CME settlements of 30-Day Federal Funds futures (ZQ, product 305): the strip FedWatch runs on.

``https://www.cmegroup.com/CmeWS/mvc/Settlements/Futures/Settlements/305/FUT?tradeDate=MM/DD/YYYY``
answers JSON (one request returns every listed month, about 60):

    {"settlements": [{"month": "OCT 26", "open": "96.1050", "high": "96.1100", "low": "96.1000",
                      "last": "96.1050", "change": ".0000", "settle": "96.1050",
                      "volume": "184,919", "openInterest": "791,103"}, ..., {"month": "Total", ...}],
     "updateTime": "Thursday, 17 Sep 2026 11:55 PM", "dsHeader": "30 Day Federal Funds Future",
     "reportType": "Final", "tradeDate": "09/17/2026", "empty": false}

Wire conventions: every value is a string; ``"-"`` means none; prices may end in ``A`` (ask) or ``B``
(bid) when the last print was a quote rather than a trade; volume and open interest carry thousands
commas; a ``Total`` row closes the list. Only ``settle`` is used: ``last`` is an intraday print, often
a stale quote on deferred months. CME answers a weekend, a holiday or a date it has not settled yet
with ``empty: true`` (and keeps only about the last five business days); ``fetch_strip`` without a
date walks back to the newest settled day.

CME's edge blocks clients that do not look like a browser (HTTP 403); that surfaces as a SourceError
and the refresh falls back to Yahoo's per-contract charts (bot.sources.yahoo.fetch_zq_strip).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pandas as pd

from bot.errors import SourceError
from bot.sources.base import Fetched, Strip
from bot.sources.http import HttpSource, decode_json, describe_url

SOURCE = "cme"
SETTLEMENTS_URL = "https://www.cmegroup.com/CmeWS/mvc/Settlements/Futures/Settlements/305/FUT"
CHICAGO = ZoneInfo("America/Chicago")
# Weekdays tried before giving up when walking back from today: clears a holiday next to a weekend
# and the evening before settlements are published.
LOOKBACK_WEEKDAYS = 5

MONTHS: dict[str, int] = {
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
    "JUL": 7, "JLY": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}  # fmt: skip
# CME month codes, as in ZQV26 (October 2026).
MONTH_CODES = "FGHJKMNQUVXZ"
_CONTRACT = re.compile(r"^ZQ([FGHJKMNQUVXZ])(\d{2})$")
_TRADE_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONTH_LABEL = re.compile(r"^([A-Z]{3})\s+(\d{2})$")
_PRICE = re.compile(r"^([+-]?\d*\.?\d+)[AB]?$")
# A ZQ price is 100 minus a rate in percent; anything outside this band is a misread, not a market.
_PLAUSIBLE_SETTLE = (50.0, 105.0)


class StripSource(Protocol):
    """Anything that can produce one trade date's ZQ settlement strip (CME, or Yahoo as fallback)."""

    name: str

    async def fetch_strip(self, trade_date: date | None = None, *, now: datetime) -> Strip: ...


def contract_month(series: str) -> date | None:
    """First day of the month of a ZQ contract name (``ZQV26`` -> 2026-10-01); None if not one."""
    match = _CONTRACT.match(series.strip().upper())
    if not match:
        return None
    return date(2000 + int(match.group(2)), MONTH_CODES.index(match.group(1)) + 1, 1)


def contract_name(month: date) -> str:
    """The ZQ contract name for a month (2026-10-01 -> ``ZQV26``)."""
    return f"ZQ{MONTH_CODES[month.month - 1]}{month.year % 100:02d}"


def parse_month_label(label: str) -> date:
    """``"OCT 26"`` -> 2026-10-01; ValueError for anything else."""
    match = _MONTH_LABEL.match(label.strip().upper())
    if not match or match.group(1) not in MONTHS:
        raise ValueError(f"not a contract month label: {label!r}")
    return date(2000 + int(match.group(2)), MONTHS[match.group(1)], 1)


def parse_price(text: object) -> float | None:
    """A CME price string as float: ``"95.3500A"`` -> 95.35, ``"-.0025"`` -> -0.0025, ``"-"`` -> None."""
    if text is None:
        return None
    value = str(text).strip()
    if value in ("", "-"):
        return None
    match = _PRICE.match(value)
    if not match:
        raise ValueError(f"not a CME price: {value!r}")
    return float(match.group(1))


def parse_count(text: object) -> int | None:
    """A CME volume / open-interest string as int: ``"61,551"`` -> 61551, ``"-"`` -> None."""
    if text is None:
        return None
    value = str(text).strip().replace(",", "")
    if value in ("", "-"):
        return None
    if not value.isdigit():
        raise ValueError(f"not a CME count: {text!r}")
    return int(value)


def settlement_rows(payload: Any, *, where: str = "CME settlements") -> tuple[date, list[dict[str, Any]]]:
    """The trade date and the contract rows (``Total`` left out) of a decoded settlements payload.

    Each row is ``{"month": date, "settle": float | None, "open"/"high"/"low"/"last": float | None,
    "volume"/"open_interest": int | None}``. SourceError when the payload is not a ZQ settlement
    report, is ``empty``, or holds a value that does not parse.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("settlements"), list):
        raise SourceError(SOURCE, f"{where} is not a settlements report (no 'settlements' list)")
    header = str(payload.get("dsHeader") or "")
    if header and "federal funds" not in header.lower():
        raise SourceError(SOURCE, f"{where} is the report for {header!r}, not 30 Day Federal Funds futures")
    raw_date = str(payload.get("tradeDate") or "")
    match = _TRADE_DATE.match(raw_date.strip())
    try:
        if not match:
            raise ValueError(raw_date)
        trade_date = date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    except ValueError as exc:
        raise SourceError(SOURCE, f"{where} has trade date {raw_date!r}, expected MM/DD/YYYY") from exc
    if payload.get("empty") is True or not payload["settlements"]:
        raise SourceError(
            SOURCE, f"{where} has no settlements for trade date {trade_date.isoformat()} (empty)"
        )

    rows: list[dict[str, Any]] = []
    seen: set[date] = set()
    for i, item in enumerate(payload["settlements"]):
        if not isinstance(item, dict):
            raise SourceError(SOURCE, f"{where} row {i + 1} is not an object")
        label = str(item.get("month", ""))
        if label.strip().lower() == "total":
            continue
        try:
            month = parse_month_label(label)
            row: dict[str, Any] = {
                "month": month,
                **{k: parse_price(item.get(k)) for k in ("open", "high", "low", "last", "settle")},
                "volume": parse_count(item.get("volume")),
                "open_interest": parse_count(item.get("openInterest")),
            }
        except ValueError as exc:
            raise SourceError(SOURCE, f"{where} row {i + 1} ({label or 'no month'}): {exc}") from exc
        if month in seen:
            raise SourceError(SOURCE, f"{where} lists {label} twice")
        seen.add(month)
        settle = row["settle"]
        if settle is not None and not (_PLAUSIBLE_SETTLE[0] <= settle <= _PLAUSIBLE_SETTLE[1]):
            raise SourceError(SOURCE, f"{where} row {i + 1} ({label}): settle {settle} is not a ZQ price")
        rows.append(row)
    return trade_date, rows


def parse_cme_settlements(
    raw: bytes | str, *, source: str = SOURCE, fetched_at: datetime | None = None
) -> Strip:
    """A CME ZQ settlements JSON body (from the wire or a saved file) as a ``Strip``.

    ``source`` labels the strip's origin (``"cme"``, or e.g. ``"cme file settlements_ZQ_20260917.json"``
    when importing) and is named in error messages. Months whose settle is ``"-"`` are absent.
    """
    where = "CME settlements" if source == SOURCE else source
    payload = decode_json(raw, source=SOURCE, where=where)
    trade_date, rows = settlement_rows(payload, where=where)
    settles = {row["month"]: row["settle"] for row in rows if row["settle"] is not None}
    if not settles:
        raise SourceError(SOURCE, f"{where} for {trade_date.isoformat()} has no settle prices")
    return Strip(
        trade_date=trade_date, settles=dict(sorted(settles.items())), source=source, fetched_at=fetched_at
    )


class CmeSource(HttpSource):
    """CME ZQ settlements over HTTP.

    ``fetch_strip`` is the main use (a ``StripSource``). As a ``bot.sources.base.Source`` it covers ZQ
    contract names (``ZQV26``) and returns one row per fetch: the contract's settlement on the newest
    settled trade date up to ``end``, with ``close`` = settle (CME keeps no longer history here).
    """

    name = vendor = SOURCE
    default_url = SETTLEMENTS_URL

    def covers(self, series: str) -> bool:
        return contract_month(series) is not None

    async def fetch_payload(self, trade_date: date) -> Any:
        """The decoded settlements JSON for ``trade_date`` (may be ``empty``)."""
        response = await self._get(
            self._url,
            params={"tradeDate": trade_date.strftime("%m/%d/%Y")},
            # CME's edge wants the request to look like its own settlements page asking.
            headers={"Accept": "application/json, text/plain, */*", "Referer": "https://www.cmegroup.com/"},
        )
        return decode_json(response.content, source=SOURCE, where=describe_url(response.request.url))

    async def _newest_settled(self, day: date) -> tuple[Any, date]:
        """The payload of the newest weekday on or before ``day`` that CME has settled."""
        tried: list[str] = []
        while len(tried) < LOOKBACK_WEEKDAYS:
            if day.weekday() < 5:
                payload = await self.fetch_payload(day)
                tried.append(day.isoformat())
                if (
                    isinstance(payload, dict)
                    and payload.get("empty") is not True
                    and payload.get("settlements")
                ):
                    return payload, day
            day -= timedelta(days=1)
        raise SourceError(SOURCE, f"no ZQ settlements published for any of {', '.join(tried)}")

    async def _settled(self, trade_date: date | None, now: datetime) -> tuple[Any, date]:
        if trade_date is not None:
            return await self.fetch_payload(trade_date), trade_date
        return await self._newest_settled(now.astimezone(CHICAGO).date())

    async def fetch_strip(self, trade_date: date | None = None, *, now: datetime) -> Strip:
        """The ZQ strip settled on ``trade_date``, or on the newest settled day up to ``now``."""
        payload, asked = await self._settled(trade_date, now)
        where = f"CME settlements for {asked.isoformat()}"
        got, rows = settlement_rows(payload, where=where)
        if got != asked:
            raise SourceError(SOURCE, f"{where} came back dated {got.isoformat()}")
        settles = {row["month"]: row["settle"] for row in rows if row["settle"] is not None}
        if not settles:
            raise SourceError(SOURCE, f"{where} has no settle prices")
        return Strip(trade_date=got, settles=dict(sorted(settles.items())), source=SOURCE, fetched_at=now)

    async def fetch(self, series: str, *, start: date | None, end: date | None, now: datetime) -> Fetched:
        """One ZQ contract's settlement bar on the newest settled day up to ``end`` (or ``now``)."""
        month = contract_month(series)
        if month is None:
            raise SourceError(SOURCE, f"{series!r} is not a ZQ contract name like ZQV26")
        today = now.astimezone(CHICAGO).date()
        payload, asked = await self._newest_settled(min(end, today) if end is not None else today)
        got, rows = settlement_rows(payload, where=f"CME settlements for {asked.isoformat()}")
        if start is not None and got < start:
            raise SourceError(
                SOURCE, f"newest ZQ settlement is {got.isoformat()}, before the start {start.isoformat()}"
            )
        row = next((r for r in rows if r["month"] == month), None)
        if row is None or row["settle"] is None:
            raise SourceError(SOURCE, f"no settlement for {series.upper()} on {got.isoformat()}")
        values = {
            "open": row["open"],
            "high": row["high"],
            "low": row["low"],
            "close": row["settle"],
            "volume": float(row["volume"]) if row["volume"] is not None else None,
        }
        frame = pd.DataFrame(
            {k: [float(v)] for k, v in values.items() if v is not None},
            index=pd.DatetimeIndex([pd.Timestamp(got)], name="date").astype("datetime64[ns]"),
        )
        return Fetched(
            series=series.upper(),
            source=SOURCE,
            frame=frame,
            fetched_at=now,
            partial_last=False,
            meta={"open_interest": row["open_interest"], "report_type": payload.get("reportType")},
        )
