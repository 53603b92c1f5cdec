"""Soak: months of service in minutes. The whole bot, started as `capgap run` starts it
(bot.__main__._services + bot.app.build_bot), is driven by an injected clock through SESSIONS NYSE
sessions of the real data in ../shared/data, served session by session by the fake Yahoo/FRED/CME/Stooq
of the tests (tests/fake_vendors.py), with CHATS chats subscribed to a mix of rules and digest times and
zones, on the Telegram Bot API peer with Telegram's limits.

Time: the injected clock decides what is due (refresh passes, digests, alert bars); the jobs run as the
JobQueue would run them at those instants (the harness calls the same job callbacks, with the clock set).
Sending is real: the sender drains the outbox against the peer, whose clock runs SCALE times faster
(SCALE x 30 messages/s), and the sender is paced for the same scaled limits, as the fan-out bench does.
A pass's close-to-last-alert is reported in Telegram seconds: the bot's own work until its first message
(fetch, evaluation, enqueueing: CPU, as long at any scale) as measured, plus the span of its messages
x SCALE (the pacing, which the scale speeds up). At x20 the bot's one core, with the harness, reached
~500 msg/s, 0.83 of the peer's 600, so the span measured the CPU rather than the pacing; at x10 the
loopback round trip (~5 ms of a 100 ms window) still took 5% off the pacing, 0.949 of the limit. At x5
(150/s) the sends keep to the pacing, which a row checks (send rate during the pass, >= 0.95 of the
limit); the soak then takes ~4.5 min a backend.

The peer runs in a process of its own (bench/peer_process.py): sharing the bot's, the two reached
~150 msg/s together on one core, a quarter of the x20 peer's 600, and the close-to-last-alert figure
measured the peer's CPU as much as the bot's pacing.

Checks, printed as rows:
- every alert the rules imply — computed independently by the backtest over the same data — reached
  every subscribed chat exactly once, on the session it belongs to; every digest once per local NYSE
  session date per chat, none on other days;
- store size after sessions 10, 30 and SESSIONS: flat once the outbox's retention window has passed
  (bytes per chat);
- from a refresh pass's start (the close fetched) to the last chat's alert: <= chats/30 s + 10 s;
- with two workers on one Redis: the same totals, and the peer's peak send rate never above the limit;
- the digest job's CPU per scheduler minute with DIGEST_CHATS chats with a digest (the first backend's
  store grown by bench_digest's chats, once the workers stopped): <= 10 ms.

`python -m bench soak` (or `make soak`) runs it on SQLite with one worker and on Redis with two, whose
totals must equal the first's; `python -m bench.bench_soak [sqlite|redis|redis2] [--sessions N] [--chats N]`
runs the ones named.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from telegram.ext import Application

from bench import bench_digest
from bench.common import SHARED_DATA, require_shared_data, row
from bench.peer_process import Call, PeerProcess
from bot import calendar
from bot.__main__ import _services
from bot.alerts.backtest import backtest
from bot.alerts.rules import RULES
from bot.alerts.series import METRICS
from bot.app import build_bot
from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import Limits
from bot.digests import DigestRenders
from bot.store.base import ChatSettings, Subscription
from bot.store.factory import make_store
from jobs.digest import digest_job
from jobs.refresh import refresh_job
from tests.fake_vendors import FakeVendors

SESSIONS = 60
CHATS = 10_000
FIRST = date(2025, 7, 1)  # the first session driven: the run covers the 2025-09-18 record and the Sept cut
SCALE = 5.0  # the sends keep to the pacing at 150 msg/s (see above)
TELEGRAM_PER_S = 30.0
NEW_YORK = ZoneInfo("America/New_York")
# One (rule, params) per chat, in turn: several groups per rule, as real subscribers choose.
RULE_MIX: tuple[tuple[str, dict[str, Any]], ...] = (
    ("r2k_high", {}),
    ("r2k_high", {"window": "52w"}),
    ("r2k_drawdown", {"threshold": 5.0}),
    ("r2k_drawdown", {"threshold": 8.0}),
    ("fed_decision", {}),
    ("r2k_high", {"window": "all"}),
)
# Every DIGEST_EVERY-th chat also takes the daily digest, at one of these local times: New York's
# morning is about the session before; Taipei's 08:00 falls in New York's evening of the same session.
DIGEST_EVERY = 50
DIGEST_TIMES = (("08:00", "America/New_York"), ("08:00", "Asia/Taipei"))
SIZE_AT = (10, 30)
REFRESH_AT = (16, 25)  # the first evening pass, New York
# The digest job's CPU per scheduler minute with this many chats with a digest (the run's own and
# bench_digest's, spread over every minute of the day), over the first DIGEST_MINUTES of a day.
DIGEST_CHATS = 100_000
DIGEST_MINUTES = 240


@dataclass
class Plan:
    chats: int
    sessions: list[date]
    rule_of: dict[int, int] = field(default_factory=dict)  # chat -> index into RULE_MIX
    digest_of: dict[int, int] = field(default_factory=dict)  # chat -> index into DIGEST_TIMES

    @classmethod
    def make(cls, chats: int, sessions: int) -> Plan:
        days = [FIRST if calendar.is_session(FIRST) else calendar.next_session(FIRST)]
        while len(days) < sessions:
            days.append(calendar.next_session(days[-1]))
        plan = cls(chats=chats, sessions=days)
        for i in range(chats):
            chat = 1_000_000 + i
            plan.rule_of[chat] = i % len(RULE_MIX)
            if i % DIGEST_EVERY == 0:
                plan.digest_of[chat] = (i // DIGEST_EVERY) % len(DIGEST_TIMES)
        return plan


@dataclass
class Outcome:
    backend: str
    workers: int
    alerts: dict[tuple[int, date], int] = field(default_factory=Counter)  # (chat, session) -> messages
    digests: dict[tuple[int, date], int] = field(default_factory=Counter)  # (chat, local date) -> messages
    sizes: dict[int, int] = field(default_factory=dict)  # session number -> store bytes
    size_dates: dict[int, date] = field(default_factory=dict)  # session number -> its date
    latencies: list[float] = field(default_factory=list)  # Telegram seconds, per pass that alerted
    work_s: list[float] = field(default_factory=list)  # the bot's work before its first message, per pass
    send_ratio: list[float] = field(default_factory=list)  # the pass's send rate / the scaled limit
    alerted_chats: list[int] = field(default_factory=list)  # chats alerted by each such pass
    peak_per_s: float = 0.0
    too_many: int = 0
    elapsed: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)  # Bot API calls the peer answered, per method
    digest_cpu: list[float] = field(default_factory=list)  # s of CPU per scheduler minute, DIGEST_CHATS digests
    # What the rules and digest times imply for the same run, computed independently afterwards.
    expected_alerts: dict[tuple[int, date], int] = field(default_factory=Counter)
    expected_digests: dict[tuple[int, date], int] = field(default_factory=Counter)


def expected_alerts(plan: Plan, snapshot: Any) -> dict[tuple[int, date], int]:
    """What the rules imply, by the backtest over the same data: per (chat, session) the firings."""
    first = plan.sessions[0]
    per_group: dict[int, list[date]] = {}
    for index, (rule_id, params) in enumerate(RULE_MIX):
        rule = RULES[rule_id]
        history = METRICS[rule.with_params(params).metric].compute(snapshot)
        result = backtest(rule, params, history, snapshot.close("RUT"))
        # The bot starts watching at the first session, silently: what fired before is not news.
        per_group[index] = [d for d in result.firings if first < d <= plan.sessions[-1]]
    expected: dict[tuple[int, date], int] = Counter()
    for chat, index in plan.rule_of.items():
        for day in per_group[index]:
            expected[(chat, day)] += 1
    return expected


def expected_digests(plan: Plan, timeline: list[tuple[datetime, date | None]]) -> dict[tuple[int, date], int]:
    """One digest per chat at each of its digest instants the run drove whose local date is an NYSE
    session (Monday's is about Friday; none on weekends and holidays)."""
    driven = {instant for instant, session in timeline if session is None}
    expected: dict[tuple[int, date], int] = Counter()
    for chat, index in plan.digest_of.items():
        at, zone = DIGEST_TIMES[index]
        for instant in driven:
            local = instant.astimezone(ZoneInfo(zone))
            if f"{local:%H:%M}" == at and calendar.is_session(local.date()):
                expected[(chat, local.date())] += 1
    return expected


def _timeline(plan: Plan, start: datetime) -> list[tuple[datetime, date | None]]:
    """What the injected clock visits, in order: each session's evening pass (with its session) and each
    digest time of every day (None), from the bot's start to the morning after the last session."""
    passes = [(datetime(s.year, s.month, s.day, *REFRESH_AT, tzinfo=NEW_YORK), s) for s in plan.sessions]
    end = passes[-1][0] + timedelta(hours=20)
    digests = {
        (_local(day, at, zone), None)
        for day in _dates(start.date() - timedelta(days=1), end.date() + timedelta(days=1))
        for at, zone in DIGEST_TIMES
    }
    return sorted([p for p in passes] + [d for d in digests if start < d[0] <= end], key=lambda e: e[0])


def _local(day: date, at: str, zone: str) -> datetime:
    hh, mm = (int(p) for p in at.split(":"))
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(zone))


async def seed_store(settings: Settings, plan: Plan) -> None:
    store = make_store(data_dir=settings.data_dir, redis_url=settings.redis_url)
    await store.open()
    try:
        for chat, index in plan.rule_of.items():
            digest = plan.digest_of.get(chat)
            at, zone = DIGEST_TIMES[digest] if digest is not None else (None, None)
            lang = "zh-Hant" if chat % 3 == 0 else "en"
            await store.put_chat(ChatSettings(chat_id=chat, lang=lang, tz=zone, digest_time=at))
            rule_id, params = RULE_MIX[index]
            await store.put_subscription(Subscription(chat_id=chat, rule_id=rule_id, params=params))
    finally:
        await store.close()


async def store_bytes(settings: Settings) -> int:
    """What the store keeps: the SQLite file (and its WAL), or the memory of the Redis keys."""
    if settings.redis_url is None:
        return sum(p.stat().st_size for p in settings.data_dir.glob("capgap.sqlite3*"))
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url)
    try:
        total = 0
        async for key in client.scan_iter(match="capgap:*", count=1000):
            total += int(await client.memory_usage(key) or 0)
        return total
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def worker(settings: Settings, clock: FixedClock, vendors: FakeVendors, owner: str) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """One bot process as `capgap run` builds it (no Telegram polling: nobody writes to it here)."""
    limits = Limits(overall_per_s=TELEGRAM_PER_S * SCALE, per_chat_per_s=SCALE, per_group_per_min=20 * SCALE,
                    window_s=1 / SCALE)
    services = _services(settings, asof=None, with_store=True, clock=clock)
    async with vendors.client() as client:
        application = build_bot(settings, services, http_client=client, send_limits=limits)
        application.bot_data.owner = owner
        async with application:
            assert application.post_init is not None and application.post_stop is not None
            await application.post_init(application)
            await application.start()
            try:
                yield application
            finally:
                await application.stop()
                await application.post_stop(application)
                assert application.post_shutdown is not None
                await application.post_shutdown(application)


async def run_job(application: Application, job: Any) -> None:  # type: ignore[type-arg]
    await job(SimpleNamespace(application=application, bot=application.bot, bot_data=application.bot_data, job=None))


async def drained(settings: Settings, clock: FixedClock, timeout_s: float = 120.0) -> None:
    """Wait until the outbox has nothing pending; the injected clock moves on meanwhile (by a Telegram
    second per scaled second), so parts and retries the sender spaced out come due."""
    store = make_store(data_dir=settings.data_dir, redis_url=settings.redis_url)
    await store.open()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            counts = await store.outbox_counts()
            if counts.get("pending", 0) == 0:
                return
            await asyncio.sleep(0.05)
            clock.advance(seconds=0.05 * SCALE)
        raise AssertionError(f"outbox not drained in {timeout_s} s: {counts}")
    finally:
        await store.close()


def classify(calls: list[Call], outcome: Outcome, session: date, local_day: dict[int, date]) -> None:
    """Count the messages among the peer's ``calls`` as alerts of ``session`` or digests of the chat's
    local date."""
    for call in calls:
        if call.status != 200 or call.method not in ("sendMessage", "sendPhoto") or not isinstance(call.chat_id, int):
            continue
        text = call.text or ""
        if local_day:  # a digest minute: one digest per message with its header (its chart may follow)
            if "capgap daily" in text or "capgap 每日摘要" in text:
                outcome.digests[(call.chat_id, local_day.get(call.chat_id, session))] += 1
        else:
            outcome.alerts[(call.chat_id, session)] += 1


async def soak(backend: str, *, sessions: int, chats: int, redis_url: str | None, digests: bool = True) -> Outcome:
    plan = Plan.make(chats, sessions)
    workers = 2 if backend == "redis2" else 1
    outcome = Outcome(backend=backend, workers=workers)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="capgap-soak-") as tmp:
        async with PeerProcess(scale=SCALE) as peer:
            settings = Settings(
                telegram_token=peer.token, telegram_base_url=peer.base_url, data_dir=Path(tmp),
                redis_url=redis_url if backend != "sqlite" else None, intraday_refresh_minutes=0,
                # PTB's rate limiter on the Application's bot runs on real time: scaled like the peer.
                rate_limit_per_second=TELEGRAM_PER_S * SCALE, rate_limit_per_chat=SCALE,
                rate_limit_per_group_minute=20 * SCALE,
                _env_file=None,  # type: ignore[call-arg]
            )
            await seed_store(settings, plan)
            day_before = calendar.previous_session(plan.sessions[0])
            vendors = FakeVendors(SHARED_DATA, through=day_before)
            clock = FixedClock(calendar.session_close(day_before) + timedelta(hours=1))
            start = clock.now()
            timeline = _timeline(plan, start)
            async with contextlib.AsyncExitStack() as stack:
                apps = [await stack.enter_async_context(worker(settings, clock, vendors, f"soak-{n}")) for n in range(workers)]
                leader = next(a for a in apps if a.bot_data.leader)
                await asyncio.sleep(2.0)  # the start-up pass: decades of history from the fake vendors
                await run_job(leader, refresh_job)  # and the first evaluation, silent
                await drained(settings, clock)
                seen = len(await peer.calls())
                number = 0
                for instant, session in timeline:
                    clock.instant = instant
                    if session is not None:
                        # The evening pass: the vendors publish the session's close at 16:25 New York.
                        number += 1
                        vendors.through = session
                        t0 = time.monotonic()
                        await run_job(leader, refresh_job)
                        await drained(settings, clock)
                        new = await peer.calls(seen)
                        seen += len(new)
                        sent = sorted(c.time for c in new if c.ok)
                        if sent:  # the peer's arrival times: CLOCK_MONOTONIC, shared by both processes
                            span = sent[-1] - sent[0]
                            outcome.work_s.append(sent[0] - t0)
                            outcome.latencies.append(sent[0] - t0 + span * SCALE)
                            outcome.alerted_chats.append(len(sent))
                            if len(sent) > 100:
                                outcome.send_ratio.append((len(sent) - 1) / span / (TELEGRAM_PER_S * SCALE))
                        classify(new, outcome, session, {})
                        if number in SIZE_AT or number == len(plan.sessions):
                            outcome.sizes[number] = await store_bytes(settings)
                            outcome.size_dates[number] = session
                    else:
                        await run_job(leader, digest_job)
                        await drained(settings, clock)
                        local = {chat: instant.astimezone(ZoneInfo(DIGEST_TIMES[i][1])).date()
                                 for chat, i in plan.digest_of.items()}
                        new = await peer.calls(seen)
                        seen += len(new)
                        classify(new, outcome, instant.date(), local)
                final = apps[0].bot_data.services.market.snapshot
            if digests:
                outcome.digest_cpu = await digest_cpu(settings, plan)
            stats = await peer.stats()
            outcome.too_many = stats["too_many_requests"]
            outcome.requests = dict(stats["requests"])
            outcome.peak_per_s = _peak_rate(await peer.calls()) / SCALE
            outcome.expected_alerts = expected_alerts(plan, final)
            outcome.expected_digests = expected_digests(plan, timeline)
    outcome.elapsed = time.perf_counter() - started
    return outcome


async def digest_cpu(settings: Settings, plan: Plan) -> list[float]:
    """The digest job's CPU per scheduler minute on this run's store grown to DIGEST_CHATS chats with a
    digest, over the first DIGEST_MINUTES minutes (UTC) of the session after the run's last, through
    `capgap run`'s services; the workers have stopped, the peer is another process: the CPU is the job's."""
    day = calendar.next_session(plan.sessions[-1])
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    services = _services(settings, asof=None, with_store=True, clock=FixedClock(start))
    store = services.store
    assert store is not None
    await store.open()
    try:
        await bench_digest.seed(store, DIGEST_CHATS - len(plan.digest_of))
        await asyncio.to_thread(services.market.reload)
        renders = DigestRenders()
        await bench_digest.scheduler_minutes(services, renders, start - timedelta(minutes=1), 1)  # first due instants
        minutes, _ = await bench_digest.scheduler_minutes(services, renders, start, DIGEST_MINUTES)
        return minutes
    finally:
        await store.close()


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _peak_rate(calls: list[Call]) -> float:
    """The most messages the peer accepted in any window of one scaled second (1/SCALE s)."""
    times = sorted(c.time for c in calls if c.ok and c.method in ("sendMessage", "sendPhoto"))
    window, best, lo = 1 / SCALE, 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


def rows_of(outcome: Outcome, chats: int, reference: Outcome | None = None) -> list[dict[str, Any]]:
    name = f"soak {outcome.backend}" + (f" ({outcome.workers} workers)" if outcome.workers > 1 else "")
    want_alerts = outcome.expected_alerts
    want_digests = outcome.expected_digests
    missing = sum(max(0, n - outcome.alerts.get(k, 0)) for k, n in want_alerts.items())
    extra = sum(max(0, n - want_alerts.get(k, 0)) for k, n in outcome.alerts.items())
    d_missing = sum(max(0, n - outcome.digests.get(k, 0)) for k, n in want_digests.items())
    d_extra = sum(max(0, n - want_digests.get(k, 0)) for k, n in outcome.digests.items())
    rows = [
        row(f"{name}: alerts delivered / implied by the backtest", f"{sum(outcome.alerts.values())}/{sum(want_alerts.values())}",
            "all, once, on their session", missing == 0 and extra == 0, missing=missing, extra=extra),
        row(f"{name}: digests delivered / due (one per local NYSE session)",
            f"{sum(outcome.digests.values())}/{sum(want_digests.values())}",
            "all, once", d_missing == 0 and d_extra == 0, missing=d_missing, extra=d_extra),
    ]
    sizes = outcome.sizes
    if sizes:
        per_chat = {n: b / chats for n, b in sorted(sizes.items())}
        first, last = min(per_chat), max(per_chat)
        days = max(1, (outcome.size_dates[last] - outcome.size_dates[first]).days)
        growth = (per_chat[last] - per_chat[first]) / days  # bytes kept per chat per calendar day
        rows.append(row(f"{name}: store bytes per chat at sessions {', '.join(map(str, per_chat))}",
                        " / ".join(f"{v:,.0f}" for v in per_chat.values()), "", None))
        rows.append(row(f"{name}: store growth per chat per day, session {first} to {last}", round(growth, 1),
                        "<= 2,048 B", growth <= 2048))
    if outcome.latencies:
        worst = max(outcome.latencies)
        most = max(outcome.alerted_chats)
        work = outcome.work_s[outcome.latencies.index(worst)]
        bound = most / TELEGRAM_PER_S + 10.0
        rows.append(row(f"{name}: close fetched -> last alert (Telegram s, worst pass of {most} chats; the bot's work "
                        f"before the first message {work:.1f} s, the messages' span x{SCALE:g})", round(worst, 1),
                        f"<= {bound:.0f} s", worst <= bound))
    if outcome.send_ratio:
        slowest = min(outcome.send_ratio)
        rows.append(row(f"{name}: send rate during a pass / the x{SCALE:g} limit, slowest pass (the span is the pacing's, "
                        "not the CPU's)", round(slowest, 3), ">= 0.95", slowest >= 0.95))
    rows.append(row(f"{name}: peak send rate (msg/s at Telegram's scale), 429s", f"{outcome.peak_per_s:.1f}, {outcome.too_many}",
                    f"<= {TELEGRAM_PER_S:.0f}, 0", outcome.peak_per_s <= TELEGRAM_PER_S and outcome.too_many == 0))
    if reference is not None:
        same = outcome.alerts == reference.alerts and outcome.digests == reference.digests
        rows.append(row(f"{name}: totals equal to one worker's", "yes" if same else "no", "equal", same))
    if outcome.digest_cpu:
        mean_ms = sum(outcome.digest_cpu) / len(outcome.digest_cpu) * 1000
        rows.append(row(f"{name}: digest job CPU per scheduler minute, {DIGEST_CHATS:,} chats with digests "
                        f"({DIGEST_MINUTES} minutes; worst {max(outcome.digest_cpu) * 1000:.1f} ms)",
                        round(mean_ms, 2), "<= 10 ms", mean_ms <= 10))
    rows.append(row(f"{name}: elapsed (the peer in its own process, its clock x{SCALE:g})", round(outcome.elapsed, 1),
                    "<= 600 s for the whole soak"))
    return rows


def _redis_url(tmp: Path) -> tuple[str, Any]:
    import os

    from tests.redis_server import start_redis_server

    url = os.environ.get("CAPGAP_SOAK_REDIS_URL")
    if url:
        return url, None
    server = start_redis_server(tmp, appendonly=False)
    return server.url, server


def run(backends: tuple[str, ...] = ("sqlite", "redis2"), *, sessions: int = SESSIONS,
        chats: int = CHATS) -> list[dict[str, Any]]:
    require_shared_data()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rows: list[dict[str, Any]] = []
    reference: Outcome | None = None
    with tempfile.TemporaryDirectory(prefix="capgap-soak-redis-") as tmp:
        server = None
        url = None
        try:
            for backend in backends:
                if backend != "sqlite" and url is None:
                    url, server = _redis_url(Path(tmp))
                if backend != "sqlite":
                    _flush(url)
                # The digest job's CPU at 100k chats on the first backend run (bench_digest has both).
                outcome = asyncio.run(soak(backend, sessions=sessions, chats=chats, redis_url=url, digests=not rows))
                rows += rows_of(outcome, chats, reference if outcome.workers > 1 else None)
                if outcome.workers == 1 and reference is None:
                    reference = outcome
        finally:
            if server is not None:
                server.stop()
    return rows


def _flush(url: str | None) -> None:
    import redis

    client = redis.Redis.from_url(url or "")
    try:
        for key in client.scan_iter(match="capgap:*", count=1000):
            client.delete(key)
    finally:
        client.close()


if __name__ == "__main__":
    from bench.common import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", default=["sqlite", "redis2"])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--chats", type=int, default=CHATS)
    args = parser.parse_args()
    table = run(tuple(args.backends), sessions=args.sessions, chats=args.chats)
    print_table(table)
    sys.exit(0 if all(r.get("pass") is not False for r in table) else 1)
