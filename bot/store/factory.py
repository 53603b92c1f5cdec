"""Choose the Store backend from the settings: Redis when a URL is configured, else the SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.base import Store
from bot.store.history_base import HistoryBackend
from bot.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bot.history import HistoryStore

SQLITE_FILENAME = "capgap.sqlite3"


def make_store(*, data_dir: Path, redis_url: str | None) -> Store:
    """An unopened Store: RedisStore(redis_url) when set, else SqliteStore(data_dir / "capgap.sqlite3").

    The caller awaits ``open()`` (and ``close()``), so construction never touches the disk or network.
    """
    if redis_url:
        from bot.store.redis import RedisStore  # redis-py is ~4.5 MB of RSS a SQLite bot need not load

        return RedisStore(redis_url)
    return SqliteStore(Path(data_dir) / SQLITE_FILENAME)


def make_history(*, data_dir: Path, redis_url: str | None, migrate: bool = True) -> HistoryStore:
    """Market history in the same place as the store: the Redis at ``redis_url`` when set, else the
    SQLite file ``data_dir / "capgap.sqlite3"``. With ``migrate``, ``.cgh`` files a capgap before
    issue 14 left in ``data_dir / "history"`` are converted into it first (once; see history_cgh.py)."""
    from bot.history import HistoryStore

    backend: HistoryBackend
    if redis_url:
        from bot.store.history_redis import RedisHistory

        backend = RedisHistory(redis_url)
    else:
        from bot.store.history_sqlite import SqliteHistory

        backend = SqliteHistory(Path(data_dir) / SQLITE_FILENAME)
    history = HistoryStore(backend)
    if migrate:
        from bot.store.history_cgh import migrate_cgh

        migrate_cgh(Path(data_dir) / "history", history)
    return history
