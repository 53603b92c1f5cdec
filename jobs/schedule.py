"""Register every scheduled job on the Application's JobQueue (called from post_init).

Start-up order: the snapshot is built from stored history, this process learns at once whether it
leads (the lock is tried before anything is scheduled), beats its heartbeat, and the leader catches up
at once (fetch what is missing, evaluate the rules) instead of waiting for the next scheduled pass.
Jobs are small and safe to repeat: each calls one service with an explicit as-of, and the outbox's
idempotency keys make a rerun send nothing twice.

Several bot processes on one store elect one leader (a lock with expiry, renewed every
``LEADER_RENEW_S``): only the leader refreshes, evaluates rules, schedules digests and sends the outbox
(Telegram's limits are per bot, not per process; the others answer commands). A worker that does not
lead tries the lock every ``LEADER_TRY_S``. A clean stop releases the lock, so another worker takes
over within ``LEADER_TRY_S`` of the release; after a crash it takes over when the lease runs out,
within ``LEADER_TTL_S + LEADER_TRY_S`` (bench/bench_leadership.py times both with real processes).
Every process reloads history that another one wrote (``data_job``), so all of them answer from the
same data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from datetime import time
from zoneinfo import ZoneInfo

from bot import health
from bot.app_state import AppApplication, AppContext, AppState
from bot.delivery import Limits, Sender
from jobs.digest import schedule_digests
from jobs.refresh import data_job, intraday_job, refresh_job

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
LEADER_LOCK = "scheduler"
# The lease: a crashed leader is replaced within LEADER_TTL_S + LEADER_TRY_S (10.5 s); a leader that
# misses four renewals in a row (a store hiccup) keeps its lease. A released lock (a clean stop) is
# taken within LEADER_TRY_S: trying is one SET NX (Redis) or one small write (SQLite) per worker.
LEADER_TTL_S = 10.0
LEADER_RENEW_S = 2.0
LEADER_TRY_S = 0.5
# After the 16:00 close, vendors need a while to publish final closes; CME publishes ZQ settlements
# in the late afternoon Chicago time. Several passes catch late publications; each pass only fetches
# what is missing.
REFRESH_TIMES_NY = (time(16, 25), time(17, 15), time(18, 45), time(21, 0))
# How often every process checks whether history changed (one cheap read of its revision).
RELOAD_S = 5.0
# The catch-up pass runs this long after start: after post_init, once polling has begun.
CATCH_UP_AFTER_S = 1.0


async def elect(state: AppState) -> bool:
    """Take or renew the leader lock; remember and return whether this process leads."""
    services, owner = state.services, state.owner
    assert owner is not None, "schedule_jobs names the process first"
    if services.store is None:
        leader = True
    else:
        try:
            leader = await services.store.acquire_lock(LEADER_LOCK, owner, LEADER_TTL_S)
        except Exception:
            if state.leader:
                log.warning("leader lock unavailable; standing down until the store answers")
            leader = False
    if leader != state.leader:
        log.info("scheduler leadership %s by %s", "taken" if leader else "lost", owner)
    state.leader = leader
    return leader


async def leader_job(context: AppContext) -> None:
    """Every LEADER_TRY_S: a worker that does not lead tries the lock; the leader renews it every
    LEADER_RENEW_S."""
    state = context.bot_data
    now = asyncio.get_running_loop().time()
    if state.leader and now < state.renew_at:
        return
    state.renew_at = now + LEADER_RENEW_S - LEADER_TRY_S / 2
    await elect(state)


async def heartbeat_job(context: AppContext) -> None:
    assert context.bot_data.heartbeat is not None
    await asyncio.to_thread(health.beat, context.bot_data.heartbeat)


async def schedule_jobs(application: AppApplication, *, send_limits: Limits | None = None) -> None:
    state = application.bot_data
    services = state.services
    # Each process has its own name in the leader lock (a harness running two workers in one process
    # names them itself).
    state.owner = state.owner or f"{socket.gethostname()}:{os.getpid()}"
    state.leader = None
    state.heartbeat = health.own_heartbeat(services.settings.data_dir)
    health.sweep(services.settings.data_dir)  # file times are the wall clock's, not the injected one
    # The snapshot is built from stored history before the first update is answered.
    await asyncio.to_thread(services.market.reload)
    log.info("snapshot as of %s with %d series", services.market.snapshot.asof, len(services.market.snapshot.frames))
    await elect(state)
    await asyncio.to_thread(health.beat, state.heartbeat)

    jq = application.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    # `first` is given explicitly: these jobs already ran once above (PTB's first=0 would wait a whole
    # interval, as APScheduler computes the next fire time after "now").
    jq.run_repeating(leader_job, interval=LEADER_TRY_S, first=LEADER_TRY_S, name="leader")
    jq.run_repeating(heartbeat_job, interval=health.BEAT_S, first=health.BEAT_S, name="heartbeat")
    jq.run_repeating(data_job, interval=RELOAD_S, first=RELOAD_S, name="history-reload")
    # Catch up at once (a restart after missed passes fetches now, not at the next slot); with
    # refreshing disabled this evaluates the rules on what history holds.
    jq.run_once(refresh_job, when=CATCH_UP_AFTER_S, name="refresh-startup")
    if services.settings.refresh_enabled:
        for at in REFRESH_TIMES_NY:
            jitter = random.randint(0, 240)  # seconds: spread many deployments' requests
            when = time(at.hour, at.minute + jitter // 60, jitter % 60, tzinfo=NEW_YORK)
            # PTB counts days from Sunday = 0: Monday..Friday.
            jq.run_daily(refresh_job, when, days=(1, 2, 3, 4, 5), name=f"refresh-{at:%H%M}")
        minutes = services.settings.intraday_refresh_minutes
        if minutes:
            jq.run_repeating(intraday_job, interval=60 * minutes, first=30 + random.randint(0, 60), name="refresh-intraday")
    await schedule_digests(application)

    limits = send_limits or Limits(
        overall_per_s=services.settings.rate_limit_per_second,
        per_chat_per_s=services.settings.rate_limit_per_chat,
        per_group_per_min=services.settings.rate_limit_per_group_minute,
    )
    if services.store is not None:
        sender = Sender(services.store, application.bot, services.clock, consumer=state.owner, limits=limits,
                        max_in_flight=services.settings.send_concurrency, photos=state.photos)
        stop = asyncio.Event()
        # A plain task, stopped by stop_sender (post_stop): PTB would not await one created before it runs.
        # An idle sender looks for due items once per rate window (1 s at Telegram's limits).
        state.sender = (stop, asyncio.create_task(
            sender.run(stop, idle_s=limits.window_s, is_leader=lambda: bool(state.leader)), name="outbox-sender"))


SENDER_STOP_S = 30.0


async def stop_sender(application: AppApplication) -> None:
    """Let the sender finish the message in flight and hand its unstarted items back (post_stop), so a
    restart neither resends nor waits out the lease of what this process had claimed."""
    running, application.bot_data.sender = application.bot_data.sender, None
    if running is None:
        return
    stop, task = running
    stop.set()
    try:
        await asyncio.wait_for(task, SENDER_STOP_S)
    except TimeoutError:
        log.warning("the outbox sender did not stop within %.0f s; its claimed items wait out their lease", SENDER_STOP_S)
    except Exception:
        log.exception("the outbox sender failed while stopping")
    else:
        log.info("outbox sender stopped")


async def step_down(application: AppApplication) -> None:
    """On a clean stop (post_stop, after the sender): release leadership at once, so another worker
    takes over within LEADER_TRY_S instead of waiting out the lease, and remove this process's
    heartbeat."""
    state = application.bot_data
    services, owner = state.services, state.owner
    if state.leader and services.store is not None and owner is not None:
        try:
            await services.store.release_lock(LEADER_LOCK, owner)
        except Exception:
            log.warning("could not release the leader lock; another worker takes over when it expires")
        else:
            log.info("scheduler leadership released by %s", owner)
        state.leader = False
    if state.heartbeat is not None:
        state.heartbeat.unlink(missing_ok=True)

