"""The daily digest: at each chat's own time and zone, on NYSE session days, about the session before.

Scheduling is indexed by due time (bot/store/base.py, "Digest schedule"): each chat with a digest has its
next due instant in the store. When a chat turns the digest on or changes its time, zone or language,
the store puts it at the front, and the job's next minute computes its due instant from its local time
and zone (``next_digest_at``); after each digest the job moves it to the next one. A job runs every
minute and touches only the chats due then, so its cost follows the digests sent, not the chats stored.

A chat gets the digest of session S once: the outbox key ``digest:<chat>:<S>`` makes reruns and restarts
harmless; a bot that was down at the digest time catches up within ``CATCH_UP``. The digest of one
session and language is rendered once per run of the bot (``DigestRenders``, in the Application's state)
while the market snapshot is the same; its chart is stored once in the outbox whatever the number of
chats (bot/store/base.py, "Retention").
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfoNotFoundError

from bot.app_state import AppApplication, AppContext
from bot.digests import DEFAULT_TIME, DigestRenders, chat_zone, due_session, next_digest_at
from bot.seam import Services
from bot.store.base import OutboxItem

log = logging.getLogger(__name__)

BATCH = 5_000  # chats read from the schedule per store call


async def enqueue_due_digests(services: Services, now: datetime, renders: DigestRenders | None = None) -> int:
    """Write the digests due at ``now`` to the outbox and move each due chat to its next due instant;
    returns how many digests were new. ``renders`` is the run's memo of rendered digests (without
    one, each digest due is rendered once for this call)."""
    renders = renders if renders is not None else DigestRenders()
    store = services.store
    assert store is not None
    added = due_count = 0
    while True:
        due = await store.due_digests(now=now, limit=BATCH)
        plans: dict[tuple[str, str], tuple[date | None, datetime]] = {}  # (time, zone) -> (session, next)
        items: list[OutboxItem] = []
        updates: list[tuple[int, datetime, datetime]] = []
        for chat, was in due:
            chat_time, zone = chat.digest_time or DEFAULT_TIME, chat_zone(chat)
            plan = plans.get((chat_time, zone))
            if plan is None:
                try:
                    plan = (due_session(chat_time, zone, now), next_digest_at(chat_time, zone, now))
                except (ValueError, ZoneInfoNotFoundError) as exc:
                    # A zone this system does not know, or a date past the session calendar: try again
                    # tomorrow rather than every minute.
                    log.warning("digest at %s %s cannot be scheduled: %s; retried in a day", chat_time, zone, exc)
                    plan = (None, now + timedelta(days=1))
                plans[(chat_time, zone)] = plan
            session, following = plan
            if session is not None:
                items.append(
                    OutboxItem(
                        key=f"digest:{chat.chat_id}:{session.isoformat()}",
                        chat_id=chat.chat_id,
                        payload=await renders.payload(services, session, chat.lang or "en"),
                        created_at=now,
                        not_before=now,
                    )
                )
            updates.append((chat.chat_id, was, following))
        # Enqueue first: a crash in between leaves the chats due, and the rerun's keys are duplicates.
        if items:
            added += await store.enqueue(items)
            due_count += len(items)
        if updates:
            await store.set_digest_due(updates)
        if len(due) < BATCH:
            break
    if due_count:
        log.info("digests: %d due, %d new", due_count, added)
    return added


async def digest_job(context: AppContext) -> None:
    from jobs.context import is_leader, services_of

    if not is_leader(context):
        return
    services = services_of(context)
    try:
        await enqueue_due_digests(services, services.clock.now(), context.bot_data.digests)
    except Exception:
        log.exception("digest job failed; it runs again in a minute")


async def schedule_digests(application: AppApplication) -> None:
    jq = application.job_queue
    assert jq is not None
    jq.run_repeating(digest_job, interval=60, first=15, name="digests")
