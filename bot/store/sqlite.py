"""SqliteStore: the embedded Store, one WAL-mode SQLite file under CAPGAP_DATA_DIR.

Every call runs on one dedicated worker thread that owns the connection, so calls from the event loop
are serialised and never block it. Writes run in ``BEGIN IMMEDIATE`` transactions, which take SQLite's
write lock up front: two processes sharing the file (a bot and a ``capgap`` CLI) wait for each other up
to the busy timeout instead of failing half-way, and ``claim`` (select due, lease, return) is atomic
across processes too.

Instants are stored as integer microseconds since the Unix epoch (UTC): exact, and ordered by plain
integer comparison, which is what the outbox's due index needs. Mappings (subscription params, alert
state, outbox payloads) are JSON text.

Retention (bot/store/base.py): a finished outbox row keeps its key, chat, times, status and error with
the payload replaced by ``{}``; ``sent_at`` is when it finished (sent, or given up), indexed for
``purge_outbox``. Charts live once in ``outbox_blobs`` with a count of the pending rows naming them.
Freed pages are reused, so the file stops growing once the window is full (it never shrinks by
itself; ``VACUUM`` gives the space back to the file system). The digest schedule is the table
``digest_schedule`` (chat_id, due), indexed by due.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import ConfigError, StoreUnavailableError
from bot.store.base import (
    EPOCH,
    OUTBOX_STATUSES,
    SUBSCRIPTION_PAGE,
    BlobSplitter,
    ChatSettings,
    OutboxItem,
    Subscription,
    check_claim,
)
from bot.store.base import dumps as _dumps
from bot.store.base import from_us as _from_us
from bot.store.base import opt_to_us as _opt_to_us
from bot.store.base import to_us as _to_us
from bot.store.sqlite_file import connect, create
from bot.store.sqlite_file import transaction as _transaction

T = TypeVar("T")

SCHEMA_VERSION = 1
"""Version of the layout below; a file with a higher version was written by a newer capgap."""

BUSY_TIMEOUT_MS = 5_000
"""How long a call waits for another process's write lock before the store counts as unavailable."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chats (
    chat_id INTEGER PRIMARY KEY,
    lang TEXT,
    tz TEXT,
    digest_time TEXT,
    kind TEXT NOT NULL,
    active INTEGER NOT NULL,
    inactive_reason TEXT,
    muted_until INTEGER
);
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at INTEGER,
    muted_until INTEGER,
    PRIMARY KEY (chat_id, rule_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_by_rule ON subscriptions (rule_id, chat_id);
CREATE TABLE IF NOT EXISTS alert_states (
    rule_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (rule_id, scope)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_states_by_scope ON alert_states (scope);
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ({statuses})),
    lease_owner TEXT,
    lease_until INTEGER,
    sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (not_before, created_at, key) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_pending_by_chat ON outbox (chat_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_finished ON outbox (sent_at) WHERE status != 'pending';
CREATE TABLE IF NOT EXISTS outbox_blobs (sha TEXT PRIMARY KEY, data BLOB NOT NULL, refs INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digest_schedule (chat_id INTEGER PRIMARY KEY, due INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS digest_schedule_by_due ON digest_schedule (due);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL);
""".replace("{statuses}", ", ".join(f"'{status}'" for status in OUTBOX_STATUSES))

SUBSCRIPTIONS_VERSION_KEY = "store:subscriptions_version"
"""The meta row holding ``subscriptions_version``; keys under ``store:`` are the store's own."""

# A fresh random value, not a counter: a version then names one state of the subscriptions, even in a
# different file or in this file restored from a backup, where a counter could come round again.
_NEW_VERSION = "lower(hex(randomblob(8)))"

# Every write to subscriptions, whatever statement or process makes it, changes the version in the
# same transaction (triggers live in the file, so a process of an older capgap bumps it too).
_VERSION_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS subscriptions_version_on_{event.lower()} AFTER {event} ON subscriptions"
    f" BEGIN INSERT OR REPLACE INTO meta (key, value)"
    f" VALUES ('{SUBSCRIPTIONS_VERSION_KEY}', {_NEW_VERSION}); END"
    for event in ("INSERT", "UPDATE", "DELETE")
)

_SUBSCRIPTION_COLUMNS = "chat_id, rule_id, params, created_at, muted_until"

_OUTBOX_COLUMNS = "key, chat_id, payload, created_at, not_before, attempts, last_error"
_CLAIMED_COLUMNS = f"{_OUTBOX_COLUMNS}, parts_sent"


def _chat_from_row(row: sqlite3.Row) -> ChatSettings:
    return ChatSettings(
        chat_id=row["chat_id"],
        lang=row["lang"],
        tz=row["tz"],
        digest_time=row["digest_time"],
        kind=row["kind"],
        active=bool(row["active"]),
        inactive_reason=row["inactive_reason"],
        muted_until=_from_us(row["muted_until"]),
    )


_SCALARS = (str, int, float, bool, type(None))


def _params_decoder() -> Callable[[str], dict[str, Any]]:
    """json.loads for subscription params, memoised per listing: most subscribers of a rule share the
    same few override texts, and decoding each of 100k rows was a third of a listing's time. Flat
    objects are handed out as fresh shallow copies (no caller can alter another's); nested ones are
    decoded anew."""
    flat: dict[str, dict[str, Any]] = {}

    def decode(text: str) -> dict[str, Any]:
        cached = flat.get(text)
        if cached is not None:
            return dict(cached)
        value: dict[str, Any] = json.loads(text)
        if all(isinstance(v, _SCALARS) for v in value.values()):
            flat[text] = value
            return dict(value)
        return value

    return decode


def _item_from_row(row: sqlite3.Row) -> OutboxItem:
    created_at = _from_us(row["created_at"])
    not_before = _from_us(row["not_before"])
    assert created_at is not None and not_before is not None  # NOT NULL columns
    return OutboxItem(
        key=row["key"],
        chat_id=row["chat_id"],
        payload=json.loads(row["payload"]),
        created_at=created_at,
        not_before=not_before,
        attempts=row["attempts"],
        last_error=row["last_error"],
        parts_sent=row["parts_sent"],
    )


class SqliteStore:
    """The Store on one SQLite file (created with its folder on ``open``).

    ``wall_clock`` gives seconds since the epoch for lock expiry only: ``acquire_lock`` takes no ``now``,
    and a lock shared by processes must expire on a clock they all read, as Redis's does on its own.
    """

    def __init__(self, path: Path, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._wall_clock = wall_clock
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    # lifecycle ---------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file, switch it to WAL and create or check the schema."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capgap-sqlite")
        try:
            await self._run(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, BUSY_TIMEOUT_MS)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with _transaction(conn):
                # Files written before parts_sent was a column: added with 0 (an additive change, so the
                # schema version stays; an older capgap leaves the column at its default).
                outbox = {row["name"] for row in conn.execute("PRAGMA table_info(outbox)")}
                if outbox and "parts_sent" not in outbox:
                    conn.execute("ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0")
                create(conn, _SCHEMA)
                for statement in _VERSION_TRIGGERS:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT OR IGNORE INTO meta (key, value) VALUES (?, {_NEW_VERSION})",
                    (SUBSCRIPTIONS_VERSION_KEY,),
                )
                # Files written before retention and the digest schedule: finished items get a finish
                # time (so the purge sees them) and every chat with a digest a place in the schedule.
                conn.execute(
                    "UPDATE outbox SET sent_at = not_before WHERE status != 'pending' AND sent_at IS NULL"
                )
                conn.execute(
                    "INSERT OR IGNORE INTO digest_schedule (chat_id, due)"
                    " SELECT chat_id, 0 FROM chats WHERE digest_time IS NOT NULL AND active = 1"
                )
                row = conn.execute("SELECT version FROM schema_version").fetchone()
                if row is None:
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                elif row["version"] > SCHEMA_VERSION:
                    raise ConfigError(
                        f"{self.path} has store schema version {row['version']}, newer than this capgap "
                        f"({SCHEMA_VERSION}); upgrade capgap or point CAPGAP_DATA_DIR elsewhere"
                    )
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        if self._executor is None:
            return
        try:
            await self._run(self._close_sync)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ping(self) -> bool:
        """True when the file answers a query; False when it does not or the store is closed."""
        if self._executor is None:
            return False
        try:
            return await self._run(lambda: self._db().execute("SELECT 1").fetchone()[0] == 1)
        except StoreUnavailableError:
            return False

    async def schema_version(self) -> int:
        """The layout version recorded in the file."""
        return int(
            await self._run(lambda: self._db().execute("SELECT version FROM schema_version").fetchone()[0])
        )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError()
        return self._conn

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("SqliteStore is not open; call open() first")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.OperationalError as exc:
            # locked past the busy timeout, disk full, file gone: the store, not the caller, is at fault
            raise StoreUnavailableError() from exc

    # chats -------------------------------------------------------------------------------------------

    async def get_chat(self, chat_id: int) -> ChatSettings | None:
        def work() -> ChatSettings | None:
            row = self._db().execute("SELECT * FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            return None if row is None else _chat_from_row(row)

        return await self._run(work)

    async def put_chat(self, chat: ChatSettings) -> None:
        values = (
            chat.chat_id,
            chat.lang,
            chat.tz,
            chat.digest_time,
            chat.kind,
            int(chat.active),
            chat.inactive_reason,
            _opt_to_us(chat.muted_until),
        )

        def work() -> None:
            with _transaction(self._db()) as db:
                old = db.execute(
                    "SELECT digest_time, tz, lang, active FROM chats WHERE chat_id = ?", (chat.chat_id,)
                ).fetchone()
                db.execute("INSERT OR REPLACE INTO chats VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
                if chat.digest_time is None or not chat.active:
                    db.execute("DELETE FROM digest_schedule WHERE chat_id = ?", (chat.chat_id,))
                elif old is None or tuple(old) != (chat.digest_time, chat.tz, chat.lang, 1):
                    db.execute("INSERT OR REPLACE INTO digest_schedule VALUES (?, 0)", (chat.chat_id,))
                else:  # unchanged schedule: keep its due instant (or add the missing row)
                    db.execute("INSERT OR IGNORE INTO digest_schedule VALUES (?, 0)", (chat.chat_id,))

        await self._run(work)

    async def list_chats(self, *, active_only: bool = True) -> list[ChatSettings]:
        """All chats ordered by chat_id; only active ones unless ``active_only`` is False."""
        sql = "SELECT * FROM chats" + (" WHERE active = 1" if active_only else "") + " ORDER BY chat_id"
        return await self._run(lambda: [_chat_from_row(r) for r in self._db().execute(sql)])

    async def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """Mark a known chat inactive with ``reason``; an unknown chat id is left unknown."""

        def work() -> None:
            with _transaction(self._db()) as db:
                db.execute("UPDATE chats SET active = 0, inactive_reason = ? WHERE chat_id = ?", (reason, chat_id))
                db.execute("DELETE FROM digest_schedule WHERE chat_id = ?", (chat_id,))

        await self._run(work)

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move settings, subscriptions, alert state and pending outbox items to the new id.

        Where the new id already has a record of the same kind (a settings row, a subscription to the
        same rule, a state for the same rule), the old chat's record replaces it: the old chat is the one
        its members configured. Sent and dead outbox items keep the old id, as a record of what happened.
        """
        if old_chat_id == new_chat_id:
            return
        old, new = str(old_chat_id), str(new_chat_id)

        def work() -> None:
            with _transaction(self._db()) as db:
                db.execute(
                    "UPDATE OR REPLACE chats SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
                )
                db.execute(
                    "UPDATE OR REPLACE subscriptions SET chat_id = ? WHERE chat_id = ?",
                    (new_chat_id, old_chat_id),
                )
                db.execute("UPDATE OR REPLACE alert_states SET scope = ? WHERE scope = ?", (new, old))
                db.execute(
                    "UPDATE OR REPLACE digest_schedule SET chat_id = ? WHERE chat_id = ?",
                    (new_chat_id, old_chat_id),
                )
                db.execute(
                    "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
                    (new_chat_id, old_chat_id),
                )

        await self._run(work)

    # subscriptions -----------------------------------------------------------------------------------

    async def put_subscription(self, sub: Subscription) -> None:
        values = (
            sub.chat_id,
            sub.rule_id,
            _dumps(sub.params),
            _opt_to_us(sub.created_at),
            _opt_to_us(sub.muted_until),
        )

        def work() -> None:
            self._db().execute("INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)", values)

        await self._run(work)

    async def delete_subscription(self, chat_id: int, rule_id: str) -> bool:
        """Remove the (chat_id, rule_id) subscription; True if there was one."""

        def work() -> bool:
            cur = self._db().execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND rule_id = ?", (chat_id, rule_id)
            )
            return cur.rowcount > 0

        return await self._run(work)

    async def list_subscriptions(
        self, *, chat_id: int | None = None, rule_id: str | None = None
    ) -> list[Subscription]:
        """Subscriptions matching the given filters (none = all), ordered by (chat_id, rule_id)."""
        where: list[str] = []
        args: list[object] = []
        if chat_id is not None:
            where.append("chat_id = ?")
            args.append(chat_id)
        if rule_id is not None:
            where.append("rule_id = ?")
            args.append(rule_id)
        sql = f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY chat_id, rule_id"
        return await self._run(lambda: self._subscriptions(sql, args))

    async def iter_subscriptions(
        self, rule_id: str, *, page_size: int = SUBSCRIPTION_PAGE
    ) -> AsyncIterator[list[Subscription]]:
        """Every subscription to ``rule_id``, in pages of at most ``page_size`` (here ordered by chat_id).

        Each page is one query from where the last one ended (keyset on the (rule_id, chat_id) index), so
        only one page is in memory at a time and other calls run between pages.
        """
        if page_size < 1:
            raise ValueError(f"page size must be at least 1, got {page_size}")
        first = (
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rule_id = ? ORDER BY chat_id LIMIT ?"
        )
        following = (
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rule_id = ? AND chat_id > ?"
            " ORDER BY chat_id LIMIT ?"
        )
        page = await self._run(partial(self._subscriptions, first, (rule_id, page_size)))
        while page:
            yield page
            if len(page) < page_size:
                return
            after = page[-1].chat_id
            page = await self._run(partial(self._subscriptions, following, (rule_id, after, page_size)))

    def _subscriptions(self, sql: str, args: Sequence[object]) -> list[Subscription]:
        cursor = self._db().cursor()
        cursor.row_factory = None  # plain tuples: a listing can be 100k rows, sqlite3.Row costs ~30 %
        decode = _params_decoder()
        return [
            Subscription(chat, rule, decode(params), _from_us(created), _from_us(muted))
            for chat, rule, params, created, muted in cursor.execute(sql, args)
        ]

    async def subscriptions_version(self) -> str:
        """Changes, in the same transaction, with every write to subscriptions (see _VERSION_TRIGGERS)."""

        def work() -> str:
            sql = "SELECT value FROM meta WHERE key = ?"
            row = self._db().execute(sql, (SUBSCRIPTIONS_VERSION_KEY,)).fetchone()
            return "" if row is None else str(row["value"])  # None: only if someone deleted the row

        return await self._run(work)

    # alert state -------------------------------------------------------------------------------------

    async def get_alert_states(self, rule_id: str) -> dict[str, dict[str, Any]]:
        """{scope: state} of one rule; each state is the JSON object last put for that scope."""

        def work() -> dict[str, dict[str, Any]]:
            rows = self._db().execute("SELECT scope, state FROM alert_states WHERE rule_id = ?", (rule_id,))
            return {row["scope"]: json.loads(row["state"]) for row in rows}

        return await self._run(work)

    async def put_alert_states(
        self, rule_id: str, states: Mapping[str, Mapping[str, Any]], *, drop: Iterable[str] = ()
    ) -> None:
        """Upsert many scopes and delete those in ``drop`` in one transaction; each state is replaced whole."""
        rows = [(rule_id, str(scope), _dumps(state)) for scope, state in states.items()]
        gone = [(rule_id, str(scope)) for scope in drop]

        def work() -> None:
            with _transaction(self._db()) as db:
                db.executemany("INSERT OR REPLACE INTO alert_states VALUES (?, ?, ?)", rows)
                db.executemany("DELETE FROM alert_states WHERE rule_id = ? AND scope = ?", gone)

        await self._run(work)

    # outbox ------------------------------------------------------------------------------------------

    async def enqueue(self, items: list[OutboxItem]) -> int:
        """Add items whose key is new (within the retention window, whatever its state now); return how
        many were added. A chart in a payload is stored once per content (see bot/store/base.py)."""
        blobs = BlobSplitter(_dumps)
        rows = []
        for item in items:
            payload, sha = blobs.split(item.payload)
            rows.append(
                (
                    (
                        item.key,
                        item.chat_id,
                        payload,
                        _to_us(item.created_at),
                        _to_us(item.not_before),
                        item.attempts,
                        item.last_error,
                    ),
                    sha,
                )
            )

        def work() -> int:
            added = 0
            refs: dict[str, int] = {}
            with _transaction(self._db()) as db:
                for row, sha in rows:
                    cur = db.execute(
                        f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}, status)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                        row,
                    )
                    if cur.rowcount > 0:
                        added += 1
                        if sha is not None:
                            refs[sha] = refs.get(sha, 0) + 1
                for sha, n in refs.items():
                    # A chart already stored (a digest's, minute after minute) is counted, not decoded again.
                    if db.execute("UPDATE outbox_blobs SET refs = refs + ? WHERE sha = ?", (n, sha)).rowcount == 0:
                        db.execute("INSERT INTO outbox_blobs (sha, data, refs) VALUES (?, ?, ?)", (sha, blobs.raw(sha), n))
            return added

        return await self._run(work)

    async def claim(self, consumer: str, *, now: datetime, limit: int, lease_s: float) -> list[OutboxItem]:
        """Lease up to ``limit`` due items to ``consumer`` until ``now + lease_s``.

        Due = pending, ``not_before <= now`` and no lease or an expired one (``lease_until <= now``).
        Returned in order of ``not_before``, then ``created_at``, then key.
        """
        check_claim(limit, lease_s)
        now_us = _to_us(now)
        until_us = _to_us(now + timedelta(seconds=lease_s))

        def work() -> list[OutboxItem]:
            with _transaction(self._db()) as db:
                rows = db.execute(
                    f"SELECT {_CLAIMED_COLUMNS} FROM outbox INDEXED BY outbox_due"
                    " WHERE status = 'pending' AND not_before <= ?"
                    " AND (lease_until IS NULL OR lease_until <= ?)"
                    " ORDER BY not_before, created_at, key LIMIT ?",
                    (now_us, now_us, limit),
                ).fetchall()
                db.executemany(
                    "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE key = ?",
                    [(consumer, until_us, row["key"]) for row in rows],
                )
            return [_item_from_row(row) for row in rows]

        return await self._run(work)

    def _status_of(self, db: sqlite3.Connection, key: str) -> str:
        row = db.execute("SELECT status FROM outbox WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no outbox item with key {key!r}")
        return str(row["status"])

    async def mark_sent(self, key: str, *, now: datetime) -> None:
        """Record Telegram's ok for ``key`` (KeyError if unknown); the first ``now`` is kept."""
        now_us = _to_us(now)

        def work() -> None:
            with _transaction(self._db()) as db:
                if self._status_of(db, key) == "sent":
                    return
                self._release_blob(db, key)
                db.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, payload = '{}',"
                    " lease_owner = NULL, lease_until = NULL WHERE key = ?",
                    (now_us, key),
                )

        await self._run(work)

    @staticmethod
    def _release_blob(db: sqlite3.Connection, key: str) -> None:
        """Drop the reference a pending item holds on its chart; the chart goes with the last one."""
        row = db.execute("SELECT json_extract(payload, '$.photo_blob') AS sha FROM outbox WHERE key = ?", (key,))
        sha = row.fetchone()["sha"]
        if sha is not None:
            db.execute("UPDATE outbox_blobs SET refs = refs - 1 WHERE sha = ?", (sha,))
            db.execute("DELETE FROM outbox_blobs WHERE sha = ? AND refs <= 0", (sha,))

    async def reschedule(
        self, key: str, *, not_before: datetime, error: str, attempt: bool = True, parts_sent: int | None = None
    ) -> None:
        """Release the lease, record the error, not claimable before ``not_before``; bump attempts when
        ``attempt``; record ``parts_sent`` unless None.

        A sent or dead item stays as it is; an unknown key raises KeyError.
        """
        nb_us = _to_us(not_before)

        def work() -> None:
            with _transaction(self._db()) as db:
                if self._status_of(db, key) != "pending":
                    return
                db.execute(
                    "UPDATE outbox SET attempts = attempts + ?, last_error = ?, not_before = ?,"
                    " parts_sent = COALESCE(?, parts_sent), lease_owner = NULL, lease_until = NULL WHERE key = ?",
                    (int(attempt), error, nb_us, parts_sent, key),
                )

        await self._run(work)

    async def mark_dead(self, key: str, *, error: str, now: datetime | None = None) -> None:
        """Give up on a pending item for good (KeyError if unknown); a sent item stays sent."""
        now_us = _opt_to_us(now)

        def work() -> None:
            with _transaction(self._db()) as db:
                if self._status_of(db, key) != "pending":
                    return
                self._release_blob(db, key)
                db.execute(
                    "UPDATE outbox SET status = 'dead', last_error = ?, payload = '{}',"
                    " sent_at = COALESCE(?, not_before), lease_owner = NULL, lease_until = NULL WHERE key = ?",
                    (error, now_us, key),
                )

        await self._run(work)

    async def outbox_counts(self) -> dict[str, int]:
        """{"pending": n, "sent": n, "dead": n}; pending includes leased items."""

        def work() -> dict[str, int]:
            counts = dict.fromkeys(OUTBOX_STATUSES, 0)
            for row in self._db().execute("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"):
                counts[row["status"]] = row["n"]
            return counts

        return await self._run(work)

    async def was_sent(self, key: str) -> bool:
        def work() -> bool:
            row = self._db().execute("SELECT status FROM outbox WHERE key = ?", (key,)).fetchone()
            return row is not None and row["status"] == "sent"

        return await self._run(work)

    async def get_blob(self, sha: str) -> bytes | None:
        def work() -> bytes | None:
            row = self._db().execute("SELECT data FROM outbox_blobs WHERE sha = ?", (sha,)).fetchone()
            return None if row is None else bytes(row["data"])

        return await self._run(work)

    async def purge_outbox(self, *, before: datetime, limit: int = 10_000) -> int:
        """Delete up to ``limit`` sent or dead items that finished before ``before``; how many went."""
        before_us = _to_us(before)

        def work() -> int:
            with _transaction(self._db()) as db:
                cur = db.execute(
                    "DELETE FROM outbox WHERE key IN (SELECT key FROM outbox INDEXED BY outbox_finished"
                    " WHERE status != 'pending' AND sent_at < ? LIMIT ?)",
                    (before_us, limit),
                )
                return cur.rowcount

        return await self._run(work)

    async def size_bytes(self) -> int:
        """Bytes in the pages the data takes (the file's pages less the free ones it will reuse)."""

        def work() -> int:
            db = self._db()
            pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
            return int(pages * db.execute("PRAGMA page_size").fetchone()[0])

        return await self._run(work)

    # digest schedule ---------------------------------------------------------------------------------

    async def due_digests(self, *, now: datetime, limit: int) -> list[tuple[ChatSettings, datetime]]:
        """Up to ``limit`` chats whose digest is due at ``now``, with their due instant, earliest first."""
        now_us = _to_us(now)

        def work() -> list[tuple[ChatSettings, datetime]]:
            rows = self._db().execute(
                "SELECT chats.*, digest_schedule.due AS due FROM digest_schedule"
                " INDEXED BY digest_schedule_by_due JOIN chats USING (chat_id)"
                " WHERE digest_schedule.due <= ? ORDER BY digest_schedule.due, chat_id LIMIT ?",
                (now_us, limit),
            ).fetchall()
            return [(_chat_from_row(row), EPOCH + timedelta(microseconds=row["due"])) for row in rows]

        return await self._run(work)

    async def set_digest_due(self, updates: list[tuple[int, datetime, datetime]]) -> None:
        """For each (chat_id, was, due): the chat's due instant becomes ``due`` if it still is ``was``."""
        rows = [(_to_us(due), chat_id, _to_us(was)) for chat_id, was, due in updates]

        def work() -> None:
            with _transaction(self._db()) as db:
                db.executemany("UPDATE digest_schedule SET due = ? WHERE chat_id = ? AND due = ?", rows)

        await self._run(work)

    # meta --------------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        def work() -> str | None:
            row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row["value"])

        return await self._run(work)

    async def set_meta(self, key: str, value: str) -> None:
        await self._run(lambda: self._db().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value)))

    # locks -------------------------------------------------------------------------------------------

    async def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take a free or expired lock, or renew it for its owner, until ``ttl_s`` seconds from now."""
        if ttl_s <= 0:
            raise ValueError(f"lock ttl must be positive, got {ttl_s} s")

        def work() -> bool:
            now = self._wall_clock()
            with _transaction(self._db()) as db:
                cur = db.execute(
                    "INSERT INTO locks VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                    " SET owner = excluded.owner, expires_at = excluded.expires_at"
                    " WHERE locks.owner = excluded.owner OR locks.expires_at <= ?",
                    (name, owner, now + ttl_s, now),
                )
                return cur.rowcount > 0

        return await self._run(work)

    async def release_lock(self, name: str, owner: str) -> None:
        """Free the lock if ``owner`` holds it; anyone else's release is ignored."""
        await self._run(
            lambda: self._db().execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
        )
