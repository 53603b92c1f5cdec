"""The /spread message and chart."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import N_, Safe, tr, trn
from bot.market import SeriesStatus
from bot.metrics.spread import Spread
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import join, sources_line, stale_lines

PERIOD_NAMES = {"ytd": N_("year to date"), "1m": N_("1 month"), "3m": N_("3 months"), "1y": N_("1 year"), "5y": N_("5 years")}


def render_spread(s: Spread, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>Small caps vs large caps</b> · {period} (from the {base} close to {asof})"), lang,
           period=tr(PERIOD_NAMES[s.period], lang), base=fmt.day(s.base_date, lang), asof=fmt.day(s.asof, lang)),
        tr(N_("Russell 2000 {rut} · Nasdaq-100 {ndx}"), lang, rut=fmt.pct(s.rut, lang), ndx=fmt.pct(s.ndx, lang))
        + (Safe(" · ") + tr(N_("S&amp;P 500 {spx}"), lang, spx=fmt.pct(s.spx, lang)) if s.spx is not None else ""),
        tr(N_("R2K − NDX: <b>{gap}</b>"), lang, gap=fmt.pp(s.gap_ndx_pp, lang)),
    ]
    if s.gap_spx_pp is not None:
        lines.append(tr(N_("R2K − S&amp;P 500: <b>{gap}</b>"), lang, gap=fmt.pp(s.gap_spx_pp, lang)))
    lines += [
        tr(N_("This year the R2K − NDX gap was widest at {widest} ({widest_date}) and narrowest at {narrowest} ({narrowest_date})."),  # noqa: E501 (a msgid is one line)
           lang, widest=fmt.pp(s.widest_pp, lang), widest_date=fmt.day(s.widest_date, lang),
           narrowest=fmt.pp(s.narrowest_pp, lang), narrowest_date=fmt.day(s.narrowest_date, lang)),
        trend_line(s, lang),
        tr(N_("<i>Price returns, no dividends; 1M/3M/1Y/5Y are calendar windows, YTD runs from the last close of the previous year; the trend is over sessions.</i>"), lang),  # noqa: E501 (a msgid is one line)
    ]
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, s.asof, lang)]
    return join(lines)


TREND_WORDS = {"closing": N_("closing"), "widening": N_("widening"), "flat": N_("little changed")}


def trend_word(s: Spread, lang: str) -> Safe:
    """The one word for the YTD gap's trend, as /spread and /digest both say it."""
    return tr(TREND_WORDS[s.trend], lang)


def trend_line(s: Spread, lang: str) -> Safe:
    rate = fmt.number(abs(s.widening_pp_per_day), lang, 2)
    sessions = s.trend_sessions
    if s.trend == "flat":
        return trn("Over the last {sessions} session the gap is little changed (it moves less than 0.05 pp per session).",
                   "Over the last {sessions} sessions the gap is little changed (it moves less than 0.05 pp per session).",
                   sessions, lang, sessions=sessions)
    if s.trend == "closing":
        return trn("Over the last {sessions} session the gap is closing by {rate} pp per session.",
                   "Over the last {sessions} sessions the gap is closing by {rate} pp per session.", sessions, lang, sessions=sessions, rate=rate)  # noqa: E501 (a msgid is one line)
    return trn("Over the last {sessions} session the gap is widening by {rate} pp per session.",
               "Over the last {sessions} sessions the gap is widening by {rate} pp per session.", sessions, lang, sessions=sessions, rate=rate)  # noqa: E501 (a msgid is one line)


def spread_chart(s: Spread, statuses: Sequence[SeriesStatus], lang: str) -> bytes:
    clang = charts.chart_lang(lang)
    return charts.draw(
        clang,
        charts.line_figure,
        {tr(N_("R2K − NDX return gap"), clang): s.gap_series},
        title=tr(N_("Russell 2000 minus Nasdaq-100, {period}"), clang, period=tr(PERIOD_NAMES[s.period], clang)),
        xlabel=tr(N_("Date"), clang),
        ylabel=tr(N_("Return gap (pp)"), clang),
        source=charts_source(statuses, s.asof, clang),
        zero_line=True,
    )


def charts_source(statuses: Sequence[SeriesStatus], asof: object, lang: str) -> str:
    """The sources line without markup, for the bottom of a chart."""
    from bot.render.text import as_terminal_text

    return as_terminal_text(sources_line(statuses, asof, lang))  # type: ignore[arg-type]
