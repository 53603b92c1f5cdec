"""The daily digest: at each chat's own time and zone, on NYSE session days, about the session before.

One job runs every minute and finds the chats whose local digest time has come (grouped by zone and
time, so 100k chats cost one pass). A chat gets the digest of session S once: the outbox key
``digest:<chat>:<S>`` makes reruns and restarts harmless; a bot that was down at the digest time
catches up within ``CATCH_UP``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime

from telegram.ext import Application, ContextTypes

from bot.delivery import payload_for
from bot.digests import DEFAULT_TIME, chat_zone, due_session
from bot.seam import Services
from bot.store.base import ChatSettings, OutboxItem

log = logging.getLogger(__name__)

async def enqueue_due_digests(services: Services, now: datetime) -> int:
    """Write the due digests to the outbox; returns how many were new."""
    from bot.render.digest import build_digest

    assert services.store is not None
    chats = [c for c in await services.store.list_chats(active_only=True) if c.digest_time]
    groups: dict[tuple[str, str], list[ChatSettings]] = defaultdict(list)
    for chat in chats:
        groups[(chat.digest_time or DEFAULT_TIME, chat_zone(chat))].append(chat)
    rendered: dict[tuple[date, str], dict[str, object]] = {}
    items: list[OutboxItem] = []
    for (chat_time, zone), members in groups.items():
        session = due_session(chat_time, zone, now)
        if session is None:
            continue
        for chat in members:
            lang = chat.lang or "en"
            if (session, lang) not in rendered:
                snapshot = services.market.at(session)
                digest = await build_digest(snapshot, lang)
                rendered[(session, lang)] = payload_for(digest.text, png=digest.png, caption=digest.caption)
            items.append(
                OutboxItem(
                    key=f"digest:{chat.chat_id}:{session.isoformat()}",
                    chat_id=chat.chat_id,
                    payload=rendered[(session, lang)],
                    created_at=now,
                    not_before=now,
                )
            )
    if not items:
        return 0
    added = await services.store.enqueue(items)
    log.info("digests: %d due, %d new", len(items), added)
    return added


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    from jobs.context import is_leader, services_of

    if not is_leader(context):
        return
    services = services_of(context)
    try:
        await enqueue_due_digests(services, services.clock.now())
    except Exception:
        log.exception("digest job failed; it runs again in a minute")


async def schedule_digests(application: Application) -> None:  # type: ignore[type-arg]
    jq = application.job_queue
    assert jq is not None
    jq.run_repeating(digest_job, interval=60, first=15, name="digests")
