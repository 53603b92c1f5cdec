"""/risk: volatility and drawdowns of the Russell 2000 beside the S&P 500 and Nasdaq-100."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.metrics.r2k import InsufficientData
from bot.metrics.risk import compute_risk
from bot.render import charts
from bot.render.risk import CHARTED, render_risk, risk_caption, risk_chart
from bot.seam import Button, Chart, Reply, Request, Services

RISK_USAGE = N_("Usage: /risk [chart] — volatility (annualised, over the last 20 and 252 sessions; 252 sessions ≈ 1 year) and drawdowns of named episodes (peak = last record close, trough = lowest close of the episode), Russell 2000 vs S&amp;P 500 and Nasdaq-100; chart: the drawdowns of the Russell 2000 and S&amp;P 500 over time")  # noqa: E501 (a msgid is one line)


async def risk_command(services: Services, request: Request) -> Reply:
    if request.args and tuple(a.lower() for a in request.args) != ("chart",):
        raise UsageError(RISK_USAGE)
    snap = request.snapshot(services)
    names = [n for n in ("RUT", "SPX", "NDX") if snap.has(n)]
    if "RUT" not in names:
        snap.close("RUT")  # raises the "no data" reply
    try:
        risks = [compute_risk(n, snap.close(n), snap.asof) for n in names]
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    statuses = [snap.status[n] for n in names if n in snap.status]
    text = render_risk(risks, statuses, snap.asof, request.lang)
    if not request.args:
        return Reply(text=text, buttons=((Button(tr(N_("📉 Drawdown chart"), request.lang), "risk:chart"),),))
    charted = [n for n in CHARTED if n in names]
    asof = max(r.asof for r in risks if r.name in charted)
    png = await charts.render(risk_chart, {n: snap.close(n) for n in charted}, risks,
                              [snap.status[n] for n in charted if n in snap.status], asof, request.lang)
    return Reply(text=text, chart=Chart(png=png, caption=risk_caption(asof, request.lang)))
