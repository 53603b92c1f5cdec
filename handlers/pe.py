"""/pe: the S&P 500 vs S&P 600 P/E gap (with Russell 2000 and Nasdaq-100 where we have them)."""

from __future__ import annotations

from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.market import Snapshot
from bot.metrics.pe import CANDIDATES, best_pe, chartable, compute_pe_gap, gap_history, latest
from bot.metrics.r2k import InsufficientData
from bot.render import charts
from bot.render.pe import no_chart_line, pe_caption, pe_chart, render_pe, render_pe_one_side
from bot.seam import Button, Chart, Reply, Request, Services
from bot.series import SERIES

PE_USAGE = N_("Usage: /pe [chart] — S&amp;P 500 vs S&amp;P 600 P/E gap, forward where imported, else ETF trailing proxies; chart: the gap over time with its mean and 10th–90th percentile band (with a year of history)")  # noqa: E501 (a msgid is one line)

def pe_values(snap: Snapshot) -> dict[str, object]:
    return {n: snap.close(n) for names in CANDIDATES.values() for n in names if snap.has(n)}


LABELS = {name: info.label for name, info in SERIES.items()}


SIDES = {"large": N_("S&amp;P 500 P/E"), "small": N_("S&amp;P 600 P/E")}


async def pe_command(services: Services, request: Request) -> Reply:
    if request.args and tuple(a.lower() for a in request.args) != ("chart",):
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
    if not chartable(gap):  # the text says how much history there is; a chart asked for says why there is none
        note = no_chart_line(gap, request.lang) if request.args else None
        return Reply(text=render_pe(gap, others, statuses, request.lang, note))
    text = render_pe(gap, others, statuses, request.lang)
    if not request.args:
        return Reply(text=text, buttons=((Button(tr(N_("📈 Chart of the gap over time"), request.lang), "pe:chart"),),))
    main = [snap.status[n] for n in (large.name, small.name) if n in snap.status]
    png = await charts.render(pe_chart, gap_history(large, small, snap.asof), gap, main, request.lang)
    return Reply(text=text, chart=Chart(png=png, caption=pe_caption(gap, request.lang)))
