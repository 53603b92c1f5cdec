"""CME ZQ settlements: the recorded 2026-09-17 report, its wire quirks, and the source over respx."""

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
from bot.sources.base import Source
from bot.sources.cme import (
    SETTLEMENTS_URL,
    CmeSource,
    StripSource,
    contract_month,
    contract_name,
    parse_cme_settlements,
    parse_count,
    parse_month_label,
    parse_price,
)

# Thursday 2026-09-17 22:00 Chicago: that day's final settlements are out.
NOW = datetime(2026, 9, 18, 3, 0, tzinfo=UTC)


def fixture_path(shared_data: Path) -> Path:
    return shared_data / "fixtures" / "cme" / "settlements_ZQ_20260917.json"


def fixture_payload(shared_data: Path) -> dict[str, Any]:
    return json.loads(fixture_path(shared_data).read_text())


def test_parse_fixture_strip_settles(shared_data: Path) -> None:
    strip = parse_cme_settlements(fixture_path(shared_data).read_bytes())
    assert strip.trade_date == date(2026, 9, 17)
    assert strip.source == "cme"
    assert len(strip.settles) == 60  # SEP 26 .. AUG 31; the Total row is not a month
    assert strip.settles[date(2026, 10, 1)] == 96.1050
    assert strip.settles[date(2026, 9, 1)] == 96.2525
    assert strip.settles[date(2026, 11, 1)] == 95.9800  # settle, not last (95.9850)
    assert strip.settles[date(2027, 11, 1)] == 95.3900  # high/last carry "B"; settle is plain
    assert strip.settles[date(2031, 8, 1)] == 94.5600
    assert list(strip.settles) == sorted(strip.settles)


def test_parse_fixture_as_text_with_file_label(shared_data: Path) -> None:
    strip = parse_cme_settlements(
        fixture_path(shared_data).read_text(), source="cme file settlements_ZQ_20260917.json"
    )
    assert strip.source == "cme file settlements_ZQ_20260917.json"
    assert strip.settles[date(2026, 12, 1)] == 95.8450


def test_parse_settle_with_suffix_and_dash_month(shared_data: Path) -> None:
    payload = fixture_payload(shared_data)
    payload["settlements"][1]["settle"] = "96.1000A"
    payload["settlements"][2]["settle"] = "-"
    strip = parse_cme_settlements(json.dumps(payload))
    assert strip.settles[date(2026, 10, 1)] == 96.10
    assert date(2026, 11, 1) not in strip.settles
    assert len(strip.settles) == 59


def test_parse_empty_report_raises(shared_data: Path) -> None:
    payload = {
        "settlements": [],
        "updateTime": "",
        "dsHeader": "30 Day Federal Funds Future",
        "reportType": "Final",
        "tradeDate": "09/19/2026",
        "empty": True,
    }
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(json.dumps(payload))
    assert err.value.source == "cme"
    assert err.value.fault == "CME settlements has no settlements for trade date 2026-09-19 (empty)"


def test_parse_truncated_json_raises(shared_data: Path) -> None:
    raw = fixture_path(shared_data).read_bytes()[:1000]
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(raw)
    assert err.value.fault.startswith("CME settlements sent truncated JSON")


def test_parse_html_access_denied_raises() -> None:
    page = b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>You don't have permission</BODY></HTML>"
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(page)
    assert err.value.fault == "CME settlements sent an HTML page instead of JSON (title: 'Access Denied')"


def test_parse_bad_month_label_raises(shared_data: Path) -> None:
    payload = fixture_payload(shared_data)
    payload["settlements"][0]["month"] = "SEPT 2026"
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(json.dumps(payload))
    assert err.value.fault == "CME settlements row 1 (SEPT 2026): not a contract month label: 'SEPT 2026'"


def test_parse_unparseable_settle_raises(shared_data: Path) -> None:
    payload = fixture_payload(shared_data)
    payload["settlements"][3]["settle"] = "95.84.50"
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(json.dumps(payload))
    assert err.value.fault == "CME settlements row 4 (DEC 26): not a CME price: '95.84.50'"


def test_parse_implausible_settle_raises(shared_data: Path) -> None:
    payload = fixture_payload(shared_data)
    payload["settlements"][0]["settle"] = "9.6250"
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(json.dumps(payload))
    assert err.value.fault == "CME settlements row 1 (SEP 26): settle 9.625 is not a ZQ price"


def test_parse_other_product_report_raises(shared_data: Path) -> None:
    payload = fixture_payload(shared_data)
    payload["dsHeader"] = "Three-Month SOFR Futures"
    with pytest.raises(SourceError) as err:
        parse_cme_settlements(json.dumps(payload))
    assert (
        err.value.fault
        == "CME settlements is the report for 'Three-Month SOFR Futures', not 30 Day Federal Funds futures"
    )


def test_wire_value_helpers() -> None:
    assert parse_price("95.3500A") == 95.35
    assert parse_price("95.4150B") == 95.415
    assert parse_price("-.0025") == -0.0025
    assert parse_price("+.0600") == 0.06
    assert parse_price("-") is None
    assert parse_count("61,551") == 61551
    assert parse_count("2,487,448") == 2487448
    assert parse_count("-") is None
    assert parse_month_label("OCT 26") == date(2026, 10, 1)
    assert parse_month_label("JLY 27") == date(2027, 7, 1)
    assert contract_month("ZQV26") == date(2026, 10, 1)
    assert contract_month("ZQF27") == date(2027, 1, 1)
    assert contract_month("RUT") is None
    assert contract_name(date(2027, 1, 1)) == "ZQF27"


@respx.mock
async def test_fetch_strip_replay_requests_trade_date(shared_data: Path) -> None:
    route = respx.get(SETTLEMENTS_URL).mock(
        return_value=httpx.Response(200, content=fixture_path(shared_data).read_bytes())
    )
    async with httpx.AsyncClient() as client:
        source: StripSource = CmeSource(client)
        strip = await source.fetch_strip(now=NOW)
    request = route.calls.last.request
    assert dict(request.url.params) == {"tradeDate": "09/17/2026"}
    assert request.headers["referer"] == "https://www.cmegroup.com/"
    assert strip.trade_date == date(2026, 9, 17)
    assert strip.settles[date(2026, 10, 1)] == 96.1050
    assert strip.fetched_at == NOW


def _empty(trade_date: str) -> dict[str, Any]:
    return {
        "settlements": [],
        "updateTime": "",
        "dsHeader": "30 Day Federal Funds Future",
        "reportType": "",
        "tradeDate": trade_date,
        "empty": True,
    }


@respx.mock
async def test_fetch_strip_walks_back_over_weekend_and_unsettled_day(shared_data: Path) -> None:
    fixture = fixture_path(shared_data).read_bytes()

    def answer(request: httpx.Request) -> httpx.Response:
        day = request.url.params["tradeDate"]
        return (
            httpx.Response(200, content=fixture)
            if day == "09/17/2026"
            else httpx.Response(200, json=_empty(day))
        )

    route = respx.get(SETTLEMENTS_URL).mock(side_effect=answer)
    saturday = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)
    async with httpx.AsyncClient() as client:
        strip = await CmeSource(client).fetch_strip(now=saturday)
    # Saturday is skipped without a request; Friday 09/18 is not settled yet in this replay.
    assert [c.request.url.params["tradeDate"] for c in route.calls] == ["09/18/2026", "09/17/2026"]
    assert strip.trade_date == date(2026, 9, 17)


@respx.mock
async def test_fetch_strip_nothing_settled_in_lookback_raises() -> None:
    respx.get(SETTLEMENTS_URL).mock(
        side_effect=lambda r: httpx.Response(200, json=_empty(r.url.params["tradeDate"]))
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await CmeSource(client).fetch_strip(now=NOW)
    assert err.value.fault == (
        "no ZQ settlements published for any of 2026-09-17, 2026-09-16, 2026-09-15, 2026-09-14, 2026-09-11"
    )


@respx.mock
async def test_fetch_strip_exact_date_empty_raises() -> None:
    respx.get(SETTLEMENTS_URL).mock(return_value=httpx.Response(200, json=_empty("09/18/2026")))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await CmeSource(client).fetch_strip(date(2026, 9, 18), now=NOW)
    assert (
        err.value.fault
        == "CME settlements for 2026-09-18 has no settlements for trade date 2026-09-18 (empty)"
    )


@respx.mock
async def test_fetch_strip_answer_for_another_day_raises(shared_data: Path) -> None:
    respx.get(SETTLEMENTS_URL).mock(
        return_value=httpx.Response(200, content=fixture_path(shared_data).read_bytes())
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await CmeSource(client).fetch_strip(date(2026, 9, 16), now=NOW)
    assert err.value.fault == "CME settlements for 2026-09-16 came back dated 2026-09-17"


@respx.mock
async def test_fetch_403_from_edge_is_not_retried() -> None:
    route = respx.get(SETTLEMENTS_URL).mock(
        return_value=httpx.Response(403, text="<HTML>Access Denied</HTML>")
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await CmeSource(client).fetch_strip(now=NOW)
    assert route.call_count == 1
    assert err.value.retryable is False
    assert (
        err.value.fault
        == "HTTP 403 Forbidden from www.cmegroup.com/CmeWS/mvc/Settlements/Futures/Settlements/305/FUT"
    )


@respx.mock
async def test_fetch_contract_gives_one_settlement_bar(shared_data: Path) -> None:
    respx.get(SETTLEMENTS_URL).mock(
        return_value=httpx.Response(200, content=fixture_path(shared_data).read_bytes())
    )
    async with httpx.AsyncClient() as client:
        source: Source = CmeSource(client)
        assert source.covers("ZQV26") and not source.covers("RUT")
        fetched = await source.fetch("ZQV26", start=None, end=None, now=NOW)
    assert fetched.series == "ZQV26" and fetched.source == "cme"
    assert list(fetched.frame.index) == [pd.Timestamp("2026-09-17")]
    row = fetched.frame.iloc[0]
    assert (row["open"], row["high"], row["low"], row["close"], row["volume"]) == (
        96.105,
        96.11,
        96.10,
        96.105,
        184919.0,
    )
    assert fetched.meta == {"open_interest": 791103, "report_type": "Final"}


@respx.mock
async def test_fetch_contract_without_settle_raises(shared_data: Path) -> None:
    payload = copy.deepcopy(fixture_payload(shared_data))
    payload["settlements"][1]["settle"] = "-"
    respx.get(SETTLEMENTS_URL).mock(return_value=httpx.Response(200, json=payload))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await CmeSource(client).fetch("ZQV26", start=None, end=None, now=NOW)
    assert err.value.fault == "no settlement for ZQV26 on 2026-09-17"
