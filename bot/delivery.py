"""The outbox sender: drains the store's outbox into Telegram within its limits, losing nothing.

Every alert and digest is first written to the outbox under an idempotency key (bot/store/base.py);
this module is the only one that sends them. Per item:

- ok from Telegram            -> mark_sent (only now: a kill before this resends one message at most)
- RetryAfter (429)            -> reschedule after retry_after, and pause *all* sending for that long:
                                 Telegram's flood control is account-wide, so hammering other chats
                                 only lengthens the ban (the same sharp edge PTB's AIORateLimiter names)
- TimedOut / NetworkError     -> reschedule with exponential backoff (2 s … 5 min)
- Forbidden (blocked, kicked) -> mark_dead and deactivate the chat
- BadRequest "chat not found" -> mark_dead and deactivate the chat
- ChatMigrated                -> move the chat's settings and items to the new id, send there
- any other BadRequest        -> mark_dead with the reason (a rendering bug; retrying cannot help)

Limits (Telegram's published guidance): about 30 messages/s overall, 1 message/s per chat, 20/min per
group. All three are enforced here; the rates are settings so a benchmark can run a scaled mode.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.clock import Clock
from bot.store.base import OutboxItem, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
# Waits up to this long for a chat's turn are slept inside the lease; longer ones go back to the queue.
SHORT_WAIT_S = 5.0


@dataclass(frozen=True)
class Limits:
    overall_per_s: float = 30.0
    per_chat_per_s: float = 1.0
    per_group_per_min: float = 20.0


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    migrated: int = 0
    rate_limited: int = 0
    deferred: int = 0  # a group over its per-minute limit: back to the queue with its time


class _Pacer:
    """Spaces sends: an overall minimum interval, per-chat intervals, per-group windows, global pauses."""

    def __init__(self, limits: Limits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self._next_overall = 0.0
        self._next_chat: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.monotonic() + seconds)

    def chat_ready_in(self, chat_id: int) -> float:
        """Seconds until this chat may receive another message (0 = now)."""
        now = self.monotonic()
        wait = max(0.0, self._next_chat.get(chat_id, 0.0) - now)
        if chat_id < 0:  # groups and supergroups have negative ids
            window = self._group_sends.get(chat_id)
            if window is not None:
                while window and window[0] <= now - 60.0:
                    window.popleft()
                if len(window) >= self.limits.per_group_per_min:
                    wait = max(wait, window[0] + 60.0 - now)
        return wait

    async def take_overall(self) -> None:
        while True:
            now = self.monotonic()
            start = max(self._next_overall, self._paused_until)
            if start <= now:
                self._next_overall = max(now, self._next_overall) + 1.0 / self.limits.overall_per_s
                return
            await asyncio.sleep(start - now)

    def record(self, chat_id: int) -> None:
        now = self.monotonic()
        self._next_chat[chat_id] = now + 1.0 / self.limits.per_chat_per_s
        if chat_id < 0:
            self._group_sends.setdefault(chat_id, deque()).append(now)
        if len(self._next_chat) > 100_000:  # forget chats whose interval has long passed
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}


@dataclass
class Sender:
    store: Store
    bot: Any  # telegram.Bot (or anything with send_message / send_photo)
    clock: Clock
    consumer: str = "sender"
    limits: Limits = field(default_factory=Limits)
    lease_s: float = 60.0
    batch: int = 100
    # Messages sent but not yet marked sent are the ones a crash can duplicate: one in flight bounds
    # that to one message per crash. More raises throughput where the API round trip is long.
    max_in_flight: int = 1
    monotonic: Callable[[], float] = time.monotonic
    on_event: Callable[[str, int, str], None] | None = None  # (what, chat_id, detail) for logs/tests

    def __post_init__(self) -> None:
        self._pacer = _Pacer(self.limits, self.monotonic)
        self._photo_ids: dict[str, str] = {}  # sha of a chart -> Telegram file_id, to upload once
        self._inflight: set[int] = set()

    def _note(self, what: str, chat_id: int, detail: str = "") -> None:
        if self.on_event is not None:
            self.on_event(what, chat_id, detail)

    async def drain_once(self) -> DrainStats:
        """Claim one batch of due items and settle every one of them (sent, rescheduled or dead)."""
        stats = DrainStats()
        now = self.clock.now()
        items = await self.store.claim(self.consumer, now=now, limit=self.batch, lease_s=self.lease_s)
        stats.claimed = len(items)
        semaphore = asyncio.Semaphore(self.max_in_flight)
        tasks: list[asyncio.Task[None]] = []
        for item in items:
            wait = self._pacer.chat_ready_in(item.chat_id)
            if wait > SHORT_WAIT_S:
                # A group past 20/min: give the item back with the time it becomes sendable.
                stats.deferred += 1
                await self.store.reschedule(
                    item.key, not_before=self.clock.now() + timedelta(seconds=wait), error="deferred by the group limit"
                )
                continue
            if wait > 0 or item.chat_id in self._inflight:
                # Two items for one chat in a batch: the later one waits its turn inside the lease.
                await asyncio.sleep(max(wait, 1.0 / self.limits.per_chat_per_s))
            await self._pacer.take_overall()
            await semaphore.acquire()
            self._inflight.add(item.chat_id)
            self._pacer.record(item.chat_id)
            tasks.append(asyncio.create_task(self._settle(item, stats, semaphore)))
        if tasks:
            await asyncio.gather(*tasks)
        return stats

    async def _settle(self, item: OutboxItem, stats: DrainStats, semaphore: asyncio.Semaphore) -> None:
        try:
            await self._deliver(item, stats)
        finally:
            self._inflight.discard(item.chat_id)
            semaphore.release()

    async def _deliver(self, item: OutboxItem, stats: DrainStats) -> None:
        chat_id = item.chat_id
        try:
            try:
                await self._send(chat_id, item.payload)
            except ChatMigrated as exc:
                new_id = int(exc.new_chat_id)
                log.info("chat %s migrated to %s", chat_id, new_id)
                await self.store.migrate_chat(chat_id, new_id)
                stats.migrated += 1
                self._note("migrated", chat_id, str(new_id))
                chat_id = new_id
                await self._send(chat_id, item.payload)
        except RetryAfter as exc:
            delay = _seconds(exc.retry_after)
            self._pacer.pause(delay)
            stats.rate_limited += 1
            self._note("retry_after", chat_id, str(delay))
            await self.store.reschedule(
                item.key, not_before=self.clock.now() + timedelta(seconds=delay), error=f"429 retry after {delay:g}s"
            )
            return
        except Forbidden as exc:
            await self._give_up(item, chat_id, f"forbidden: {exc.message}", stats, deactivate=True)
            return
        except BadRequest as exc:
            gone = "chat not found" in exc.message.lower() or "chat_id is empty" in exc.message.lower()
            await self._give_up(item, chat_id, f"bad request: {exc.message}", stats, deactivate=gone)
            return
        except (TimedOut, NetworkError) as exc:
            await self._retry(item, f"{type(exc).__name__}: {exc.message}", stats)
            return
        await self.store.mark_sent(item.key, now=self.clock.now())
        stats.sent += 1
        self._note("sent", chat_id, item.key)

    async def _retry(self, item: OutboxItem, error: str, stats: DrainStats) -> None:
        if item.attempts + 1 >= MAX_ATTEMPTS:
            await self._give_up(item, item.chat_id, f"gave up after {MAX_ATTEMPTS} attempts: {error}", stats, deactivate=False)
            return
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**item.attempts))
        stats.retried += 1
        self._note("retry", item.chat_id, error)
        await self.store.reschedule(item.key, not_before=self.clock.now() + timedelta(seconds=delay), error=error)

    async def _give_up(self, item: OutboxItem, chat_id: int, error: str, stats: DrainStats, *, deactivate: bool) -> None:
        log.warning("outbox item %s for chat %s dropped: %s", item.key, chat_id, error)
        await self.store.mark_dead(item.key, error=error)
        if deactivate:
            await self.store.deactivate_chat(chat_id, error)
            self._note("deactivated", chat_id, error)
        stats.dead += 1

    async def _send(self, chat_id: int, payload: Any) -> None:
        text = payload.get("text", "")
        photo = payload.get("photo_b64")
        markup = payload.get("reply_markup")
        if photo:
            digest = payload.get("photo_sha", "")
            cached = self._photo_ids.get(digest)
            message = await self.bot.send_photo(
                chat_id,
                cached or base64.b64decode(photo),
                caption=payload.get("caption"),
                parse_mode=ParseMode.HTML,
            )
            if digest and not cached and getattr(message, "photo", None):
                self._photo_ids[digest] = message.photo[-1].file_id
            if text:
                await self.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True, reply_markup=markup
                )
            return
        await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True, reply_markup=markup
        )

    async def run(self, stop: asyncio.Event, *, idle_s: float = 1.0) -> None:
        """Drain until ``stop`` is set; sleep ``idle_s`` when nothing is due."""
        while not stop.is_set():
            try:
                stats = await self.drain_once()
            except Exception:  # the store may be briefly unreachable: keep the sender alive
                log.exception("outbox drain failed; retrying")
                stats = DrainStats()
            if stats.claimed == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)
                except TimeoutError:
                    pass


def _seconds(value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


def payload_for(text: str, *, png: bytes | None = None, caption: str | None = None) -> dict[str, Any]:
    """The JSON payload of an outbox item."""
    import hashlib

    payload: dict[str, Any] = {"text": text}
    if png is not None:
        payload["photo_b64"] = base64.b64encode(png).decode()
        payload["photo_sha"] = hashlib.sha256(png).hexdigest()
        payload["caption"] = caption
    return payload
