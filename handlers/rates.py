"""/rates: the Fed target range, EFFR and the 10-year Treasury yield, each since the last FOMC decision."""

from __future__ import annotations

from bot import calendar
from bot.errors import NoDataError, UsageError
from bot.i18n import N_
from bot.metrics.rates import compute_rates
from bot.metrics.returns import InsufficientData
from bot.render.rates import render_rates
from bot.seam import Reply, Request, Services

RATES_USAGE = N_("Usage: /rates — the Fed target range, the effective fed funds rate and the 10-year Treasury yield, each with its change since the last FOMC decision")  # noqa: E501 (a msgid is one line)
SERIES = ("DFEDTARL", "DFEDTARU", "EFFR", "DGS10")


async def rates_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(RATES_USAGE)
    snap = request.snapshot(services)
    held = {name: snap.close(name) if snap.has(name) else None for name in SERIES}
    try:
        result = compute_rates(held["DFEDTARL"], held["DFEDTARU"], held["EFFR"], held["DGS10"],
                               calendar.fomc_meetings(), snap.asof)
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    used = {"DFEDTARL": result.target, "DFEDTARU": result.target, "EFFR": result.effr, "DGS10": result.dgs10}
    statuses = [snap.status[n] for n in SERIES if n in snap.status and used[n] is not None]
    return Reply(text=render_rates(result, statuses, request.lang))
