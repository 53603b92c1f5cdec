"""Every Telegram fault at once over one fan-out of ~300 chats: two 429 storms (the second in the middle of
the run), chats that blocked the bot (403), chats that do not exist (400), groups migrated to
supergroups, requests that time out (Telegram still delivers them), 502s from the nginx in front.

No loss: every chat still reachable receives exactly its own message (a timed-out request may add one
duplicate, no more); the blocked and missing chats are deactivated and their items dead; the migrated
groups are moved in the store and get their message at the supergroup's id. The sender runs four
messages in flight, with Telegram's limits scaled 20x at the peer and the sender alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import FixedClock
from bot.delivery import DrainStats, Limits, Sender
from bot.store.base import ChatSettings, OutboxItem
from bot.store.sqlite import SqliteStore
from tests.telegram_peer import Limits as PeerLimits
from tests.telegram_peer import TelegramPeer

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

T0 = datetime(2025, 9, 18, 20, 30, tzinfo=UTC)
SCALE = 20.0
PRIVATE = list(range(1, 295))
GROUPS = [-5001, -5002, -5003, -5004, -5005, -5006]
SUPERGROUP = {g: -1_000_000_000_000 + g for g in GROUPS}  # -100… ids, as Telegram gives supergroups
BLOCKED = [7, 19, 33, 88, 120, 121, 200, 240, 255, 260, 280, 294]
MISSING = [2, 50, 99, 150, 151, 199, 250, 290]
SLOW = [10, 60, 110, 160, 210]  # answered after the client's read timeout, and delivered all the same
# Wide enough apart that a busy CI machine does not time out an ordinary request (which would make a
# legitimate duplicate of a chat the test expects exactly one message for): 0.3 s was not.
READ_TIMEOUT_S = 1.5
SLOW_DELAY_S = 2.5
BAD_GATEWAY = [11, 61, 111, 161]
STORM = 8  # requests answered 429 per storm
MID_STORM_AFTER = 150  # messages sent before the second storm


def text_of(chat_id: int) -> str:
    return f"<b>R2K</b> new high · 2,467.70 · chat {chat_id}"


def storm(peer: TelegramPeer) -> None:
    peer.fail_next(
        STORM, 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}, methods=["sendMessage"]
    )


async def test_fault_telegram_every_fault_at_once_loses_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    chats = PRIVATE + GROUPS
    for chat_id in PRIVATE:
        await store.put_chat(ChatSettings(chat_id=chat_id, lang="zh-Hant" if chat_id % 2 else "en"))
    for chat_id in GROUPS:
        await store.put_chat(ChatSettings(chat_id=chat_id, kind="group"))
    items = [
        OutboxItem(
            f"alert:r2k_high:2025-09-18:{c}", c, {"text": text_of(c)}, T0 + timedelta(microseconds=n), T0
        )
        for n, c in enumerate(chats)
    ]
    assert await store.enqueue(items) == 300
    clock = FixedClock(T0)

    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer:
        for chat_id in BLOCKED:
            peer.block(chat_id)
        for chat_id in MISSING:
            peer.chat_not_found(chat_id)
        for group in GROUPS:
            peer.migrate(group, SUPERGROUP[group])
        for chat_id in SLOW:
            peer.delay(chat_id, SLOW_DELAY_S, times=1)
        for chat_id in BAD_GATEWAY:
            peer.server_error(chat_id, 502)
        storm(peer)

        sent_so_far = 0

        def on_event(what: str, chat_id: int, detail: str) -> None:
            nonlocal sent_so_far
            if what == "sent":
                sent_so_far += 1
                if sent_so_far == MID_STORM_AFTER:
                    storm(peer)

        request = HTTPXRequest(connection_pool_size=8, read_timeout=READ_TIMEOUT_S)
        async with Bot(peer.token, base_url=peer.base_url, request=request) as bot:
            limits = Limits(
                overall_per_s=30 * SCALE,
                per_chat_per_s=SCALE,
                per_group_per_min=20 * SCALE,
                window_s=1 / SCALE,
            )
            sender = Sender(store, bot, clock, limits=limits, max_in_flight=4, on_event=on_event)
            total = DrainStats()
            for _ in range(200):
                stats = await sender.drain_once()
                for name in vars(total):
                    setattr(total, name, getattr(total, name) + getattr(stats, name))
                if (await store.outbox_counts())["pending"] == 0:
                    break
                if stats.claimed == 0:
                    clock.advance(seconds=1)  # backoff and retry_after come due without real waiting
            else:
                raise AssertionError(f"outbox not drained: {await store.outbox_counts()}")
            # The timed-out requests land at the peer SLOW_DELAY_S after they were made.
            await peer.wait_until(
                lambda: all(len(peer.calls("sendMessage", chat_id=c)) >= 2 for c in SLOW), timeout=10
            )

        unreachable = set(BLOCKED) | set(MISSING)
        duplicates = 0
        for chat_id in PRIVATE:
            received = [c.text for c in peer.messages_to(chat_id)]
            if chat_id in unreachable:
                assert received == [], chat_id
            elif chat_id in SLOW:
                assert received in ([text_of(chat_id)], [text_of(chat_id)] * 2), chat_id
                duplicates += len(received) - 1
            else:
                assert received == [text_of(chat_id)], chat_id
        for group in GROUPS:
            assert peer.messages_to(group) == []
            assert [c.text for c in peer.messages_to(SUPERGROUP[group])] == [text_of(group)]
        peer_stats = peer.stats()
        print(
            f"\nTelegram faults over {len(chats)} chats: {total.sent} delivered, {total.dead} dead "
            f"({len(BLOCKED)} blocked, {len(MISSING)} not found), {total.migrated} migrated, "
            f"{total.rate_limited} 429s in 2 storms, {total.retried} retries ({len(SLOW)} timeouts, "
            f"{len(BAD_GATEWAY)} 502s), {duplicates} duplicates; peer: {peer_stats.too_many_requests} 429s, "
            f"{peer_stats.flood_violations} flood violations"
        )
        assert duplicates <= len(SLOW)
        assert (total.sent, total.dead, total.migrated) == (280, 20, 6)
        assert total.rate_limited == 2 * STORM
        assert total.retried == len(SLOW) + len(BAD_GATEWAY)
        # Every 429 was a storm's: the sender itself never went over a limit or ignored a retry_after.
        assert (peer_stats.too_many_requests, peer_stats.flood_violations) == (2 * STORM, 0)

    for chat_id in PRIVATE:
        settings = await store.get_chat(chat_id)
        assert settings is not None and settings.active is (chat_id not in unreachable), chat_id
    for group in GROUPS:
        assert await store.get_chat(group) is None
        moved = await store.get_chat(SUPERGROUP[group])
        assert moved is not None and moved.active
    assert await store.outbox_counts() == {"pending": 0, "sent": 280, "dead": 20}
    await store.close()
