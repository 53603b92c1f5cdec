"""The /risk message."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date

import pandas as pd

from bot.i18n import N_, Safe, tr, tr_text
from bot.market import SeriesStatus
from bot.metrics.risk import EPISODES, Drawdown, IndexRisk, drawdown_series
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import as_terminal_text, join, sources_line, stale_lines

NAMES = {"RUT": N_("Russell 2000"), "SPX": N_("S&P 500"), "NDX": N_("Nasdaq-100")}
EPISODE_NAMES = {"gfc": N_("Financial crisis 2007–09"), "covid": N_("COVID 2020"), "bear2022": N_("2022 bear market")}


def _pct(value: float | None, lang: str) -> str:
    return fmt.pct(value, lang, 1, sign=False) if value is not None else "—"


def _drawdown(r: IndexRisk, dd: Drawdown, peak_from: date, lang: str) -> Safe:
    params = {"name": tr_text(NAMES[r.name], lang), "depth": _pct(dd.depth, lang),
              "peak": fmt.day(dd.peak_date, lang), "trough": fmt.day(dd.trough_date, lang)}
    if not dd.complete:
        line = tr(N_("  {name} {depth} (peak {peak} → lowest close so far {trough}; the episode is not over)"), lang, **params)
    else:
        line = tr(N_("  {name} {depth} (peak {peak} → trough {trough})"), lang, **params)
    if not dd.peak_is_record:
        note = tr(N_("— its last record close is older, so the peak is the highest close since {since}"), lang,
                  since=fmt.day(peak_from, lang))
        return Safe(f"{line} {note}")
    return line


def render_risk(risks: Sequence[IndexRisk], statuses: Sequence[SeriesStatus], asof: date, lang: str) -> Safe:
    lines: list[str] = [tr(N_("<b>Risk</b>: annualised volatility of daily returns, and drawdowns from the highest close"), lang), ""]  # noqa: E501 (a msgid is one line)
    for r in risks:
        lines.append(tr(N_("<b>{name}</b>: volatility 20 sessions {v20}, 252 sessions {v1y}, since {start} {vlong}"), lang,
                        name=tr_text(NAMES[r.name], lang), v20=_pct(r.vol_20d, lang), v1y=_pct(r.vol_1y, lang),
                        start=r.long_start.year if r.long_start else "—", vlong=_pct(r.vol_long, lang)))
        lines.append(tr(N_("  now {dd} below its record close of {ath_date}"), lang,
                        dd=_pct(r.drawdown_now, lang), ath_date=fmt.day(r.ath_date, lang)))
    lines.append(tr(N_("<i>Volatility: standard deviation of daily log returns × √252, over the last 20 and the last 252 sessions (252 sessions ≈ 1 year).</i>"), lang))  # noqa: E501 (a msgid is one line)
    shown = [e for e in EPISODES if any(r.episodes.get(e.key) is not None for r in risks)]
    if shown:
        lines += ["", tr(N_("<b>Crisis drawdowns</b>, on closes: peak = the last record close before the trough, trough = the lowest close of the episode"), lang)]  # noqa: E501 (a msgid is one line)
        for episode in shown:
            lines.append(tr(N_("<i>{episode}</i>"), lang, episode=tr_text(EPISODE_NAMES[episode.key], lang)))
            for r in risks:
                dd = r.episodes.get(episode.key)
                if dd is not None:
                    lines.append(_drawdown(r, dd, episode.peak_from, lang))
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, asof, lang)]
    return join(lines)


# The underwater chart compares small with large caps: the Russell 2000 and the S&P 500 (the Nasdaq-100
# would be a third line through the dot-com bust that the text already covers).
CHARTED = ("RUT", "SPX")


def risk_caption(asof: date, lang: str) -> Safe:
    return tr(N_("Drawdowns from the record close: Russell 2000 vs S&amp;P 500 · {asof}"), lang, asof=fmt.day(asof, lang))


def risk_chart(closes: Mapping[str, pd.Series], risks: Sequence[IndexRisk], statuses: Sequence[SeriesStatus],
               asof: date, lang: str) -> bytes:
    """The "underwater" chart: each index's percent below its highest close so far, at every close from
    the first Russell 2000 close (the S&P 500's record is taken over its whole history), with each named
    episode shaded from the earliest peak to the latest trough of the two and labelled with its depths."""
    clang = charts.chart_lang(lang)
    held = {n: closes[n].loc[: pd.Timestamp(asof)] for n in CHARTED if n in closes}
    start = held["RUT"].index[0] if "RUT" in held else min(s.index[0] for s in held.values())
    lines = {html.unescape(tr_text(NAMES[n], clang)): -drawdown_series(s).loc[start:] for n, s in held.items()}
    by_name = {r.name: r for r in risks if r.name in held}
    title = tr(N_("Drawdown from the record close, Russell 2000 vs S&amp;P 500, to {asof}"), clang, asof=fmt.day(asof, clang))
    with charts.styled(clang):
        fig = charts.line_figure(
            lines,
            title=html.unescape(title),
            xlabel=html.unescape(tr(N_("Date"), clang)),
            ylabel=html.unescape(tr(N_("Below the record close (%)"), clang)),
            source=as_terminal_text(sources_line(statuses, asof, clang)),
            zero_line=True,
        )
        ax = fig.axes[0]
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (high - low) * 0.24)  # headroom above the records for the episode labels
        ax.set_yticks([t for t in ax.get_yticks() if low <= t <= 0])  # no tick above the record line
        last_fifth = start + (pd.Timestamp(asof) - start) * 0.8
        shaded = 0
        for episode in EPISODES:
            drawdowns = [d for d in (by_name[n].episodes.get(episode.key) for n in by_name) if d is not None]
            if not drawdowns:
                continue
            left = pd.Timestamp(min(d.peak_date for d in drawdowns))
            right = pd.Timestamp(max(d.trough_date for d in drawdowns))
            ax.axvspan(left, right, color="#d62728", alpha=0.12, linewidth=0)
            depths = " / ".join(fmt.pct(-d.depth, clang, 0) for d in drawdowns)
            # One row per episode: the COVID and 2022 episodes are close on a chart of decades. A label
            # that starts in the last fifth of the chart ends at its episode's right edge instead.
            near_end = left > last_fifth
            ax.text(right if near_end else left, 0.99 - 0.06 * shaded,
                    f"{html.unescape(tr_text(EPISODE_NAMES[episode.key], clang))} {depths}",
                    transform=ax.get_xaxis_transform(), fontsize=7, ha="right" if near_end else "left", va="top",
                    color="#8b0000")
            shaded += 1
        return charts.png(fig)
