"""/pe: the S&P 500 vs S&P 600 P/E gap (with Russell 2000 and Nasdaq-100 where we have them)."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.i18n import N_
from bot.market import Snapshot
from bot.metrics.pe import CANDIDATES, best_pe, compute_pe_gap, latest
from bot.metrics.r2k import InsufficientData
from bot.render.pe import render_pe, render_pe_one_side
from bot.seam import Reply, Request, Services
from bot.series import SERIES

PE_USAGE = N_("Usage: /pe — S&amp;P 500 vs S&amp;P 600 P/E gap, forward where imported, else ETF trailing proxies")

def pe_values(snap: Snapshot) -> dict[str, object]:
    return {n: snap.close(n) for names in CANDIDATES.values() for n in names if snap.has(n)}


LABELS = {name: info.label for name, info in SERIES.items()}


SIDES = {"large": N_("S&amp;P 500 P/E"), "small": N_("S&amp;P 600 P/E")}


async def pe_command(services: Services, request: Request) -> Reply:
    if request.args:
        raise UsageError(PE_USAGE)
    snap = request.snapshot(services)
    values = pe_values(snap)
    # Fresh series before stale ones, forward before trailing (bot/metrics/pe.py choose_pe_series).
    large, small = (best_pe(values, role, LABELS, asof=snap.asof) for role in ("large", "small"))
    extra = [best_pe(values, role, LABELS, asof=snap.asof) for role in ("r2k", "ndx")]
    if large is None and small is None:
        raise NoDataError(what=N_("S&P 500 and S&P 600 P/E (recorded daily from Yahoo, or imported)"))
    try:
        others = [latest(s, snap.asof) for s in extra if s is not None]
        if large is None or small is None:
            # One side held: show it, and name the side the gap still needs.
            present = latest(large or small, snap.asof)  # type: ignore[arg-type]
            missing = SIDES["small" if small is None else "large"]
            used = [present.name] + [o.name for o in others]
            statuses = [snap.status[n] for n in used if n in snap.status]
            return Reply(text=render_pe_one_side(present, missing, others, statuses, request.lang))
        gap = compute_pe_gap(large, small, snap.asof)
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    used = [s.name for s in (large, small)] + [o.name for o in others]
    statuses = [snap.status[n] for n in used if n in snap.status]
    return Reply(text=render_pe(gap, others, statuses, request.lang))
