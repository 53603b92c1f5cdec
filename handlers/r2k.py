"""/r2k: the Russell 2000 at its last close."""

from __future__ import annotations

from bot.errors import UsageError
from bot.metrics.r2k import compute_r2k
from bot.render.i18n import N_
from bot.render.r2k import render_r2k
from handlers.base import Reply, Request, Services

R2K_USAGE = N_("Usage: /r2k — the Russell 2000 at its last close")


async def r2k_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(R2K_USAGE)
    snap = request.snapshot(services)
    rut = snap.close("RUT")
    ndx = snap.close("NDX") if snap.has("NDX") else None
    result = compute_r2k(rut, ndx, snap.asof)
    used = [snap.status[n] for n in ("RUT", "NDX") if n in snap.status and (n == "RUT" or ndx is not None)]
    return Reply(text=render_r2k(result, used, snap.asof, request.lang))
