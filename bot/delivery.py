"""The outbox sender: drains the store's outbox into Telegram within its limits, losing nothing.

Every alert and digest is first written to the outbox under an idempotency key (bot/store/base.py);
this module is the only one that sends them. Per item:

- ok from Telegram            -> mark_sent (only now: a kill before this resends one message at most)
- RetryAfter (429)            -> reschedule after retry_after, and pause *all* sending for that long:
                                 Telegram's flood control is account-wide, so hammering other chats
                                 only lengthens the ban (the same sharp edge PTB's AIORateLimiter names)
- TimedOut / NetworkError     -> reschedule with exponential backoff (2 s … 5 min); only these count
                                 as attempts (MAX_ATTEMPTS), not an item put back unsent
- Forbidden (blocked, kicked) -> mark_dead and deactivate the chat
- BadRequest "chat not found" -> mark_dead and deactivate the chat
- ChatMigrated                -> move the chat's settings and items to the new id, send there
- any other BadRequest        -> mark_dead with the reason (a rendering bug; retrying cannot help)

Limits (Telegram's published guidance): about 30 messages/s overall, 1 message/s per chat, 20/min per
group. All three are enforced here; the rates are settings so a benchmark can run a scaled mode. Each
send counts from the moment Telegram answered it, so however late the request reached Telegram, the
spacing Telegram sees is never shorter than the limit; the overall rate is counted over a sliding
window (Telegram's second) rather than as a fixed interval, so time lost to a slow round trip or a
store write is made up within the window instead of lowering the rate.

An item's payload is a planned reply (bot/telegram_edge.py: the calls are the ones an interactive
answer makes). One that makes several messages (a chart and a long text, a text over 4,096 characters)
sends one part per claim and goes back to the queue between parts, due after the chat's interval; the
parts already acknowledged are recorded with the item (its ``parts_sent``), so neither a retry nor a
crash sends a part twice, apart from the one in flight.

A claimed batch is held under a lease: past it another process may claim the same items. Items the
sender could not start well within the lease (a long RetryAfter pause) are handed back, due when the
pause ends, instead of being sent late.

Telegram's limits are per bot, not per process: with several workers on one store only the leader
sends. ``Sender.run`` takes ``is_leader``, a callable the scheduler's leader job answers (True alone
for one process); a worker that is not the leader claims nothing, and a sender that loses leadership
in the middle of a batch hands the unstarted rest back at once.

Pipelining: up to ``max_in_flight`` sends are on the wire at once, so a long round trip to Telegram
does not cap the rate at one message per round trip (20/s at 50 ms). The pacer counts each send from
its start until a window after its end, less half the steady part of recent round trips (``_Pacer``):
a request reaches Telegram somewhere in between, and the way in of one send plus the way back of
another take at least that, so no window at Telegram's side holds more than the limit. Without that credit the
rate topped out at ``limit × window / (window + round trip)``: 0.952 of 30/s at 50 ms, 0.94-0.947
measured once HTTP and a busy machine added 5-15 ms; with it, 0.98 (bench/bench_fanout.py). A crash
duplicates at most the messages in flight: Telegram may have them, the store does not yet say sent (a
place in the window is held until the store records the outcome). That is the trade of
CAPGAP_SEND_CONCURRENCY (default 3: at most 3 duplicates per crash; at a 50 ms round trip 3 sends
overlap enough for the limit, 1 reaches 20/s).

While the store is unreachable the sender logs one line when it goes and one when it is back (with
how long it was away), not a traceback per attempt. It also runs the outbox's maintenance: every
``MAINTENANCE_S`` it purges items finished longer than ``OUTBOX_RETENTION`` ago (bot/store/base.py).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.clock import Clock
from bot.errors import StoreUnavailableError
from bot.store.base import OUTBOX_RETENTION, OutboxItem, Store
from bot.telegram_edge import Outgoing, Photos, send_part

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0
# Waits up to this long for a chat's turn are slept inside the lease; longer ones go back to the queue.
SHORT_WAIT_S = 5.0
# Nothing is started in the last fifth of a lease: a send begun then could outlive it.
LEASE_RESERVE = 0.2
# How often the sender purges finished outbox items older than OUTBOX_RETENTION (as alertmanager's
# --data.maintenance-interval does for its notification log).
MAINTENANCE_S = 15 * 60.0


@dataclass(frozen=True)
class Limits:
    overall_per_s: float = 30.0
    per_chat_per_s: float = 1.0
    per_group_per_min: float = 20.0
    # The overall rate is counted over sliding windows this long (Telegram's second): a burst of
    # overall_per_s × window_s may go at once. A scaled run shortens it with the rates.
    window_s: float = 1.0


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    migrated: int = 0
    rate_limited: int = 0
    deferred: int = 0  # back to the queue unsent: a group over its per-minute limit, or a lease running out
    partial: int = 0  # one part of a several-message item sent; the rest follows after the chat's interval


class _Pacer:
    """Spaces sends: overall sliding windows, per-chat intervals, per-group windows, global pauses.

    A send holds its overall slot from its start until a window after its end (Telegram answered), less
    a credit (``_credit``): half the shortest of the last ``RTT_KEPT`` round trips, less their spread. A
    request reaches Telegram between its start and its end; with no credit two sends one window apart
    at Telegram's side are assumed to be the first arriving at its very end and the second at its very
    start, each with a one-way trip of zero, which caps the rate at ``limit × window / (window + round
    trip)`` (0.952 of 30/s at a 50 ms round trip, 0.94 once a loaded machine adds 15 ms). The credit
    assumes that the way in of one send plus the way back of another take at least half the steady
    part of a round trip (its distance, each direction about half of it on a real path); the part that
    varies (a busy event loop, retransmits) is credited nothing, so on loopback, all variance, the
    credit is 0.
    """

    RTT_KEPT = 64
    RTT_KNOWN = 16

    def __init__(self, limits: Limits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self.capacity = max(1, math.floor(limits.overall_per_s * limits.window_s + 1e-9))
        self.window_s = self.capacity / limits.overall_per_s  # exact rate when the product is not whole
        self._ended: deque[float] = deque()  # ends (less the credit) of the sends inside the current window
        self._round_trips: deque[float] = deque(maxlen=self.RTT_KEPT)
        self._open = 0  # sends started and not yet answered
        self._next_chat: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.monotonic() + seconds)

    def paused_for(self) -> float:
        """Seconds until a RetryAfter pause ends (0 = not paused)."""
        return max(0.0, self._paused_until - self.monotonic())

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

    def free_in(self) -> float:
        """Seconds until a send may take an overall slot (0: now)."""
        now = self.monotonic()
        wait = self._paused_until - now
        if wait > 0:
            return wait
        expired = now - self.window_s
        while self._ended and self._ended[0] <= expired:
            self._ended.popleft()
        if len(self._ended) + self._open < self.capacity:
            return 0.0
        # The oldest slot frees when its window has passed (> 0: it was not popped); every slot taken
        # by a send still open: poll until one ends.
        return self._ended[0] - expired if self._ended else self.window_s / self.capacity

    async def take_overall(self, deadline: float) -> bool:
        """Take a send slot in the overall window, waiting for it; False if that would pass ``deadline``."""
        while True:
            wait = self.free_in()
            if wait <= 0:
                self._open += 1
                return True
            if self.monotonic() + wait >= deadline:
                return False
            await asyncio.sleep(wait)

    def _credit(self) -> float:
        """Seconds of a round trip surely spent on the way (see the class): half the fastest of the last
        RTT_KEPT, less their spread (median - fastest), which is local scheduling rather than distance;
        0 on loopback, where the spread is the whole round trip, and 0 until RTT_KNOWN round trips show
        the spread (a first few alike say nothing of it: a soak's first pass drew 429s)."""
        if len(self._round_trips) < self.RTT_KNOWN:
            return 0.0
        trips = sorted(self._round_trips)
        fastest, typical = trips[0], trips[len(trips) // 2]
        return max(0.0, fastest / 2 - (typical - fastest))

    def ended(self, chat_id: int, started: float) -> None:
        """Record the end of a send taken with ``take_overall`` at ``started`` (monotonic)."""
        now = self.monotonic()
        self._open -= 1
        self._round_trips.append(now - started)
        self._ended.append(now - self._credit())
        self._next_chat[chat_id] = now + 1.0 / self.limits.per_chat_per_s
        if chat_id < 0:
            self._group_sends.setdefault(chat_id, deque()).append(now)
        if len(self._next_chat) > 100_000:  # forget chats whose interval has long passed
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}


class _Slot:
    """One send taken from the pacer, ended exactly once: when Telegram answers, or when the attempt fails."""

    def __init__(self, pacer: _Pacer, chat_id: int) -> None:
        self._pacer = pacer
        self._chat_id = chat_id
        self._open = True
        self._started = pacer.monotonic()  # after the slot was taken: a round trip is never overstated

    def end(self) -> None:
        if self._open:
            self._open = False
            self._pacer.ended(self._chat_id, self._started)


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
    # that to one message per crash. More raises throughput where the API round trip is long: at a
    # 50 ms round trip one in flight sends 20/s; the bot runs with CAPGAP_SEND_CONCURRENCY (default 3).
    max_in_flight: int = 1
    monotonic: Callable[[], float] = time.monotonic
    on_event: Callable[[str, int, str], None] | None = None  # (what, chat_id, detail) for logs/tests
    photos: Photos = field(default_factory=Photos)  # charts uploaded once (the bot shares its answers')

    def __post_init__(self) -> None:
        self._pacer = _Pacer(self.limits, self.monotonic)
        self._inflight: set[int] = set()
        self._next_maintenance = 0.0  # monotonic instant of the next purge

    def _note(self, what: str, chat_id: int, detail: str = "") -> None:
        if self.on_event is not None:
            self.on_event(what, chat_id, detail)

    async def drain_once(
        self, stop: asyncio.Event | None = None, is_leader: Callable[[], bool] | None = None
    ) -> DrainStats:
        """Claim a batch of due items and settle every one of them (sent, rescheduled or dead).

        When a full batch has started, the next is claimed while its last sends are still on the wire
        (their lease keeps them out of the claim), so the pipeline does not run dry at every batch
        boundary (at 30/s and 50 ms, a round trip and a claim lost per 100 messages: 2% of the rate);
        one call goes on so for up to ``lease_s``. The in-flight window spans the batches.

        Once ``stop`` is set, or ``is_leader`` answers False, the items not yet started are handed back,
        due at once, so a restarted bot (or the new leader) sends them without waiting for this lease
        to run out."""
        stats = DrainStats()
        semaphore = asyncio.Semaphore(self.max_in_flight)
        tasks: list[asyncio.Task[None]] = []
        until = self.monotonic() + self.lease_s
        try:
            while True:
                items = await self.store.claim(
                    self.consumer, now=self.clock.now(), limit=self.batch, lease_s=self.lease_s
                )
                stats.claimed += len(items)
                if not await self._start_all(items, stats, semaphore, tasks, stop, is_leader):
                    break
                if len(items) < self.batch or self.monotonic() >= until:
                    break
        finally:
            # Every send started is settled (marked or rescheduled) before the call ends, even when
            # the loop above failed; the first failure is raised after that.
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return stats

    async def _start_all(
        self,
        items: list[OutboxItem],
        stats: DrainStats,
        semaphore: asyncio.Semaphore,
        tasks: list[asyncio.Task[None]],
        stop: asyncio.Event | None,
        is_leader: Callable[[], bool] | None,
    ) -> bool:
        """Start sending each of a claimed batch in its turn; False when the rest was handed back."""
        last_start = self.monotonic() + self.lease_s * (1.0 - LEASE_RESERVE)
        for index, item in enumerate(items):
            if (stop is not None and stop.is_set()) or (is_leader is not None and not is_leader()):
                await self._hand_back(items[index:], stats)
                return False
            # The slot first, the pacing after: a 429 answered to the send before this one must
            # be known (as a pause) before this one starts.
            await semaphore.acquire()
            try:
                verdict = await self._turn(item, last_start, stats)
            except BaseException:
                semaphore.release()
                raise
            if verdict == "deferred":
                semaphore.release()
                continue
            if verdict == "hand_back":
                semaphore.release()
                await self._hand_back(items[index:], stats)
                return False
            self._inflight.add(item.chat_id)
            tasks.append(asyncio.create_task(self._settle(item, stats, semaphore)))
        return True

    async def _turn(self, item: OutboxItem, last_start: float, stats: DrainStats) -> str:
        """Wait for this item's turn: "send" (an overall slot is taken), "deferred" or "hand_back"."""
        while True:
            if self.monotonic() + self._pacer.paused_for() >= last_start:
                return "hand_back"
            wait = self._pacer.chat_ready_in(item.chat_id)
            if wait > SHORT_WAIT_S:
                # A group past 20/min: give the item back with the time it becomes sendable.
                stats.deferred += 1
                await self.store.reschedule(
                    item.key,
                    not_before=self.clock.now() + timedelta(seconds=wait),
                    error="deferred by the group limit",
                    attempt=False,
                )
                return "deferred"
            if wait <= 0 and item.chat_id not in self._inflight:
                break
            # Two items for one chat in a batch: the later one waits its turn inside the lease.
            await asyncio.sleep(wait if wait > 0 else 0.005)
        if not await self._pacer.take_overall(last_start):
            return "hand_back"
        return "send"

    async def _hand_back(self, items: list[OutboxItem], stats: DrainStats) -> None:
        """Release items this batch will not start in time, due when the current pause ends."""
        due = self.clock.now() + timedelta(seconds=self._pacer.paused_for())
        for item in items:
            await self.store.reschedule(
                item.key,
                not_before=due,
                error="handed back before its lease ran out",
                attempt=False,
            )
        stats.deferred += len(items)
        log.info("handed %d outbox items back (stopping, a RetryAfter pause or the lease running out)", len(items))

    async def _settle(self, item: OutboxItem, stats: DrainStats, semaphore: asyncio.Semaphore) -> None:
        slot = _Slot(self._pacer, item.chat_id)
        try:
            await self._deliver(item, stats, slot)
        finally:
            slot.end()
            self._inflight.discard(item.chat_id)
            # Only now, after the store recorded the outcome, may the next send take this place.
            semaphore.release()

    async def _deliver(self, item: OutboxItem, stats: DrainStats, slot: _Slot) -> None:
        outgoing = Outgoing.of_payload(item.payload)
        total = len(outgoing.parts)
        done = min(item.parts_sent, total - 1)
        chat_id = item.chat_id
        try:
            try:
                try:
                    await self._send(chat_id, item.payload, outgoing, done)
                except ChatMigrated as exc:
                    new_id = int(exc.new_chat_id)
                    log.info("chat %s migrated to %s", chat_id, new_id)
                    await self.store.migrate_chat(chat_id, new_id)
                    stats.migrated += 1
                    self._note("migrated", chat_id, str(new_id))
                    chat_id = new_id
                    await self._send(chat_id, item.payload, outgoing, done)
            finally:
                slot.end()  # Telegram answered: the pacer counts from here, not from the store write
        except RetryAfter as exc:
            delay = _retry_after(exc)
            self._pacer.pause(delay)
            stats.rate_limited += 1
            log.warning("Telegram's flood control (429 on chat %s): every send waits %gs", chat_id, delay)
            self._note("retry_after", chat_id, str(delay))
            await self.store.reschedule(
                item.key,
                not_before=self.clock.now() + timedelta(seconds=delay),
                error=f"429 retry after {delay:g}s",
                attempt=False,  # Telegram's pause, not this message's failure
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
        done += 1
        if done < total:
            stats.partial += 1
            await self.store.reschedule(
                item.key,
                not_before=self.clock.now() + timedelta(seconds=1.0 / self.limits.per_chat_per_s),
                error=f"part {done} of {total} sent; the next after the chat's interval",
                attempt=False,
                parts_sent=done,
            )
            return
        await self.store.mark_sent(item.key, now=self.clock.now())
        stats.sent += 1
        self._note("sent", chat_id, item.key)

    async def _retry(self, item: OutboxItem, error: str, stats: DrainStats) -> None:
        if item.attempts + 1 >= MAX_ATTEMPTS:
            await self._give_up(
                item, item.chat_id, f"gave up after {MAX_ATTEMPTS} attempts: {error}", stats, deactivate=False
            )
            return
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**item.attempts))
        stats.retried += 1
        self._note("retry", item.chat_id, error)
        await self.store.reschedule(
            item.key,
            not_before=self.clock.now() + timedelta(seconds=delay),
            error=error,
        )

    async def _give_up(
        self, item: OutboxItem, chat_id: int, error: str, stats: DrainStats, *, deactivate: bool
    ) -> None:
        log.warning("outbox item %s for chat %s dropped: %s", item.key, chat_id, error)
        await self.store.mark_dead(item.key, error=error, now=self.clock.now())
        if deactivate:
            await self.store.deactivate_chat(chat_id, error)
            self._note("deactivated", chat_id, error)
        stats.dead += 1

    async def _send(self, chat_id: int, payload: Mapping[str, Any], outgoing: Outgoing, index: int) -> None:
        await send_part(self.bot, chat_id, outgoing, index, photos=self.photos, png=lambda: self._photo_bytes(payload))

    async def _photo_bytes(self, payload: Mapping[str, Any]) -> bytes:
        """The chart's bytes: inline (an item enqueued before charts were stored once per broadcast) or
        the store's blob."""
        if payload.get("photo_b64"):
            return base64.b64decode(payload["photo_b64"])
        data = await self.store.get_blob(str(payload["photo_blob"]))
        if data is None:  # the store keeps a blob while an item refers to it: a broken store
            raise BadRequest(f"chart {payload['photo_blob']} missing from the store")
        return data

    async def maintain(self) -> int:
        """Purge finished items older than OUTBOX_RETENTION; how many went."""
        purged = 0
        while True:
            n = await self.store.purge_outbox(before=self.clock.now() - OUTBOX_RETENTION, limit=10_000)
            purged += n
            if n < 10_000:
                break
        if purged:
            log.info("outbox maintenance: %d items finished over %s ago purged", purged, OUTBOX_RETENTION)
        return purged

    async def run(
        self, stop: asyncio.Event, *, idle_s: float = 1.0, is_leader: Callable[[], bool] = lambda: True
    ) -> None:
        """Drain until ``stop`` is set, while ``is_leader()``; sleep ``idle_s`` when nothing is due or
        this process is not the leader.

        ``is_leader`` is read before each claim and each send, so it must answer at once (a flag the
        scheduler's leader job keeps, not a store round trip). The sender logs one line when the store
        becomes unreachable and one when it answers again, and one line per new kind of unexpected
        failure, instead of a traceback per attempt.
        """
        down_since: float | None = None  # monotonic instant the store stopped answering
        failing: str | None = None  # the unexpected failure last logged, until a drain succeeds
        while not stop.is_set():
            stats = DrainStats()
            if is_leader():
                try:
                    if self.monotonic() >= self._next_maintenance:
                        await self.maintain()
                        self._next_maintenance = self.monotonic() + MAINTENANCE_S
                    stats = await self.drain_once(stop, is_leader)
                except StoreUnavailableError as exc:
                    if down_since is None:
                        down_since = self.monotonic()
                        log.warning(
                            "outbox store unavailable (%s); the sender retries every %g s and logs again"
                            " when it answers",
                            _cause(exc),
                            idle_s,
                        )
                except Exception as exc:
                    what = f"{type(exc).__name__}: {exc}"
                    if what != failing:
                        failing = what
                        log.exception("outbox drain failed; retrying every %g s (logged once)", idle_s)
                else:
                    if down_since is not None:
                        log.warning(
                            "outbox store answers again after %.0f s; sending resumes",
                            self.monotonic() - down_since,
                        )
                        down_since = None
                    failing = None
            if stats.claimed == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)
                except TimeoutError:
                    pass


def _cause(exc: BaseException) -> str:
    """The innermost cause of a store fault in one line (e.g. "Error 111 connecting to 127.0.0.1:6379")."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def _retry_after(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds; PTB 22 warns that the attribute will become a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


def _seconds(value: object) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]

