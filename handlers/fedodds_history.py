"""/fedodds YYYY-MM history: how the futures odds of one FOMC meeting's outcomes moved before it.

Parsed in handlers/fedodds.py (the same command); here: the meeting of the month -> the odds history
over the stored strips up to the as-of -> text and chart."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from bot import calendar
from bot.errors import NoDataError, UsageError
from bot.i18n import N_
from bot.metrics.odds_history import RANGE_START, meeting_odds_history, target_lower_bound
from bot.render import charts
from bot.render.fedodds_history import fedodds_history_caption, fedodds_history_chart, render_fedodds_history
from bot.seam import Chart, Reply, Request, Services

NO_DECISION = N_(
    "No FOMC decision in {month}: /fedodds YYYY-MM history takes a month with an FOMC meeting, e.g. /fedodds 2022-03 history"
)
NO_HISTORY = N_(
    "No stored futures settlements price the FOMC decision of {meeting} (up to {asof}). A month with two decisions (such as 2020-03) cannot be priced: one contract month cannot split them."  # noqa: E501 (a msgid is one line)
)


async def fedodds_history_reply(services: Services, request: Request, month: tuple[int, int]) -> Reply:
    meetings = calendar.fomc_meetings()
    decisions = [d for d in meetings if (d.year, d.month) == month]
    if not decisions:
        raise UsageError(NO_DECISION, month=f"{month[0]:04d}-{month[1]:02d}")
    meeting = decisions[-1]
    snap = request.snapshot(services)
    if not snap.strips:
        raise NoDataError(what=N_("30-day Fed funds futures settlements"))
    if not snap.has("DFEDTARL") and not snap.has("DFEDTAR"):
        raise NoDataError(what=N_("the Fed funds target range (FRED DFEDTARL)"))
    target = target_lower_bound(
        snap.close("DFEDTARL") if snap.has("DFEDTARL") else None,
        snap.close("DFEDTAR") if snap.has("DFEDTAR") else None,
    )
    # Only the strips that can price the meeting: dated before it (on the same side of 2008-12-16, where
    # ranges replaced single targets) and reaching its contract month.
    first = RANGE_START if meeting > RANGE_START else None
    contract = date(meeting.year, meeting.month, 1)
    strips = await asyncio.to_thread(snap.strips_between, first, meeting - timedelta(days=1), reaching=contract)
    history = await asyncio.to_thread(meeting_odds_history, strips, target, meetings, meeting, asof=snap.asof)
    if history is None:
        raise NoDataError(NO_HISTORY, meeting=meeting.isoformat(), asof=snap.asof.isoformat())
    text = render_fedodds_history(history, request.lang)
    png = await charts.render(fedodds_history_chart, history, request.lang)
    return Reply(text=text, chart=Chart(png=png, caption=fedodds_history_caption(history, request.lang)))
