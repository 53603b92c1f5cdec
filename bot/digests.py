"""When a chat's daily digest is due: its local time and zone, NYSE sessions, the session it is about.
Pure functions of the calendar (jobs/digest.py schedules with them; /digest settings use the defaults)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import calendar
from bot.store.base import ChatSettings

DEFAULT_TIME = "08:00"
DEFAULT_TZ = {"en": "America/New_York", "zh-Hant": "Asia/Taipei"}
CATCH_UP = timedelta(hours=3)


def chat_zone(chat: ChatSettings) -> str:
    return chat.tz or DEFAULT_TZ.get(chat.lang or "en", "America/New_York")


def due_session(chat_time: str, zone: str, now: datetime) -> date | None:
    """The session whose digest is due for a chat at ``now``, or None when nothing is due.

    A digest goes out on the chat's local dates that are NYSE sessions, about the session before:
    Monday's digest is about Friday, none on Saturday, Sunday or an NYSE holiday. In zones far east of
    New York the session before may still be trading at the digest time; then it is the last one
    that has closed.
    """
    local = now.astimezone(ZoneInfo(zone))
    hour, minute = (int(x) for x in chat_time.split(":"))
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not (slot <= local < slot + CATCH_UP) or not calendar.is_session(slot.date()):
        return None
    session = calendar.previous_session(slot.date())
    if calendar.session_close(session) > now:
        session = calendar.previous_session(session)
    return session
