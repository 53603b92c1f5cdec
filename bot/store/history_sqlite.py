"""Market history in the SQLite file of the embedded store (``capgap.sqlite3`` under CAPGAP_DATA_DIR).

Tables (next to the store's chats and subscriptions, created on open; see history_base.py)::

    history_revisions (name, rev)                        one row per series and one for ZQ_STRIPS
    history_series    (name, source, fetched_at, rows, first, last, columns)   columns: JSON list
    history_chunks    (name, year, rev, data)            data: a .npy blob of one decade's rows
    history_strips    (trade_date, month, settle, source, fetched_at)          one row per contract month

Anyone can read it: ``sqlite3 capgap.sqlite3 "select * from history_series"``, and a chunk with
``numpy.load(io.BytesIO(data))``. The connection is WAL-mode like the store's: readers never wait for a
writer, and each read below runs in one read transaction, so it sees one committed state. Writes run
in ``BEGIN IMMEDIATE`` (data, record and revision in one transaction): two processes writing one file
take turns, and a process killed mid-write leaves the previous state.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.store.history_base import STRIPS, SeriesRead, SeriesRecord, SeriesWrite, StripRow, WriteFn
from bot.store.sqlite_file import connect, create, transaction

BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another process's write lock (a full import of another series)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history_revisions (name TEXT PRIMARY KEY, rev TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_series (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    fetched_at TEXT,
    rows INTEGER NOT NULL,
    first TEXT,
    last TEXT,
    columns TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_chunks (
    name TEXT NOT NULL,
    year INTEGER NOT NULL,
    rev TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, year)
);
CREATE TABLE IF NOT EXISTS history_strips (
    trade_date TEXT NOT NULL,
    month TEXT NOT NULL,
    settle REAL NOT NULL,
    source TEXT NOT NULL,
    fetched_at TEXT,
    PRIMARY KEY (trade_date, month)
) WITHOUT ROWID;
"""


def _record(row: tuple[object, ...] | None) -> SeriesRecord | None:
    if row is None:
        return None
    rev, source, fetched_at, rows, first, last, columns = row
    return SeriesRecord(
        rev=str(rev),
        source=str(source),
        fetched_at=fetched_at if fetched_at is None else str(fetched_at),
        rows=int(rows),  # type: ignore[call-overload]
        first=first if first is None else str(first),
        last=last if last is None else str(last),
        columns=tuple(json.loads(str(columns))),
    )


_RECORD_FROM = (
    "r.rev, s.source, s.fetched_at, s.rows, s.first, s.last, s.columns"
    " FROM history_series s JOIN history_revisions r ON r.name = s.name"
)
_RECORD_SQL = f"SELECT {_RECORD_FROM} WHERE s.name = ?"


class _Txn:
    def __init__(self, conn: sqlite3.Connection, name: str) -> None:
        self._conn = conn
        self._name = name

    def record(self) -> SeriesRecord | None:
        return _record(self._conn.execute(_RECORD_SQL, (self._name,)).fetchone())

    def chunks(self, keys: Iterable[int]) -> dict[int, bytes]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(
            f"SELECT year, data FROM history_chunks WHERE name = ? AND year IN ({marks})", (self._name, *wanted)
        )
        return {int(year): bytes(data) for year, data in rows}


class SqliteHistory:
    """The history backend on the SQLite file ``path`` (created with its folder when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection used from any thread (Market.reload runs in a worker thread), one call at a time.
        self._conn = connect(self.path, BUSY_TIMEOUT_MS, check_same_thread=False)
        self._lock = threading.Lock()
        tables = {"history_revisions", "history_series", "history_chunks", "history_strips"}
        held = {name for (name,) in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables <= held:  # a new file: create them (a file that has them is opened without a write lock)
            with self._write() as conn:
                create(conn, _SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._conn) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Several SELECTs that see one committed state (a WAL read transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # reading ---------------------------------------------------------------------------------------
    def revisions(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT name, rev FROM history_revisions"))

    def record(self, name: str) -> SeriesRecord | None:
        with self._lock:
            return _record(self._conn.execute(_RECORD_SQL, (name,)).fetchone())

    def records(self, names: Sequence[str]) -> dict[str, SeriesRecord]:
        if not names:
            return {}
        sql = f"SELECT s.name, {_RECORD_FROM} WHERE s.name IN ({','.join('?' * len(names))})"
        with self._lock:
            rows = self._conn.execute(sql, tuple(names)).fetchall()
        return {str(row[0]): record for row in rows if (record := _record(row[1:])) is not None}

    def read(self, name: str, have: Mapping[int, str]) -> SeriesRead | None:
        with self._read() as conn:
            record = _record(conn.execute(_RECORD_SQL, (name,)).fetchone())
            if record is None:
                return None
            if not have:  # a first read: every chunk, in one pass
                rows = conn.execute("SELECT year, rev, data FROM history_chunks WHERE name = ?", (name,)).fetchall()
                return SeriesRead(record, {y: r for y, r, _ in rows}, {y: d for y, _, d in rows})
            revs = dict(conn.execute("SELECT year, rev FROM history_chunks WHERE name = ?", (name,)).fetchall())
            blobs = _Txn(conn, name).chunks(y for y, r in revs.items() if have.get(y) != r)
        return SeriesRead(record, revs, blobs)

    def strips(self, first: str | None = None, last: str | None = None, *, reaching: str | None = None) -> list[StripRow]:
        bounds: tuple[str, ...] = (first or "", last or "9999-12-31")
        sql = "SELECT trade_date, month, settle, source, fetched_at FROM history_strips WHERE trade_date BETWEEN ? AND ?"
        if reaching is not None:
            sql += " AND trade_date IN (SELECT trade_date FROM history_strips WHERE trade_date BETWEEN ? AND ? AND month >= ?)"
            bounds += (*bounds, reaching)
        out: dict[str, StripRow] = {}
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY trade_date, month", bounds).fetchall()
        for trade_date, month, settle, source, fetched_at in rows:
            strip = out.get(trade_date)
            if strip is None:
                strip = out[trade_date] = StripRow(trade_date, source, fetched_at, {})
            strip.settles[month] = settle  # type: ignore[index]
        return list(out.values())

    def strip_dates(self, first: str | None = None, last: str | None = None) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT trade_date FROM history_strips WHERE trade_date BETWEEN ? AND ? ORDER BY trade_date",
                (first or "", last or "9999-12-31"),
            ).fetchall()
        return [d for (d,) in rows]

    def strip_span(self) -> tuple[str, str] | None:
        with self._lock:  # one seek each in the primary key (a query with both MIN and MAX would scan the table)
            (first,) = self._conn.execute("SELECT MIN(trade_date) FROM history_strips").fetchone()
            (last,) = self._conn.execute("SELECT MAX(trade_date) FROM history_strips").fetchone()
        return (str(first), str(last)) if first is not None else None

    # writing ---------------------------------------------------------------------------------------
    def update(self, name: str, change: WriteFn) -> str | None:
        with self._write() as conn:
            write = change(_Txn(conn, name))
            if write is None:
                return None
            rev = secrets.token_hex(8)
            self._apply(conn, name, write, rev)
            _write_revision(conn, name, rev)
        return rev

    @staticmethod
    def _apply(conn: sqlite3.Connection, name: str, write: SeriesWrite, rev: str) -> None:
        if write.replace:
            conn.execute("DELETE FROM history_chunks WHERE name = ?", (name,))
        elif write.drop:
            conn.executemany("DELETE FROM history_chunks WHERE name = ? AND year = ?", [(name, y) for y in write.drop])
        conn.executemany(
            "INSERT OR REPLACE INTO history_chunks (name, year, rev, data) VALUES (?, ?, ?, ?)",
            [(name, year, rev, data) for year, data in write.put.items()],
        )
        conn.execute(
            "INSERT OR REPLACE INTO history_series (name, source, fetched_at, rows, first, last, columns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, write.source, write.fetched_at, write.rows, write.first, write.last, json.dumps(list(write.columns))),
        )

    def delete(self, name: str) -> bool:
        with self._write() as conn:
            gone = conn.execute("DELETE FROM history_series WHERE name = ?", (name,)).rowcount > 0
            conn.execute("DELETE FROM history_chunks WHERE name = ?", (name,))
            conn.execute("DELETE FROM history_revisions WHERE name = ?", (name,))
        return gone

    def put_strips(self, strips: Sequence[StripRow]) -> str:
        rev = secrets.token_hex(8)
        with self._write() as conn:
            conn.executemany("DELETE FROM history_strips WHERE trade_date = ?", [(s.trade_date,) for s in strips])
            conn.executemany(
                "INSERT INTO history_strips (trade_date, month, settle, source, fetched_at) VALUES (?, ?, ?, ?, ?)",
                [(s.trade_date, m, float(p), s.source, s.fetched_at) for s in strips for m, p in s.settles.items()],
            )
            _write_revision(conn, STRIPS, rev)
        return rev

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file now. SQLite does it by itself whenever the log passes
        1,000 pages, inside whichever commit crosses the line; bench_data calls this after its untimed
        bulk writes so their folding is not charged to the refresh it times."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _write_revision(conn: sqlite3.Connection, name: str, rev: str) -> None:
    """The last statement of every write transaction (a seam for the crash test)."""
    conn.execute("INSERT OR REPLACE INTO history_revisions (name, rev) VALUES (?, ?)", (name, rev))
