"""The /fedodds path reply: the market's rate path beside the Fed's SEP median, as text and a chart."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from bot.i18n import N_, Safe, tr
from bot.market import SeriesStatus
from bot.metrics.fedpath import FedPath
from bot.render import charts
from bot.render import format as fmt
from bot.render.fedodds import range_label, range_sources, strip_label
from bot.render.text import join, source_label, stale_lines

SEP = "FEDTARMD"


def _rate(value: float, lang: str) -> str:
    return f"{fmt.number(value, lang, 3)}%"


def _sep_source(statuses: Sequence[SeriesStatus]) -> str:
    status = next((s for s in statuses if s.name == SEP), None)
    return f"{source_label(status.source)} (FEDTARMD)" if status is not None else "—"


def render_fedpath(path: FedPath, strip_source: str, statuses: Sequence[SeriesStatus], lang: str) -> Safe:
    """Each year end (market, SEP median, gap), the market path after each meeting, then what is
    missing or stale and the sources. ``path.sep_release`` None: the market path alone, said why."""
    lines: list[str] = [
        tr(N_("<b>Market path vs the Fed's path</b> · ZQ settlements of {trade_date} (CME FedWatch method)"), lang,
           trade_date=fmt.day(path.trade_date, lang)),
        tr(N_("Current target range {range}%"), lang, range=range_label(path.lower_bound, lang)),
        "",
    ]
    if path.year_ends:
        if path.sep_release is not None:
            lines.append(tr(N_("<b>Year end</b> (after the year's last FOMC meeting): market · Fed (SEP median) · gap"), lang))
        else:
            lines.append(tr(N_("<b>Year end</b> (after the year's last FOMC meeting): market"), lang))
        for end in path.year_ends:
            if path.sep_release is None:
                lines.append(tr(N_("  {year} (FOMC {meeting}): {market}"), lang, year=end.year,
                                meeting=fmt.day(end.meeting, lang), market=_rate(end.market, lang)))
            elif end.sep is not None and end.gap_bp is not None:
                lines.append(tr(N_("  {year} (FOMC {meeting}): {market} · {sep} · {gap}"), lang, year=end.year,
                                meeting=fmt.day(end.meeting, lang), market=_rate(end.market, lang),
                                sep=f"{fmt.number(end.sep, lang, 1)}%", gap=fmt.bp(end.gap_bp, lang)))
            else:
                lines.append(tr(N_("  {year} (FOMC {meeting}): {market} · no SEP median for this year"), lang,
                                year=end.year, meeting=fmt.day(end.meeting, lang), market=_rate(end.market, lang)))
    else:
        lines.append(tr(N_("These settlements price no year end after {date}."), lang, date=fmt.day(path.trade_date, lang)))
    if path.sep_release is not None:
        lines.append(tr(N_("Fed's path: the median of the Summary of Economic Projections released {release}, for the end of each year; gap = market − Fed."), lang,  # noqa: E501 (a msgid is one line)
                        release=fmt.day(path.sep_release, lang)))
    elif any(s.name == SEP and s.stale and s.last_date is not None for s in statuses):
        lines.append(tr(N_("The Fed's SEP median is stale (a newer Summary of Economic Projections is out): the market path alone."), lang))  # noqa: E501 (a msgid is one line)
    else:
        lines.append(tr(N_("No Fed SEP median is stored (FRED FEDTARMD): the market path alone."), lang))
    lines += [
        "",
        tr(N_("<b>Market path</b> (expected rate after each meeting): {path}"), lang, path=Safe(", ".join(
            f"{fmt.day(meeting, lang)} {_rate(rate, lang)}" for meeting, rate in path.path) or "—")),
        *stale_lines(statuses, lang),
        "",
        tr(N_("<i>Source: ZQ settlements of {trade_date} ({source}); target range: {range_source}; SEP median: {sep_source} · as of close {trade_date}</i>"),  # noqa: E501 (a msgid is one line)
           lang, trade_date=fmt.day(path.trade_date, lang), source=strip_label(strip_source, lang),
           range_source=range_sources(statuses), sep_source=_sep_source(statuses)),
    ]
    return join(lines)


def fedpath_caption(path: FedPath, lang: str) -> Safe:
    return tr(N_("Market path vs the Fed's SEP median · ZQ {trade_date}"), lang, trade_date=fmt.day(path.trade_date, lang))


def _num(days: Sequence[date]) -> list[float]:
    """Dates as matplotlib's day numbers (the axis is a date axis)."""
    return [float(x) for x in mdates.date2num(list(days))]  # type: ignore[no-untyped-call]  # matplotlib's own helper


def fedpath_chart(path: FedPath, strip_source: str, lang: str) -> bytes:
    """The market path as a step line over the meeting dates (the rate holds until the next meeting), the
    SEP medians as points at the year ends, each gap written beside its point."""
    clang = charts.chart_lang(lang)
    meetings = _num([meeting for meeting, _ in path.path])
    rates = [rate for _, rate in path.path]
    ends = [(end, end.sep, end.gap_bp) for end in path.year_ends if end.sep is not None and end.gap_bp is not None]
    with charts.styled(clang):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        if meetings and path.start_rate is not None:
            # From the strip's day at the rate before the first meeting, each step at a meeting, the last
            # level drawn a month past the last meeting so it shows.
            ax.step([*_num([path.trade_date]), *meetings, meetings[-1] + 30], [path.start_rate, *rates, rates[-1]],
                    where="post", linewidth=1.6,
                    label=html.unescape(tr(N_("Market (ZQ futures, after each meeting)"), clang)))
            ax.plot(meetings, rates, "o", markersize=3, color="C0")
        if ends:
            ax.plot(_num([end.meeting for end, _, _ in ends]), [sep for _, sep, _ in ends], "D", markersize=7,
                    color="C3", label=html.unescape(tr(N_("Fed SEP median (year end), released {release}"), clang,
                                                       release=fmt.day(path.sep_release, clang) if path.sep_release else "—")))
            for end, sep, gap in ends:
                x = _num([end.meeting])[0]
                ax.vlines(x, min(sep, end.market), max(sep, end.market), colors="#999999", linestyles="dotted", linewidth=1)
                ax.annotate(html.unescape(tr(N_("gap {gap}"), clang, gap=fmt.bp(gap, clang))), (x, (sep + end.market) / 2),
                            xytext=(6, 0), textcoords="offset points", fontsize=8, va="center")
        ax.xaxis_date()
        ax.legend(loc="best", fontsize=8)
        fig.autofmt_xdate()
        charts._decorate(
            fig,
            ax,
            title=html.unescape(tr(N_("Fed funds rate: market path vs the Fed's SEP median") if ends
                                   else N_("Fed funds rate: the market's path (no current Fed SEP median)"), clang)),
            xlabel=html.unescape(tr(N_("FOMC meeting"), clang)),
            ylabel=html.unescape(tr(N_("Rate (%)"), clang)),
            source=html.unescape(tr(N_("Source: ZQ settlements {trade_date} ({source}), capgap FedWatch method; FRED FEDTARMD") if ends  # noqa: E501 (a msgid is one line)
                                    else N_("Source: ZQ settlements {trade_date} ({source}), capgap FedWatch method"), clang,
                                    trade_date=fmt.day(path.trade_date, clang), source=strip_label(strip_source, clang))),
        )
        return charts.png(fig)
