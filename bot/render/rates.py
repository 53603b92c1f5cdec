"""The /rates message, and the one line of it a digest can carry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.i18n import N_, Safe, tr
from bot.market import SeriesStatus
from bot.metrics.rates import MAX_AGE_DAYS, Rates, Reading, TargetRange
from bot.render import format as fmt
from bot.render.text import join, sources_line

TARGET_LABEL = N_("Fed funds target range")
EFFR_LABEL = N_("Effective fed funds rate (EFFR)")
DGS10_LABEL = N_("10-year Treasury yield")


def range_text(lower: float, upper: float, lang: str) -> Safe:
    """'3.50–3.75%'."""
    return Safe(f"{fmt.number(lower, lang)}–{fmt.number(upper, lang)}%")


def _bp(change: float, lang: str) -> Safe:
    return tr(N_("{change} bp"), lang, change=fmt.signed(change, lang, 0))


def _target_line(t: TargetRange, decision: date | None, lang: str) -> Safe:
    line = tr(N_("{label}: <b>{range}</b> ({date}; in effect since {since})"), lang, label=tr(TARGET_LABEL, lang),
              range=range_text(t.lower, t.upper, lang), date=fmt.day(t.date, lang), since=fmt.day(t.since, lang))
    if decision is None or t.change_bp is None or t.before_lower is None or t.before_upper is None:
        return line
    return Safe(line + " · " + tr(
        N_("{change} since the {decision} decision (was {before})"), lang, change=_bp(t.change_bp, lang),
        decision=fmt.day(decision, lang), before=range_text(t.before_lower, t.before_upper, lang)))


def _reading_line(label: str, r: Reading, decision: date | None, lang: str) -> Safe:
    line = tr(N_("{label}: <b>{value}</b> ({date})"), lang, label=tr(label, lang),
              value=Safe(fmt.number(r.value, lang) + "%"), date=fmt.day(r.date, lang))
    if decision is None or r.change_bp is None or r.before is None or r.before_date is None:
        return line
    return Safe(line + " · " + tr(
        N_("{change} since the {decision} decision (from {before} on {before_date})"), lang,
        change=_bp(r.change_bp, lang), decision=fmt.day(decision, lang),
        before=Safe(fmt.number(r.before, lang) + "%"), before_date=fmt.day(r.before_date, lang)))


def _notes(label: str, r: TargetRange | Reading, rates: Rates, lang: str) -> list[Safe]:
    """Why a reading cannot be taken at face value: stale, or older than the decision's effect."""
    name = tr(label, lang)
    if r.stale and not r.shows_decision and rates.decision is not None and r.effective is not None:
        return [tr(N_("⚠️ {series} is stale: its last observation ({date}) predates the {decision} decision, in effect since {effective}."),  # noqa: E501 (a msgid is one line)
                   lang, series=name, date=fmt.day(r.date, lang), decision=fmt.day(rates.decision, lang),
                   effective=fmt.day(r.effective, lang))]
    if r.stale:
        return [tr(N_("⚠️ {series} is stale: its last observation ({date}) is more than {days} days before {asof}."),
                   lang, series=name, date=fmt.day(r.date, lang), days=MAX_AGE_DAYS, asof=fmt.day(rates.requested, lang))]
    if not r.shows_decision and rates.decision is not None and r.effective is not None:
        return [tr(N_("⏳ {series} ({date}) does not show the {decision} decision yet: the first observation that can is dated {effective}."),  # noqa: E501 (a msgid is one line)
                   lang, series=name, date=fmt.day(r.date, lang), decision=fmt.day(rates.decision, lang),
                   effective=fmt.day(r.effective, lang))]
    return []


def render_rates(r: Rates, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [tr(N_("<b>US rates</b> · as of {asof}"), lang, asof=fmt.day(r.asof, lang))]
    if r.decision is not None:
        lines.append(tr(N_("Last FOMC decision: {decision}. Changes are from the last value before that day."), lang,
                        decision=fmt.day(r.decision, lang)))
    notes: list[Safe] = []
    if r.target is not None:
        lines.append(_target_line(r.target, r.decision, lang))
        notes += _notes(TARGET_LABEL, r.target, r, lang)
    else:
        lines.append(tr(N_("{label}: no data stored for this date."), lang, label=tr(TARGET_LABEL, lang)))
    for label, reading in ((EFFR_LABEL, r.effr), (DGS10_LABEL, r.dgs10)):
        if reading is None:
            lines.append(tr(N_("{label}: no data stored for this date."), lang, label=tr(label, lang)))
            continue
        lines.append(_reading_line(label, reading, r.decision, lang))
        notes += _notes(label, reading, r, lang)
    lines += notes
    lines += ["", sources_line(statuses, r.asof, lang)]
    return join(lines)


def rates_summary(r: Rates, lang: str) -> Safe:
    """One line for a digest: 'Fed funds 3.50–3.75% · EFFR 3.64% · 10-year 4.08% (−16 bp since the
    2026-01-28 decision)'; a stale part is marked."""
    parts: list[str] = []
    if r.target is not None:
        parts.append(tr(N_("Fed funds {range}"), lang, range=range_text(r.target.lower, r.target.upper, lang))
                     + (" ⚠️" if r.target.stale else ""))
    if r.effr is not None:
        parts.append(tr(N_("EFFR {value}"), lang, value=Safe(fmt.number(r.effr.value, lang) + "%"))
                     + (" ⚠️" if r.effr.stale else ""))
    if r.dgs10 is not None:
        value = Safe(fmt.number(r.dgs10.value, lang) + "%")
        ten = tr(N_("10-year {value}"), lang, value=value)
        if r.decision is not None and r.dgs10.change_bp is not None:
            ten = tr(N_("10-year {value} ({change} since the {decision} decision)"), lang, value=value,
                     change=_bp(r.dgs10.change_bp, lang), decision=fmt.day(r.decision, lang))
        parts.append(ten + (" ⚠️" if r.dgs10.stale else ""))
    return Safe(" · ".join(parts))
