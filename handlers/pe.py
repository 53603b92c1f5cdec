"""/pe: the S&P 500 vs S&P 600 P/E gap (with Russell 2000 and Nasdaq-100 where we have them)."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.market import Snapshot
from bot.metrics.pe import PESeries, choose_pe_series, compute_pe_gap, latest
from bot.metrics.r2k import InsufficientData
from bot.render.i18n import N_
from bot.render.pe import render_pe
from bot.series import SERIES
from handlers.base import Reply, Request, Services

PE_USAGE = N_("Usage: /pe — S&amp;P 500 vs S&amp;P 600 P/E gap, forward where imported, else ETF trailing proxies")

# Per index: the imported forward series first, then the ETF proxy the bot records each session.
CANDIDATES = {
    "large": ("PE_SPX_FWD", "PE_SPY"),
    "small": ("PE_SP600_FWD", "PE_IJR"),
    "r2k": ("PE_RUT_FWD", "PE_IWM"),
    "ndx": ("PE_NDX_FWD", "PE_QQQ"),
}


def pe_series(snap: Snapshot, name: str) -> PESeries | None:
    if not snap.has(name):
        return None
    kind = "forward" if name.endswith("_FWD") else "trailing"
    return PESeries(name=name, values=snap.close(name), kind=kind, label=SERIES[name].label)


def best(snap: Snapshot, role: str) -> PESeries | None:
    return choose_pe_series([pe_series(snap, n) for n in CANDIDATES[role]])


async def pe_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(PE_USAGE)
    snap = request.snapshot(services)
    large, small = best(snap, "large"), best(snap, "small")
    if large is None or small is None:
        raise NoDataError(what=N_("S&P 500 and S&P 600 P/E (recorded daily from Yahoo, or imported)"))
    try:
        gap = compute_pe_gap(large, small, snap.asof)
        others = [latest(s, snap.asof) for s in (best(snap, "r2k"), best(snap, "ndx")) if s is not None]
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    used = [s.name for s in (large, small)] + [o.name for o in others]
    statuses = [snap.status[n] for n in used if n in snap.status]
    return Reply(text=render_pe(gap, others, statuses, request.lang))
