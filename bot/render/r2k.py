"""The /r2k message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from bot.i18n import N_, Safe, tr
from bot.market import LiveQuote, SeriesStatus
from bot.metrics.r2k import R2KSnapshot
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import join, live_line, sources_line, stale_lines


def render_r2k(r: R2KSnapshot, statuses: Sequence[SeriesStatus], lang: str, live: LiveQuote | None = None) -> Safe:
    """The message; its footer dates the last close used (``r.date``; the ratio's common close for NDX)."""
    lines: list[str] = [
        tr(N_("<b>Russell 2000</b> · close {date}"), lang, date=fmt.day(r.date, lang)),
        tr(
            N_("Close <b>{close}</b> ({change}, {change_pct} on the day)"),
            lang,
            close=fmt.number(r.close, lang),
            change=fmt.signed(r.day_change, lang),
            change_pct=fmt.pct(r.day_change_pct, lang),
        ),
        tr(N_("YTD {ytd}"), lang, ytd=fmt.pct(r.ytd, lang)),
    ]
    if live is not None and live.session > r.date:
        lines.append(live_line(live, r.close, lang))
    periods = [(N_("1M {value}"), r.ret_1m), (N_("3M {value}"), r.ret_3m), (N_("1Y {value}"), r.ret_1y)]
    shown = [tr(msgid, lang, value=fmt.pct(value, lang)) for msgid, value in periods if value is not None]
    if shown:
        lines.append(Safe(" · ".join(shown)))
    if r.is_ath and r.prev_record is not None and r.first_record_after_gap:
        lines.append(
            tr(
                N_("🏁 <b>Record close</b>: the first record since {month} (the {record_date} record of {record}; more than a year without one)."),  # noqa: E501 (a msgid is one line)
                lang,
                month=fmt.month_year(r.prev_record[0], lang),
                record_date=fmt.day(r.prev_record[0], lang),
                record=fmt.number(r.prev_record[1], lang),
            )
        )
    elif r.is_ath and r.prev_record is not None:
        lines.append(
            tr(
                N_("🏁 <b>Record close</b>: a new all-time high, above the previous record of {record} on {record_date}."),
                lang,
                record_date=fmt.day(r.prev_record[0], lang),
                record=fmt.number(r.prev_record[1], lang),
            )
        )
    elif r.is_ath:
        lines.append(tr(N_("🏁 <b>Record close</b>: an all-time high."), lang))
    elif r.highest_since is not None and (r.date - r.highest_since).days > 365:
        lines.append(
            tr(
                N_("📈 Highest close since {month} ({since_date})."),
                lang,
                month=fmt.month_year(r.highest_since, lang),
                since_date=fmt.day(r.highest_since, lang),
            )
        )
    lines += [
        tr(N_("52-week high {high} on {high_date}"), lang, high=fmt.number(r.high_52w, lang),
           high_date=fmt.day(r.high_52w_date, lang)),
        tr(
            N_("All-time high {ath} on {ath_date}; {distance} from it"),
            lang,
            ath=fmt.number(r.ath, lang),
            ath_date=fmt.day(r.ath_date, lang),
            distance=fmt.pct(r.distance_to_ath, lang),
        ),
    ]
    if r.ratio_ndx is not None:
        change = fmt.pct(r.ratio_ndx_52w_change, lang) if r.ratio_ndx_52w_change is not None else "—"
        lines.append(tr(N_("R2K/NDX ratio {ratio} ({change} over 52 weeks)"), lang,
                        ratio=fmt.number(r.ratio_ndx, lang, 4), change=change))
    lines.append(tr(N_("<i>1M/3M/1Y: calendar windows, from the last close on or before the same day 1, 3 or 12 months earlier; 52 weeks = the last 364 days; price returns.</i>"), lang))  # noqa: E501 (a msgid is one line)
    lines += stale_lines(statuses, lang)
    closes = {"RUT": r.date, **({"NDX": r.ratio_date} if r.ratio_date is not None else {})}
    lines += ["", sources_line(statuses, r.date, lang, closes=closes)]
    return join(lines)


CHART_PERIODS = {"ytd": N_("year to date"), "1y": N_("1 year"), "5y": N_("5 years")}


def r2k_chart(rut: pd.Series, ndx: pd.Series | None, asof: date, period: str, statuses: Sequence[SeriesStatus],
              lang: str) -> bytes:
    from bot.metrics.spread import period_start
    from bot.render.spread import charts_source

    clang = charts.chart_lang(lang)
    last = rut.loc[: pd.Timestamp(asof)].index[-1]
    start = period_start(last, period)
    lines: dict[str, pd.Series] = {}
    for label, series in ((tr(N_("Russell 2000"), clang), rut), (tr(N_("Nasdaq-100"), clang), ndx)):
        if series is None:
            continue
        window = series.loc[: pd.Timestamp(asof)]
        base = window.loc[:start]
        if base.empty:
            continue
        lines[label] = window.loc[base.index[-1] :] / base.iloc[-1] * 100.0
    return charts.draw(
        clang,
        charts.line_figure,
        lines,
        title=tr(N_("Russell 2000 vs Nasdaq-100, {period}"), clang, period=tr(CHART_PERIODS[period], clang)),
        xlabel=tr(N_("Date"), clang),
        ylabel=tr(N_("Rebased to 100"), clang),
        source=charts_source(statuses, asof, clang),
    )
