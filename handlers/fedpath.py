"""/fedodds path [chart]: the market's rate path (FedWatch on the latest strip) beside the Fed's SEP median.

Parsed in handlers/fedodds.py (the same command); here: the latest strip up to the as-of -> the path, the
SEP in use unless stale or missing (then the market path alone, said so) -> text, and the chart on request
(a button under the text), as /fedodds does."""

from __future__ import annotations

from bot import calendar
from bot.errors import NoDataError
from bot.i18n import N_, tr
from bot.market import Snapshot
from bot.metrics.fedpath import fed_path
from bot.metrics.odds import OddsView, odds_view
from bot.render import charts
from bot.render.fedpath import fedpath_caption, fedpath_chart, render_fedpath
from bot.seam import Button, Chart, Reply, Request, Services

SEP = "FEDTARMD"


def latest_odds(snap: Snapshot) -> OddsView:
    """The odds of the snapshot's latest strip (for /fedodds and its path); NoDataError names what is missing."""
    if not snap.strips:
        raise NoDataError(what=N_("30-day Fed funds futures settlements"))
    if not snap.has("DFEDTARL"):
        raise NoDataError(what=N_("the Fed funds target range"))
    view = odds_view(snap.strips, snap.close("DFEDTARL"), calendar.fomc_meetings(), snap.asof, calendar.previous_session)
    if view is None or not view.result.meetings:
        raise NoDataError(what=N_("FOMC odds on this date"))
    return view


async def fedpath_reply(services: Services, request: Request, want_chart: bool) -> Reply:
    snap = request.snapshot(services)
    view = latest_odds(snap)
    if not view.upcoming:
        raise NoDataError(what=N_("FOMC odds on this date"))
    sep_status = snap.status.get(SEP)
    fresh = snap.has(SEP) and sep_status is not None and not sep_status.stale
    path = fed_path(view, snap.frame(SEP) if fresh else None)
    names = ("ZQ_STRIPS", "DFEDTARL", "DFEDTARU", SEP)
    statuses = [snap.status[n] for n in names if n in snap.status and snap.status[n].last_date is not None]
    text = render_fedpath(path, view.strip.source, statuses, request.lang)
    if not want_chart:
        return Reply(text=text, buttons=((Button(tr(N_("📊 Chart of the two paths"), request.lang), "fedodds:path:chart"),),))
    png = await charts.render(fedpath_chart, path, view.strip.source, request.lang)
    return Reply(text=text, chart=Chart(png=png, caption=fedpath_caption(path, request.lang)))
