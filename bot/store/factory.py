"""Choose the Store backend from the settings: Redis when a URL is configured, else the SQLite file."""

from __future__ import annotations

from pathlib import Path

from bot.store.base import Store
from bot.store.sqlite import SqliteStore

SQLITE_FILENAME = "capgap.sqlite3"


def make_store(*, data_dir: Path, redis_url: str | None) -> Store:
    """An unopened Store: RedisStore(redis_url) when set, else SqliteStore(data_dir / "capgap.sqlite3").

    The caller awaits ``open()`` (and ``close()``), so construction never touches the disk or network.
    """
    if redis_url:
        from bot.store.redis import RedisStore  # redis-py is ~4.5 MB of RSS a SQLite bot need not load

        return RedisStore(redis_url)
    return SqliteStore(Path(data_dir) / SQLITE_FILENAME)
