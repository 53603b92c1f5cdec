"""/r2k [chart [ytd|1y|5y]]: the Russell 2000 at its last close, or its chart against the Nasdaq-100."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError, UserError
from bot.i18n import N_, tr
from bot.metrics.r2k import InsufficientData, compute_r2k
from bot.render import charts
from bot.render.r2k import CHART_PERIODS, r2k_chart, render_r2k
from bot.seam import Button, Chart, Reply, Request, Services

BEFORE_HISTORY = N_("The {series} history held starts on {start}: there is no close on or before {asof}.")
R2K_USAGE = N_("Usage: /r2k — the Russell 2000 at its last close; /r2k chart [ytd|1y|5y] — against the Nasdaq-100, rebased to 100")  # noqa: E501 (a msgid is one line)


async def r2k_command(services: Services, request: Request) -> Reply:
    args = tuple(a.lower() for a in request.args)
    if args and (args[0] != "chart" or len(args) > 2 or (len(args) == 2 and args[1] not in CHART_PERIODS)):
        raise UsageError(R2K_USAGE)
    snap = request.snapshot(services)
    status = snap.status.get("RUT")
    if status is not None and status.first_date is not None and status.first_date > snap.asof:
        raise UserError(BEFORE_HISTORY, series=tr(N_("Russell 2000"), request.lang),
                        start=status.first_date.isoformat(), asof=snap.asof.isoformat())
    rut = snap.close("RUT")
    ndx = snap.close("NDX") if snap.has("NDX") else None
    used = [snap.status[n] for n in ("RUT", "NDX") if n in snap.status and (n == "RUT" or ndx is not None)]
    try:
        result = compute_r2k(rut, ndx, snap.asof)
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    if not args:
        buttons = ((Button(tr(N_("📈 Chart vs Nasdaq-100"), request.lang), "r2k:chart:ytd"),),)
        return Reply(text=render_r2k(result, used, request.lang, snap.live.get("RUT")), buttons=buttons)
    period = args[1] if len(args) == 2 else "ytd"
    png = await charts.render(r2k_chart, rut, ndx, result.date, period, used, request.lang)
    caption = tr(N_("Russell 2000 vs Nasdaq-100, rebased to 100 · {asof}"), request.lang, asof=result.date.isoformat())
    return Reply(text=render_r2k(result, used, request.lang), chart=Chart(png=png, caption=caption))
