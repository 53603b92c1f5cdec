"""Yahoo chart and ZQ strip parsing on recorded responses, replayed over HTTP with respx.

Also covers the shared HTTP rules of bot/sources/http.py (retries, 429, timeouts), exercised through
the Yahoo source.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import respx

from bot.errors import SourceError
from bot.sources.base import Source, Strip
from bot.sources.cme import StripSource
from bot.sources.http import RetryPolicy, decode_json, parse_retry_after
from bot.sources.yahoo import (
    CHART_URL,
    YahooSource,
    chart_url,
    fetch_zq_strip,
    parse_chart,
    yahoo_symbol,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def envelope(shared_data: Path, name: str) -> dict[str, Any]:
    """The recorded node-yahoo-finance2 envelope ``{"request": ..., "response": ...}``."""
    return json.loads((shared_data / "fixtures" / "yahoo" / name).read_text())


def body_json(shared_data: Path, name: str) -> dict[str, Any]:
    response = envelope(shared_data, name)["response"]
    return response["bodyJson"] if "bodyJson" in response else json.loads(response["body"])


QQQ = "nyf2_chart-QQQ-2020-01-01-to-2020-01-03.json"
AAPL = "nyf2_chart-AAPL-2020-08-31-to-2020-11-07.json"


class Sleeps:
    """An injected sleep that records the backoff instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# --- parsing recorded chart responses -------------------------------------------------------------


def test_parse_chart_qqq_fixture_gives_the_2020_01_02_bar(shared_data: Path) -> None:
    bars = parse_chart(body_json(shared_data, QQQ), symbol="QQQ", now=NOW)
    frame = bars.frame
    assert list(frame.index) == [pd.Timestamp("2020-01-02")]
    assert frame.index.name == "date"
    assert list(frame.columns) == ["open", "high", "low", "close", "adjclose", "volume"]
    row = frame.loc["2020-01-02"]
    assert row["close"] == 216.16000366210938
    assert row["open"] == 214.39999389648438
    assert row["adjclose"] == 214.17898559570312
    assert row["volume"] == 30969400
    assert bars.partial_last is False
    assert bars.meta["exchange_timezone"] == "America/New_York"


def test_parse_chart_raw_string_body_parses_like_json(shared_data: Path) -> None:
    raw = json.dumps(body_json(shared_data, QQQ)).encode()
    assert parse_chart(raw, symbol="QQQ", now=NOW).frame["close"].iloc[0] == 216.16000366210938


def test_parse_chart_aapl_fixture_49_sessions_dated_by_exchange(shared_data: Path) -> None:
    frame = parse_chart(body_json(shared_data, AAPL), symbol="AAPL", now=NOW).frame
    assert len(frame) == 49
    assert frame.index[0] == pd.Timestamp("2020-08-31")
    assert frame.index[-1] == pd.Timestamp("2020-11-06")
    assert frame["close"].iloc[0] == 129.0399932861328
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert frame.index.dtype == "datetime64[ns]"


def test_parse_chart_future_midnight_timestamp_stays_on_its_day(shared_data: Path) -> None:
    # GC=F bars are stamped 00:00 New York (05:00 UTC): the date must not slip to the day before.
    frame = parse_chart(
        body_json(shared_data, "nyf2_chart-GC_F-2020-01-01-to-2020-01-03.json"), symbol="GC=F", now=NOW
    ).frame
    assert list(frame.index) == [pd.Timestamp("2020-01-02")]
    assert frame["close"].iloc[0] == 1524.5


def _midnight_chart(stamps: list[int], meta: dict[str, Any]) -> dict[str, Any]:
    closes = [100.0 + i for i in range(len(stamps))]
    return {"chart": {"result": [{"meta": meta, "timestamp": stamps,
                                  "indicators": {"quote": [{"close": closes}]}}], "error": None}}


def test_parse_chart_midnight_bars_either_side_of_dst_keep_their_days() -> None:
    # 00:00 New York is 04:00 UTC in summer and 05:00 UTC in winter (2020-11-01 ends DST): each bar
    # must be dated by its own offset, or the winter bar would slip to the day before.
    stamps = [int(datetime(2020, 10, 30, 4, tzinfo=UTC).timestamp()),
              int(datetime(2020, 11, 2, 5, tzinfo=UTC).timestamp())]
    frame = parse_chart(_midnight_chart(stamps, {"exchangeTimezoneName": "America/New_York"}),
                        symbol="GC=F", now=NOW).frame
    assert list(frame.index) == [pd.Timestamp("2020-10-30"), pd.Timestamp("2020-11-02")]


def test_parse_chart_without_zone_uses_gmtoffset_and_rejects_garbage_offset() -> None:
    stamps = [int(datetime(2020, 1, 3, 3, tzinfo=UTC).timestamp())]  # 22:00 on the 2nd at UTC-5
    frame = parse_chart(_midnight_chart(stamps, {"gmtoffset": -18000}), symbol="X", now=NOW).frame
    assert list(frame.index) == [pd.Timestamp("2020-01-02")]
    with pytest.raises(SourceError, match="gmtoffset"):
        parse_chart(_midnight_chart(stamps, {"gmtoffset": "soon"}), symbol="X", now=NOW)


def test_parse_chart_no_data_shape_raises_no_data(shared_data: Path) -> None:
    body = body_json(shared_data, "nyf2_chart-IDX_VXAPL-2020-01-01-to-2020-01-03.json")
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="^VXAPL", now=NOW)
    assert err.value.source == "yahoo"
    assert err.value.fault.startswith("no data for ^VXAPL")
    assert err.value.retryable is False


def test_parse_chart_one_minute_bars_rejected(shared_data: Path) -> None:
    body = body_json(
        shared_data, "nyf2_chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json"
    )
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="AAPL", now=NOW)
    assert err.value.fault == "chart of AAPL: 1m bars, expected daily (1d)"


def _with_session(body: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["chart"]["result"][0]["meta"]["currentTradingPeriod"]["regular"].update(start=start, end=end)
    return body


# 2020-01-02: regular session 09:30-16:00 New York = 14:30-21:00 UTC.
SESSION_START, SESSION_END = 1577975400, 1577998800


def test_parse_chart_last_bar_during_session_is_partial(shared_data: Path) -> None:
    body = _with_session(body_json(shared_data, QQQ), SESSION_START, SESSION_END)
    bars = parse_chart(body, symbol="QQQ", now=datetime(2020, 1, 2, 18, 0, tzinfo=UTC))
    assert bars.partial_last is True


def test_parse_chart_last_bar_after_close_is_final(shared_data: Path) -> None:
    body = _with_session(body_json(shared_data, QQQ), SESSION_START, SESSION_END)
    bars = parse_chart(body, symbol="QQQ", now=datetime(2020, 1, 2, 21, 0, 1, tzinfo=UTC))
    assert bars.partial_last is False


def test_parse_chart_bar_newer_than_trading_period_is_partial_on_its_day(shared_data: Path) -> None:
    # The period Yahoo describes ended the day before; a bar dated today cannot be known closed.
    body = _with_session(body_json(shared_data, QQQ), SESSION_START - 86400, SESSION_END - 86400)
    assert parse_chart(body, symbol="QQQ", now=datetime(2020, 1, 2, 18, 0, tzinfo=UTC)).partial_last is True
    assert parse_chart(body, symbol="QQQ", now=datetime(2020, 1, 3, 18, 0, tzinfo=UTC)).partial_last is False


def _quote(body: dict[str, Any]) -> dict[str, Any]:
    return body["chart"]["result"][0]["indicators"]["quote"][0]


def test_parse_chart_null_bar_dropped(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, AAPL))
    for key in ("open", "high", "low", "close", "volume"):
        _quote(body)[key][3] = None
    body["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"][3] = None
    frame = parse_chart(body, symbol="AAPL", now=NOW).frame
    assert len(frame) == 48
    assert pd.Timestamp("2020-09-03") not in frame.index
    assert not frame.isna().any().any()


def test_parse_chart_nan_close_with_prices_raises(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, AAPL))
    _quote(body)["close"][3] = None
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="AAPL", now=NOW)
    assert err.value.source == "yahoo"
    assert err.value.fault == "chart of AAPL: bar of 2020-09-03 has prices but a null (NaN) close"


def test_parse_chart_out_of_order_timestamps_raise(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, AAPL))
    stamps = body["chart"]["result"][0]["timestamp"]
    stamps[4], stamps[5] = stamps[5], stamps[4]
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="AAPL", now=NOW)
    assert err.value.fault == "chart of AAPL: date 2020-09-04 comes after 2020-09-08 (dates out of order)"


def test_parse_chart_duplicated_date_raises(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, AAPL))
    stamps = body["chart"]["result"][0]["timestamp"]
    stamps[5] = stamps[4] + 3600  # a second bar on the same session day
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="AAPL", now=NOW)
    assert err.value.fault == "chart of AAPL: duplicated date 2020-09-04"


def test_parse_chart_unequal_arrays_raise(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, AAPL))
    del _quote(body)["volume"][-1]
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="AAPL", now=NOW)
    assert err.value.fault == "chart of AAPL: 49 timestamps but 48 volume values"


def test_parse_chart_error_object_raises_its_description() -> None:
    body = {
        "chart": {
            "result": None,
            "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
        }
    }
    with pytest.raises(SourceError) as err:
        parse_chart(body, symbol="^XYZ", now=NOW)
    assert err.value.fault == "chart of ^XYZ: Yahoo says Not Found: No data found, symbol may be delisted"


def test_parse_chart_html_page_raises() -> None:
    page = b"<!DOCTYPE html><html><head><title>Yahoo - Will be right back</title></head><body></body></html>"
    with pytest.raises(SourceError) as err:
        parse_chart(page, symbol="^RUT", now=NOW)
    assert err.value.source == "yahoo"
    assert (
        err.value.fault
        == "chart of ^RUT sent an HTML page instead of JSON (title: 'Yahoo - Will be right back')"
    )


def test_parse_chart_truncated_json_raises(shared_data: Path) -> None:
    raw = json.dumps(body_json(shared_data, AAPL)).encode()[:500]
    with pytest.raises(SourceError) as err:
        parse_chart(raw, symbol="AAPL", now=NOW)
    assert err.value.fault.startswith("chart of AAPL sent truncated JSON")


def test_parse_chart_empty_result_raises() -> None:
    with pytest.raises(SourceError) as err:
        parse_chart({"chart": {"result": [], "error": None}}, symbol="IWM", now=NOW)
    assert err.value.fault == "chart of IWM: empty result"


def test_decode_json_invalid_body_says_invalid() -> None:
    with pytest.raises(SourceError) as err:
        decode_json(b'{"chart": nope}', source="yahoo", where="x")
    assert err.value.fault.startswith("x sent invalid JSON")


# --- symbols ---------------------------------------------------------------------------------------


def test_yahoo_symbol_maps_capgap_names() -> None:
    assert [yahoo_symbol(s) for s in ("RUT", "NDX", "SPX", "^GSPC", "SP600", "IWM", "ZQV26")] == [
        "^RUT", "^NDX", "^GSPC", "^GSPC", "^SP600", "IWM", "ZQV26.CBT",
    ]  # fmt: skip
    assert chart_url("^RUT") == "https://query2.finance.yahoo.com/v8/finance/chart/%5ERUT"


def test_yahoo_source_covers_bars_not_fred_series() -> None:
    source: Source = YahooSource(httpx.AsyncClient())
    assert source.covers("RUT") and source.covers("QQQ") and source.covers("ZQF27")
    assert not source.covers("DFEDTARU") and not source.covers("PE_SPY")


# --- replay over HTTP ---------------------------------------------------------------------------------


@respx.mock
async def test_fetch_qqq_replay_requests_recorded_range(shared_data: Path) -> None:
    route = respx.get(CHART_URL.format(symbol="QQQ")).mock(
        return_value=httpx.Response(200, json=body_json(shared_data, QQQ))
    )
    async with httpx.AsyncClient() as client:
        fetched = await YahooSource(client).fetch(
            "QQQ", start=date(2020, 1, 1), end=date(2020, 1, 2), now=NOW
        )
    params = route.calls.last.request.url.params
    # The same window the recording asked for: 2020-01-01 00:00 UTC to 2020-01-03 00:00 UTC.
    assert (params["interval"], params["period1"], params["period2"]) == ("1d", "1577836800", "1578009600")
    assert "Mozilla/5.0" in route.calls.last.request.headers["user-agent"]
    assert fetched.series == "QQQ" and fetched.source == "yahoo"
    assert fetched.frame["close"].iloc[0] == 216.16000366210938
    assert fetched.fetched_at == NOW and fetched.partial_last is False


@respx.mock
async def test_fetch_rut_requests_encoded_caret_symbol(shared_data: Path) -> None:
    body = copy.deepcopy(body_json(shared_data, QQQ))
    body["chart"]["result"][0]["meta"]["symbol"] = "^RUT"
    route = respx.get("https://query2.finance.yahoo.com/v8/finance/chart/%5ERUT").mock(
        return_value=httpx.Response(200, json=body)
    )
    async with httpx.AsyncClient() as client:
        fetched = await YahooSource(client).fetch("RUT", start=None, end=None, now=NOW)
    params = route.calls.last.request.url.params
    assert params["period1"] == "-2208988800"  # 1900-01-01: all history
    assert params["period2"] == str(int(NOW.timestamp()))
    assert fetched.series == "RUT"


@respx.mock
async def test_fetch_404_with_chart_error_names_yahoo_description() -> None:
    respx.get(CHART_URL.format(symbol="IJR")).mock(
        return_value=httpx.Response(
            404,
            json={
                "chart": {
                    "result": None,
                    "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
                }
            },
        )
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client).fetch("IJR", start=date(2020, 1, 1), end=None, now=NOW)
    assert err.value.fault == "chart of IJR: Yahoo says Not Found: No data found, symbol may be delisted"
    assert err.value.retryable is False


@respx.mock
async def test_fetch_429_retry_after_is_retryable_and_not_retried() -> None:
    route = respx.get(CHART_URL.format(symbol="SPY")).mock(
        return_value=httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "30"})
    )
    sleeps = Sleeps()
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client, sleep=sleeps).fetch("SPY", start=date(2020, 1, 1), end=None, now=NOW)
    assert err.value.source == "yahoo"
    assert err.value.retryable is True
    assert err.value.retry_after == 30.0
    assert err.value.fault == (
        "rate limited (HTTP 429 Too Many Requests) by query2.finance.yahoo.com/v8/finance/chart/SPY,"
        " retry after 30 s"
    )
    assert route.call_count == 1 and sleeps.calls == []


@respx.mock
async def test_fetch_500_then_success_retries_with_backoff(shared_data: Path) -> None:
    route = respx.get(CHART_URL.format(symbol="QQQ")).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json=body_json(shared_data, QQQ))]
    )
    sleeps = Sleeps()
    async with httpx.AsyncClient() as client:
        fetched = await YahooSource(client, sleep=sleeps).fetch(
            "QQQ", start=date(2020, 1, 1), end=None, now=NOW
        )
    assert route.call_count == 2
    assert sleeps.calls == [0.5]
    assert fetched.frame["close"].iloc[0] == 216.16000366210938


@respx.mock
async def test_fetch_502_every_time_gives_up_retryable() -> None:
    route = respx.get(CHART_URL.format(symbol="QQQ")).mock(return_value=httpx.Response(502))
    sleeps = Sleeps()
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client, sleep=sleeps).fetch("QQQ", start=None, end=None, now=NOW)
    assert route.call_count == 3 and sleeps.calls == [0.5, 1.0]
    assert err.value.retryable is True
    assert err.value.fault == (
        "HTTP 502 Bad Gateway from query2.finance.yahoo.com/v8/finance/chart/QQQ (gave up after 3 attempts)"
    )


@respx.mock
async def test_fetch_timeout_retried_then_retryable_error() -> None:
    route = respx.get(CHART_URL.format(symbol="QQQ")).mock(side_effect=httpx.ReadTimeout("slow"))
    sleeps = Sleeps()
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client, sleep=sleeps, retry=RetryPolicy(attempts=2, backoff=0.25)).fetch(
                "QQQ", start=None, end=None, now=NOW
            )
    assert route.call_count == 2 and sleeps.calls == [0.25]
    assert err.value.retryable is True
    assert err.value.fault == (
        "timed out (ReadTimeout) requesting query2.finance.yahoo.com/v8/finance/chart/QQQ"
        " (gave up after 2 attempts)"
    )


@respx.mock
async def test_fetch_connect_error_is_a_source_error_without_retry() -> None:
    route = respx.get(CHART_URL.format(symbol="QQQ")).mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client, sleep=Sleeps()).fetch("QQQ", start=None, end=None, now=NOW)
    assert route.call_count == 1
    assert err.value.retryable is False
    assert (
        err.value.fault
        == "network error requesting query2.finance.yahoo.com/v8/finance/chart/QQQ: ConnectError: refused"
    )


@respx.mock
async def test_fetch_consent_redirect_is_refused() -> None:
    respx.get(CHART_URL.format(symbol="QQQ")).mock(
        return_value=httpx.Response(302, headers={"Location": "https://guce.yahoo.com/consent?x=1"})
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooSource(client).fetch("QQQ", start=None, end=None, now=NOW)
    assert (
        err.value.fault
        == "HTTP 302 redirect from query2.finance.yahoo.com/v8/finance/chart/QQQ to guce.yahoo.com/consent"
    )


def test_parse_retry_after_http_date_measured_from_date_header() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:27:00 GMT") == 60.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after("soon") is None


# --- ZQ strip from Yahoo ----------------------------------------------------------------------------

# Friday 2026-09-18 10:00 Chicago: Friday's session is live, Thursday's is the last completed one.
STRIP_NOW = datetime(2026, 9, 18, 15, 0, tzinfo=UTC)
FRIDAY_END = int(datetime(2026, 9, 19, 4, 59, tzinfo=UTC).timestamp())


def _zq_chart(symbol: str, closes: dict[str, float]) -> dict[str, Any]:
    """A daily futures chart shaped like the recorded GC=F one (Yahoo stamps bars at local midnight)."""
    stamps = [int(pd.Timestamp(d, tz="America/Chicago").timestamp()) for d in closes]
    values = list(closes.values())
    return {
        "chart": {
            "result": [
                {
                    "meta": {
                        "symbol": symbol,
                        "instrumentType": "FUTURE",
                        "exchangeTimezoneName": "America/Chicago",
                        "gmtoffset": -18000,
                        "dataGranularity": "1d",
                        "currentTradingPeriod": {
                            "regular": {"start": FRIDAY_END - 86399, "end": FRIDAY_END, "gmtoffset": -18000}
                        },
                    },
                    "timestamp": stamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": values,
                                "high": values,
                                "low": values,
                                "close": values,
                                "volume": [100] * len(values),
                            }
                        ],
                        "adjclose": [{"adjclose": values}],
                    },
                }
            ],
            "error": None,
        }
    }


@respx.mock
async def test_fetch_zq_strip_takes_last_completed_session() -> None:
    respx.get(chart_url("ZQU26.CBT")).mock(
        return_value=httpx.Response(
            200,
            json=_zq_chart("ZQU26.CBT", {"2026-09-16": 96.25, "2026-09-17": 96.2525, "2026-09-18": 96.26}),
        )
    )
    respx.get(chart_url("ZQV26.CBT")).mock(
        return_value=httpx.Response(
            200, json=_zq_chart("ZQV26.CBT", {"2026-09-16": 96.10, "2026-09-17": 96.105, "2026-09-18": 96.11})
        )
    )
    missing = respx.get(chart_url("ZQX26.CBT")).mock(
        return_value=httpx.Response(
            404,
            json={"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found"}}},
        )
    )
    async with httpx.AsyncClient() as client:
        strip = await fetch_zq_strip(client, now=STRIP_NOW, months=3)
    assert strip == Strip(
        trade_date=date(2026, 9, 17),
        settles={date(2026, 9, 1): 96.2525, date(2026, 10, 1): 96.105},
        source="yahoo",
        fetched_at=STRIP_NOW,
    )
    assert missing.call_count == 1


@respx.mock
async def test_fetch_zq_strip_without_front_month_raises() -> None:
    for symbol in ("ZQU26.CBT", "ZQV26.CBT"):
        respx.get(chart_url(symbol)).mock(
            return_value=httpx.Response(
                404,
                json={
                    "chart": {"result": None, "error": {"code": "Not Found", "description": "No data found"}}
                },
            )
        )
    async with httpx.AsyncClient() as client:
        source: StripSource = YahooSource(client)
        with pytest.raises(SourceError) as err:
            await source.fetch_strip(now=STRIP_NOW, months=2)  # type: ignore[call-arg]
    assert err.value.fault == "no completed Yahoo bar for the front ZQ contract ZQU26.CBT"
