"""The daily digest: at each chat's own time and zone, on NYSE session days, about the session before.

Scheduling is indexed by due time (bot/store/base.py, "Digest schedule"): each chat with a digest has its
next due instant in the store. When a chat turns the digest on or changes its time, zone or language,
the store puts it at the front, and the job's next minute computes its due instant from its local time
and zone (``next_digest_at``); after each digest the job moves it to the next one. A job runs every
minute and touches only the chats due then, so its cost follows the digests sent, not the chats stored.

A chat gets the digest of session S once: the outbox key ``digest:<chat>:<S>`` makes reruns and restarts
harmless; a bot that was down at the digest time catches up within ``CATCH_UP``. The digest of one
session and language is rendered once per run of the bot (``DigestRenders``, kept by the Application)
while the market snapshot is the same; its chart is stored once in the outbox whatever the number of
chats (bot/store/base.py, "Retention").
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from telegram.ext import Application, ContextTypes

from bot.delivery import payload_for
from bot.digests import DEFAULT_TIME, chat_zone, due_session, next_digest_at
from bot.seam import Services
from bot.store.base import OutboxItem

log = logging.getLogger(__name__)

BATCH = 5_000  # chats read from the schedule per store call


class DigestRenders:
    """The digests one run of the bot rendered: one per market snapshot, session and language (a chart
    costs ~0.1 s, the job's minute 5 ms). A run keeps a few (``KEPT``: sessions × languages); a new
    snapshot renders again. Held by the Application (``bot_data``), not the module: two bots in one
    process, or a test's fresh Services, never see each other's digests."""

    KEPT = 8

    def __init__(self) -> None:
        self._payloads: OrderedDict[tuple[datetime, date, str], dict[str, Any]] = OrderedDict()

    async def payload(self, services: Services, session: date, lang: str) -> dict[str, Any]:
        """The outbox payload of the digest of ``session`` in ``lang``; every chat due gets this one
        object, so the store encodes it and stores its chart once per batch."""
        from bot.render.digest import build_digest

        key = (services.market.snapshot.built_at, session, lang)
        payload = self._payloads.get(key)
        if payload is None:
            digest = await build_digest(services.market.at(session), lang)
            payload = payload_for(digest.text, png=digest.png, caption=digest.caption)
            self._payloads[key] = payload
            while len(self._payloads) > self.KEPT:
                self._payloads.popitem(last=False)
        return payload


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


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    from jobs.context import is_leader, services_of

    if not is_leader(context):
        return
    services = services_of(context)
    renders = context.application.bot_data.setdefault("digest_renders", DigestRenders())
    try:
        await enqueue_due_digests(services, services.clock.now(), renders)
    except Exception:
        log.exception("digest job failed; it runs again in a minute")


async def schedule_digests(application: Application) -> None:  # type: ignore[type-arg]
    jq = application.job_queue
    assert jq is not None
    jq.run_repeating(digest_job, interval=60, first=15, name="digests")
