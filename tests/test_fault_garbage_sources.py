"""Garbage from every source: whatever the vendors answer (random bodies, statuses, truncated JSON,
HTML, slow answers), the refresh raises nothing, no stored number changes, the series go stale and the
snapshot (and so /status) says why."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FixedClock
from bot.history import HistoryStore
from bot.market import Market
from bot.render.status import render_status
from bot.sources.registry import build_sources
from bot.sources.yahoo import YahooSource
from bot.sources.yahoo_pe import YahooPESource

NOW = datetime(2026, 2, 24, 23, 0, tzinfo=UTC)  # after Tuesday's close: Monday's and Tuesday's bars missing

BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.sampled_from([
        b"<!DOCTYPE html><html><head><title>Service unavailable</title></head><body>try later</body></html>",
        b'{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found"}}}',
        b'{"chart":{"result":[{"meta":{},"timestamp":[1,2],"indicators":{"quote":[{"close":[1]}]}}]}}',
        b'{"chart":{"result":[{"meta":{},"timestamp":[1771858800],"indicators":{"quote":[{"close":[NaN]}]}}]}}',
        b'{"settlements":[{"month":"MAR 26","settle":"-"}],"empty":true}',
        b'{"settlements": [',
        b"observation_date,DFEDTARU\n2026-02-24,abc\n",
        b"DATE,DFEDTARU\n2026-02-24,4.0\n2026-02-23,3.9\n",
        b"Date,Open,High,Low,Close,Volume\n2026-02-24,1,1,1,NaN,0\n",
        b"No data",
        b"",
        json.dumps({"quoteSummary": {"result": [{"summaryDetail": {"trailingPE": "x"}}]}}).encode(),
    ]),
)
STATUSES = st.sampled_from([200, 200, 200, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503])


def seeded_history(tmp: Path) -> HistoryStore:
    history = HistoryStore(tmp)
    days = pd.bdate_range("2026-01-02", "2026-02-20")
    for name in ("RUT", "NDX", "SPX", "IWM"):
        history.write(name, pd.DataFrame({"close": [100.0 + i for i in range(len(days))]}, index=days), source="yahoo",
                      fetched_at=None)
    for name in ("DFEDTARU", "DFEDTARL", "EFFR"):
        history.write(name, pd.DataFrame({"value": [3.75] * len(days)}, index=days), source="fred", fetched_at=None)
    return history


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(st.tuples(STATUSES, BODIES, st.booleans()), min_size=1, max_size=8))
def test_refresh_survives_any_garbage_and_changes_no_number(tmp_path_factory, bodies) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("garbage")
    history = seeded_history(tmp)
    before = {n: history.load(n) for n in history.names()}
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        status, body, slow = bodies[calls % len(bodies)]
        calls += 1
        if slow and calls % 3 == 0:
            raise httpx.ReadTimeout("slow vendor", request=request)
        return httpx.Response(status, content=body, headers={"Retry-After": "1"} if status == 429 else {})

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sources = build_sources(client)
            for source in sources.values():  # no real backoff sleeps in tests
                if hasattr(source, "_sleep"):
                    source._sleep = lambda s: asyncio.sleep(0)  # type: ignore[attr-defined]
            market = Market(history, FixedClock(NOW), sources)
            snap = await market.refresh()
            for name in ("RUT", "NDX", "SPX", "IWM", "DFEDTARU"):
                status = snap.status[name]
                after = history.load(name)
                assert after is not None
                # Either the garbage was refused (series unchanged, stale, and the error is named) or it was
                # a well-formed answer; a half-parsed number is never stored.
                if after.equals(before[name]):
                    if name != "DFEDTARU":
                        assert status.stale and status.last_error, (name, status)
                else:
                    assert not after.index.has_duplicates and after.index.is_monotonic_increasing
                    assert after.notna().all().all()
            text = render_status(snap, "en", store_ok=True, outbox={"pending": 0, "sent": 0, "dead": 0})
            assert "STALE" in text and "last error" in text

    asyncio.run(scenario())


def test_sources_registry_builds_every_provider() -> None:
    async def build() -> set[str]:
        async with httpx.AsyncClient() as client:
            return set(build_sources(client))

    assert asyncio.run(build()) == {"yahoo", "yahoo_pe", "fred", "stooq", "cme"}
    assert YahooSource.name == "yahoo" and YahooPESource.name == "yahoo_pe"
