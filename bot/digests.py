"""When a chat's daily digest is due: its local time and zone, NYSE sessions, the session it is about.
Pure functions of the calendar: jobs/digest.py schedules with them, /digest settings use the defaults.
And what a digest is as a reply, the same for /digest and for the scheduled one (``digest_reply``)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import calendar
from bot.i18n import N_, tr
from bot.market import Snapshot
from bot.seam import Chart, Reply, Services
from bot.store.base import ChatSettings

DEFAULT_TIME = "08:00"
DEFAULT_TZ = {"en": "America/New_York", "zh-Hant": "Asia/Taipei"}
CATCH_UP = timedelta(hours=3)
# Local dates looked at for the next session: NYSE's longest closure since 1900s is 4 weekdays (2001).
_LOOKAHEAD_DAYS = 14


def chat_zone(chat: ChatSettings) -> str:
    return chat.tz or DEFAULT_TZ.get(chat.lang or "en", "America/New_York")


def _wall_time(chat_time: str) -> time:
    hour, minute = (int(x) for x in chat_time.split(":"))
    return time(hour, minute)


def due_session(chat_time: str, zone: str, now: datetime) -> date | None:
    """The session whose digest is due for a chat at ``now``, or None when nothing is due.

    A digest goes out on the chat's local dates that are NYSE sessions, about the session before:
    Monday's digest is about Friday, none on Saturday, Sunday or an NYSE holiday. In zones far east of
    New York the session before may still be trading at the digest time; then it is the last one
    that has closed.
    """
    local = now.astimezone(ZoneInfo(zone))
    wall = _wall_time(chat_time)
    slot = local.replace(hour=wall.hour, minute=wall.minute, second=0, microsecond=0)
    if not (slot <= local < slot + CATCH_UP) or not calendar.is_session(slot.date()):
        return None
    session = calendar.previous_session(slot.date())
    if calendar.session_close(session) > now:
        session = calendar.previous_session(session)
    return session


def next_digest_at(chat_time: str, zone: str, after: datetime) -> datetime:
    """The first instant (UTC) after ``after`` at which a chat's digest comes due: ``chat_time`` on a
    local date of ``zone`` that is an NYSE session.

    Local wall time, so the instant follows the zone's daylight saving time. A time the clocks skip
    that day (02:30 on a spring-forward day) is read with the offset before the change, as zoneinfo
    does (03:30 after it); a time that occurs twice is its first occurrence.
    """
    tz = ZoneInfo(zone)
    wall = _wall_time(chat_time)
    day = after.astimezone(tz).date()
    for _ in range(_LOOKAHEAD_DAYS):
        if calendar.is_session(day):
            slot = datetime.combine(day, wall, tzinfo=tz)
            if slot > after:
                return slot.astimezone(UTC)
        day += timedelta(days=1)
    raise ValueError(f"no NYSE session within {_LOOKAHEAD_DAYS} days after {after.isoformat()}")


async def digest_reply(snapshot: Snapshot, lang: str) -> Reply:
    """The digest of ``snapshot`` in ``lang``: its text, with its chart under the chart's caption."""
    from bot.render.digest import build_digest  # the renderers load matplotlib: only when a digest is made

    digest = await build_digest(snapshot, lang)
    chart = Chart(png=digest.png, caption=digest.caption or tr(N_("capgap daily"), lang)) if digest.png else None
    return Reply(text=digest.text, chart=chart)


class DigestRenders:
    """The digests one run of the bot rendered, as the outbox keeps them (the reply /digest sends): one
    per market snapshot, session and language (a chart costs ~0.1 s, the job's minute a few ms). A run
    keeps a few (``KEPT``: sessions × languages); a new snapshot renders again. Held by the running bot's
    state (bot/app_state.py), not the module: two bots in one process, or a test's fresh Services, never
    see each other's digests."""

    KEPT = 8

    def __init__(self) -> None:
        self._payloads: OrderedDict[tuple[datetime, date, str], dict[str, Any]] = OrderedDict()

    async def payload(self, services: Services, session: date, lang: str) -> dict[str, Any]:
        """The outbox payload of the digest of ``session`` in ``lang``; every chat due gets this one
        object, so the store encodes it and stores its chart once per batch."""
        from bot.telegram_edge import planned

        key = (services.market.snapshot.built_at, session, lang)
        payload = self._payloads.get(key)
        if payload is None:
            payload = planned(await digest_reply(services.market.at(session), lang))
            self._payloads[key] = payload
            while len(self._payloads) > self.KEPT:
                self._payloads.popitem(last=False)
        return payload
