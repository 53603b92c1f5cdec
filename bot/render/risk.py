"""The /risk message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.i18n import N_, Safe, tr, tr_text
from bot.market import SeriesStatus
from bot.metrics.risk import EPISODES, Drawdown, IndexRisk
from bot.render import format as fmt
from bot.render.text import join, sources_line, stale_lines

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
