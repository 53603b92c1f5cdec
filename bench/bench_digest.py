"""Digest scheduling at 100k chats: CPU per scheduler minute of the digest job over a whole day.

100,000 chats with a daily digest, their times spread over every minute of the day and over eight
zones (New York, Chicago, London, Frankfurt, Taipei, Tokyo, Sydney, São Paulo), in a SQLite store (and
in Redis too when CAPGAP_REDIS_URL is set, under a prefix of its own that is deleted afterwards). The
job (jobs/digest.py ``enqueue_due_digests``) runs for each of the 1,440 minutes of Tuesday 2026-02-17
(UTC), as the bot runs it, on the real history (the digest is rendered once per session and
language); the figure is the process CPU time of each minute (the store's worker thread included).

Side by side, the job as it was before the due index: read every chat and group them by time and zone
(one minute of it, the read alone, is what the index replaces; reported as a ratio).

Reported: mean and worst minute (goal: mean <= 10 ms), the digests enqueued (one per chat whose
digest falls that day), the first minute after 100k chats turned the digest on at once (each gets its
first due instant; once, not per minute) and the full scan's minute.

    python -m bench.bench_digest
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import require_shared_data, row
from bot.clock import FixedClock
from bot.config import Settings
from bot.digests import DigestRenders, chat_zone, due_session
from bot.history import HistoryStore
from bot.market import Market
from bot.seam import Services
from bot.sources.csvfile import read_series_csv
from bot.store.base import ChatSettings, Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from jobs.digest import enqueue_due_digests

CHATS = 100_000
ZONES = (
    "America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin",
    "Asia/Taipei", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo",
)  # fmt: skip
DAY = datetime(2026, 2, 17, tzinfo=UTC)  # a Tuesday; the Monday before is Presidents' Day


def chat(n: int) -> ChatSettings:
    minute = (n * 7919) % 1440  # every minute of the day, zones interleaved
    return ChatSettings(
        chat_id=n,
        lang="zh-Hant" if n % 3 == 0 else "en",
        tz=ZONES[n % len(ZONES)],
        digest_time=f"{minute // 60:02d}:{minute % 60:02d}",
    )


async def full_scan_minute(store: Store, now: datetime) -> int:
    """What the job did every minute before the index: every chat read, grouped, each group checked."""
    chats = [c for c in await store.list_chats(active_only=True) if c.digest_time]
    groups: dict[tuple[str, str], list[ChatSettings]] = defaultdict(list)
    for c in chats:
        groups[(c.digest_time or "08:00", chat_zone(c))].append(c)
    return sum(len(m) for (at, zone), m in groups.items() if due_session(at, zone, now) is not None)


async def seed(store: Store, chats: int = CHATS) -> None:
    """``chats`` chats with a digest (ids 1..chats), their times over every minute of the day."""
    for n in range(1, chats + 1):
        await store.put_chat(chat(n))


async def scheduler_minutes(
    services: Services, renders: DigestRenders, day: datetime, minutes: int = 1440
) -> tuple[list[float], int]:
    """The digest job at :15 of each of the first ``minutes`` minutes of ``day``, as the bot runs it: the
    process CPU time of each minute (the store's worker thread included), and the digests enqueued."""
    times: list[float] = []
    enqueued = 0
    for minute in range(minutes):
        now = day + timedelta(minutes=minute, seconds=15)
        start = time.process_time()
        enqueued += await enqueue_due_digests(services, now, renders)
        times.append(time.process_time() - start)
    return times, enqueued


async def measure(store: Store, services: Services) -> dict[str, Any]:
    await seed(store)
    renders = DigestRenders()  # the run's memo, as the bot's job keeps it
    start = time.process_time()
    await enqueue_due_digests(services, DAY - timedelta(minutes=1), renders)  # every chat is new: first due instants
    first = time.process_time() - start
    start = time.process_time()
    await full_scan_minute(store, DAY)
    scan = time.process_time() - start
    minutes, enqueued = await scheduler_minutes(services, renders, DAY)
    return {"first": first, "scan": scan, "minutes": minutes, "enqueued": enqueued}


async def run_all(tmp: Path) -> dict[str, dict[str, Any]]:
    data = require_shared_data()
    history = HistoryStore(tmp / "history")
    for name, path in (("RUT", "indices/RUT_yahoo_alitalbi.csv"),):
        history.write(name, read_series_csv(data / path, name).frame, source="yahoo", fetched_at=None)
    clock = FixedClock(DAY)
    market = Market(history, clock)
    settings = Settings(data_dir=tmp, _env_file=None)  # type: ignore[call-arg]
    results: dict[str, dict[str, Any]] = {}
    backends: list[tuple[str, Store]] = [("SQLite", SqliteStore(tmp / "digest.sqlite3"))]
    url = os.environ.get("CAPGAP_REDIS_URL")
    if url:
        backends.append(("Redis", RedisStore(url, prefix=f"bench-digest-{secrets.token_hex(4)}:")))
    for name, store in backends:
        await store.open()
        try:
            results[name] = await measure(store, Services(settings, clock, history, market, store))
        finally:
            if isinstance(store, RedisStore):
                keys = [k async for k in store._r.scan_iter(match=store.prefix + "*", count=5000)]
                for i in range(0, len(keys), 5000):
                    await store._r.delete(*keys[i : i + 5000])
            await store.close()
    return results


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run_all(Path(tmp)))
    rows = []
    for name, r in results.items():
        minutes = r["minutes"]
        mean_ms = statistics.fmean(minutes) * 1000
        tag = f"digest schedule {CHATS // 1000}k chats, {name}"
        rows += [
            row(f"{tag}: CPU per scheduler minute, mean over a day (ms)", mean_ms, "<= 10", mean_ms <= 10),
            row(f"{tag}: worst minute / median minute (ms)",
                f"{max(minutes) * 1000:.1f} / {statistics.median(minutes) * 1000:.1f}", "reported"),
            row(f"{tag}: digests enqueued that day", r["enqueued"], "reported"),
            row(f"{tag}: full scan per minute before the index (ms), ratio to the mean",
                f"{r['scan'] * 1000:.0f}, x{r['scan'] * 1000 / mean_ms:.0f}", "reported"),
            row(f"{tag}: first minute after all turned digests on (s)", r["first"], "reported"),
        ]
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
