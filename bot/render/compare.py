"""The /compare message and its rebased chart."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import N_, Safe, tr, tr_text
from bot.market import SeriesStatus
from bot.metrics.compare import Comparison
from bot.render import charts
from bot.render import format as fmt
from bot.render.spread import charts_source
from bot.render.text import join, sources_line, stale_lines

INDEX_NAMES = {"RUT": N_("Russell 2000"), "SPX": N_("S&P 500"), "NDX": N_("Nasdaq-100")}
PERIOD_NAMES = {
    "1m": N_("1 month"), "3m": N_("3 months"), "6m": N_("6 months"), "1y": N_("1 year"),
    "3y": N_("3 years"), "5y": N_("5 years"), "10y": N_("10 years"),
}
# R2K minus each other index: one msgid per side, so each language can word it whole.
_GAP_LINES = {
    ("SPX", True): N_("R2K − S&amp;P 500: <b>{gap}</b> (the Russell 2000 did better)"),
    ("SPX", False): N_("R2K − S&amp;P 500: <b>{gap}</b> (the Russell 2000 did worse)"),
    ("NDX", True): N_("R2K − NDX: <b>{gap}</b> (the Russell 2000 did better)"),
    ("NDX", False): N_("R2K − NDX: <b>{gap}</b> (the Russell 2000 did worse)"),
}
# Below this the two returns are the same figure as shown (2 decimals of a percentage).
_SAME_PP = 0.005


def _window_line(c: Comparison, lang: str) -> Safe:
    if c.end is None:
        return tr(N_("Window asked: from {start} to the last close"), lang, start=fmt.day(c.start, lang))
    if c.period is not None:
        return tr(N_("Window asked: {start} → {end} ({period})"), lang, start=fmt.day(c.start, lang),
                  end=fmt.day(c.end, lang), period=tr(PERIOD_NAMES[c.period], lang))
    return tr(N_("Window asked: {start} → {end}"), lang, start=fmt.day(c.start, lang), end=fmt.day(c.end, lang))


def _gap_line(other: str, gap: float, lang: str) -> Safe:
    if abs(gap) < _SAME_PP:
        label = (N_("R2K − S&amp;P 500: <b>{gap}</b> (the same return)") if other == "SPX"
                 else N_("R2K − NDX: <b>{gap}</b> (the same return)"))
        return tr(label, lang, gap=fmt.pp(gap, lang))
    return tr(_GAP_LINES[(other, gap > 0)], lang, gap=fmt.pp(gap, lang))


def render_compare(c: Comparison, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>Russell 2000 vs S&amp;P 500 vs Nasdaq-100</b> · {first} → {last}"), lang,
           first=fmt.day(c.first_date, lang), last=fmt.day(c.last_date, lang)),
        _window_line(c, lang),
    ]
    if c.cut and c.end is not None:
        lines.append(tr(N_("✂️ {end} is after the last close: the window is cut at the {last} close."), lang,
                        end=fmt.day(c.end, lang), last=fmt.day(c.last_date, lang)))
    lines.append(tr(N_("Closes used: the first and last sessions of all three indices inside the window, {first} and {last}."),
                    lang, first=fmt.day(c.first_date, lang), last=fmt.day(c.last_date, lang)))
    for i in c.indices:
        lines.append(tr(N_("{index}: {first} ({first_date}) → {last} ({last_date}): <b>{ret}</b>"), lang,
                        index=tr_text(INDEX_NAMES[i.name], lang), first=fmt.number(i.first_close, lang),
                        first_date=fmt.day(i.first_date, lang), last=fmt.number(i.last_close, lang),
                        last_date=fmt.day(i.last_date, lang), ret=fmt.pct(i.ret, lang)))
    lines += [_gap_line("SPX", c.gap_spx_pp, lang), _gap_line("NDX", c.gap_ndx_pp, lang)]
    ranked = sorted(c.indices, key=lambda i: i.ret, reverse=True)
    lines.append(tr(N_("What the data shows: {ranking}."), lang,
                    ranking=Safe(" > ".join(f"{tr_text(INDEX_NAMES[i.name], lang)} {fmt.pct(i.ret, lang)}" for i in ranked))))
    lines.append(tr(N_("Price returns of the index levels: dividends are not included."), lang))
    if c.end is None or c.cut:  # a window that ends in the past is not made stale by a late series
        lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, c.last_date, lang)]
    return join(lines)


def compare_chart(c: Comparison, statuses: Sequence[SeriesStatus], lang: str) -> bytes:
    clang = charts.chart_lang(lang)
    return charts.draw(
        clang,
        charts.line_figure,
        {tr(INDEX_NAMES[name], clang): c.rebased[name] for name in c.rebased.columns},
        title=tr(N_("Russell 2000 vs S&P 500 vs Nasdaq-100, {first} → {last}"), clang,
                 first=c.first_date.isoformat(), last=c.last_date.isoformat()),
        xlabel=tr(N_("Date"), clang),
        ylabel=tr(N_("Price, rebased to 100 at {first}"), clang, first=c.first_date.isoformat()),
        source=charts_source(statuses, c.last_date, clang),
    )
