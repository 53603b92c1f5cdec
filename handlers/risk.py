"""/risk: volatility and drawdowns of the Russell 2000 beside the S&P 500 and Nasdaq-100."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.i18n import N_
from bot.metrics.r2k import InsufficientData
from bot.metrics.risk import compute_risk
from bot.render.risk import render_risk
from bot.seam import Reply, Request, Services

RISK_USAGE = N_("Usage: /risk — volatility (annualised, over the last 20 and 252 sessions; 252 sessions ≈ 1 year) and drawdowns of named episodes (peak = last record close, trough = lowest close of the episode), Russell 2000 vs S&amp;P 500 and Nasdaq-100")  # noqa: E501 (a msgid is one line)


async def risk_command(services: Services, request: Request) -> Reply:
    if request.args:
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
    return Reply(text=render_risk(risks, statuses, snap.asof, request.lang))
