"""The Store protocol: everything capgap remembers about chats, apart from market history.

Two backends implement it, ``sqlite.py`` (embedded default, one WAL file under CAPGAP_DATA_DIR) and
``redis.py`` (when CAPGAP_REDIS_URL is set). One contract suite (tests/test_store_contract.py) runs
against both. All instants are timezone-aware UTC datetimes; all methods are coroutines.

Market history is kept by the same backend (the same SQLite file, the same Redis) through the
synchronous ``HistoryBackend`` protocol of history_base.py, which ``bot.history.HistoryStore`` uses;
``factory.make_history`` opens it where ``make_store`` opens the store.

Outbox semantics (what makes delivery crash-safe):
- ``enqueue`` is idempotent on ``key``: a second enqueue of the same key is a no-op returning False,
  so a watch or digest job that reruns for the same as-of writes nothing twice.
- ``claim`` atomically leases up to ``limit`` due items (``not_before <= now``, not sent, not dead,
  lease free or expired) to one consumer until ``now + lease``: two senders never hold the same item.
  An item whose holder died is claimable again when its lease expires, which is how a kill -9 in the
  middle of a fan-out loses nothing (and duplicates at most the message that was in flight).
- ``mark_sent`` only after Telegram's ok; ``reschedule`` after a retryable fault; ``mark_dead`` for a
  permanent one (the chat blocked the bot, the chat does not exist).

Retention (what is kept must not grow with time):
- A sent or dead item drops its payload at once and keeps only what dedup and /status need: key,
  chat, times, outcome (and the reason of a dead one). ``purge_outbox`` deletes finished items older
  than ``OUTBOX_RETENTION`` (the sender runs it every 15 minutes); after that a key could be enqueued
  again, which no job does: digest and alert keys name a session, and jobs catch up hours, not days.
- A chart (``photo_b64`` in a payload) is stored once per distinct content, as a blob named by its
  sha256 with a count of the pending items referring to it; the enqueued payload keeps
  ``photo_blob`` (the sha) instead, ``get_blob`` returns the bytes, and the blob goes when the last
  item referring to it is sent or dead. A digest's chart sent to 10k chats is stored once.

Digest schedule (periodic work touches only what is due): every chat with a digest time that is active
has a due instant in an index ordered by it. ``put_chat`` puts a chat whose digest time, zone,
language or activity changed (or who has none yet) at the front (due at the epoch) and removes one
whose digest is off or who is inactive; the digest job takes ``due_digests(now)``, computes each
chat's next due instant from its time and zone and writes it with ``set_digest_due``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

OUTBOX_RETENTION = timedelta(days=7)
"""How long a sent or dead outbox item (key, chat, times, outcome) is kept for dedup and /status."""

OUTBOX_STATUSES = ("pending", "sent", "dead")
"""An outbox item's status: waiting (leased or not), then sent or given up (the finished ones)."""

SUBSCRIPTION_PAGE = 2_000
"""Default page size of ``iter_subscriptions``."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# What both backends store the same way: instants as integer microseconds since the Unix epoch (exact,
# ordered by integer comparison), mappings as compact JSON text with sorted keys (equal mappings give
# byte-equal text).


def to_us(instant: datetime) -> int:
    """Microseconds since the Unix epoch; refuses naive datetimes, which have no instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: the store takes timezone-aware instants")
    return (instant - EPOCH) // timedelta(microseconds=1)


def opt_to_us(instant: datetime | None) -> int | None:
    return None if instant is None else to_us(instant)


def from_us(us: str | int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=int(us))


def dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_claim(limit: int, lease_s: float) -> None:
    """The arguments ``claim`` refuses in every backend."""
    if limit < 1:
        raise ValueError(f"claim limit must be at least 1, got {limit}")
    if lease_s <= 0:
        raise ValueError(f"claim lease must be positive, got {lease_s} s")


@dataclass(frozen=True)
class ChatSettings:
    chat_id: int
    lang: str | None = None  # "en" | "zh-Hant"; None = follow Telegram's language_code
    tz: str | None = None  # IANA zone for the digest; None = default for the language
    digest_time: str | None = None  # "HH:MM" local; None = digest off
    kind: str = "private"  # Telegram chat type: private | group | supergroup | channel
    active: bool = True  # False once Telegram said 403 / chat not found
    inactive_reason: str | None = None
    muted_until: datetime | None = None  # all alerts of the chat muted until then


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    rule_id: str  # e.g. "r2k_high", "cut_odds"
    params: Mapping[str, Any] = field(default_factory=dict)  # the chat's overrides of the rule defaults
    created_at: datetime | None = None
    muted_until: datetime | None = None


@dataclass(frozen=True)
class OutboxItem:
    key: str  # idempotency key, e.g. "alert:r2k_high:2025-09-18:12345" or "digest:12345:2025-09-19"
    chat_id: int
    payload: Mapping[str, Any]  # a planned reply (bot/telegram_edge.py ``planned``); JSON-serialisable
    created_at: datetime
    not_before: datetime  # earliest send time (RetryAfter / backoff move it)
    attempts: int = 0
    last_error: str | None = None
    parts_sent: int = 0  # of a reply of several messages, those Telegram acknowledged (0 on enqueue)


class BlobSplitter:
    """Takes the chart out of outbox payloads on their way into a store, one batch at a time.

    ``split(payload)`` returns the payload to store, encoded by ``dumps``, with ``photo_blob`` (the
    sha256 of the chart's bytes) in place of ``photo_b64``, and that sha (None for a payload without a
    chart); ``b64[sha]`` holds the chart's base64 text and ``raw(sha)`` its bytes (decoded when a store
    asks: a chart already stored is not decoded again). A broadcast's items share one base64 text, hashed
    once; a sha an older capgap wrote with it (``photo_sha``) is taken as it is.
    """

    def __init__(self, dumps: Callable[[Mapping[str, Any]], str]) -> None:
        self.b64: dict[str, str] = {}
        self._sha_of: dict[str, str] = {}
        self._dumps = dumps
        self._done: dict[int, tuple[Mapping[str, Any], str, str | None]] = {}

    def split(self, payload: Mapping[str, Any]) -> tuple[str, str | None]:
        """(the payload to store as JSON text, the sha of its chart or None). Items of one broadcast
        share one payload object: it is split and encoded once per batch."""
        done = self._done.get(id(payload))
        if done is None or done[0] is not payload:
            stored, sha = self._split(payload)
            done = self._done[id(payload)] = (payload, self._dumps(stored), sha)  # keeps payload alive
        return done[1], done[2]

    def raw(self, sha: str) -> bytes:
        """The bytes of the chart named ``sha`` in this batch."""
        return base64.b64decode(self.b64[sha])

    def _split(self, payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
        text = payload.get("photo_b64")
        if not text:
            return payload, None
        sha = self._sha_of.get(text)
        if sha is None:
            sha = str(payload.get("photo_sha") or hashlib.sha256(base64.b64decode(text)).hexdigest())
            self._sha_of[text], self.b64[sha] = sha, text
        # photo_sha (an older capgap's name for the same sha256) goes too: photo_blob names the chart now
        stored = {name: value for name, value in payload.items() if name not in ("photo_b64", "photo_sha")}
        stored["photo_blob"] = sha
        return stored, sha


@runtime_checkable
class Store(Protocol):
    # lifecycle -----------------------------------------------------------------------------------
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # chats ---------------------------------------------------------------------------------------
    async def get_chat(self, chat_id: int) -> ChatSettings | None: ...
    async def put_chat(self, chat: ChatSettings) -> None: ...
    async def list_chats(self, *, active_only: bool = True) -> list[ChatSettings]: ...
    async def deactivate_chat(self, chat_id: int, reason: str) -> None: ...
    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move settings, subscriptions, alert state and pending outbox items to the new id."""
        ...

    # subscriptions -------------------------------------------------------------------------------
    async def put_subscription(self, sub: Subscription) -> None:
        """Insert or replace the (chat_id, rule_id) subscription."""
        ...

    async def delete_subscription(self, chat_id: int, rule_id: str) -> bool: ...
    async def list_subscriptions(
        self, *, chat_id: int | None = None, rule_id: str | None = None
    ) -> list[Subscription]: ...
    def iter_subscriptions(self, rule_id: str, *, page_size: int = ...) -> AsyncIterator[list[Subscription]]:
        """Every subscription to ``rule_id`` exactly once, in pages of about ``page_size``, one page in
        memory at a time, in an order each backend chooses. Pages are separate reads: a subscription
        written meanwhile may or may not be in them; read ``subscriptions_version`` first to know."""
        ...

    async def subscriptions_version(self) -> str:
        """A value that changes, atomically with the write, whenever a subscription is created,
        replaced (a mute too), deleted or moved by ``migrate_chat``, and stays while none is. Two stores
        (files, Redis prefixes) do not share one. Reading it before listing tells whether a listing
        made then still describes the subscriptions."""
        ...

    # alert state: per (rule_id, scope), scope a group record or a distinct params' state (evaluator) -
    async def get_alert_states(self, rule_id: str) -> dict[str, dict[str, Any]]: ...
    async def put_alert_states(
        self, rule_id: str, states: Mapping[str, Mapping[str, Any]], *, drop: Iterable[str] = ()
    ) -> None:
        """Upsert many scopes at once and delete the scopes in ``drop`` (one transaction / one pipeline)."""
        ...

    # outbox --------------------------------------------------------------------------------------
    async def enqueue(self, items: list[OutboxItem]) -> int:
        """Add items whose key is new; return how many were added (idempotent on key)."""
        ...

    async def claim(self, consumer: str, *, now: datetime, limit: int, lease_s: float) -> list[OutboxItem]: ...
    async def mark_sent(self, key: str, *, now: datetime) -> None: ...
    async def reschedule(
        self, key: str, *, not_before: datetime, error: str, attempt: bool = True, parts_sent: int | None = None
    ) -> None:
        """Release the lease, record the error, not claimable before ``not_before``; bump attempts when
        ``attempt`` (a failed send), not for an item put back unsent (a pause, a limit, a stop). A
        ``parts_sent`` is recorded with the item (None keeps the count it has)."""
        ...

    async def mark_dead(self, key: str, *, error: str, now: datetime | None = None) -> None:
        """Give up on a pending item; ``now`` is when (for retention; None = its not_before)."""
        ...

    async def outbox_counts(self) -> dict[str, int]:
        """{"pending": n, "sent": n, "dead": n}; sent and dead within the retention window."""
        ...

    async def was_sent(self, key: str) -> bool: ...
    async def get_blob(self, sha: str) -> bytes | None:
        """The chart a pending item's ``photo_blob`` names; None once no item refers to it."""
        ...

    async def purge_outbox(self, *, before: datetime, limit: int = 10_000) -> int:
        """Delete up to ``limit`` sent or dead items that finished before ``before``; how many went."""
        ...

    async def size_bytes(self) -> int:
        """Bytes the store's data takes (SQLite: pages in use; Redis: memory of its keys)."""
        ...

    # digest schedule -------------------------------------------------------------------------------
    async def due_digests(self, *, now: datetime, limit: int) -> list[tuple[ChatSettings, datetime]]:
        """Up to ``limit`` chats whose digest is due at ``now``, with their due instant, earliest first."""
        ...

    async def set_digest_due(self, updates: list[tuple[int, datetime, datetime]]) -> None:
        """For each (chat_id, was, due): move the chat's due instant from ``was`` to ``due``, only if it
        is still ``was`` (a chat that changed its digest meanwhile keeps the new schedule)."""
        ...

    # small key/value for job bookkeeping (last digest date, last watch as-of, ...) -----------------
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...

    # leadership: only one scheduler among several processes on one Redis ----------------------------
    async def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew (when ``owner`` already holds it) a lock that expires after ``ttl_s``."""
        ...

    async def release_lock(self, name: str, owner: str) -> None: ...
