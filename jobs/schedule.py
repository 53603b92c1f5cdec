"""Register every scheduled job on the Application's JobQueue (called from post_init).

Jobs are rebuilt from the store at start-up; they are small and safe to repeat: each calls one service
with an explicit as-of, and the outbox's idempotency keys make a rerun send nothing twice. With several
bot processes on one Redis, only the leader (a lock with expiry) refreshes, watches and schedules
digests; every process may drain the outbox, whose claim is atomic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from datetime import time
from zoneinfo import ZoneInfo

from telegram.ext import Application, ContextTypes

from bot.delivery import Limits, Sender
from handlers.base import Services

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
LEADER_LOCK = "scheduler"
LEADER_TTL_S = 30.0
# After the 16:00 close, vendors need a while to publish final closes; CME publishes ZQ settlements
# in the late afternoon Chicago time. Several passes catch late publications; each pass only fetches
# what is missing.
REFRESH_TIMES_NY = (time(16, 25), time(17, 15), time(18, 45), time(21, 0))
HEARTBEAT_S = 60.0


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]  # type: ignore[no-any-return]


def is_leader(context: ContextTypes.DEFAULT_TYPE) -> bool:
    return bool(context.application.bot_data.get("leader", False))


async def leader_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    owner = context.application.bot_data["owner"]
    if services.store is None:
        context.application.bot_data["leader"] = True
        return
    try:
        leader = await services.store.acquire_lock(LEADER_LOCK, owner, LEADER_TTL_S)
    except Exception:
        log.warning("leader lock unavailable; standing down until the store answers")
        leader = False
    if leader != context.application.bot_data.get("leader"):
        log.info("scheduler leadership: %s", "acquired" if leader else "lost")
    context.application.bot_data["leader"] = leader


async def heartbeat_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    path = services.settings.data_dir / "heartbeat"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


async def schedule_jobs(application: Application) -> None:  # type: ignore[type-arg]
    from jobs.digest import schedule_digests
    from jobs.refresh import intraday_job, refresh_job

    services: Services = application.bot_data["services"]
    application.bot_data["owner"] = f"{socket.gethostname()}:{os.getpid()}"
    application.bot_data["leader"] = False
    # The snapshot is built from local history before the first update is answered.
    await asyncio.to_thread(services.market.reload)
    log.info("snapshot as of %s with %d series", services.market.snapshot.asof, len(services.market.snapshot.frames))

    jq = application.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    jq.run_repeating(leader_job, interval=LEADER_TTL_S / 3, first=0, name="leader")
    jq.run_repeating(heartbeat_job, interval=HEARTBEAT_S, first=0, name="heartbeat")
    if services.settings.refresh_enabled:
        for at in REFRESH_TIMES_NY:
            jitter = random.randint(0, 240)  # seconds: spread many deployments' requests
            when = time(at.hour, at.minute + jitter // 60, jitter % 60, tzinfo=NEW_YORK)
            # PTB counts days from Sunday = 0: Monday..Friday. Holidays are skipped inside the job.
            jq.run_daily(refresh_job, when, days=(1, 2, 3, 4, 5), name=f"refresh-{at:%H%M}")
        jq.run_once(refresh_job, when=5, name="refresh-startup")
        minutes = services.settings.intraday_refresh_minutes
        if minutes:
            jq.run_repeating(intraday_job, interval=60 * minutes, first=30 + random.randint(0, 60), name="refresh-intraday")
    await schedule_digests(application)

    limits = Limits(
        overall_per_s=services.settings.rate_limit_per_second,
        per_chat_per_s=services.settings.rate_limit_per_chat,
        per_group_per_min=services.settings.rate_limit_per_group_minute,
    )
    if services.store is not None:
        sender = Sender(services.store, application.bot, services.clock, consumer=application.bot_data["owner"], limits=limits,
                        max_in_flight=services.settings.send_concurrency)
        stop = asyncio.Event()
        # A plain task, stopped by stop_sender (post_stop): PTB would not await one created before it runs.
        application.bot_data["sender"] = (stop, asyncio.create_task(sender.run(stop), name="outbox-sender"))


SENDER_STOP_S = 30.0


async def stop_sender(application: Application) -> None:  # type: ignore[type-arg]
    """Let the sender finish the message in flight and hand its unstarted items back (post_stop), so a
    restart neither resends nor waits out the lease of what this process had claimed."""
    running = application.bot_data.pop("sender", None)
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
