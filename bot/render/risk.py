"""The /risk message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.market import SeriesStatus
from bot.metrics.risk import IndexRisk
from bot.render import format as fmt
from bot.render.i18n import N_, Safe, tr, tr_text
from bot.render.text import join, sources_line, stale_lines

NAMES = {"RUT": N_("Russell 2000"), "SPX": N_("S&P 500"), "NDX": N_("Nasdaq-100")}


def _pct(value: float | None, lang: str) -> str:
    return fmt.pct(value, lang, 1, sign=False) if value is not None else "—"


def render_risk(risks: Sequence[IndexRisk], statuses: Sequence[SeriesStatus], asof: date, lang: str) -> Safe:
    lines: list[str] = [tr(N_("<b>Risk</b>: annualised volatility of daily returns, and drawdowns from the highest close"), lang), ""]
    for r in risks:
        lines.append(tr(N_("<b>{name}</b>: volatility 20 days {v20}, 1 year {v1y}, since {start} {vlong}"), lang,
                        name=tr_text(NAMES[r.name], lang), v20=_pct(r.vol_20d, lang), v1y=_pct(r.vol_1y, lang),
                        start=r.long_start.year if r.long_start else "—", vlong=_pct(r.vol_long, lang)))
        lines.append(tr(N_("  now {dd} below its record close of {ath_date}"), lang,
                        dd=_pct(r.drawdown_now, lang), ath_date=fmt.day(r.ath_date, lang)))
    years = sorted({y for r in risks for y in r.crises})
    if years:
        lines += ["", tr(N_("<b>Worst drawdowns</b> (close to close; trough in the year, peak since the year before):"), lang)]
        for year in years:
            parts = []
            for r in risks:
                dd = r.crises.get(year)
                if dd is not None:
                    parts.append(tr(N_("{name} {depth} ({peak} → {trough})"), lang, name=tr_text(NAMES[r.name], lang),
                                    depth=_pct(dd.depth, lang), peak=fmt.day(dd.peak_date, lang), trough=fmt.day(dd.trough_date, lang)))
            lines.append(Safe(f"{year}: " + "; ".join(parts)))
    lines += stale_lines(statuses, lang)
    lines += ["", sources_line(statuses, asof, lang)]
    return join(lines)
