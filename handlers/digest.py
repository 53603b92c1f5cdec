"""/digest: today's digest now; /digest on [HH:MM] [Zone] and /digest off for the daily one."""

from __future__ import annotations

import re
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import UsageError

from bot.render.digest import build_digest
from bot.render.i18n import N_, tr
from bot.store.base import ChatSettings
from handlers.base import Chart, Reply, Request, Services
from jobs.digest import DEFAULT_TIME, DEFAULT_TZ

DIGEST_USAGE = N_("Usage: /digest — the digest now; /digest on [HH:MM] [Area/City] — daily on NYSE trading days (default 08:00, your zone); /digest off")
DIGEST_ON = N_("Daily digest on: {time} {zone}, on NYSE trading days, about the session before.")
DIGEST_OFF = N_("Daily digest off.")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


async def digest_command(services: Services, request: Request) -> Reply:
    args = request.args
    if not args:
        digest = await build_digest(request.snapshot(services), request.lang)
        chart = Chart(png=digest.png, caption=digest.caption or tr(N_("capgap daily"), request.lang)) if digest.png else None
        return Reply(text=digest.text, chart=chart)
    action = args[0].lower()
    if services.store is None or action not in ("on", "off") or len(args) > 3 or (action == "off" and len(args) > 1):
        raise UsageError(DIGEST_USAGE)
    store = services.store
    chat = await store.get_chat(request.chat_id) or ChatSettings(chat_id=request.chat_id, kind=request.chat_type)
    if action == "off":
        await store.put_chat(replace(chat, digest_time=None))
        return Reply(text=tr(DIGEST_OFF, request.lang))
    at, zone = DEFAULT_TIME, chat.tz or DEFAULT_TZ.get(chat.lang or request.lang, "America/New_York")
    for arg in args[1:]:
        match = _TIME.match(arg)
        if match:
            at = f"{int(match.group(1)):02d}:{match.group(2)}"
            continue
        try:
            ZoneInfo(arg)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(DIGEST_USAGE) from None
        if "/" not in arg and arg != "UTC":
            raise UsageError(DIGEST_USAGE)
        zone = arg
    await store.put_chat(replace(chat, digest_time=at, tz=zone, lang=chat.lang or request.lang))
    return Reply(text=tr(DIGEST_ON, request.lang, time=at, zone=zone))



