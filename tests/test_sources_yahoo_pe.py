"""Yahoo P/E through quoteSummary (cookie, crumb, summaryDetail) on recorded responses, replayed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from bot.errors import SourceError
from bot.sources.yahoo_pe import COOKIE_URL, CRUMB_URL, QUOTE_SUMMARY_URL, YahooPESource, parse_summary_detail
from tests.test_sources_yahoo import body_json, envelope

SUMMARY = "nyf2_4-7-2021_quoteSummary-summaryDetail-QQQ.json"


def test_parse_summary_detail_fixture_trailing_pe(shared_data: Path) -> None:
    ratios = parse_summary_detail(body_json(shared_data, SUMMARY), symbol="QQQ")
    assert (ratios.trailing, ratios.forward) == (84.90115, None)


def test_parse_summary_detail_formatted_values_and_forward() -> None:
    body = {
        "quoteSummary": {
            "result": [
                {
                    "summaryDetail": {
                        "trailingPE": {"raw": 19.5, "fmt": "19.50"},
                        "forwardPE": {"raw": 15.25, "fmt": "15.25"},
                    }
                }
            ],
            "error": None,
        }
    }
    ratios = parse_summary_detail(body, symbol="IJR")
    assert (ratios.trailing, ratios.forward) == (19.5, 15.25)


def test_parse_summary_detail_without_pe_raises() -> None:
    body = {"quoteSummary": {"result": [{"summaryDetail": {"maxAge": 1}}], "error": None}}
    with pytest.raises(SourceError) as err:
        parse_summary_detail(body, symbol="IWM")
    assert err.value.fault == "quoteSummary of IWM: summaryDetail has neither trailingPE nor forwardPE"


def _pe_routes(
    shared_data: Path, crumbs: list[str], summaries: list[httpx.Response]
) -> tuple[respx.Route, respx.Route, respx.Route]:
    cookie = respx.get(COOKIE_URL).mock(
        return_value=httpx.Response(
            404, headers={"Set-Cookie": "A3=d=AQABBK; Domain=.yahoo.com; Path=/; Secure"}
        )
    )
    crumb = respx.get(CRUMB_URL).mock(side_effect=[httpx.Response(200, text=c) for c in crumbs])
    summary = respx.get(QUOTE_SUMMARY_URL.format(symbol="QQQ")).mock(side_effect=summaries)
    return cookie, crumb, summary


@respx.mock
async def test_pe_fetch_runs_cookie_crumb_flow(shared_data: Path) -> None:
    recorded_crumb = envelope(shared_data, "nyf2_getCrumb-getcrumb")["response"]["body"]
    cookie, crumb, summary = _pe_routes(
        shared_data, [recorded_crumb], [httpx.Response(200, json=body_json(shared_data, SUMMARY))]
    )
    now = datetime(2021, 2, 5, 16, 41, tzinfo=UTC)  # the recording's Date header
    async with httpx.AsyncClient() as client:
        fetched = await YahooPESource(client).fetch("PE_QQQ", start=None, end=None, now=now)
    request = summary.calls.last.request
    assert request.url.params["crumb"] == "mloUP8q7ZPH"
    assert request.url.params["modules"] == "summaryDetail"
    assert "A3=d=AQABBK" in request.headers["cookie"]
    assert cookie.call_count == 1 and crumb.call_count == 1
    assert fetched.source == "yahoo_pe" and fetched.series == "PE_QQQ"
    assert list(fetched.frame.index) == [pd.Timestamp("2021-02-05")]
    assert fetched.frame["value"].iloc[0] == 84.90115
    assert fetched.meta["label"] == "trailing P/E of QQQ holdings, Yahoo"
    assert fetched.meta["forward_pe"] is None


@respx.mock
async def test_pe_fetch_401_refetches_crumb_once(shared_data: Path) -> None:
    _, crumb, summary = _pe_routes(
        shared_data,
        ["firstCrumb1", "secondCrumb2"],
        [
            httpx.Response(
                401, json={"finance": {"error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}
            ),
            httpx.Response(200, json=body_json(shared_data, SUMMARY)),
        ],
    )
    async with httpx.AsyncClient() as client:
        ratios = await YahooPESource(client).fetch_ratios("QQQ")
    assert crumb.call_count == 2
    assert [c.request.url.params["crumb"] for c in summary.calls] == ["firstCrumb1", "secondCrumb2"]
    assert ratios.trailing == 84.90115


@respx.mock
async def test_pe_fetch_401_twice_raises(shared_data: Path) -> None:
    _pe_routes(shared_data, ["firstCrumb1", "secondCrumb2"], [httpx.Response(401), httpx.Response(401)])
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooPESource(client).fetch_ratios("QQQ")
    assert err.value.fault == "quoteSummary of QQQ: HTTP 401, Yahoo refused a fresh crumb too"


@respx.mock
async def test_pe_fetch_html_crumb_raises(shared_data: Path) -> None:
    _pe_routes(shared_data, ["<html><body>Oops</body></html>"], [])
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooPESource(client).fetch_ratios("QQQ")
    assert (
        err.value.fault
        == "getcrumb sent '<html><body>Oops</body></html>' instead of a crumb (no Yahoo cookie?)"
    )


@respx.mock
async def test_pe_fetch_unknown_symbol_error_object(shared_data: Path) -> None:
    _pe_routes(
        shared_data,
        ["crumbAbc12"],
        [
            httpx.Response(
                404,
                json={
                    "quoteSummary": {
                        "result": None,
                        "error": {
                            "code": "Not Found",
                            "description": "Quote not found for ticker symbol: QQQ",
                        },
                    }
                },
            )
        ],
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await YahooPESource(client).fetch_ratios("QQQ")
    assert (
        err.value.fault == "quoteSummary of QQQ: Yahoo says Not Found: Quote not found for ticker symbol: QQQ"
    )


def test_pe_source_covers_pe_series_only() -> None:
    source = YahooPESource(httpx.AsyncClient())
    assert source.covers("PE_IJR") and source.covers("PE_SPY")
    assert not source.covers("PE_SPX_FWD") and not source.covers("IJR")
