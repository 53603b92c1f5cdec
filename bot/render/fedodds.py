"""The /fedodds message and chart."""

from __future__ import annotations

from collections.abc import Sequence

from bot.market import SeriesStatus
from bot.metrics.fedwatch import MeetingOdds
from bot.metrics.odds import OddsView
from bot.render import charts
from bot.render import format as fmt
from bot.render.i18n import N_, Safe, tr
from bot.render.text import join, sources_line, stale_lines

STEP = 0.25


def range_label(lower: float, lang: str) -> str:
    return f"{fmt.number(lower, lang)}–{fmt.number(lower + STEP, lang)}"


def _change(now: float, before: MeetingOdds | None, attr: str, lang: str) -> str:
    if before is None:
        return "—"
    return fmt.pp((now - getattr(before, attr)) * 100, lang, 1)


def render_meeting(view: OddsView, m: MeetingOdds, lang: str) -> list[str]:
    top = m.probabilities[m.most_likely]
    prev_day, prev_week = view.previous(m.meeting, "1d"), view.previous(m.meeting, "1w")
    return [
        tr(N_("<b>FOMC {meeting}</b>: most likely {range} ({prob})"), lang, meeting=fmt.day(m.meeting, lang),
           range=range_label(m.most_likely, lang), prob=fmt.pct(top, lang, 1, sign=False)),
        tr(N_("  cut {cut} · hold {hold} · hike {hike}"), lang, cut=fmt.pct(m.cut, lang, 1, sign=False),
           hold=fmt.pct(m.hold, lang, 1, sign=False), hike=fmt.pct(m.hike, lang, 1, sign=False)),
        tr(N_("  cut odds vs 1 day ago {d1}, vs 1 week ago {w1}"), lang,
           d1=_change(m.cut, prev_day, "cut", lang), w1=_change(m.cut, prev_week, "cut", lang)),
        tr(N_("  ranges: {ranges}"), lang, ranges=Safe(", ".join(
            f"{range_label(lo, lang)} {fmt.pct(p, lang, 1, sign=False)}"
            for lo, p in sorted(m.probabilities.items()) if p >= 0.0005))),
        tr(N_("  expected rate after the meeting {rate}%"), lang, rate=fmt.number(m.expected_rate, lang, 3)),
    ]


def render_fedodds(view: OddsView, meetings: Sequence[MeetingOdds], statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    result = view.result
    lines: list[str] = [
        tr(N_("<b>Fed funds futures odds</b> (CME FedWatch method) · settlements of {trade_date}"), lang,
           trade_date=fmt.day(result.trade_date, lang)),
        tr(N_("Current target range {range}%"), lang, range=range_label(result.lower_bound, lang)),
        "",
    ]
    for m in meetings:
        lines += render_meeting(view, m, lang)
    if result.year_end_rates:
        lines.append("")
        lines.append(tr(N_("Implied rate at year end: {years}"), lang, years=Safe(", ".join(
            f"{year} {fmt.number(rate, lang, 3)}%" for year, rate in sorted(result.year_end_rates.items())))))
    used = [mp for mp in result.months if mp.price is not None and mp.role != "beyond_horizon"]
    lines.append(tr(N_("Settlement prices used (rate = 100 − price): {prices}"), lang, prices=Safe(", ".join(
        f"{fmt.month_short(mp.month, lang)} {mp.price:.4f}" + ("" if mp.used else "*") for mp in used))))
    if any(not mp.used for mp in used):
        lines.append(tr(N_("(* not needed by the method for these meetings)"), lang))
    lines += stale_lines(statuses, lang)
    lines += ["", tr(N_("<i>Source: CME ZQ settlements of {trade_date} ({source}); target range: FRED DFEDTARL/DFEDTARU · as of {trade_date}</i>"),
                     lang, trade_date=fmt.day(result.trade_date, lang), source=view.strip.source)]
    return join(lines)


def fedodds_chart(view: OddsView, meetings: Sequence[MeetingOdds], lang: str) -> bytes:
    clang = charts.chart_lang(lang)
    groups = [
        (fmt.day(m.meeting, clang), {range_label(lo, clang): p * 100 for lo, p in sorted(m.probabilities.items()) if p >= 0.0005})
        for m in meetings
    ]
    return charts.grouped_bar_chart(
        groups,
        title=tr(N_("Target range probabilities by FOMC meeting"), clang),
        xlabel=tr(N_("Target range (%)"), clang),
        ylabel=tr(N_("Probability (%)"), clang),
        source=tr(N_("Source: CME ZQ settlements {trade_date}, capgap FedWatch method"), clang,
                  trade_date=fmt.day(view.result.trade_date, clang)),
        lang=clang,
    )


__all__ = ["render_fedodds", "fedodds_chart", "sources_line"]
