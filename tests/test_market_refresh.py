"""Market refresh over replayed recorded responses: incremental fetches, fallbacks, freshness."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, closing
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from bot.clock import FixedClock
from bot.history import HistoryStore
from bot.market import Market
from bot.sources.csvfile import read_series_csv
from bot.sources.registry import build_sources
from bot.sources.yahoo import CHART_URL
from bot.store.history_base import SeriesRead
from tests.shared_files import SHARED_FILES

QQQ_CHART = "nyf2_chart-QQQ-2020-01-01-to-2020-01-03.json"
AFTER_CLOSE_2020_01_02 = datetime(2020, 1, 3, 1, 0, tzinfo=UTC)


def recorded_body(shared_data: Path, name: str) -> dict[str, object]:
    response = json.loads((shared_data / "fixtures" / "yahoo" / name).read_text())["response"]
    return response["bodyJson"] if "bodyJson" in response else json.loads(response["body"])


def import_qqq_until(shared_data: Path, history: HistoryStore, last: str) -> None:
    fetched = read_series_csv(shared_data / "indices" / "QQQ_yahoo_alitalbi.csv", "QQQ")
    history.write("QQQ", fetched.frame.loc[:last], source="csv:QQQ", fetched_at=None)


def market_with(history: HistoryStore, client: httpx.AsyncClient, now: datetime) -> Market:
    sources = build_sources(client)
    for source in sources.values():  # no real backoff waits in tests
        if hasattr(source, "_sleep"):
            source._sleep = lambda s: asyncio.sleep(0)  # type: ignore[attr-defined]
    return Market(history, FixedClock(now), sources)


@respx.mock(assert_all_mocked=True)
async def test_refresh_fetches_only_the_missing_range_and_appends_without_duplicates(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> None:
    history = HistoryStore(tmp_path)
    import_qqq_until(shared_data, history, "2019-12-31")
    route = respx_mock.get(url__startswith=CHART_URL.format(symbol="QQQ")).mock(
        return_value=httpx.Response(200, json=recorded_body(shared_data, QQQ_CHART))
    )
    async with httpx.AsyncClient() as client:
        market = market_with(history, client, AFTER_CLOSE_2020_01_02)
        snap = await market.refresh(["QQQ"])
    assert route.call_count == 1
    period1 = int(route.calls[0].request.url.params["period1"])
    start = datetime.fromtimestamp(period1, UTC).date()
    # Incremental: from a few sessions before the last stored bar, never the full 1999- history.
    assert date(2019, 12, 18) <= start <= date(2019, 12, 31)
    frame = history.load("QQQ")
    assert frame is not None and not frame.index.has_duplicates and frame.index.is_monotonic_increasing
    assert frame.index[-1] == pd.Timestamp("2020-01-02")
    assert snap.status["QQQ"].source == "yahoo" and not snap.status["QQQ"].stale


@respx.mock(assert_all_mocked=True)
async def test_refresh_in_a_process_without_a_snapshot_reads_only_the_frames_it_uses(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`capgap refresh` just after a start: freshness comes from the stored records and no frame is read
    that nothing uses; a frame used later is read then. A Market that holds a snapshot (a running bot)
    gets every frame of the new one at once."""
    writer = HistoryStore(tmp_path)
    import_qqq_until(shared_data, writer, "2019-12-31")
    dgs10 = read_series_csv(shared_data / SHARED_FILES["DGS10"], "DGS10").frame.loc[:"2019-12-31"]
    writer.write("DGS10", dgs10, source="csv", fetched_at=None)
    history = HistoryStore(tmp_path)  # another process, just started: nothing in memory
    reads: list[str] = []
    real_read = history.backend.read

    def counted(name: str, have: Mapping[int, str]) -> SeriesRead | None:
        reads.append(name)
        return real_read(name, have)

    monkeypatch.setattr(history.backend, "read", counted)
    respx_mock.get(url__startswith=CHART_URL.format(symbol="QQQ")).mock(
        return_value=httpx.Response(200, json=recorded_body(shared_data, QQQ_CHART))
    )
    async with httpx.AsyncClient() as client:
        market = market_with(history, client, AFTER_CLOSE_2020_01_02)
        snap = await market.refresh(["QQQ"])
        assert reads == []
        assert snap.status["QQQ"].last_date == date(2020, 1, 2) and not snap.status["QQQ"].stale
        assert snap.status["DGS10"].last_date == date(2019, 12, 31) and "DGS10" in snap.frames
        assert snap.close("QQQ").index[-1] == pd.Timestamp("2020-01-02") and reads == ["QQQ"]
        pd.testing.assert_frame_equal(snap.frame("DGS10"), dgs10, check_freq=False)
        again = await market.refresh(["QQQ"])
    assert isinstance(again.frames, dict) and sorted(again.frames) == ["DGS10", "QQQ"]


@respx.mock(assert_all_mocked=True)
async def test_refresh_with_every_source_failing_keeps_history_and_marks_it_stale(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> None:
    history = HistoryStore(tmp_path)
    import_qqq_until(shared_data, history, "2019-12-31")
    before = history.load("QQQ")
    respx_mock.get(url__startswith=CHART_URL.format(symbol="QQQ")).mock(return_value=httpx.Response(503, text="down"))
    respx_mock.get(url__regex=r"https://stooq\.com/.*").mock(return_value=httpx.Response(200, text="No data"))
    async with httpx.AsyncClient() as client:
        market = market_with(history, client, AFTER_CLOSE_2020_01_02)
        snap = await market.refresh(["QQQ"])
    status = snap.status["QQQ"]
    assert status.stale and status.last_date == date(2019, 12, 31)
    assert status.last_error is not None and "yahoo" in status.last_error and "stooq" in status.last_error
    after = history.load("QQQ")
    assert after is not None and before is not None and after.equals(before)


async def test_refresh_is_single_flight(tmp_path: Path) -> None:
    calls = 0
    gate = asyncio.Event()

    class SlowSource:
        name = "yahoo"

        def covers(self, series: str) -> bool:
            return series == "RUT"

        async def fetch(self, series: str, *, start: object, end: object, now: datetime):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            await gate.wait()
            from bot.sources.base import Fetched

            frame = pd.DataFrame({"close": [1.0]}, index=pd.DatetimeIndex([pd.Timestamp("2020-01-02")], name="date"))
            return Fetched(series, "yahoo", frame, now)

    market = Market(HistoryStore(tmp_path), FixedClock(AFTER_CLOSE_2020_01_02), {"yahoo": SlowSource()})  # type: ignore[dict-item]
    first = asyncio.create_task(market.refresh(["RUT"]))
    second = asyncio.create_task(market.refresh(["RUT"]))
    await asyncio.sleep(0.05)
    gate.set()
    a, b = await asyncio.gather(first, second)
    assert calls == 1 and a is b


def test_snapshot_readers_never_touch_the_network(tmp_path: Path, shared_data: Path) -> None:
    history = HistoryStore(tmp_path)
    import_qqq_until(shared_data, history, "2019-12-31")
    market = Market(history, FixedClock(AFTER_CLOSE_2020_01_02), sources={})
    snap = market.snapshot
    assert snap.close("QQQ").index[-1] == pd.Timestamp("2019-12-31")
    assert snap.status["QQQ"].stale  # 2020-01-02's close is missing at 2020-01-03 01:00 UTC


# --- intraday quotes --------------------------------------------------------------------------------

# 2020-01-02: regular session 09:30-16:00 New York = 14:30-21:00 UTC.
SESSION_2020_01_02 = (1577975400, 1577998800)
DURING_2020_01_02 = datetime(2020, 1, 2, 18, 0, tzinfo=UTC)


def chart_during_session(shared_data: Path) -> dict[str, object]:
    body = recorded_body(shared_data, QQQ_CHART)
    meta = body["chart"]["result"][0]["meta"]  # type: ignore[index]
    meta["currentTradingPeriod"]["regular"].update(start=SESSION_2020_01_02[0], end=SESSION_2020_01_02[1])
    return body


@asynccontextmanager
async def refreshed_during_session(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> AsyncIterator[tuple[HistoryStore, Market, respx.Route]]:
    """QQQ history to 2019-12-31, refreshed at 13:00 New York on 2020-01-02 (a live bar served)."""
    history = HistoryStore(tmp_path)
    import_qqq_until(shared_data, history, "2019-12-31")
    route = respx_mock.get(url__startswith=CHART_URL.format(symbol="QQQ")).mock(
        return_value=httpx.Response(200, json=chart_during_session(shared_data))
    )
    async with httpx.AsyncClient() as client:
        market = market_with(history, client, DURING_2020_01_02)
        await market.refresh(["QQQ"])
        yield history, market, route


@respx.mock(assert_all_mocked=True)
async def test_intraday_bar_is_a_live_quote_never_a_stored_close(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> None:
    async with refreshed_during_session(respx_mock, shared_data, tmp_path) as (history, market, _):
        snap = market.snapshot
    frame = history.load("QQQ")
    assert frame is not None and frame.index[-1] == pd.Timestamp("2019-12-31")  # not stored as a close
    assert snap.asof == date(2019, 12, 31)
    quote = snap.live["QQQ"]
    assert (quote.session, quote.source, quote.fetched_at) == (date(2020, 1, 2), "yahoo", DURING_2020_01_02)
    assert quote.price == pytest.approx(float(recorded_body(shared_data, QQQ_CHART)["chart"]["result"][0]  # type: ignore[index]
                                               ["indicators"]["quote"][0]["close"][-1]))
    assert snap.frames["QQQ"].index[-1] == pd.Timestamp("2019-12-31")


@respx.mock(assert_all_mocked=True)
async def test_live_quote_is_dropped_when_old_and_after_the_close(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> None:
    async with refreshed_during_session(respx_mock, shared_data, tmp_path) as (history, market, route):
        clock = market.clock
        assert isinstance(clock, FixedClock)
        clock.advance(minutes=21)  # no newer quote within LIVE_MAX_AGE: say nothing rather than an old price
        assert "QQQ" not in market.reload().live
        clock.instant = AFTER_CLOSE_2020_01_02
        route.mock(return_value=httpx.Response(200, json=recorded_body(shared_data, QQQ_CHART)))
        snap = await market.refresh(["QQQ"])
    assert snap.live == {} and snap.asof == date(2020, 1, 2)
    frame = history.load("QQQ")
    assert frame is not None and frame.index[-1] == pd.Timestamp("2020-01-02")


@respx.mock(assert_all_mocked=True)
async def test_past_as_of_snapshot_has_no_live_quotes(
    respx_mock: respx.MockRouter, shared_data: Path, tmp_path: Path
) -> None:
    async with refreshed_during_session(respx_mock, shared_data, tmp_path) as (_, market, _):
        assert "QQQ" in market.snapshot.live
        assert market.at(date(2019, 12, 30)).live == {}
        market.fixed_asof = date(2019, 12, 31)
        assert market.reload().live == {}


def test_one_corrupt_history_file_leaves_the_other_series_answering(tmp_path: Path) -> None:
    history = HistoryStore(tmp_path)
    days = pd.DatetimeIndex(pd.bdate_range("2020-01-02", periods=5), name="date")
    for name in ("RUT", "NDX"):
        history.write(name, pd.DataFrame({"close": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=days), source="csv", fetched_at=None)
    with closing(sqlite3.connect(tmp_path / "capgap.sqlite3")) as conn, conn:
        conn.execute("UPDATE history_chunks SET data = ? WHERE name = 'NDX'", (b"not a history chunk",))
    snap = Market(HistoryStore(tmp_path), FixedClock(datetime(2020, 1, 9, 1, 0, tzinfo=UTC))).reload()
    assert snap.close("RUT").iloc[-1] == 5.0
    assert "NDX" not in snap.frames
    status = snap.status["NDX"]
    assert status.stale and status.last_error is not None and "history of NDX is corrupt" in status.last_error


def test_refresh_report_logs_one_line_per_failing_source_not_per_series(caplog: pytest.LogCaptureFixture) -> None:
    from bot.market import RefreshReport

    report = RefreshReport()
    report.fetched["RUT"], report.rows["RUT"] = "yahoo", 1
    for name in ("NDX", "SPX", "IWM", "SPY", "QQQ"):
        report.fault("stooq", name, "stooq: HTTP 503 Service Unavailable from stooq.com (gave up after 3 attempts)")
        report.failed[name] = "every source failed"
    report.fault("yahoo", "SP600", "yahoo: chart of ^SP600: Yahoo says Not Found")
    with caplog.at_level("INFO", logger="bot.market"):
        report.log(logging.getLogger("bot.market"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "refresh pass: fetched yahoo: RUT +1; failed: IWM, NDX, QQQ, SPX, SPY"
    assert lines[1:] == [
        "refresh pass: stooq failed for IWM, NDX, QQQ, SPX, SPY: HTTP 503 Service Unavailable from stooq.com"
        " (gave up after 3 attempts)",
        "refresh pass: yahoo failed for SP600: chart of ^SP600: Yahoo says Not Found",
    ]
    assert not any(r.exc_info for r in caplog.records)
