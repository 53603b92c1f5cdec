"""What the SQLite store and the SQLite history backend do alike with their (shared) file: open a
connection in WAL mode without implicit transactions, run a schema, and write in ``BEGIN IMMEDIATE``
transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, busy_timeout_ms: int, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode that waits up to ``busy_timeout_ms`` for another writer.

    ``isolation_level=None``: no implicit transactions; writes use ``transaction``.
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL under WAL: a power cut can lose the last commits but never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; IMMEDIATE so the write lock is taken before any read inside it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create(conn: sqlite3.Connection, schema: str) -> None:
    """Run the ``;``-separated statements of ``schema`` (inside the caller's transaction)."""
    for statement in schema.split(";"):
        if statement.strip():
            conn.execute(statement)
