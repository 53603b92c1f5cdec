"""The /fedodds YYYY-MM history reply: how one meeting's outcome odds moved, as text and a stacked chart."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np

from bot.i18n import N_, Safe, tr
from bot.metrics.odds_history import RANGE_START, OddsHistory
from bot.render import charts
from bot.render import format as fmt
from bot.render.text import join, source_label

STEP = 0.25
SHOWN = 0.0005  # outcomes below 0.05 % print as 0.0 %: left out of the text
CHARTED = 0.02  # outcomes that never reach 2 % are one "other" band on the chart


def outcome_label(lower: float, history: OddsHistory, lang: str) -> str:
    """A target range "0.25–0.50", or before 2008-12-16 the single target "5.25%"."""
    if history.single_target:
        return f"{fmt.number(lower, lang)}%"
    return f"{fmt.number(lower, lang)}–{fmt.number(lower + STEP, lang)}"


def _outcomes(history: OddsHistory, day_probs: dict[float, float], lang: str) -> Safe:
    return Safe(
        ", ".join(
            f"{outcome_label(lower, history, lang)} {fmt.pct(p, lang, 1, sign=False)}"
            for lower, p in sorted(day_probs.items())
            if p >= SHOWN
        )
    )


def _totals(history: OddsHistory, day_probs: dict[float, float], start: float, lang: str) -> Safe:
    cut = sum(p for lower, p in day_probs.items() if lower < start - 1e-9)
    hike = sum(p for lower, p in day_probs.items() if lower > start + 1e-9)
    return tr(
        N_("  cut {cut} · hold {hold} · hike {hike}"),
        lang,
        cut=fmt.pct(cut, lang, 1, sign=False),
        hold=fmt.pct(1.0 - cut - hike, lang, 1, sign=False),
        hike=fmt.pct(hike, lang, 1, sign=False),
    )


def render_fedodds_history(history: OddsHistory, lang: str) -> Safe:
    first, last = history.first, history.last
    lines: list[str] = [
        tr(
            N_("<b>FOMC {meeting}: how the futures odds moved</b> (CME FedWatch method)"),
            lang,
            meeting=fmt.day(history.meeting, lang),
        ),
        tr(
            N_("{count} trade dates, {first} → {last}"),
            lang,
            count=len(history.probabilities),
            first=fmt.day(first, lang),
            last=fmt.day(last, lang),
        ),
        "",
    ]
    for day in (first, last) if first != last else (first,):
        probs = history.on(day)
        start = float(history.lower_bounds.loc[history.probabilities.index[0 if day == first else -1]])
        lines.append(
            tr(
                N_("<b>{day}</b> (target then {target}): {outcomes}"),
                lang,
                day=fmt.day(day, lang),
                target=outcome_label(start, history, lang),
                outcomes=_outcomes(history, probs, lang),
            )
        )
        lines.append(_totals(history, probs, start, lang))
    if history.single_target:
        lines.append(
            tr(
                N_("Before {date} the FOMC set a single target rate: outcomes are target rates."),
                lang,
                date=fmt.day(RANGE_START, lang),
            )
        )
    lines += [
        "",
        tr(
            N_(
                "<i>Source: ZQ settlements ({source}); target: FRED DFEDTARL, DFEDTAR before {date} · as of {last}</i>"
            ),
            lang,
            source=source_label(history.source),
            date=fmt.day(RANGE_START, lang),
            last=fmt.day(last, lang),
        ),
    ]
    return join(lines)


def fedodds_history_caption(history: OddsHistory, lang: str) -> Safe:
    return tr(
        N_("FOMC {meeting}: odds over time · {first} → {last}"),
        lang,
        meeting=fmt.day(history.meeting, lang),
        first=fmt.day(history.first, lang),
        last=fmt.day(history.last, lang),
    )


def fedodds_history_chart(history: OddsHistory, lang: str) -> bytes:
    """Stacked areas, one per outcome (lowest rate at the bottom), in percent over the trade dates."""
    clang = charts.chart_lang(lang)
    frame = history.probabilities * 100
    major = [c for c in frame.columns if frame[c].max() >= CHARTED * 100]
    minor = [c for c in frame.columns if c not in major]
    layers = [frame[c].to_numpy() for c in major]
    labels = [outcome_label(c, history, clang) for c in major]
    if minor:
        layers.append(frame[minor].sum(axis=1).to_numpy())
        labels.append(tr(N_("other"), clang))
    # Cool colours for lower rates, warm for higher: the direction of a move reads at a glance.
    colours = list(plt.get_cmap("coolwarm")(np.linspace(0.05, 0.95, max(1, len(major)))))
    if minor:
        colours.append((0.8, 0.8, 0.8, 1.0))
    title_id = (
        N_("FOMC {meeting}: odds of each target rate over time")
        if history.single_target
        else N_("FOMC {meeting}: odds of each target range over time")
    )
    with charts.styled(clang):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        ax.stackplot(
            frame.index, *layers, labels=[html.unescape(lbl) for lbl in labels], colors=colours, linewidth=0
        )
        ax.set_ylim(0, 100)
        ax.set_xlim(frame.index[0], frame.index[-1])
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, reverse=True)
        fig.autofmt_xdate()
        charts._decorate(
            fig,
            ax,
            title=html.unescape(tr(title_id, clang, meeting=fmt.day(history.meeting, clang))),
            xlabel=html.unescape(tr(N_("Trade date"), clang)),
            ylabel=html.unescape(tr(N_("Probability (%)"), clang)),
            source=html.unescape(
                tr(
                    N_("Source: ZQ settlements ({source}), capgap FedWatch method · as of {last}"),
                    clang,
                    source=source_label(history.source),
                    last=fmt.day(history.last, clang),
                )
            ),
        )
        return charts.png(fig)
