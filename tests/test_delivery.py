"""The outbox sender (bot/delivery.py) with a real PTB Bot against the Telegram Bot API peer, over both
store backends (a SQLite file and a real Redis).

Store time is a FixedClock the tests advance, so backoff and RetryAfter reschedules never cost real
seconds; the peer and the sender's pacer run on real monotonic time, with Telegram's limits scaled up
(``Limits(scale=...)`` at the peer, the same rates and a window of ``1/scale`` s at the sender) so that a
"second" lasts a fraction of one.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import logging
import math
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import FixedClock
from bot.delivery import BACKOFF_BASE_S, DrainStats, Limits, Sender, _Pacer
from bot.i18n import Safe
from bot.seam import Chart, Reply
from bot.store.base import ChatSettings, OutboxItem, Store, Subscription
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from bot.telegram_edge import planned
from tests.telegram_peer import Limits as PeerLimits
from tests.telegram_peer import SentCall, TelegramPeer, grey_png

# PTB 22 warns on every RetryAfter built from the Bot API's integer retry_after.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

T0 = datetime(2025, 9, 18, 20, 30, tzinfo=UTC)  # half an hour after the close that set the R2K record
SCALE = 20.0  # the peer's clock runs 20x: 600 messages/s overall, 20/s per chat


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "sqlite":
        backend = SqliteStore(tmp_path / "capgap.sqlite3")
    else:
        backend = RedisStore(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
        )
    await backend.open()
    yield backend
    await backend.close()


def scaled_limits(scale: float = SCALE) -> Limits:
    """Telegram's limits (30/s overall, 1/s per chat, 20/min per group) with time running ``scale``x."""
    return Limits(
        overall_per_s=30 * scale, per_chat_per_s=scale, per_group_per_min=20 * scale, window_s=1 / scale
    )


def make_bot(peer: TelegramPeer, *, read_timeout: float = 5.0) -> Bot:
    return Bot(
        peer.token,
        base_url=peer.base_url,
        request=HTTPXRequest(connection_pool_size=8, read_timeout=read_timeout),
    )


# A digest's text: longer than a photo caption, so the chart goes under its own caption, then the text.
DIGEST_TEXT = "<b>capgap daily</b> · close of 2025-09-18\n" + "\n".join(f"<b>{n:02d}</b> " + "x" * 60 for n in range(20))


def digest(png: bytes, caption: str) -> dict[str, object]:
    return planned(Reply(Safe(DIGEST_TEXT), Chart(png, Safe(caption))))


def alert(
    chat_id: int, *, tag: str = "test", text: str | None = None, order: int | None = None
) -> OutboxItem:
    """The alert of one chat; ``order`` (µs after T0) sets its place in the claim order."""
    created = T0 + timedelta(microseconds=chat_id if order is None else order)
    return OutboxItem(
        key=f"alert:{tag}:{chat_id}",
        chat_id=chat_id,
        payload={"text": text if text is not None else f"<b>R2K</b> new high · chat {chat_id}"},
        created_at=created,
        not_before=T0,
    )


async def enqueue_alerts(store: Store, chats: list[int]) -> None:
    """Each chat stored, with one alert in the outbox, claimed in the order of ``chats``."""
    for chat_id in chats:
        await store.put_chat(ChatSettings(chat_id=chat_id))
    assert await store.enqueue([alert(c, order=n) for n, c in enumerate(chats)]) == len(chats)


async def drain(
    sender: Sender, store: Store, clock: FixedClock, *, step_s: float = 1.0, rounds: int = 100
) -> DrainStats:
    """drain_once until nothing is pending, moving store time on whenever nothing was due; summed stats."""
    total = DrainStats()
    for _ in range(rounds):
        stats = await sender.drain_once()
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if (await store.outbox_counts())["pending"] == 0:
            return total
        if stats.claimed == 0:
            clock.advance(seconds=step_s)
    raise AssertionError(f"outbox not drained after {rounds} rounds: {await store.outbox_counts()}")


def delivered(peer: TelegramPeer, chat_id: int) -> list[SentCall]:
    return peer.messages_to(chat_id)


class OffsetMonotonic:
    """time.monotonic() plus jumps the test makes, so the pacer's one-minute group window passes at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


# fan-out ---------------------------------------------------------------------------------------------


async def test_sender_200_chats_each_get_exactly_one_message_and_rerun_sends_nothing(store: Store) -> None:
    chats = list(range(1, 201))
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer, make_bot(peer) as bot:
        sender = Sender(store, bot, clock, limits=scaled_limits(), batch=64)
        stats = await drain(sender, store, clock)
        assert (stats.claimed, stats.sent, stats.retried, stats.dead, stats.rate_limited) == (
            200,
            200,
            0,
            0,
            0,
        )
        for chat_id in chats:
            assert [c.text for c in delivered(peer, chat_id)] == [f"<b>R2K</b> new high · chat {chat_id}"]
        assert peer.stats().too_many_requests == 0
        assert await store.outbox_counts() == {"pending": 0, "sent": 200, "dead": 0}

        calls = len(peer.sent)
        clock.advance(hours=1)
        rerun = await sender.drain_once()
        assert (rerun.claimed, rerun.sent) == (0, 0)
        assert await store.enqueue([alert(c) for c in chats]) == 0  # the watch job reruns for the same bar
        assert (await sender.drain_once()).claimed == 0
        assert len(peer.sent) == calls


# RetryAfter ------------------------------------------------------------------------------------------


async def test_sender_retry_after_pauses_every_chat_then_resends_the_item(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.delivery")
    chats = list(range(1, 31))
    flooded = 5
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer, make_bot(peer) as bot:
        peer.flood_once(flooded, retry_after=1)
        # The 429 comes back after 60 ms, longer than the sender's interval between sends, as a real
        # round trip to Telegram (50-100 ms) is longer than 1/30 s.
        peer.delay(flooded, 0.06, times=1)
        sender = Sender(store, bot, clock, limits=scaled_limits())
        first = await sender.drain_once()
        assert (first.claimed, first.sent, first.rate_limited) == (30, 29, 1)
        [refused] = [c for c in peer.sent if c.status == 429]
        assert refused.chat_id == flooded
        after = [c for c in peer.sent if c.time > refused.time]
        assert len(after) == 30 - flooded
        # Telegram's flood control is account-wide: no chat is sent anything until retry_after is over.
        assert min(c.time for c in after) - refused.time >= 1.0

        assert (await sender.drain_once()).claimed == 0  # the item is due again only after retry_after
        clock.advance(seconds=1)
        again = await sender.drain_once()
        assert (again.claimed, again.sent) == (1, 1)
        [resent] = delivered(peer, flooded)
        assert resent.time - refused.time >= 1.0
        for chat_id in chats:
            assert len(delivered(peer, chat_id)) == 1
        assert peer.stats().too_many_requests == 1 and peer.stats().flood_violations == 0
        # One line for the operator, no traceback.
        [line] = [r for r in caplog.records if "429" in r.getMessage()]
        assert line.levelno == logging.WARNING and line.exc_info is None and f"chat {flooded}" in line.getMessage()


async def test_sender_retry_after_longer_than_lease_hands_the_batch_back(store: Store) -> None:
    chats = list(range(1, 11))
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer() as peer, make_bot(peer) as bot:
        peer.flood_once(1, retry_after=1)
        sender = Sender(store, bot, clock, limits=scaled_limits(), lease_s=0.5)
        started = time.monotonic()
        stats = await sender.drain_once()
        # Sleeping out the pause would outlive the lease, after which another process may claim the
        # same items and send them too: they go back to the queue, due when the pause ends.
        assert time.monotonic() - started < 0.5
        assert (stats.claimed, stats.sent, stats.rate_limited, stats.deferred) == (10, 0, 1, 9)
        other = await store.claim(
            "another-process", now=clock.now() + timedelta(seconds=0.9), limit=100, lease_s=60
        )
        assert other == []
        # A pause is not a failed send: neither the refused item nor those handed back count an attempt.
        handed = await store.claim("peek", now=clock.now() + timedelta(seconds=1), limit=100, lease_s=60)
        assert [i.attempts for i in handed] == [0] * 10
        for i in handed:
            await store.reschedule(i.key, not_before=i.not_before, error=i.last_error or "", attempt=False)
        await asyncio.sleep(1.0 - (time.monotonic() - started))  # the sender's own pause runs in real time
        clock.advance(seconds=1)
        await drain(sender, store, clock)
        for chat_id in chats:
            assert len(delivered(peer, chat_id)) == 1


# 403, 400 chat not found, migration -------------------------------------------------------------------


async def test_sender_forbidden_chats_deactivated_items_dead_rest_delivered(store: Store) -> None:
    chats = list(range(1, 41))
    blocked = {3, 17, 18, 40}
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer, make_bot(peer) as bot:
        for chat_id in blocked:
            peer.block(chat_id)
        stats = await drain(Sender(store, bot, clock, limits=scaled_limits()), store, clock)
        assert (stats.sent, stats.dead) == (36, 4)
        for chat_id in chats:
            assert len(delivered(peer, chat_id)) == (0 if chat_id in blocked else 1)
    for chat_id in chats:
        settings = await store.get_chat(chat_id)
        assert settings is not None
        assert settings.active is (chat_id not in blocked)
        if chat_id in blocked:
            assert settings.inactive_reason == "forbidden: Forbidden: bot was blocked by the user"
    assert await store.outbox_counts() == {"pending": 0, "sent": 36, "dead": 4}


async def test_sender_chat_not_found_deactivates_the_chat(store: Store) -> None:
    chats = [11, 12, 13]
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer() as peer, make_bot(peer) as bot:
        peer.chat_not_found(12)
        stats = await drain(Sender(store, bot, clock, limits=scaled_limits()), store, clock)
        assert (stats.sent, stats.dead) == (2, 1)
        assert [len(delivered(peer, c)) for c in chats] == [1, 0, 1]
    gone = await store.get_chat(12)
    assert gone is not None and gone.active is False
    assert gone.inactive_reason == "bad request: Chat not found"
    assert [(await store.get_chat(c)).active for c in (11, 13)] == [True, True]  # type: ignore[union-attr]
    assert await store.outbox_counts() == {"pending": 0, "sent": 2, "dead": 1}


async def test_sender_group_migrated_message_reaches_supergroup_and_store_moves_chat(store: Store) -> None:
    old, new = -4001, -1_000_000_004_001
    await store.put_chat(ChatSettings(chat_id=old, kind="group", lang="zh-Hant"))
    await store.put_subscription(Subscription(chat_id=old, rule_id="r2k_high", created_at=T0))
    assert await store.enqueue([alert(old)]) == 1
    clock = FixedClock(T0)
    async with TelegramPeer() as peer, make_bot(peer) as bot:
        peer.migrate(old, new)
        stats = await drain(Sender(store, bot, clock, limits=scaled_limits()), store, clock)
        assert (stats.sent, stats.migrated, stats.dead) == (1, 1, 0)
        assert delivered(peer, old) == []
        assert [c.text for c in delivered(peer, new)] == [f"<b>R2K</b> new high · chat {old}"]
    assert await store.get_chat(old) is None
    moved = await store.get_chat(new)
    assert moved is not None and moved.lang == "zh-Hant" and moved.active
    assert [s.rule_id for s in await store.list_subscriptions(chat_id=new)] == ["r2k_high"]
    assert await store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 0}


# timeouts --------------------------------------------------------------------------------------------


async def test_sender_timeout_retried_with_backoff_at_most_one_duplicate(store: Store) -> None:
    chats = list(range(1, 11))
    slow = 9
    await enqueue_alerts(store, chats)
    clock = FixedClock(T0)
    async with TelegramPeer() as peer, make_bot(peer, read_timeout=0.25) as bot:
        peer.delay(slow, 0.6, times=1)  # Telegram still delivers a request the client stopped waiting for
        sender = Sender(store, bot, clock, limits=scaled_limits())
        first = await sender.drain_once()
        assert (first.sent, first.retried) == (9, 1)
        assert (await sender.drain_once()).claimed == 0  # backing off: not due for BACKOFF_BASE_S
        clock.advance(seconds=BACKOFF_BASE_S - 0.001)
        assert (await sender.drain_once()).claimed == 0
        clock.advance(seconds=0.001)
        second = await sender.drain_once()
        assert (second.claimed, second.sent) == (1, 1)
        await peer.wait_until(lambda: len(peer.calls("sendMessage", chat_id=slow)) == 2, timeout=3)
        received = delivered(peer, slow)
        duplicates = len(received) - 1
        print(
            f"\ntimeout then retry: chat {slow} received {len(received)} message(s), {duplicates} duplicate"
        )
        assert 0 <= duplicates <= 1
        assert {c.text for c in received} == {f"<b>R2K</b> new high · chat {slow}"}
        for chat_id in chats:
            if chat_id != slow:
                assert len(delivered(peer, chat_id)) == 1
    assert await store.outbox_counts() == {"pending": 0, "sent": 10, "dead": 0}


# pacing ----------------------------------------------------------------------------------------------


async def test_sender_two_items_for_one_chat_spaced_by_the_per_chat_interval(store: Store) -> None:
    scale = 5.0  # one chat-second lasts 0.2 s
    await enqueue_alerts(store, [1, 2, 7, 3])
    assert await store.enqueue([alert(7, tag="second", order=10)]) == 1
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=scale)) as peer, make_bot(peer) as bot:
        stats = await drain(Sender(store, bot, clock, limits=scaled_limits(scale)), store, clock)
        assert stats.sent == 5
        first, second = delivered(peer, 7)
        assert second.time - first.time >= 1 / scale
        assert peer.stats().too_many_requests == 0


async def test_sender_group_limited_to_20_per_minute_then_deferred(store: Store) -> None:
    group = -300
    await store.put_chat(ChatSettings(chat_id=group, kind="group"))
    assert await store.enqueue([alert(group, tag=f"n{n:02d}", order=n) for n in range(21)]) == 21
    clock = FixedClock(T0)
    monotonic = OffsetMonotonic()
    # The peer counts the group's minute in real time: 20 within it pass, a 21st would get 429.
    peer_limits = PeerLimits(global_per_second=30, per_chat_per_second=50, per_group_per_minute=20, scale=1.0)
    async with TelegramPeer(limits=peer_limits) as peer, make_bot(peer) as bot:
        limits = Limits(overall_per_s=600, per_chat_per_s=50, per_group_per_min=20, window_s=0.05)
        sender = Sender(store, bot, clock, limits=limits, monotonic=monotonic)
        stats = await sender.drain_once()
        assert (stats.claimed, stats.sent, stats.deferred) == (21, 20, 1)
        assert len(delivered(peer, group)) == 20 and peer.stats().too_many_requests == 0

        clock.advance(seconds=55)
        assert (await sender.drain_once()).claimed == 0  # given back with the time the window frees
        clock.advance(seconds=5)
        monotonic.offset += 60.0
        peer.set_limits(None)  # the minute passed on the sender's clocks only
        late = await sender.drain_once()
        assert (late.claimed, late.sent) == (1, 1)
        assert [c.text for c in delivered(peer, group)][-1] == f"<b>R2K</b> new high · chat {group}"
        assert len(delivered(peer, group)) == 21


# payloads of several messages -----------------------------------------------------------------------


async def test_sender_photo_and_text_payload_paced_without_duplicate_photo(store: Store) -> None:
    scale = 5.0
    chats = [21, 22, 23]
    for chat_id in chats:
        await store.put_chat(ChatSettings(chat_id=chat_id))
    chart = grey_png()
    payload = digest(chart, "Russell 2000, 1 year")
    now = T0
    assert (
        await store.enqueue([OutboxItem(f"digest:{c}:2025-09-18", c, payload, now, now) for c in chats]) == 3
    )
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=scale)) as peer, make_bot(peer) as bot:
        stats = await drain(
            Sender(store, bot, clock, limits=scaled_limits(scale)), store, clock, step_s=1 / scale
        )
        assert (stats.sent, stats.dead, stats.rate_limited) == (3, 0, 0)
        for chat_id in chats:
            photo, text = delivered(peer, chat_id)
            assert (photo.method, photo.text) == ("sendPhoto", "Russell 2000, 1 year")
            assert (text.method, text.text) == ("sendMessage", DIGEST_TEXT)
            assert text.time - photo.time >= 1 / scale
        assert len(peer.calls("sendPhoto")) == 3 and peer.stats().too_many_requests == 0
        # The chart is uploaded once; the other chats get Telegram's file_id of it.
        assert [c.photo for c in peer.calls("sendPhoto")] == [chart, None, None]
    assert await store.outbox_counts() == {"pending": 0, "sent": 3, "dead": 0}


async def test_sender_text_over_4096_characters_split_into_ordered_parts(store: Store) -> None:
    lines = [f"<b>{n:03d}</b> " + "x" * 90 for n in range(100)]  # 100 lines of 101: 10,199 characters
    text = "\n".join(lines)
    await store.put_chat(ChatSettings(chat_id=31))
    assert await store.enqueue([alert(31, text=text)]) == 1
    clock = FixedClock(T0)
    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer, make_bot(peer) as bot:
        stats = await drain(Sender(store, bot, clock, limits=scaled_limits()), store, clock, step_s=1 / SCALE)
        assert (stats.sent, stats.dead) == (1, 0)
        parts = [c.text or "" for c in delivered(peer, 31)]
        assert [len(p) for p in parts] == [4079, 4079, 2039]  # 40, 40 and 20 whole lines
        assert "\n".join(parts) == text
        assert peer.stats().too_many_requests == 0


async def test_sender_parts_already_sent_not_resent_after_a_retry_or_a_restart(store: Store) -> None:
    await store.put_chat(ChatSettings(chat_id=41))
    payload = digest(grey_png(), "chart")
    assert await store.enqueue([OutboxItem("digest:41:2025-09-18", 41, payload, T0, T0)]) == 1
    clock = FixedClock(T0)
    async with TelegramPeer() as peer, make_bot(peer) as bot:
        first = await Sender(store, bot, clock, limits=scaled_limits()).drain_once()
        assert (first.partial, first.sent) == (1, 0)  # the chart went; the text follows a chat-second later
        peer.server_error(41, 502)
        clock.advance(seconds=1 / SCALE)
        # Each drain by a new Sender: nothing but the store carries over, as after a restart.
        second = await Sender(store, bot, clock, limits=scaled_limits()).drain_once()
        assert (second.claimed, second.retried, second.sent) == (1, 1, 0)
        clock.advance(seconds=BACKOFF_BASE_S * 2)  # the second attempt backs off twice the base
        third = await Sender(store, bot, clock, limits=scaled_limits()).drain_once()
        assert (third.claimed, third.sent) == (1, 1)
        assert [(c.method, c.status) for c in peer.calls(chat_id=41)] == [
            ("sendPhoto", 200),
            ("sendMessage", 502),
            ("sendMessage", 200),
        ]
    assert await store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 0}


# one send rate per bot ---------------------------------------------------------------------------------


async def test_two_senders_on_one_redis_only_the_leader_sends_and_the_rate_stays_within_the_limit(
    redis_url: str, redis_prefix: str
) -> None:
    """Two workers' senders on one Redis, each told by its own leader flag (kept from the store's lock,
    as the scheduler's leader job does): only the leader claims and sends; when it loses leadership
    half-way the other takes over, the unstarted rest handed back at once; nothing is sent twice and
    the peer never sees more than the limit in any window (no 429)."""
    chats = list(range(1, 301))
    stores = [RedisStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    for s in stores:
        await s.open()
    await enqueue_alerts(stores[0], chats)
    clock = FixedClock(T0)
    leader = {"a": False, "b": False}
    sent_by: dict[str, list[int]] = {"a": [], "b": []}
    yielded = asyncio.Event()  # set: worker a stops renewing and releases the lock

    async def keep_leadership(name: str, store: Store, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if name == "a" and yielded.is_set():
                await store.release_lock("scheduler", name)
                leader[name] = False
            else:
                leader[name] = await store.acquire_lock("scheduler", name, 1.0)
            await asyncio.sleep(0.05)

    stop = asyncio.Event()
    async with TelegramPeer(limits=PeerLimits(scale=SCALE)) as peer, make_bot(peer) as bot:
        senders = {
            name: Sender(
                store, bot, clock, consumer=name, limits=scaled_limits(), batch=50,
                on_event=lambda what, chat, _detail, name=name: sent_by[name].append(chat) if what == "sent" else None,
            )
            for name, store in zip("ab", stores, strict=True)
        }  # fmt: skip
        leader["a"] = await stores[0].acquire_lock("scheduler", "a", 1.0)  # a is the leader from the start
        tasks = [asyncio.create_task(keep_leadership(n, s, stop)) for n, s in zip("ab", stores, strict=True)]
        tasks += [
            asyncio.create_task(senders[n].run(stop, idle_s=0.02, is_leader=lambda n=n: leader[n])) for n in "ab"
        ]
        deadline = time.monotonic() + 30
        while len(sent_by["a"]) < 100:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        yielded.set()
        while (await stores[0].outbox_counts())["pending"]:
            assert time.monotonic() < deadline, await stores[0].outbox_counts()
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*tasks)

        times = sorted(c.time for c in peer.sent if c.method == "sendMessage")
        window = 1 / SCALE
        busiest = max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))
        print(f"\nleader-only sending: a sent {len(sent_by['a'])}, b {len(sent_by['b'])}, busiest window {busiest}")
        assert sorted(sent_by["a"] + sent_by["b"]) == chats  # each chat once, from one sender at a time
        assert len(sent_by["a"]) >= 100 and len(sent_by["b"]) > 0
        assert set(sent_by["b"]).isdisjoint(sent_by["a"])
        assert busiest <= 30 and peer.stats().too_many_requests == 0
        assert [len(delivered(peer, c)) for c in chats] == [1] * len(chats)
    for s in stores:
        await s.close()


async def test_sender_not_leader_claims_nothing(store: Store) -> None:
    await enqueue_alerts(store, [1, 2])
    stop = asyncio.Event()
    async with TelegramPeer() as peer, make_bot(peer) as bot:
        sender = Sender(store, bot, FixedClock(T0))
        task = asyncio.create_task(sender.run(stop, idle_s=0.01, is_leader=lambda: False))
        await asyncio.sleep(0.2)
        stop.set()
        await task
        assert [c for c in peer.sent if c.method == "sendMessage"] == []
    assert await store.outbox_counts() == {"pending": 2, "sent": 0, "dead": 0}
    assert len(await store.claim("other", now=T0, limit=5, lease_s=60)) == 2  # nothing was leased either


class HangingBot:
    """Records each part it is asked to send; the send of ``hang_on`` never returns (the process dies
    while Telegram has the request)."""

    def __init__(self, hang_on: str | None = None) -> None:
        self.hang_on = hang_on
        self.sent: list[str] = []
        self.hanging = asyncio.Event()

    async def _send(self, what: str) -> object:
        self.sent.append(what)
        if what == self.hang_on:
            self.hanging.set()
            await asyncio.Event().wait()
        return SimpleNamespace(photo=[SimpleNamespace(file_id=f"file-{len(self.sent)}")])

    async def send_message(self, chat_id: int, text: str, **_: object) -> object:
        return await self._send(text[:6])

    async def send_photo(self, chat_id: int, photo: object, **_: object) -> object:
        return await self._send("photo")


async def test_sender_resumes_after_a_crash_mid_parts_with_the_part_in_flight(store: Store) -> None:
    """A digest of three parts (chart, two messages): the process dies while the last part is in flight.
    Once the lease runs out another process sends that part again, and neither the chart nor the first
    message a second time."""
    text = "\n".join(f"<b>{n:03d}</b> " + "x" * 90 for n in range(60))  # two messages
    await store.put_chat(ChatSettings(chat_id=51))
    payload = planned(Reply(Safe(text), Chart(grey_png(), Safe("chart"))))
    assert await store.enqueue([OutboxItem("digest:51:2025-09-18", 51, payload, T0, T0)]) == 1
    clock = FixedClock(T0)
    crashing = HangingBot(hang_on="<b>040")
    for _ in range(2):  # the chart, then the first message: each recorded as sent
        assert (await Sender(store, crashing, clock, limits=scaled_limits()).drain_once()).partial == 1
        clock.advance(seconds=1)
    dying = asyncio.create_task(Sender(store, crashing, clock, limits=scaled_limits(), lease_s=30).drain_once())
    await asyncio.wait_for(crashing.hanging.wait(), 5)
    dying.cancel()  # kill -9 while Telegram has the last part
    with pytest.raises(asyncio.CancelledError):
        await dying
    assert crashing.sent == ["photo", "<b>000", "<b>040"]
    restarted = HangingBot()
    assert (await Sender(store, restarted, clock, limits=scaled_limits()).drain_once()).claimed == 0  # leased
    clock.advance(seconds=30)
    stats = await Sender(store, restarted, clock, limits=scaled_limits()).drain_once()
    assert (stats.claimed, stats.sent) == (1, 1) and restarted.sent == ["<b>040"]
    assert await store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 0}


# pacing over a long round trip ------------------------------------------------------------------------


async def simulate_pacer(round_trips: list[float], ups: list[float], in_flight: int) -> list[float]:
    """The pacer (bot/delivery.py ``_Pacer``) at Telegram's real limits on a simulated clock: send n takes
    ``round_trips[n]``, reaching Telegram after ``ups[n]`` of it; ``in_flight`` sends at once. Returns
    the arrival instants at Telegram."""
    now = [0.0]
    pacer = _Pacer(Limits(), lambda: now[0])
    open_sends: list[tuple[float, float, int]] = []  # (end, start, chat)
    arrivals = []
    for chat, (round_trip, up) in enumerate(zip(round_trips, ups, strict=True)):
        while True:
            while open_sends and open_sends[0][0] <= now[0]:  # an answer is handled when it comes
                _end, start, ended_chat = heapq.heappop(open_sends)
                pacer.ended(ended_chat, start)
            wait = pacer.free_in() if len(open_sends) < in_flight else math.inf
            if wait <= 0:
                break
            if open_sends and open_sends[0][0] <= now[0] + wait:  # a send ends first
                now[0] = open_sends[0][0]
            else:  # at least one tick: a wait below a float's resolution at `now` still moves time
                now[0] = max(now[0] + wait, math.nextafter(now[0], math.inf))
        assert await pacer.take_overall(math.inf)
        heapq.heappush(open_sends, (now[0] + round_trip, now[0], chat))
        arrivals.append(now[0] + up)
    return sorted(arrivals)


@pytest.mark.parametrize(
    ("round_trip", "way_in", "goal"),
    [
        ((0.05, 0.06), (1 / 3, 2 / 3), 0.95),  # Telegram at 50 ms, jitter 10 ms, each way a third or more
        ((0.0005, 0.01), (0.0, 1.0), None),  # loopback: all jitter, any split; no credit, no rate goal
    ],
)
async def test_pacer_over_a_round_trip_reaches_the_goal_and_no_second_holds_more(
    round_trip: tuple[float, float], way_in: tuple[float, float], goal: float | None
) -> None:
    """At 30/s, 3 in flight: no one-second window at Telegram's side holds more than 30 messages; at a
    50-60 ms round trip the rate is >= 0.95 of the limit (without the credit for the steady part of the
    round trip the pacer tops out at 30 / (1 + round trip), 0.952 at 50 ms and less with any jitter)."""
    rng = random.Random(18)
    round_trips = [rng.uniform(*round_trip) for _ in range(900)]
    ups = [rt * rng.uniform(*way_in) for rt in round_trips]
    arrivals = await simulate_pacer(round_trips, ups, in_flight=3)
    busiest = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    steady = (len(arrivals) - 31) / (arrivals[-1] - arrivals[30]) / 30
    print(f"\npacer at {round_trip}: busiest second {busiest}, steady {steady:.3f} of the limit")
    assert busiest <= 30
    if goal is not None:
        assert steady >= goal


def test_pacer_gives_no_credit_before_it_knows_the_spread_of_round_trips() -> None:
    """A run's first round trips alike say nothing of their spread: no credit until RTT_KNOWN are known."""
    pacer = _Pacer(Limits(), lambda: 0.0)
    for _ in range(_Pacer.RTT_KNOWN - 1):
        pacer._round_trips.append(0.05)
    assert pacer._credit() == 0.0
    pacer._round_trips.append(0.05)
    assert pacer._credit() == pytest.approx(0.025)
