"""End to end: a new Russell 2000 close fires r2k_high for 200 subscribed chats, the watcher writes one
message per chat to the outbox, and the sender delivers them to the Telegram peer within its limits —
through a blocked chat, a 429 and a rerun of the watch."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot import calendar
from bot.alerts.watcher import watch_once
from bot.clock import FixedClock
from bot.delivery import Limits, Sender
from bot.history import HistoryStore
from bot.market import Market
from bot.render.alerts import render_alerts
from bot.sources.csvfile import read_series_csv
from bot.store.base import ChatSettings, Subscription
from bot.store.sqlite import SqliteStore
from tests.telegram_peer import Limits as PeerLimits
from tests.telegram_peer import TelegramPeer

CHATS = list(range(10_001, 10_201))
BLOCKED = 10_005
FLOODED = 10_007


async def drain(sender: Sender, store: SqliteStore, clock: FixedClock, *, rounds: int = 50) -> None:
    for _ in range(rounds):
        await sender.drain_once()
        counts = await store.outbox_counts()
        if counts["pending"] == 0:
            return
        clock.advance(seconds=2)  # retries and RetryAfter become due without sleeping
        await asyncio.sleep(0.05)
    raise AssertionError(f"outbox not drained: {await store.outbox_counts()}")


async def test_r2k_high_reaches_every_subscribed_chat_once(tmp_path: Path, shared_data: Path) -> None:
    rut = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT").frame
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", rut.loc[:"2025-09-17"], source="yahoo", fetched_at=None)
    clock = FixedClock(calendar.session_close(date(2025, 9, 17)) + timedelta(minutes=30))
    market = Market(history, clock)
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    for chat_id in CHATS:
        await store.put_chat(ChatSettings(chat_id=chat_id, lang="zh-Hant" if chat_id % 2 else "en"))
        await store.put_subscription(Subscription(chat_id=chat_id, rule_id="r2k_high"))

    first = await watch_once(store, market.reload(), clock.now(), render_alerts)
    assert first.events == 0 and first.evaluated == {"r2k_high": 1}  # starts at the latest bar, silently

    history.upsert("RUT", rut.loc["2025-09-18":"2025-09-18"], source="yahoo", fetched_at=None)
    clock.instant = calendar.session_close(date(2025, 9, 18)) + timedelta(minutes=30)
    snap = market.reload()
    report = await watch_once(store, snap, clock.now(), render_alerts)
    assert report.events == len(CHATS) and report.messages == len(CHATS)
    again = await watch_once(store, snap, clock.now(), render_alerts)
    assert again.events == 0 and again.messages == 0  # a rerun of the same bar sends nothing twice

    async with TelegramPeer(limits=PeerLimits(scale=20)) as peer:
        peer.block(BLOCKED)
        peer.flood_once(FLOODED, retry_after=1)
        bot = Bot(peer.token, base_url=peer.base_url, request=HTTPXRequest(connection_pool_size=64))
        async with bot:
            sender = Sender(store, bot, clock, limits=Limits(overall_per_s=600, per_chat_per_s=20, per_group_per_min=400))
            await drain(sender, store, clock)
        for chat_id in CHATS:
            received = peer.messages_to(chat_id)
            if chat_id == BLOCKED:
                assert received == []
            else:
                assert len(received) == 1, chat_id
                text = received[0].text or ""
                assert ("2,467.70" in text) and ("羅素 2000 創新高" in text if chat_id % 2 else "Russell 2000 new high" in text)
        assert peer.stats().too_many_requests >= 1
    blocked = await store.get_chat(BLOCKED)
    assert blocked is not None and not blocked.active
    counts = await store.outbox_counts()
    assert counts == {"pending": 0, "sent": len(CHATS) - 1, "dead": 1}
    await store.close()


async def test_stale_source_holds_the_rule(tmp_path: Path, shared_data: Path) -> None:
    rut = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT").frame
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", rut.loc[:"2025-09-17"], source="yahoo", fetched_at=None)
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    await store.put_chat(ChatSettings(chat_id=1))
    await store.put_subscription(Subscription(chat_id=1, rule_id="r2k_high"))
    clock = FixedClock(calendar.session_close(date(2025, 9, 19)) + timedelta(minutes=30))  # 09-18 and 09-19 missing
    report = await watch_once(store, Market(history, clock).reload(), clock.now(), render_alerts)
    assert report.held == {"r2k_high": "stale: RUT"} and report.events == 0
    assert await store.get_meta("watch:r2k_high:last_bar") is None
    await store.close()


@pytest.mark.parametrize("muted_chat", [True, False])
async def test_muted_chat_gets_no_alert_but_its_state_advances(tmp_path: Path, shared_data: Path, muted_chat: bool) -> None:
    rut = read_series_csv(shared_data / "indices" / "RUT_yahoo_alitalbi.csv", "RUT").frame
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", rut.loc[:"2025-09-17"], source="yahoo", fetched_at=None)
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    clock = FixedClock(calendar.session_close(date(2025, 9, 17)) + timedelta(minutes=30))
    until = clock.now() + timedelta(days=3)
    await store.put_chat(ChatSettings(chat_id=1, muted_until=until if muted_chat else None))
    await store.put_subscription(Subscription(chat_id=1, rule_id="r2k_high", muted_until=None if muted_chat else until))
    market = Market(history, clock)
    await watch_once(store, market.reload(), clock.now(), render_alerts)
    history.upsert("RUT", rut.loc["2025-09-18":"2025-09-18"], source="yahoo", fetched_at=None)
    clock.instant = calendar.session_close(date(2025, 9, 18)) + timedelta(minutes=30)
    report = await watch_once(store, market.reload(), clock.now(), render_alerts)
    assert report.events == 1 and report.messages == 0
    states = await store.get_alert_states("r2k_high")
    assert states and "2025-09-18" in str(states)  # the group's record advanced past the firing bar
    await store.close()
