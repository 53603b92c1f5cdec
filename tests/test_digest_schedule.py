"""The daily digest at each chat's own time and zone, on NYSE session days only (time travelled)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.market import Market
from bot.sources.csvfile import read_series_csv
from bot.store.base import ChatSettings
from bot.store.sqlite import SqliteStore
from handlers.base import Services
from jobs.digest import due_session, enqueue_due_digests

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(*args: int) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("now", "session"),
    [
        (taipei(2026, 11, 24, 7, 29), None),  # a minute early
        (taipei(2026, 11, 24, 7, 30), "2026-11-23"),  # Tuesday in Taipei: Monday's session
        (taipei(2026, 11, 23, 7, 30), "2026-11-20"),  # Monday: Friday's session
        (taipei(2026, 11, 26, 7, 30), None),  # Thanksgiving: no NYSE session that day
        (taipei(2026, 11, 27, 7, 30), "2026-11-25"),  # Friday (early close in NY): the Wednesday before
        (taipei(2026, 11, 28, 7, 30), None),  # Saturday
    ],
)
def test_due_session_for_0730_taipei(now: datetime, session: str | None) -> None:
    due = due_session("07:30", "Asia/Taipei", now)
    assert (due.isoformat() if due else None) == session


async def test_digest_is_enqueued_once_at_its_instant(tmp_path: Path, shared_data: Path) -> None:
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame, source="yahoo", fetched_at=None)
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    await store.put_chat(ChatSettings(chat_id=1, lang="zh-Hant", tz="Asia/Taipei", digest_time="07:30"))
    await store.put_chat(ChatSettings(chat_id=2, lang="en", tz="America/New_York", digest_time="08:00"))
    clock = FixedClock(taipei(2026, 2, 16, 7, 30))  # Monday 2026-02-16: Presidents' Day, NYSE closed
    services = Services(Settings(data_dir=tmp_path, _env_file=None), clock, history, Market(history, clock), store)  # type: ignore[call-arg]
    assert await enqueue_due_digests(services, clock.now()) == 0
    clock.instant = taipei(2026, 2, 17, 7, 30)  # Tuesday: the digest of Friday 2026-02-13
    assert await enqueue_due_digests(services, clock.now()) == 1
    assert await enqueue_due_digests(services, taipei(2026, 2, 17, 7, 31)) == 0  # once
    items = await store.claim("t", now=taipei(2026, 2, 17, 7, 31), limit=10, lease_s=30)
    assert [i.key for i in items] == ["digest:1:2026-02-13"]
    assert "2026-02-13" in items[0].payload["text"] and "羅素 2000" in items[0].payload["text"]
    chart = await store.get_blob(items[0].payload["photo_blob"])  # the chart, stored once per broadcast
    assert chart is not None and chart.startswith(b"\x89PNG")
    await store.close()
