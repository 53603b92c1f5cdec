"""Stooq daily CSV: the recorded ^spx download, Stooq's refusal bodies, and the source over respx."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from bot.errors import SourceError
from bot.sources.base import Source
from bot.sources.stooq import DAILY_URL, StooqSource, parse_stooq_csv

NOW = datetime(2025, 4, 8, 12, 0, tzinfo=UTC)
RECENT = (
    "Date,Open,High,Low,Close,Volume\n"
    "2025-04-04,5292.14,5292.14,5069.9,5074.08,6078496287\n"
    "2025-04-07,4909.66,5246.19,4835.3,5062.25,3363837967\n"
)


def fixture_text(shared_data: Path) -> str:
    return (shared_data / "fixtures" / "stooq" / "stooq_SPX_d_1789_2025.csv").read_text()


def test_parse_fixture_spx_full_history(shared_data: Path) -> None:
    parsed = parse_stooq_csv(fixture_text(shared_data), "SPX")
    frame = parsed.frame
    assert len(frame) == 39420
    assert frame.index[0] == pd.Timestamp("1789-05-01")
    assert frame.index[-1] == pd.Timestamp("2025-04-07")
    assert frame.loc["2021-11-08", "close"] == 4701.70
    assert frame.loc["2020-03-23", "close"] == 2237.40
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert parsed.dropped_partial is None


def test_parse_no_data_body_raises() -> None:
    with pytest.raises(SourceError) as err:
        parse_stooq_csv("No data", "RUT", origin="stooq.com/q/d/l/ (^rut)")
    assert err.value.source == "stooq"
    assert (
        err.value.fault
        == "stooq.com/q/d/l/ (^rut) has no data for RUT (symbol not listed, or nothing in the range)"
    )


def test_parse_html_body_raises() -> None:
    page = "<!DOCTYPE html><html><head><title>Stooq - API key</title></head><body>get_apikey</body></html>"
    with pytest.raises(SourceError) as err:
        parse_stooq_csv(page, "SPX")
    assert err.value.fault == (
        "stooq.com/q/d/l/ sent an HTML page instead of CSV for SPX (title: 'Stooq - API key')"
        " (Stooq wants an apikey since 2026, and shows bot checks to scripts)"
    )


def test_parse_daily_hits_limit_is_retryable() -> None:
    with pytest.raises(SourceError) as err:
        parse_stooq_csv("Exceeded the daily hits limit", "SPY")
    assert err.value.retryable is True
    assert err.value.fault == "stooq.com/q/d/l/: exceeded the daily hits limit"


def test_parse_unexpected_header_raises() -> None:
    with pytest.raises(SourceError) as err:
        parse_stooq_csv("Symbol,Date,Time,Open\n^SPX,2025-04-07,22:00:00,1\n", "SPX")
    assert (
        err.value.fault
        == "stooq.com/q/d/l/ header is 'symbol,date,time,open', expected 'Date,Open,High,Low,Close,Volume'"
    )


def test_parse_nan_close_raises() -> None:
    body = "Date,Open,High,Low,Close,Volume\n2025-04-04,5292.14,5292.14,5069.9,nan,6078496287\n"
    with pytest.raises(SourceError) as err:
        parse_stooq_csv(body, "SPX")
    assert err.value.fault == "stooq.com/q/d/l/ line 2 (2025-04-04): bar has prices but no close"


def test_stooq_source_covers_listed_series_only() -> None:
    source: Source = StooqSource(httpx.AsyncClient())
    assert all(source.covers(s) for s in ("SPX", "^GSPC", "NDX", "RUT", "IWM", "IJR", "SPY", "QQQ"))
    assert not source.covers("SP600") and not source.covers("DFEDTARU")


@respx.mock
async def test_fetch_replay_sends_symbol_range_and_key(shared_data: Path) -> None:
    route = respx.get(DAILY_URL).mock(return_value=httpx.Response(200, text=fixture_text(shared_data)))
    async with httpx.AsyncClient() as client:
        fetched = await StooqSource(client, apikey="k3y").fetch(
            "SPX", start=date(2021, 11, 1), end=date(2021, 11, 30), now=NOW
        )
    assert dict(route.calls.last.request.url.params) == {
        "s": "^spx", "i": "d", "d1": "20211101", "d2": "20211130", "apikey": "k3y",
    }  # fmt: skip
    assert fetched.series == "SPX" and fetched.source == "stooq"
    assert fetched.frame.index[0] == pd.Timestamp("2021-11-01")
    assert fetched.frame.index[-1] == pd.Timestamp("2021-11-30")
    assert fetched.frame.loc["2021-11-08", "close"] == 4701.70
    assert fetched.partial_last is False


@respx.mock
async def test_fetch_etf_uses_us_suffix() -> None:
    route = respx.get(DAILY_URL).mock(return_value=httpx.Response(200, text=RECENT))
    async with httpx.AsyncClient() as client:
        await StooqSource(client).fetch("IWM", start=None, end=None, now=NOW)
    assert dict(route.calls.last.request.url.params) == {"s": "iwm.us", "i": "d"}


@respx.mock
async def test_fetch_today_before_close_is_partial() -> None:
    respx.get(DAILY_URL).mock(return_value=httpx.Response(200, text=RECENT))
    during = datetime(2025, 4, 7, 18, 0, tzinfo=UTC)  # 14:00 New York
    after = datetime(2025, 4, 7, 20, 30, tzinfo=UTC)  # 16:30 New York
    async with httpx.AsyncClient() as client:
        live = await StooqSource(client).fetch("SPX", start=None, end=None, now=during)
        done = await StooqSource(client).fetch("SPX", start=None, end=None, now=after)
    assert live.partial_last is True and done.partial_last is False


@respx.mock
async def test_fetch_html_interstitial_hides_apikey() -> None:
    respx.get(DAILY_URL).mock(
        return_value=httpx.Response(200, text="<html><head><title>Verify</title></head></html>")
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await StooqSource(client, apikey="s3cret").fetch("QQQ", start=None, end=None, now=NOW)
    assert "s3cret" not in str(err.value)
    assert err.value.fault.startswith(
        "stooq.com/q/d/l/ (qqq.us) sent an HTML page instead of CSV for QQQ (title: 'Verify')"
    )


@respx.mock
async def test_fetch_range_without_bars_raises() -> None:
    respx.get(DAILY_URL).mock(return_value=httpx.Response(200, text=RECENT))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await StooqSource(client).fetch("SPX", start=date(2025, 4, 8), end=None, now=NOW)
    assert err.value.fault == "no ^spx bars between 2025-04-08 and now"
