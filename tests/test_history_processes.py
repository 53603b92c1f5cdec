"""Two processes, one history: a running worker answers with the close another process just stored.

The worker is a real subprocess holding a Market (as `capgap run` does); it answers /r2k, then, each
time it is poked, calls ``Market.reload_if_changed()`` (what the reload job does every few seconds)
and answers again. On SQLite the writer is the real `capgap import` on the same data dir; on Redis
another process (this one) imports the same file through the store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.history import HistoryStore
from bot.sources.csvfile import read_series_csv
from bot.store.history_redis import RedisHistory
from bot.store.history_sqlite import SqliteHistory
from tests.conftest import REPO
from tests.test_cli import capgap

RUT_CSV = "indices/RUT_yahoo_alitalbi.csv"

_WORKER = """
import asyncio, json, sys
from datetime import UTC, datetime
from pathlib import Path
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.market import Market
from bot.store.history_redis import RedisHistory
from bot.store.history_sqlite import SqliteHistory
from bot.seam import Services
from tests.commands_data import ask

kind, where, prefix, data_dir = sys.argv[1:5]
history = HistoryStore(SqliteHistory(Path(where)) if kind == "sqlite" else RedisHistory(where, prefix=prefix))
clock = FixedClock(datetime(2026, 2, 21, 1, 0, tzinfo=UTC))  # after the close of Friday 2026-02-20
settings = Settings(data_dir=Path(data_dir), _env_file=None)
services = Services(settings=settings, clock=clock, history=history, market=Market(history, clock), store=None)

async def main():
    print(json.dumps([None, (await ask(services, "/r2k"))[0]]), flush=True)
    for _ in sys.stdin:
        changed = services.market.reload_if_changed()
        print(json.dumps([changed, (await ask(services, "/r2k"))[0]]), flush=True)

asyncio.run(main())
"""


class Worker:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, *args], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )

    def answer(self) -> tuple[bool | None, str]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else "worker died"
        changed, text = json.loads(line)
        return changed, text

    def poke(self) -> tuple[bool | None, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("reload\n")
        self.proc.stdin.flush()
        return self.answer()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def rut(shared_data: Path):  # type: ignore[no-untyped-def]
    return read_series_csv(shared_data / RUT_CSV, "RUT").frame


def _run_worker(args: list[str]) -> Iterator[Worker]:
    worker = Worker(*args)
    try:
        yield worker
    finally:
        worker.stop()


def test_worker_on_sqlite_answers_with_the_close_capgap_import_stored(tmp_path: Path, shared_data: Path, rut) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "capgap.sqlite3"
    HistoryStore(SqliteHistory(db)).write("RUT", rut.loc[:"2026-02-19"], source="csv", fetched_at=None)
    for worker in _run_worker(["sqlite", str(db), "", str(tmp_path)]):
        _, before = worker.answer()
        assert "2,665.09" in before and "2,663.78" not in before  # the 2026-02-19 close
        assert worker.poke()[0] is False
        result = capgap("import", str(shared_data / RUT_CSV), "--series", "RUT", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        changed, after = worker.poke()
        assert changed is True and "2,663.78" in after  # the 2026-02-20 close, imported by the other process
        assert worker.poke()[0] is False


def test_worker_on_redis_answers_with_the_close_another_process_stored(
    tmp_path: Path, redis_url: str, redis_prefix: str, rut  # type: ignore[no-untyped-def]
) -> None:
    writer = HistoryStore(RedisHistory(redis_url, prefix=redis_prefix))
    writer.write("RUT", rut.loc[:"2026-02-19"], source="csv", fetched_at=None)
    for worker in _run_worker(["redis", redis_url, redis_prefix, str(tmp_path)]):
        _, before = worker.answer()
        assert "2,665.09" in before and "2,663.78" not in before
        assert worker.poke()[0] is False
        writer.upsert("RUT", rut, source=f"csv:{Path(RUT_CSV).name}", fetched_at=None)
        changed, after = worker.poke()
        assert changed is True and "2,663.78" in after
        assert worker.poke()[0] is False
    writer.close()
