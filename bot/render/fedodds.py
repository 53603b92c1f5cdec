"""The /fedodds message and chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.i18n import N_, Safe, tr
from bot.market import SeriesStatus
from bot.metrics.fedwatch import MeetingOdds
from bot.metrics.odds import OddsView
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import as_terminal_text, join, source_label, sources_line, stale_lines

STEP = 0.25


def range_label(lower: float, lang: str) -> str:
    return f"{fmt.number(lower, lang)}–{fmt.number(lower + STEP, lang)}"


COMPARED_WITH = {
    "1d": N_("vs {date} (previous session): cut {cut}, hike {hike}"),
    "1w": N_("vs {date} (1 week earlier): cut {cut}, hike {hike}"),
    "1m": N_("vs {date} (1 month earlier): cut {cut}, hike {hike}"),
}


def _changes(view: OddsView, m: MeetingOdds, lang: str) -> Safe:
    """How the cut and hike odds moved since the previous session, a week and a month earlier, each
    against the strip of a named day (never against whatever older strip happens to be stored)."""
    parts = []
    for earlier in view.earlier():
        before = view.previous(m.meeting, earlier.which)
        if before is None:
            continue
        parts.append(tr(COMPARED_WITH[earlier.which], lang, date=fmt.day(earlier.trade_date, lang),
                        cut=fmt.pp((m.cut - before.cut) * 100, lang, 1), hike=fmt.pp((m.hike - before.hike) * 100, lang, 1)))
    if not parts:
        return tr(N_("  changes: no settlements stored for the previous session, a week or a month earlier"), lang)
    return Safe("  " + " · ".join(parts))


def render_meeting(view: OddsView, m: MeetingOdds, lang: str) -> list[str]:
    top = m.probabilities[m.most_likely]
    return [
        tr(N_("<b>FOMC {meeting}</b>: most likely {range} ({prob})"), lang, meeting=fmt.day(m.meeting, lang),
           range=range_label(m.most_likely, lang), prob=fmt.pct(top, lang, 1, sign=False)),
        tr(N_("  cut {cut} · hold {hold} · hike {hike}"), lang, cut=fmt.pct(m.cut, lang, 1, sign=False),
           hold=fmt.pct(m.hold, lang, 1, sign=False), hike=fmt.pct(m.hike, lang, 1, sign=False)),
        _changes(view, m, lang),
        tr(N_("  ranges: {ranges}"), lang, ranges=Safe(", ".join(
            f"{range_label(lo, lang)} {fmt.pct(p, lang, 1, sign=False)}"
            for lo, p in sorted(m.probabilities.items()) if p >= 0.0005))),
        tr(N_("  expected rate after the meeting {rate}%"), lang, rate=fmt.number(m.expected_rate, lang, 3)),
    ]


def strip_label(source: str, lang: str) -> Safe:
    """What the strip is: CME's settlements, Yahoo's contract closes, or the file it was imported from."""
    if source == "cme":
        return tr(N_("CME settlements"), lang)
    if source == "yahoo":
        return tr(N_("Yahoo Finance contract closes"), lang)
    return Safe(source_label(source))


def range_sources(statuses: Sequence[SeriesStatus]) -> str:
    """'FRED (DFEDTARL, DFEDTARU)' or 'CSV DFEDTARL_jonsflow.csv (DFEDTARL), ...': credited to where it came from."""
    by_source: dict[str, list[str]] = {}
    for status in statuses:
        if status.name in ("DFEDTARL", "DFEDTARU"):
            by_source.setdefault(source_label(status.source), []).append(status.name)
    return ", ".join(f"{label} ({', '.join(names)})" for label, names in by_source.items()) or "—"


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
    if not meetings:
        lines.append(tr(N_("These settlements price no FOMC meeting after {asof}."), lang,
                        asof=fmt.day(view.asof or result.trade_date, lang)))
    upcoming_years = {m.meeting.year for m in view.upcoming}
    year_end = {y: r for y, r in result.year_end_rates.items() if y in upcoming_years}
    if year_end:
        lines.append("")
        lines.append(tr(N_("Implied rate at year end: {years}"), lang, years=Safe(", ".join(
            f"{year} {fmt.number(rate, lang, 3)}%" for year, rate in sorted(year_end.items())))))
    used = [mp for mp in result.months if mp.price is not None and mp.role != "beyond_horizon"]
    lines.append(tr(N_("Settlement prices used (rate = 100 − price): {prices}"), lang, prices=Safe(", ".join(
        f"{fmt.month_short(mp.month, lang)} {mp.price:.4f}" + ("" if mp.used else "*") for mp in used))))
    if any(not mp.used for mp in used):
        lines.append(tr(N_("(* not needed by the method for these meetings)"), lang))
    lines += stale_lines(statuses, lang)
    lines += ["", tr(N_("<i>Source: ZQ settlements of {trade_date} ({source}); target range: {range_source} · as of close {trade_date}</i>"),  # noqa: E501 (a msgid is one line)
                     lang, trade_date=fmt.day(result.trade_date, lang), source=strip_label(view.strip.source, lang),
                     range_source=range_sources(statuses))]
    return join(lines)


def fedodds_chart_spec(view: OddsView, meetings: Sequence[MeetingOdds], clang: str) -> dict[str, Any]:
    """What the chart draws: bars per meeting, title (with the date when there is one meeting), labels."""
    groups = [
        (fmt.day(m.meeting, clang), {range_label(lo, clang): p * 100 for lo, p in sorted(m.probabilities.items()) if p >= 0.0005})
        for m in meetings
    ]
    if len(meetings) == 1:  # one meeting: its date goes in the title (there is no legend to say it)
        title = tr(N_("Target range probabilities at the FOMC meeting of {meeting}"), clang,
                   meeting=fmt.day(meetings[0].meeting, clang))
    else:
        title = tr(N_("Target range probabilities by FOMC meeting"), clang)
    return {
        "groups": groups,
        "title": str(title),
        "xlabel": str(tr(N_("Target range (%)"), clang)),
        "ylabel": str(tr(N_("Probability (%)"), clang)),
        "source": as_terminal_text(tr(N_("Source: ZQ settlements {trade_date} ({source}), capgap FedWatch method"), clang,
                                      trade_date=fmt.day(view.result.trade_date, clang),
                                      source=strip_label(view.strip.source, clang))),
    }


def fedodds_chart(view: OddsView, meetings: Sequence[MeetingOdds], lang: str) -> bytes:
    clang = charts.chart_lang(lang)
    return charts.grouped_bar_chart(**fedodds_chart_spec(view, meetings, clang), lang=clang)


__all__ = ["render_fedodds", "fedodds_chart", "sources_line"]
