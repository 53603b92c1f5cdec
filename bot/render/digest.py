"""The daily digest: one message and one chart, shared by /digest and the scheduled digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot import calendar
from bot.i18n import N_, Safe, tr
from bot.market import Snapshot
from bot.metrics.odds import odds_view
from bot.metrics.pe import CANDIDATES, best_pe, compute_pe_gap
from bot.metrics.r2k import InsufficientData, compute_r2k
from bot.metrics.rates import compute_rates
from bot.metrics.spread import compute_spread
from bot.render import charts
from bot.render import format as fmt
from bot.render.fedodds import range_label
from bot.render.pe import KINDS, PE_KINDS_DIFFER
from bot.render.r2k import r2k_chart
from bot.render.rates import rates_summary
from bot.render.spread import trend_word
from bot.render.text import join, sources_line, stale_lines, used_closes
from bot.series import SERIES


@dataclass(frozen=True)
class Digest:
    text: Safe
    png: bytes | None
    caption: Safe | None


async def build_digest(snap: Snapshot, lang: str) -> Digest:
    """Every part the data allows; a part whose data is missing is left out, a stale one is flagged.

    The header dates the last close the parts use (never the day the digest is sent); the footer says
    which series end on which day when they differ.
    """
    lines: list[str] = []
    used: list[str] = []
    closes: dict[str, date] = {}
    png = caption = None
    if snap.has("RUT"):
        ndx = snap.close("NDX") if snap.has("NDX") else None
        try:
            r = compute_r2k(snap.close("RUT"), ndx, snap.asof)
        except InsufficientData:
            r = None
        if r is not None:
            used.append("RUT")
            closes["RUT"] = r.date
            lines.append(tr(N_("Russell 2000 {close} ({change} on the day, YTD {ytd}); {distance} from its record"), lang,
                            close=fmt.number(r.close, lang), change=fmt.pct(r.day_change_pct, lang), ytd=fmt.pct(r.ytd, lang),
                            distance=fmt.pct(r.distance_to_ath, lang)))
            if r.is_ath:
                lines.append(tr(N_("🏁 A record close."), lang))
            if ndx is not None:
                try:
                    s = compute_spread(snap.close("RUT"), ndx, None, snap.asof, "ytd")
                    used.append("NDX")
                    closes["NDX"] = s.asof
                    lines.append(tr(N_("R2K − NDX year to date: {gap} ({trend})"), lang, gap=fmt.pp(s.gap_ndx_pp, lang),
                                    trend=trend_word(s, lang)))
                except InsufficientData:
                    pass
            png = await charts.render(r2k_chart, snap.close("RUT"), ndx, r.date, "ytd",
                                      [snap.status[n] for n in ("RUT", "NDX") if n in snap.status], lang)
            caption = tr(N_("Russell 2000 vs Nasdaq-100, rebased to 100 · {asof}"), lang, asof=r.date.isoformat())
    lines += _pe_lines(snap, lang, used, closes)
    if snap.strips and snap.has("DFEDTARL"):
        view = odds_view(snap.strips, snap.close("DFEDTARL"), calendar.fomc_meetings(), snap.asof, calendar.previous_session)
        # A meeting decided since the strip's day is history, not an outlook: only meetings after the as-of.
        upcoming = view.upcoming if view is not None else ()
        if view is not None and upcoming:
            m = upcoming[0]
            used += ["ZQ_STRIPS", "DFEDTARL", "DFEDTARU"]
            closes["ZQ_STRIPS"] = view.result.trade_date
            lines.append(tr(N_("FOMC {meeting}: cut {cut}, hold {hold}, hike {hike}; most likely {range} (settlements of {trade_date})"), lang,  # noqa: E501 (a msgid is one line)
                            meeting=fmt.day(m.meeting, lang), cut=fmt.pct(m.cut, lang, 0, sign=False),
                            hold=fmt.pct(m.hold, lang, 0, sign=False), hike=fmt.pct(m.hike, lang, 0, sign=False),
                            range=range_label(m.most_likely, lang), trade_date=fmt.day(view.result.trade_date, lang)))
    lines += _rates_lines(snap, lang, used, closes)
    upcoming_meeting = calendar.next_meeting(snap.asof)
    if upcoming_meeting is not None:
        lines.append(tr(N_("Next FOMC decision: {date}"), lang, date=fmt.day(upcoming_meeting, lang)))
    statuses = [snap.status[n] for n in dict.fromkeys(used) if n in snap.status]
    # The header dates the index close the digest leads with; the other parts carry their own dates.
    shown = used_closes(statuses, snap.asof, closes)
    lead = shown.get("RUT") or (max(shown.values()) if shown else None)
    header = (tr(N_("<b>capgap daily</b> · close of {asof}"), lang, asof=fmt.day(lead, lang))
              if lead is not None else tr(N_("<b>capgap daily</b>"), lang))
    lines = [header, *lines]
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, snap.asof, lang, closes=closes)]
    return Digest(text=join(lines), png=png, caption=caption)


def _pe_lines(snap: Snapshot, lang: str, used: list[str], closes: dict[str, date]) -> list[Safe]:
    """The P/E gap, each side named for what it is (forward or trailing), with /pe's warning when the
    two kinds differ; fresh series before stale ones, as /pe chooses them."""
    values = {n: snap.close(n) for names in CANDIDATES.values() for n in names if snap.has(n)}
    labels = {n: SERIES[n].label for n in values}
    large = best_pe(values, "large", labels, asof=snap.asof)
    small = best_pe(values, "small", labels, asof=snap.asof)
    if large is None or small is None:
        return []
    try:
        gap = compute_pe_gap(large, small, snap.asof)
    except InsufficientData:
        return []
    used += [large.name, small.name]
    closes.update({large.name: gap.large.date, small.name: gap.small.date})
    if gap.comparable:
        kind = tr(KINDS[gap.large.kind], lang)
    else:
        kind = tr(N_("S&amp;P 500 {large_kind}, S&amp;P 600 {small_kind}"), lang,
                  large_kind=tr(KINDS[gap.large.kind], lang), small_kind=tr(KINDS[gap.small.kind], lang))
    out = [tr(N_("P/E gap S&amp;P 500 − S&amp;P 600: {turns} turns ({kind}, {date})"), lang,
              turns=fmt.signed(gap.gap_turns, lang, 1), kind=kind, date=fmt.day(gap.asof, lang))]
    if not gap.comparable:
        out.append(tr(PE_KINDS_DIFFER, lang))
    return out


RATE_SERIES = ("DFEDTARL", "DFEDTARU", "EFFR", "DGS10")


def _rates_lines(snap: Snapshot, lang: str, used: list[str], closes: dict[str, date]) -> list[Safe]:
    """/rates in one line, dated by its latest observation; a stale part is marked ⚠️ in the line and
    named in the digest's stale warnings (its series join ``used``)."""
    held = {n: snap.close(n) if snap.has(n) else None for n in RATE_SERIES}
    try:
        r = compute_rates(held["DFEDTARL"], held["DFEDTARU"], held["EFFR"], held["DGS10"], calendar.fomc_meetings(),
                          snap.asof)
    except InsufficientData:
        return []
    shown = {"DFEDTARL": r.target, "DFEDTARU": r.target, "EFFR": r.effr, "DGS10": r.dgs10}
    for name, reading in shown.items():
        if reading is not None:
            used.append(name)
            closes[name] = reading.date
    return [tr(N_("Rates ({asof}): {summary}"), lang, asof=fmt.day(r.asof, lang), summary=rates_summary(r, lang))]
