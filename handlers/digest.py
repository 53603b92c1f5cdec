"""/digest: today's digest now; /digest on [HH:MM] [Zone] and /digest off for the daily one."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from zoneinfo import available_timezones

from bot.digests import DEFAULT_TIME, DEFAULT_TZ, digest_reply
from bot.errors import UsageError
from bot.i18n import N_, tr
from bot.seam import Reply, Request, Services
from bot.store.base import ChatSettings

DIGEST_USAGE = N_("Usage: /digest — the digest now; /digest on [HH:MM] [Area/City] — daily on NYSE trading days (default 08:00, your zone); /digest off")  # noqa: E501 (a msgid is one line)
DIGEST_ON = N_("Daily digest on: {time} {zone}, on NYSE trading days, about the session before.")
DIGEST_OFF = N_("Daily digest off.")
DIGEST_NEEDS_BOT = N_("Daily digest settings need the running bot: send /digest on [HH:MM] [Area/City] in a chat with it. Here, /digest alone shows today's digest.")  # noqa: E501 (a msgid is one line)
BAD_TIME = N_("{time} is not a time of day: use HH:MM from 00:00 to 23:59, e.g. /digest on 08:30.")
BAD_ZONE = N_("Unknown time zone {zone}: use an Area/City name such as Asia/Taipei or America/New_York.")
# Shapes first: only then is a word converted (a digit run of any length is not a time; a zone name is
# looked up in the IANA list, never opened as a file path).
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$", re.ASCII)
_TIME_SHAPED = re.compile(r"^\d{1,2}[:.]\d{1,2}$", re.ASCII)
_ECHO_MAX = 40  # characters of a user's word repeated in an error


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """IANA zone names a chat may pick, by their lower-case spelling: Area/City ones and UTC (not the old
    aliases like "EST")."""
    return {z.lower(): z for z in available_timezones() if "/" in z or z == "UTC"}


def parse_digest_on(args: tuple[str, ...], at: str, zone: str) -> tuple[str, str]:
    """The words after ``/digest on`` -> (HH:MM, zone), starting from the chat's current ones."""
    if len(args) > 2:
        raise UsageError(DIGEST_USAGE)
    for arg in args:
        match = _TIME.match(arg)
        if match:
            at = f"{int(match.group(1)):02d}:{match.group(2)}"
        elif _TIME_SHAPED.match(arg) or ":" in arg:
            raise UsageError(BAD_TIME, time=arg[:_ECHO_MAX])
        else:
            zone = _zone_name(arg)
    return at, zone


def _zone_name(arg: str) -> str:
    zone = _zones().get(arg.lower())  # "asia/taipei" is a fine way to type it
    if zone is None:
        raise UsageError(BAD_ZONE, zone=arg[:_ECHO_MAX])
    return zone


async def digest_command(services: Services, request: Request) -> Reply:
    args = request.args
    if not args:
        return await digest_reply(request.snapshot(services), request.lang)
    action = args[0].lower()
    if action not in ("on", "off") or (action == "off" and len(args) > 1):
        raise UsageError(DIGEST_USAGE)
    if action == "on":
        parse_digest_on(args[1:], DEFAULT_TIME, "UTC")  # a mistake is named before anything else
    if services.store is None:
        raise UsageError(DIGEST_NEEDS_BOT)
    store = services.store
    chat = await store.get_chat(request.chat_id) or ChatSettings(chat_id=request.chat_id, kind=request.chat_type)
    if action == "off":
        await store.put_chat(replace(chat, digest_time=None))
        return Reply(text=tr(DIGEST_OFF, request.lang))
    at, zone = parse_digest_on(args[1:], DEFAULT_TIME, chat.tz or DEFAULT_TZ.get(chat.lang or request.lang, "America/New_York"))
    await store.put_chat(replace(chat, digest_time=at, tz=zone, lang=chat.lang or request.lang))
    return Reply(text=tr(DIGEST_ON, request.lang, time=at, zone=zone))
