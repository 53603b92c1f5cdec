"""The /pe message."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import N_, Safe, tr, tr_text, trn
from bot.market import SeriesStatus
from bot.metrics.pe import PEGap, PEReading
from bot.render import format as fmt
from bot.render.text import join, sources_line, stale_lines

KINDS = {"forward": N_("forward"), "trailing": N_("trailing")}
PE_KINDS_DIFFER = N_("⚠️ The two P/E are of different kinds (forward vs trailing): the gap is indicative only.")


def _reading(r: PEReading, lang: str) -> Safe:
    return tr(N_("{label}: <b>{value}</b> ({kind}, {date})"), lang, label=tr_text(r.label, lang),
              value=fmt.number(r.value, lang, 1), kind=tr(KINDS[r.kind], lang), date=fmt.day(r.date, lang))


def render_pe(gap: PEGap, others: Sequence[PEReading], statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>P/E: S&amp;P 500 vs S&amp;P 600</b>"), lang),
        _reading(gap.large, lang),
        _reading(gap.small, lang),
        tr(N_("Gap: <b>{turns}</b> turns ({pct} of the small-cap P/E)"), lang,
           turns=fmt.signed(gap.gap_turns, lang, 1), pct=fmt.pct(gap.gap_pct, lang, 1)),
    ]
    if not gap.comparable:
        lines.append(tr(PE_KINDS_DIFFER, lang))
    if gap.percentile is not None:
        lines.append(tr(N_("Over the history held since {start}: mean gap {mean} turns; today's gap is above {percentile} of it."),  # noqa: E501 (a msgid is one line)
                        lang, start=fmt.day(gap.history_start, lang), mean=fmt.signed(gap.mean_turns, lang, 1),
                        percentile=fmt.pct(gap.percentile, lang, 0, sign=False)))
    else:
        lines.append(trn("The gap's history held covers {days} day (since {start}): too short for a percentile; mean so far {mean} turns.",  # noqa: E501 (a msgid is one line)
                         "The gap's history held covers {days} days (since {start}): too short for a percentile; mean so far {mean} turns.",  # noqa: E501 (a msgid is one line)
                         gap.history_days, lang, days=gap.history_days, start=fmt.day(gap.history_start, lang),
                         mean=fmt.signed(gap.mean_turns, lang, 1)))
    for other in others:
        lines.append(_reading(other, lang))
    lines += stale_lines(statuses, lang)
    closes = {r.name: r.date for r in (gap.large, gap.small, *others)}
    lines += ["", sources_line(statuses, gap.asof, lang, closes=closes)]
    return join(lines)


def render_pe_one_side(
    present: PEReading, missing: str, others: Sequence[PEReading], statuses: Sequence[SeriesStatus], lang: str
) -> Safe:
    """Only one side of the gap is held: show it (and R2K / NDX), and name the side that is missing."""
    lines: list[str] = [
        tr(N_("<b>P/E: S&amp;P 500 vs S&amp;P 600</b>"), lang),
        _reading(present, lang),
        tr(N_("No {missing} is stored yet, so there is no gap to show. An operator can record it with `capgap refresh` (Yahoo ETF proxies) or load it with `capgap import`."),  # noqa: E501 (a msgid is one line)
           lang, missing=tr(missing, lang)),
    ]
    for other in others:
        lines.append(_reading(other, lang))
    lines += stale_lines(statuses, lang)
    closes = {r.name: r.date for r in (present, *others)}
    lines += ["", sources_line(statuses, present.date, lang, closes=closes)]
    return join(lines)
