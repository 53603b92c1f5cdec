"""/cuts: small vs large caps after the first cut of each easing cycle the data covers."""

from __future__ import annotations

from bot import calendar
from bot.errors import NoDataError, UsageError
from bot.i18n import N_
from bot.metrics.cuts import compute_cuts, splice_target
from bot.metrics.r2k import InsufficientData
from bot.render.cuts import render_cuts
from bot.seam import Reply, Request, Services

CUTS_USAGE = N_("Usage: /cuts — Russell 2000 and S&amp;P 500 price returns (no dividends) 3, 6 and 12 calendar months after the first cut of each easing cycle")  # noqa: E501 (a msgid is one line)


async def cuts_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(CUTS_USAGE)
    snap = request.snapshot(services)
    old = snap.close("DFEDTAR") if snap.has("DFEDTAR") else None
    target = splice_target(old, snap.close("DFEDTARU"))
    try:
        study = compute_cuts(target, snap.close("RUT"), snap.close("SPX"), snap.asof, calendar.fomc_meetings())
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    names = [n for n in ("RUT", "SPX", "DFEDTARU", "DFEDTAR") if n in snap.status]
    return Reply(text=render_cuts(study, [snap.status[n] for n in names], request.lang))
