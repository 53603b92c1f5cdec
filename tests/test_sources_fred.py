"""FRED fredgraph.csv parsing (old and new headers) on real bodies, and the source replayed with respx."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from bot.errors import SourceError
from bot.sources.base import Source
from bot.sources.fred import FREDGRAPH_URL, FredSource, parse_fredgraph_csv

NOW = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)


async def _no_sleep(seconds: float) -> None:
    return None


def target_range_bodies(shared_data: Path) -> dict[str, str]:
    """The recorded fredgraph.csv bodies of DFEDTARL/DFEDTARU for 2026-09-01..20 (new header)."""
    return json.loads((shared_data / "fixtures" / "cme" / "fred_target_range_202609.json").read_text())


def test_parse_new_header_target_range_hike_on_effective_day(shared_data: Path) -> None:
    bodies = target_range_bodies(shared_data)
    upper = parse_fredgraph_csv(bodies["DFEDTARU"], "DFEDTARU")
    lower = parse_fredgraph_csv(bodies["DFEDTARL"], "DFEDTARL")
    assert len(upper) == 20 and list(upper.columns) == ["value"]
    assert upper.index[0] == pd.Timestamp("2026-09-01") and upper.index[-1] == pd.Timestamp("2026-09-20")
    assert upper.loc["2026-09-16", "value"] == 3.75
    assert upper.loc["2026-09-17", "value"] == 4.00
    assert lower.loc["2026-09-17", "value"] == 3.75
    assert upper.index.name == "date" and upper.index.dtype == "datetime64[ns]"


def test_parse_old_header_dot_missing_dropped(shared_data: Path) -> None:
    text = (shared_data / "fred" / "DGS10_hussamalazzawi.csv").read_text()
    frame = parse_fredgraph_csv(text, "DGS10")
    assert len(frame) == 16196 - 691  # every "." row dropped
    assert frame.loc["1962-01-02", "value"] == 4.06
    assert frame.loc["2024-01-30", "value"] == 4.06
    assert pd.Timestamp("1962-02-12") not in frame.index  # "1962-02-12,."
    assert not frame["value"].isna().any()


def test_parse_new_header_empty_missing_dropped(shared_data: Path) -> None:
    text = (shared_data / "fred" / "DGS10_fredgraph_1999_2025_chatterjee.csv").read_text()
    frame = parse_fredgraph_csv(text, "DGS10")
    assert len(frame) == 6974 - 286
    assert pd.Timestamp("1999-01-18") not in frame.index  # "1999-01-18,"
    assert frame.loc["2025-09-25", "value"] == 4.18


def test_parse_old_header_target_upper_bound(shared_data: Path) -> None:
    frame = parse_fredgraph_csv(
        (shared_data / "fred" / "DFEDTARU_hussamalazzawi.csv").read_text(), "DFEDTARU"
    )
    assert len(frame) == 5525
    assert frame.loc["2008-12-16", "value"] == 0.25
    assert frame.loc["2024-01-31", "value"] == 5.50


def test_parse_html_page_raises() -> None:
    page = "<!DOCTYPE html>\n<html><head><title>FRED - Service Unavailable</title></head></html>"
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv(page, "EFFR")
    assert err.value.source == "fred"
    assert (
        err.value.fault
        == "fredgraph.csv sent an HTML page instead of CSV for EFFR (title: 'FRED - Service Unavailable')"
    )


def test_parse_wrong_series_in_header_raises(shared_data: Path) -> None:
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv(target_range_bodies(shared_data)["DFEDTARL"], "DFEDTARU")
    assert err.value.fault == "fredgraph.csv holds series 'DFEDTARL', not the DFEDTARU that was asked for"


def test_parse_unexpected_header_raises() -> None:
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv("when,what\n2026-01-01,1\n", "EFFR")
    assert err.value.fault == (
        "fredgraph.csv header is 'when,what', expected 'observation_date,EFFR' or 'DATE,EFFR'"
    )


def test_parse_unparseable_value_names_line() -> None:
    body = "observation_date,EFFR\n2025-09-17,4.33\n2025-09-18,4.O8\n"
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv(body, "EFFR")
    assert err.value.fault == "fredgraph.csv line 3 (2025-09-18): EFFR '4.O8' is not a number"


def test_parse_out_of_order_dates_raise() -> None:
    body = "observation_date,EFFR\n2025-09-16,4.33\n2025-09-18,4.08\n2025-09-17,4.33\n"
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv(body, "EFFR")
    assert (
        err.value.fault == "fredgraph.csv line 4: date 2025-09-17 comes after 2025-09-18 (dates out of order)"
    )


def test_parse_duplicated_date_raises() -> None:
    body = "DATE,EFFR\n2025-09-17,4.33\n2025-09-17,4.33\n"
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv(body, "EFFR")
    assert err.value.fault == "fredgraph.csv line 3: duplicated date 2025-09-17"


def test_parse_header_only_raises() -> None:
    with pytest.raises(SourceError) as err:
        parse_fredgraph_csv("observation_date,EFFR\n", "EFFR")
    assert err.value.fault == "fredgraph.csv has a header but no observations of EFFR"


def test_fred_source_covers_rates_and_index_fallbacks() -> None:
    source: Source = FredSource(httpx.AsyncClient())
    assert all(
        source.covers(s)
        for s in ("DFEDTARU", "DFEDTARL", "EFFR", "DGS10", "SP500", "NASDAQ100", "SPX", "NDX")
    )
    assert not source.covers("RUT") and not source.covers("PE_SPY")


@respx.mock
async def test_fetch_replay_sends_id_and_start(shared_data: Path) -> None:
    route = respx.get(FREDGRAPH_URL).mock(
        return_value=httpx.Response(
            200, text=target_range_bodies(shared_data)["DFEDTARU"], headers={"Content-Type": "text/csv"}
        )
    )
    async with httpx.AsyncClient() as client:
        fetched = await FredSource(client).fetch("DFEDTARU", start=date(2026, 9, 1), end=None, now=NOW)
    params = route.calls.last.request.url.params
    assert dict(params) == {"id": "DFEDTARU", "cosd": "2026-09-01"}
    assert fetched.series == "DFEDTARU" and fetched.source == "fred" and fetched.fetched_at == NOW
    assert fetched.frame.loc["2026-09-17", "value"] == 4.00
    assert fetched.partial_last is False


@respx.mock
async def test_fetch_spx_fallback_returns_close_bars_from_sp500() -> None:
    body = "observation_date,SP500\n2024-12-30,5906.94\n2024-12-31,5881.63\n2025-01-01,\n2025-01-02,5868.55\n"
    route = respx.get(FREDGRAPH_URL).mock(return_value=httpx.Response(200, text=body))
    async with httpx.AsyncClient() as client:
        fetched = await FredSource(client).fetch(
            "SPX", start=date(2024, 12, 30), end=date(2025, 1, 2), now=NOW
        )
    assert dict(route.calls.last.request.url.params) == {
        "id": "SP500",
        "cosd": "2024-12-30",
        "coed": "2025-01-02",
    }
    assert list(fetched.frame.columns) == ["close"]
    assert list(fetched.frame["close"]) == [5906.94, 5881.63, 5868.55]
    assert fetched.meta == {"fred_id": "SP500"}


@respx.mock
async def test_fetch_503_then_success_retries() -> None:
    route = respx.get(FREDGRAPH_URL).mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, text="observation_date,EFFR\n2025-09-18,4.08\n"),
        ]
    )
    async with httpx.AsyncClient() as client:
        fetched = await FredSource(client, sleep=_no_sleep).fetch("EFFR", start=None, end=None, now=NOW)
    assert route.call_count == 2
    assert fetched.frame.loc["2025-09-18", "value"] == 4.08


@respx.mock
async def test_fetch_404_is_not_retried() -> None:
    route = respx.get(FREDGRAPH_URL).mock(return_value=httpx.Response(404, text="Not Found"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await FredSource(client, sleep=_no_sleep).fetch("DGS10", start=None, end=None, now=NOW)
    assert route.call_count == 1
    assert err.value.source == "fred" and err.value.retryable is False
    assert err.value.fault == "HTTP 404 Not Found from fred.stlouisfed.org/graph/fredgraph.csv"


@respx.mock
async def test_fetch_html_maintenance_page_raises() -> None:
    respx.get(FREDGRAPH_URL).mock(
        return_value=httpx.Response(200, text="<html><head><title>Maintenance</title></head><body/></html>")
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(SourceError) as err:
            await FredSource(client).fetch("EFFR", start=None, end=None, now=NOW)
    assert err.value.fault == (
        "fred.stlouisfed.org/graph/fredgraph.csv?id=EFFR sent an HTML page instead of CSV for EFFR"
        " (title: 'Maintenance')"
    )
