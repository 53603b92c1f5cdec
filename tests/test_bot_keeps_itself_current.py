"""The running bot fetches its own data and acts on it: started through the same code path as
`capgap run` (bot.__main__._services + bot.app.build_bot), with Yahoo, FRED, CME and Stooq answered
from the real data (tests/fake_vendors.py) and Telegram by the Bot API peer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.__main__ import _services
from bot.__main__ import main as capgap
from bot.app import build_bot
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.sources.csvfile import read_series_csv
from bot.store.base import ChatSettings, Subscription
from bot.store.factory import make_store
from tests.fake_vendors import FakeVendors
from tests.telegram_peer import TelegramPeer

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
CHAT = 4242
FIRST_RECORD = "2,467.70"  # the close of 2025-09-18, the first above the 2021 record


def ny(day: str, hh: int, mm: int = 0) -> FixedClock:
    return FixedClock(datetime.fromisoformat(day).replace(hour=hh, minute=mm, tzinfo=NEW_YORK))


def settings_for(peer: TelegramPeer, data_dir: Path, *, refresh: bool = True) -> Settings:
    return Settings(
        telegram_token=peer.token,
        telegram_base_url=peer.base_url,
        data_dir=data_dir,
        redis_url=None,  # the embedded store the test seeds, whatever CAPGAP_REDIS_URL the environment has
        refresh_enabled=refresh,
        intraday_refresh_minutes=0,
        _env_file=None,  # type: ignore[call-arg]
    )


async def seed(shared_data: Path, data_dir: Path, through: str) -> None:
    """History as a bot that ran until ``through`` left it, and one chat subscribed to r2k_high."""
    rut = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT").frame
    HistoryStore(data_dir).write("RUT", rut.loc[:through], source="yahoo", fetched_at=None)
    store = make_store(data_dir=data_dir, redis_url=None)
    await store.open()
    await store.put_chat(ChatSettings(chat_id=CHAT, lang="en"))
    await store.put_subscription(Subscription(chat_id=CHAT, rule_id="r2k_high"))
    await store.close()


@contextlib.asynccontextmanager
async def capgap_run(settings: Settings, clock: FixedClock, vendors: FakeVendors) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """What `capgap run` does, up to PTB's run_polling: the same services, the same Application."""
    services = _services(settings, asof=None, with_store=True, clock=clock)
    async with vendors.client() as client:
        application = build_bot(settings, services, http_client=client)
        async with application:
            assert application.post_init is not None and application.updater is not None
            await application.post_init(application)
            await application.start()
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                yield application
            finally:
                await application.updater.stop()
                await application.stop()
                assert application.post_stop is not None and application.post_shutdown is not None
                await application.post_stop(application)
                await application.post_shutdown(application)


async def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def alerts_to(peer: TelegramPeer) -> list[str]:
    return [m.text or "" for m in peer.messages_to(CHAT) if FIRST_RECORD in (m.text or "")]


async def test_run_catches_up_at_start_fetches_from_every_vendor_and_alerts_once(
    tmp_path: Path, shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await seed(shared_data, tmp_path, "2025-09-16")
    async with TelegramPeer() as peer:
        settings = settings_for(peer, tmp_path)
        # Wednesday 17 September, after the close: the bot runs its evening passes, evaluates r2k_high.
        vendors = FakeVendors(shared_data, through=date(2025, 9, 17))
        async with capgap_run(settings, ny("2025-09-17", 17, 30), vendors) as app:
            await wait_for(lambda: any(r.getMessage().startswith("watch:") for r in caplog.records), 30,
                           "the startup pass to fetch and evaluate the rules")
            assert app.bot_data.services.history.last_date("RUT") == date(2025, 9, 17)
        assert vendors.asked("yahoo.com", "/v8/finance/chart/%5ERUT") or vendors.asked("yahoo.com", "/v8/finance/chart/^RUT")
        assert vendors.asked("fred.stlouisfed.org", "fredgraph.csv")
        assert vendors.asked("cmegroup.com", "/Settlements/")
        assert alerts_to(peer) == []

        # Thursday 18 September, 20:00 New York: the bot was down for the 16:25 and 17:15 passes. It
        # fetches at once on start, not at the next scheduled slot (21:00), and the record alert goes out.
        vendors = FakeVendors(shared_data, through=date(2025, 9, 18))
        started = asyncio.get_running_loop().time()
        async with capgap_run(settings, ny("2025-09-18", 20), vendors):
            await wait_for(lambda: len(alerts_to(peer)) >= 1, 30, "the r2k_high alert")
            assert asyncio.get_running_loop().time() - started < 30
            await asyncio.sleep(1.0)  # nothing more arrives
        assert len(alerts_to(peer)) == 1
        assert "Russell 2000 new high" in alerts_to(peer)[0]

        # A third start on the same evening sends nothing twice.
        async with capgap_run(settings, ny("2025-09-18", 20, 30), FakeVendors(shared_data, through=date(2025, 9, 18))):
            await asyncio.sleep(3.0)
        assert len(alerts_to(peer)) == 1
    passes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refresh pass: fetched")]
    assert passes and "yahoo: RUT" in passes[-1]


async def test_refresh_disabled_import_into_the_running_bot_still_alerts(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(shared_data, tmp_path, "2025-09-17")
    rut = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT").frame
    newer = tmp_path / "rut_newer.csv"
    rut.loc[:"2025-09-18"].rename(columns=str.capitalize).rename_axis("Date").to_csv(newer)
    monkeypatch.setenv("CAPGAP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CAPGAP_REDIS_URL", raising=False)  # `capgap import` writes the bot's embedded store
    async with TelegramPeer() as peer:
        settings = settings_for(peer, tmp_path, refresh=False)
        clock = ny("2025-09-17", 18)
        vendors = FakeVendors(shared_data, through=date(2025, 9, 18))
        async with capgap_run(settings, clock, vendors) as app:
            services = app.bot_data.services
            await wait_for(lambda: services.market.last_report is None and services.market.snapshot.asof == date(2025, 9, 17),
                           5, "the start")
            await asyncio.sleep(2.0)  # the startup pass evaluates the rules on what history holds
            clock.instant = ny("2025-09-18", 18).now()
            assert await asyncio.to_thread(capgap, ["import", str(newer), "--series", "RUT"]) == 0
            await wait_for(lambda: len(alerts_to(peer)) >= 1, 30, "the alert after the import")
        assert len(alerts_to(peer)) == 1
        assert vendors.requests == []  # refreshing is off: the bot fetched nothing itself
