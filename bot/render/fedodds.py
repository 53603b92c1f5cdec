"""The /fedodds message and chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.i18n import N_, Safe, tr
from bot.market import SeriesStatus
from bot.metrics.fedwatch import MeetingOdds
from bot.metrics.odds import Earlier, OddsView
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


THEN_LABELS = {"1d": N_("previous session"), "1w": N_("1 week earlier"), "1m": N_("1 month earlier")}
SHOWN = 0.0005  # a probability shown in a list or a chart cell: 0.05 % or more (it prints as 0.1 %)
MATTERS = 0.005  # a target range in the then-and-now table: 0.5 % or more now or then


def _then(view: OddsView, m: MeetingOdds) -> list[tuple[Earlier, MeetingOdds | None]]:
    """Each comparison with the meeting's odds on its day (None: no strip stored, or not priced then)."""
    return [(c, view.previous(m.meeting, c.which)) for c in view.comparisons]


def _missing(earlier: Earlier, lang: str) -> Safe:
    """Why a comparison has no figure: that day's settlements are not stored, or did not price the meeting."""
    if earlier.result is None:
        return tr(N_("no settlements stored"), lang)
    return tr(N_("meeting not priced then"), lang)


def _prob(m: MeetingOdds, lower: float, lang: str) -> Safe:
    """The meeting's probability of the range starting at ``lower`` (0 when the tree never reaches it)."""
    return fmt.pct(m.probabilities.get(lower, 0.0), lang, 1, sign=False)


def _then_line(view: OddsView, m: MeetingOdds, lang: str) -> Safe | None:
    """The most likely range now against the same range on each earlier day, each named by its date:
    the compact then-and-now of a reply about several meetings."""
    then = _then(view, m)
    if all(c.result is None for c, _ in then):
        return None  # _changes already says that no earlier settlements are stored
    columns = [f"{fmt.day(c.trade_date, lang)} {_prob(b, m.most_likely, lang) if b is not None else _missing(c, lang)}"
               for c, b in then]
    return tr(N_("  {range} then: {columns}"), lang, range=range_label(m.most_likely, lang), columns=Safe(" · ".join(columns)))


def then_and_now(view: OddsView, m: MeetingOdds, lang: str) -> list[Safe]:
    """CME's then-and-now table for one meeting: per target range that matters (0.5 % or more now or on
    an earlier day), its probability now, on the previous session, a week and a month earlier. A legend
    line names each column's full date (missing ones say why); the table itself is a <pre> block of
    ASCII figures and month-day headers only, so it lines up in every language. One meeting's reply is
    far below Telegram's limit, so the block is never split across messages."""
    then = _then(view, m)
    held = [b for _, b in then if b is not None]
    ranges = sorted({lo for odds in (m, *held) for lo, p in odds.probabilities.items() if p >= MATTERS})
    legend = [tr(N_("{date} now"), lang, date=fmt.day(view.result.trade_date, lang))]
    for c, b in then:
        column = Safe(f"{fmt.day(c.trade_date, lang)} {tr(THEN_LABELS[c.which], lang)}")
        legend.append(column if b is not None else tr(N_("{column} ({why})"), lang, column=column, why=_missing(c, lang)))
    labels = [range_label(lo, lang) for lo in ranges]
    width = max((len(x) for x in labels), default=0)
    days = (view.result.trade_date, *(c.trade_date for c, _ in then))
    rows = [" " * width + "".join(f"{d.strftime('%m-%d'):>8}" for d in days)]
    for lo, label in zip(ranges, labels, strict=True):
        cells = [_prob(odds, lo, lang) if odds is not None else "-" for odds in (m, *(b for _, b in then))]
        rows.append(f"{label:<{width}}" + "".join(f"{cell:>8}" for cell in cells))
    return [
        tr(N_("  <b>Then and now</b>, % by target range: {columns}"), lang, columns=Safe(" · ".join(legend))),
        Safe("<pre>" + "\n".join(rows) + "</pre>"),
    ]


def render_meeting(view: OddsView, m: MeetingOdds, lang: str, *, single: bool = False) -> list[str]:
    """One meeting's lines: with ``single`` (the reply's only meeting) the then-and-now table of every
    range that matters; else the most likely range then and now, and the ranges in one line."""
    top = m.probabilities[m.most_likely]
    lines: list[str] = [
        tr(N_("<b>FOMC {meeting}</b>: most likely {range} ({prob})"), lang, meeting=fmt.day(m.meeting, lang),
           range=range_label(m.most_likely, lang), prob=fmt.pct(top, lang, 1, sign=False)),
        tr(N_("  cut {cut} · hold {hold} · hike {hike}"), lang, cut=fmt.pct(m.cut, lang, 1, sign=False),
           hold=fmt.pct(m.hold, lang, 1, sign=False), hike=fmt.pct(m.hike, lang, 1, sign=False)),
        _changes(view, m, lang),
    ]
    if single:
        lines += then_and_now(view, m, lang)
    else:
        then = _then_line(view, m, lang)
        if then is not None:
            lines.append(then)
        lines.append(tr(N_("  ranges: {ranges}"), lang, ranges=Safe(", ".join(
            f"{range_label(lo, lang)} {fmt.pct(p, lang, 1, sign=False)}"
            for lo, p in sorted(m.probabilities.items()) if p >= SHOWN))))
    lines.append(tr(N_("  expected rate after the meeting {rate}%"), lang, rate=fmt.number(m.expected_rate, lang, 3)))
    return lines


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
        lines += render_meeting(view, m, lang, single=len(meetings) == 1)
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


def _chart_source(view: OddsView, clang: str) -> str:
    return as_terminal_text(tr(N_("Source: ZQ settlements {trade_date} ({source}), capgap FedWatch method"), clang,
                               trade_date=fmt.day(view.result.trade_date, clang), source=strip_label(view.strip.source, clang)))


def fedodds_bars_spec(view: OddsView, m: MeetingOdds, clang: str) -> dict[str, Any]:
    """One meeting as bars: the probability of each target range, the meeting's date in the title."""
    return {
        "groups": [(fmt.day(m.meeting, clang), {range_label(lo, clang): p * 100 for lo, p in sorted(m.probabilities.items())
                                                 if p >= SHOWN})],
        "title": str(tr(N_("Target range probabilities at the FOMC meeting of {meeting}"), clang,
                        meeting=fmt.day(m.meeting, clang))),
        "xlabel": str(tr(N_("Target range (%)"), clang)),
        "ylabel": str(tr(N_("Probability (%)"), clang)),
        "source": _chart_source(view, clang),
        "value_format": "{:.1f}%",
    }


def fedodds_heatmap_spec(view: OddsView, meetings: Sequence[MeetingOdds], clang: str) -> dict[str, Any]:
    """Several meetings as CME's probability table: a row per meeting, a column per target range any of
    them gives 0.05 % or more, the probability in % in each cell (blank below 0.05 %)."""
    ranges = sorted({lo for m in meetings for lo, p in m.probabilities.items() if p >= SHOWN})
    values = [[m.probabilities[lo] * 100 if m.probabilities.get(lo, 0.0) >= SHOWN else None for lo in ranges] for m in meetings]
    return {
        "rows": [str(fmt.day(m.meeting, clang)) for m in meetings],
        "columns": [range_label(lo, clang) for lo in ranges],
        "values": values,
        "cells": [[f"{v:.1f}" if v is not None else "" for v in row] for row in values],
        "title": str(tr(N_("Target range probabilities by FOMC meeting (%) · settlements of {trade_date}"), clang,
                        trade_date=fmt.day(view.result.trade_date, clang))),
        "xlabel": str(tr(N_("Target range (%)"), clang)),
        "ylabel": str(tr(N_("FOMC meeting"), clang)),
        "colorbar": str(tr(N_("Probability (%)"), clang)),
        "source": _chart_source(view, clang),
    }


def fedodds_chart(view: OddsView, meetings: Sequence[MeetingOdds], lang: str) -> bytes:
    """One meeting: bars per target range; several: the heatmap of meetings by target range."""
    clang = charts.chart_lang(lang)
    if len(meetings) == 1:
        return charts.draw(clang, charts.grouped_bar_figure, **fedodds_bars_spec(view, meetings[0], clang))
    return charts.draw(clang, charts.heatmap_figure, **fedodds_heatmap_spec(view, meetings, clang))


__all__ = ["render_fedodds", "fedodds_chart", "sources_line"]
