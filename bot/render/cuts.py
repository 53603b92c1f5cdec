"""The /cuts message."""

from __future__ import annotations

from collections.abc import Sequence

from bot.market import SeriesStatus
from bot.metrics.cuts import HORIZONS, CutsStudy
from bot.render import format as fmt
from bot.render.i18n import N_, Safe, tr
from bot.render.text import join, sources_line, stale_lines


def _pct(value: float | None, lang: str) -> str:
    return fmt.pct(value, lang, 1) if value is not None else "—"


def render_cuts(study: CutsStudy, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>After the first Fed cut</b> of each easing cycle since 1990: Russell 2000 vs S&amp;P 500"), lang),
        tr(N_("(first cut = a cut after a hike, or more than 12 months after the previous cut; returns from the announcement-day close)"), lang),
        "",
    ]
    for c in study.cycles:
        lines.append(tr(N_("<b>{date}</b> {before}% → {after}%"), lang, date=fmt.day(c.date, lang),
                        before=fmt.number(c.before, lang), after=fmt.number(c.after, lang)))
        lines.append(Safe("  " + " · ".join(
            tr(N_("{months}M: R2K {rut} / S&amp;P {spx}"), lang, months=m, rut=_pct(c.rut[m], lang), spx=_pct(c.spx[m], lang))
            for m in HORIZONS)))
    lines.append("")
    for m in HORIZONS:
        lines.append(tr(N_("Average {months}M ({count} cycles): R2K {rut} vs S&amp;P 500 {spx}"), lang, months=m,
                        count=study.counted[m], rut=_pct(study.avg_rut[m], lang), spx=_pct(study.avg_spx[m], lang)))
    lines.append(tr(N_("The seed article claims small caps averaged +18.7% vs +11.2% after the first cut; the figures above are what these closes say."), lang))
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, study.asof, lang)]
    return join(lines)
