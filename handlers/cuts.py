"""/cuts: small vs large caps after the first cut of each easing cycle the data covers."""

from __future__ import annotations

from bot import calendar
from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.metrics.cuts import compute_cuts, splice_target
from bot.metrics.r2k import InsufficientData
from bot.render import charts
from bot.render.cuts import cuts_caption, cuts_chart, render_cuts
from bot.seam import Button, Chart, Reply, Request, Services

CUTS_USAGE = N_("Usage: /cuts [chart [3m|6m|12m]] — Russell 2000 and S&amp;P 500 price returns (no dividends) 3, 6 and 12 calendar months after the first cut of each easing cycle; chart: bars per cycle over one window (default 12m)")  # noqa: E501 (a msgid is one line)
CHART_WINDOWS = {"3m": 3, "6m": 6, "12m": 12}


def parse_cuts_args(args: tuple[str, ...]) -> int | None:
    """-> the chart's window in months, or None for the text alone."""
    words = tuple(a.lower() for a in args)
    if not words:
        return None
    if words[0] != "chart" or len(words) > 2 or (len(words) == 2 and words[1] not in CHART_WINDOWS):
        raise UsageError(CUTS_USAGE)
    return CHART_WINDOWS[words[1]] if len(words) == 2 else 12


async def cuts_command(services: Services, request: Request) -> Reply:
    months = parse_cuts_args(request.args)
    snap = request.snapshot(services)
    old = snap.close("DFEDTAR") if snap.has("DFEDTAR") else None
    target = splice_target(old, snap.close("DFEDTARU"))
    try:
        study = compute_cuts(target, snap.close("RUT"), snap.close("SPX"), snap.asof, calendar.fomc_meetings())
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    statuses = [snap.status[n] for n in ("RUT", "SPX", "DFEDTARU", "DFEDTAR") if n in snap.status]
    text = render_cuts(study, statuses, request.lang)
    if months is None:
        return Reply(text=text, buttons=((Button(tr(N_("📊 Chart of the 12-month returns"), request.lang), "cuts:chart:12m"),),))
    png = await charts.render(cuts_chart, study, months, statuses, request.lang)
    return Reply(text=text, chart=Chart(png=png, caption=cuts_caption(study, months, request.lang)))
