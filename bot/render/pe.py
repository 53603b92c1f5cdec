"""The /pe message."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bot.i18n import N_, Safe, tr, tr_text, trn
from bot.market import SeriesStatus
from bot.metrics.pe import CHART_BAND, MIN_CHART_POINTS, MIN_HISTORY_DAYS, PEGap, PEReading
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import as_terminal_text, join, sources_line, stale_lines

KINDS = {"forward": N_("forward"), "trailing": N_("trailing")}
PE_KINDS_DIFFER = N_("⚠️ The two P/E are of different kinds (forward vs trailing): the gap is indicative only.")


def _reading(r: PEReading, lang: str) -> Safe:
    return tr(N_("{label}: <b>{value}</b> ({kind}, {date})"), lang, label=tr_text(r.label, lang),
              value=fmt.number(r.value, lang, 1), kind=tr(KINDS[r.kind], lang), date=fmt.day(r.date, lang))


def render_pe(gap: PEGap, others: Sequence[PEReading], statuses: Sequence[SeriesStatus], lang: str,
              note: Safe | None = None) -> Safe:
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
    if note is not None:
        lines.append(note)
    lines += stale_lines(statuses, lang)
    closes = {r.name: r.date for r in (gap.large, gap.small, *others)}
    lines += ["", sources_line(statuses, gap.asof, lang, closes=closes)]
    return join(lines)


def no_chart_line(gap: PEGap, lang: str) -> Safe:
    """Why /pe chart draws nothing yet: the history it needs, and the history held."""
    return tr(N_("No chart yet: the gap's chart needs at least {days} days and {points} dates of history; {held_days} days and {held_points} dates are held."),  # noqa: E501 (a msgid is one line)
              lang, days=MIN_HISTORY_DAYS, points=MIN_CHART_POINTS, held_days=gap.history_days, held_points=gap.observations)


def pe_caption(gap: PEGap, lang: str) -> Safe:
    return tr(N_("P/E gap S&amp;P 500 − S&amp;P 600 over time · {asof}"), lang, asof=fmt.day(gap.asof, lang))


def pe_chart(history: pd.Series, gap: PEGap, statuses: Sequence[SeriesStatus], lang: str) -> bytes:
    """The gap (turns) at every common date, its mean, and the band between its 10th and 90th
    percentiles over the same history (the percentile the text quotes is against this history)."""
    clang = charts.chart_lang(lang)
    low, high = (float(v) for v in np.percentile(history.to_numpy(dtype="float64"), CHART_BAND))
    kinds = tr(KINDS[gap.large.kind], clang) if gap.comparable else tr(
        N_("S&amp;P 500 {large_kind}, S&amp;P 600 {small_kind}"), clang, large_kind=tr(KINDS[gap.large.kind], clang),
        small_kind=tr(KINDS[gap.small.kind], clang))
    title = tr(N_("P/E gap, S&amp;P 500 − S&amp;P 600 ({kind}), to {asof}"), clang, kind=kinds, asof=fmt.day(gap.asof, clang))
    closes = {r.name: r.date for r in (gap.large, gap.small)}
    with charts.styled(clang):
        fig = charts.line_figure(
            {html.unescape(tr(N_("Gap"), clang)): history},
            title=html.unescape(title),
            xlabel=html.unescape(tr(N_("Date"), clang)),
            ylabel=html.unescape(tr(N_("Gap (turns of earnings)"), clang)),
            source=as_terminal_text(sources_line(statuses, gap.asof, clang, closes=closes)),
        )
        ax = fig.axes[0]
        ax.axhline(gap.mean_turns, color="#555555", linestyle="--", linewidth=1.0,
                   label=html.unescape(tr(N_("Mean {mean}"), clang, mean=fmt.signed(gap.mean_turns, clang, 1))))
        ax.axhspan(low, high, color="#1f77b4", alpha=0.12, linewidth=0,
                   label=html.unescape(tr(N_("10th–90th percentile"), clang)))
        ax.legend(loc="best", fontsize=8)
        return charts.png(fig)


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
