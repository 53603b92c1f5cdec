"""The /cuts message."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from bot.i18n import N_, Safe, tr, trn
from bot.market import SeriesStatus
from bot.metrics.cuts import HORIZONS, CutsStudy, FirstCut
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import as_terminal_text, join, sources_line, stale_lines

# The byline of the article whose averages /cuts checks (FoolBull, 2025-09-30).
CLAIM_PUBLISHED = date(2025, 9, 30)


def _pct(value: float | None, lang: str) -> str:
    return fmt.pct(value, lang, 1) if value is not None else "—"


def _window(study: CutsStudy, c: FirstCut, months: int, lang: str) -> Safe:
    if study.not_ended(c, months):
        return tr(N_("{months}M: not ended (ends {end})"), lang, months=months, end=fmt.day(c.ends[months], lang))
    return tr(N_("{months}M: R2K {rut} / S&amp;P {spx}"), lang, months=months, rut=_pct(c.rut[months], lang),
              spx=_pct(c.spx[months], lang))


def render_cuts(study: CutsStudy, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>After the first Fed cut</b> of each easing cycle since the Russell 2000 data begin ({start}): Russell 2000 vs S&amp;P 500"), lang,  # noqa: E501 (a msgid is one line)
           start=fmt.day(study.data_start, lang) if study.data_start else "—"),
        tr(N_("(first cut = a cut after a hike, or at least 12 months after the previous change; price returns, no dividends, from the announcement-day close to the last close 3, 6 and 12 calendar months later)"), lang),  # noqa: E501 (a msgid is one line)
        "",
    ]
    for c in study.cycles:
        head = tr(N_("<b>{date}</b> {before}% → {after}%"), lang, date=fmt.day(c.date, lang),
                  before=fmt.number(c.before, lang), after=fmt.number(c.after, lang))
        if c.kind == "resumed" and c.paused_months is not None:
            head = Safe(head + " " + trn("— resumed cutting after {months} month without a change (not a new cycle; not in the averages)",  # noqa: E501 (a msgid is one line)
                                         "— resumed cutting after {months} months without a change (not a new cycle; not in the averages)",  # noqa: E501 (a msgid is one line)
                                         c.paused_months, lang, months=c.paused_months))
        lines.append(head)
        lines.append(Safe("  " + " · ".join(_window(study, c, m, lang) for m in HORIZONS)))
    lines.append("")
    for m in HORIZONS:
        lines.append(trn("Average {months}M ({count} cycle): R2K {rut} vs S&amp;P 500 {spx}",
                         "Average {months}M ({count} cycles): R2K {rut} vs S&amp;P 500 {spx}", study.counted[m], lang, months=m,
                         count=study.counted[m], rut=_pct(study.avg_rut[m], lang), spx=_pct(study.avg_spx[m], lang)))
    if study.asof >= CLAIM_PUBLISHED:  # an answer about an earlier close does not quote a later article
        lines.append(tr(N_("FoolBull (2025-09-30) put the averages after a first cut at +18.7% for small caps vs +11.2% for large caps; these closes give the figures above."), lang))  # noqa: E501 (a msgid is one line)
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, study.asof, lang)]
    return join(lines)


def cuts_caption(study: CutsStudy, months: int, lang: str) -> Safe:
    return tr(N_("Russell 2000 vs S&amp;P 500 {months} months after the first Fed cut · {asof}"), lang, months=months,
              asof=fmt.day(study.asof, lang))


def cuts_chart(study: CutsStudy, months: int, statuses: Sequence[SeriesStatus], lang: str) -> bytes:
    """Grouped bars: per cut whose ``months`` window has ended, the Russell 2000 and S&P 500 price
    returns (percent), then the average over the first cuts. A resumed cut is marked (its bars are not in
    the average); a window not ended has no bars, as the text says."""
    clang = charts.chart_lang(lang)
    rut: dict[str, float] = {}
    spx: dict[str, float] = {}
    for c in study.cycles:
        small, large = c.rut[months], c.spx[months]
        if small is None or large is None:
            continue
        label = str(fmt.day(c.date, clang))
        if c.kind == "resumed":
            label = html.unescape(tr(N_("{date} (resumed)"), clang, date=label))
        rut[label], spx[label] = small * 100, large * 100
    avg_rut, avg_spx = study.avg_rut[months], study.avg_spx[months]
    if avg_rut is not None and avg_spx is not None:
        label = html.unescape(trn("Average ({count} cycle)", "Average ({count} cycles)", study.counted[months], clang,
                                  count=study.counted[months]))
        rut[label], spx[label] = avg_rut * 100, avg_spx * 100
    title = tr(N_("Price return {months} months after the first Fed cut, to {asof}"), clang, months=months,
               asof=fmt.day(study.asof, clang))
    return charts.draw(
        clang,
        charts.grouped_bar_figure,
        [(html.unescape(tr(N_("Russell 2000"), clang)), rut), (str(tr(N_("S&P 500"), clang)), spx)],
        title=html.unescape(title),
        xlabel=html.unescape(tr(N_("First cut of the cycle (announcement)"), clang)),
        ylabel=html.unescape(tr(N_("Price return (%)"), clang)),
        source=as_terminal_text(sources_line(statuses, study.asof, clang)),
    )
