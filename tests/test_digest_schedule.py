"""The daily digest at each chat's own time and zone, on NYSE session days only (time travelled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from bot.digests import DigestRenders, due_session, next_digest_at
from bot.history import HistoryStore
from bot.market import Market
from bot.seam import Services
from bot.sources.csvfile import read_series_csv
from bot.store.base import ChatSettings
from bot.store.sqlite import SqliteStore
from jobs.digest import enqueue_due_digests

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
    history.write("RUT", read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame, source="yahoo",
                  fetched_at=None)
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


@pytest.mark.parametrize(
    ("chat_time", "zone", "after", "due"),
    [
        # Friday 08:00 EST; New York springs forward on Sunday 8 March: Monday's 08:00 is EDT.
        ("08:00", "America/New_York", datetime(2026, 3, 6, 13, 0, tzinfo=UTC), datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
        # a second earlier, Friday's own digest is next
        ("08:00", "America/New_York", datetime(2026, 3, 6, 12, 59, 59, tzinfo=UTC), datetime(2026, 3, 6, 13, 0, tzinfo=UTC)),
        # London falls back on Sunday 25 October: Friday 08:00 BST = 07:00 UTC, Monday 08:00 GMT = 08:00 UTC
        ("08:00", "Europe/London", datetime(2026, 10, 23, 7, 0, tzinfo=UTC), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),
        # Taipei's Thursday 26 November is Thanksgiving in New York: no session, so Friday
        ("07:30", "Asia/Taipei", taipei(2026, 11, 25, 7, 30), taipei(2026, 11, 27, 7, 30)),
        # Good Friday 2026-04-03 and the weekend: Thursday's 18:00 in Sydney, then Monday's
        ("18:00", "Australia/Sydney", datetime(2026, 4, 2, 7, 0, tzinfo=UTC), datetime(2026, 4, 6, 8, 0, tzinfo=UTC)),
    ],
)
def test_next_digest_at_local_time_on_the_next_session_day(chat_time: str, zone: str, after: datetime, due: datetime) -> None:
    assert next_digest_at(chat_time, zone, after) == due


def test_next_digest_at_agrees_with_due_session_over_a_year() -> None:
    """The instants next_digest_at names, one after the other, are exactly where due_session starts a
    digest: checked every quarter hour of 2026 in three zones (due = within CATCH_UP after one)."""
    from bot.digests import CATCH_UP

    end = datetime(2027, 1, 1, tzinfo=UTC)
    for chat_time, zone in (("07:30", "Asia/Taipei"), ("08:00", "America/New_York"), ("00:15", "Europe/London")):
        dues = [next_digest_at(chat_time, zone, datetime(2025, 12, 31, tzinfo=UTC))]
        while dues[-1] < end:
            dues.append(next_digest_at(chat_time, zone, dues[-1]))
        assert 245 <= len(dues) <= 255  # about one per NYSE session
        at, index = datetime(2026, 1, 1, tzinfo=UTC), 0
        while at < end:
            while dues[index + 1] <= at:
                index += 1
            expected = dues[index] <= at < dues[index] + CATCH_UP
            assert (due_session(chat_time, zone, at) is not None) == expected, (chat_time, zone, at)
            at += timedelta(minutes=15)


async def test_digest_job_touches_only_the_chats_due_each_minute(tmp_path: Path, shared_data: Path) -> None:
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame, source="yahoo",
                  fetched_at=None)
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    chats = {
        1: ("zh-Hant", "Asia/Taipei", "07:30"),
        2: ("en", "America/New_York", "08:00"),
        3: ("en", "Europe/London", "18:00"),
        4: ("en", "Asia/Tokyo", "06:00"),
        5: ("zh-Hant", "America/New_York", "16:30"),
    }
    for chat_id, (lang, zone, at) in chats.items():
        await store.put_chat(ChatSettings(chat_id=chat_id, lang=lang, tz=zone, digest_time=at))
    await store.put_chat(ChatSettings(chat_id=6, lang="en"))  # no digest: never touched
    start = datetime(2026, 2, 17, 0, 0, 30, tzinfo=UTC)  # Tuesday 17 February 2026 in every one of these zones' day
    clock = FixedClock(start)
    services = Services(Settings(data_dir=tmp_path, _env_file=None), clock, history, Market(history, clock), store)  # type: ignore[call-arg]
    touched: list[tuple[datetime, int]] = []
    due_digests = store.due_digests

    async def recording(*, now: datetime, limit: int) -> list[tuple[ChatSettings, datetime]]:
        due = await due_digests(now=now, limit=limit)
        touched.extend((now, chat.chat_id) for chat, _ in due)
        return due

    store.due_digests = recording  # type: ignore[method-assign]
    sent: list[tuple[datetime, int]] = []
    for minute in range(24 * 60):
        now = start + timedelta(minutes=minute)
        await enqueue_due_digests(services, now)
        for it in await store.claim("t", now=now, limit=10, lease_s=30):
            sent.append((now, it.chat_id))
            await store.mark_sent(it.key, now=now)
    first = [chat for at, chat in touched if at == start]
    later = [(at, chat) for at, chat in touched if at != start]
    assert sorted(first) == [1, 2, 3, 4, 5]  # each new chat once, to compute its first due instant
    # then each chat once, at its own minute only, and that touch is its digest
    assert sorted(chat for _, chat in later) == [1, 2, 3, 4, 5]
    assert later == [event for event in sent if event[0] != start]
    # 08:00 Tuesday in Taipei at the start: within the catch-up after 07:30, so chat 1 gets Monday's
    # digest at once, and Tuesday's at Wednesday 07:30 Taipei
    assert [event for event in sent if event[0] == start] == [(start, 1)]
    assert (datetime(2026, 2, 17, 23, 30, 30, tzinfo=UTC), 1) in later
    await store.close()


async def test_a_run_renders_each_digest_once_and_another_run_renders_its_own(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render memo belongs to a run (DigestRenders), not the module: chats due in later minutes of a
    run get the digest rendered once; another run renders its own."""
    import bot.render.digest

    rendered: list[str] = []
    build = bot.render.digest.build_digest

    async def counted(snapshot: object, lang: str) -> object:
        rendered.append(lang)
        return await build(snapshot, lang)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.render.digest, "build_digest", counted)
    history = HistoryStore(tmp_path / "history")
    history.write("RUT", read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame, source="yahoo",
                  fetched_at=None)
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    for chat_id, at in ((1, "07:30"), (2, "07:31"), (3, "07:32")):
        await store.put_chat(ChatSettings(chat_id=chat_id, lang="en", tz="Asia/Taipei", digest_time=at))
    clock = FixedClock(taipei(2026, 2, 17, 7, 29))
    market = Market(history, clock)
    services = Services(Settings(data_dir=tmp_path, _env_file=None), clock, history, market, store)  # type: ignore[call-arg]
    run = DigestRenders()
    await enqueue_due_digests(services, clock.now(), run)  # first due instants
    assert await enqueue_due_digests(services, taipei(2026, 2, 17, 7, 30), run) == 1
    assert await enqueue_due_digests(services, taipei(2026, 2, 17, 7, 31), run) == 1
    assert rendered == ["en"]  # the second minute's chat got the run's digest
    # Another run (a restarted bot) keeps nothing of this one's: it renders its own.
    assert await enqueue_due_digests(services, taipei(2026, 2, 17, 7, 32), DigestRenders()) == 1
    assert rendered == ["en", "en"]
    await store.close()
