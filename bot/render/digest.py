"""The daily digest: one message and one chart, shared by /digest and the scheduled digest."""

from __future__ import annotations

from dataclasses import dataclass

from bot import calendar
from bot.market import Snapshot
from bot.metrics.odds import odds_view
from bot.metrics.pe import CANDIDATES, best_pe, compute_pe_gap
from bot.metrics.r2k import InsufficientData, compute_r2k
from bot.metrics.spread import compute_spread
from bot.render import charts
from bot.render import format as fmt
from bot.render.fedodds import range_label
from bot.render.i18n import N_, Safe, tr
from bot.render.r2k import r2k_chart
from bot.render.spread import trend_word
from bot.render.text import join, sources_line, stale_lines
from bot.series import SERIES


@dataclass(frozen=True)
class Digest:
    text: Safe
    png: bytes | None
    caption: Safe | None


async def build_digest(snap: Snapshot, lang: str) -> Digest:
    """Every part the data allows; a part whose data is missing is left out, a stale one is flagged."""
    lines: list[str] = [tr(N_("<b>capgap daily</b> · close of {asof}"), lang, asof=fmt.day(snap.asof, lang))]
    used: list[str] = []
    png = caption = None
    if snap.has("RUT"):
        ndx = snap.close("NDX") if snap.has("NDX") else None
        try:
            r = compute_r2k(snap.close("RUT"), ndx, snap.asof)
        except InsufficientData:
            r = None
        if r is not None:
            used.append("RUT")
            lines.append(tr(N_("Russell 2000 {close} ({change} on the day, YTD {ytd}); {distance} from its record"), lang,
                            close=fmt.number(r.close, lang), change=fmt.pct(r.day_change_pct, lang), ytd=fmt.pct(r.ytd, lang),
                            distance=fmt.pct(r.distance_to_ath, lang)))
            if r.is_ath:
                lines.append(tr(N_("🏁 A record close."), lang))
            if ndx is not None:
                used.append("NDX")
                try:
                    s = compute_spread(snap.close("RUT"), ndx, None, snap.asof, "ytd")
                    lines.append(tr(N_("R2K − NDX year to date: {gap} ({trend})"), lang, gap=fmt.pp(s.gap_ndx_pp, lang),
                                    trend=trend_word(s, lang)))
                except InsufficientData:
                    pass
            png = await charts.render(r2k_chart, snap.close("RUT"), ndx, snap.asof, "ytd",
                                      [snap.status[n] for n in ("RUT", "NDX") if n in snap.status], lang)
            caption = tr(N_("Russell 2000 vs Nasdaq-100, rebased to 100 · {asof}"), lang, asof=snap.asof.isoformat())
    values = {n: snap.close(n) for names in CANDIDATES.values() for n in names if snap.has(n)}
    labels = {n: SERIES[n].label for n in values}
    large, small = best_pe(values, "large", labels), best_pe(values, "small", labels)
    if large is not None and small is not None:
        try:
            gap = compute_pe_gap(large, small, snap.asof)
            used += [large.name, small.name]
            lines.append(tr(N_("P/E gap S&amp;P 500 − S&amp;P 600: {turns} turns ({kind})"), lang,
                            turns=fmt.signed(gap.gap_turns, lang, 1), kind=tr(N_("forward") if gap.large.kind == "forward" else N_("trailing"), lang)))
        except InsufficientData:
            pass
    if snap.strips and snap.has("DFEDTARL"):
        view = odds_view(snap.strips, snap.close("DFEDTARL"), calendar.fomc_meetings(), snap.asof)
        if view is not None and view.result.meetings:
            m = view.result.meetings[0]
            used.append("ZQ_STRIPS")
            lines.append(tr(N_("FOMC {meeting}: cut {cut}, hold {hold}, hike {hike}; most likely {range}"), lang,
                            meeting=fmt.day(m.meeting, lang), cut=fmt.pct(m.cut, lang, 0, sign=False),
                            hold=fmt.pct(m.hold, lang, 0, sign=False), hike=fmt.pct(m.hike, lang, 0, sign=False),
                            range=range_label(m.most_likely, lang)))
    upcoming = calendar.next_meeting(snap.asof)
    if upcoming is not None:
        lines.append(tr(N_("Next FOMC decision: {date}"), lang, date=fmt.day(upcoming, lang)))
    statuses = [snap.status[n] for n in used if n in snap.status]
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, snap.asof, lang)]
    return Digest(text=join(lines), png=png, caption=caption)
