"""/spread [ytd|1m|3m|1y|5y]: Russell 2000 minus Nasdaq-100 and minus S&P 500 over a period."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.metrics.r2k import InsufficientData
from bot.metrics.spread import PERIODS, compute_spread
from bot.render import charts
from bot.render.spread import render_spread, spread_chart
from bot.seam import Chart, Reply, Request, Services

SPREAD_USAGE = N_("Usage: /spread [ytd|1m|3m|1y|5y] — small caps minus large caps over the period (default ytd): price returns, no dividends; 1m/3m/1y/5y are calendar windows from the last close on or before the same day 1, 3, 12 or 60 months earlier")  # noqa: E501 (a msgid is one line)


async def spread_command(services: Services, request: Request) -> Reply:
    if len(request.args) > 1 or (request.args and request.args[0].lower() not in PERIODS):
        raise UsageError(SPREAD_USAGE)
    period = request.args[0].lower() if request.args else "ytd"
    snap = request.snapshot(services)
    spx = snap.close("SPX") if snap.has("SPX") else None
    try:
        result = compute_spread(snap.close("RUT"), snap.close("NDX"), spx, snap.asof, period)
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    statuses = [snap.status[n] for n in ("RUT", "NDX", "SPX") if n in snap.status and (n != "SPX" or spx is not None)]
    png = await charts.render(spread_chart, result, statuses, request.lang)
    caption = tr(N_("R2K − NDX gap · {asof}"), request.lang, asof=result.asof.isoformat())
    return Reply(text=render_spread(result, statuses, request.lang), chart=Chart(png=png, caption=caption))
