"""Shared pieces of every message: headers, the sources line, stale warnings, /start and /help."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Protocol

from bot.i18n import N_, Safe, tr
from bot.market import LiveQuote, SeriesStatus
from bot.render import format as fmt


def join(lines: Iterable[str]) -> Safe:
    return Safe("\n".join(line for line in lines if line is not None))


# Names of series capgap derives or bundles itself, as a reader knows them. Tickers (RUT, NDX) and FRED
# ids (DFEDTARU) are public names a reader can look up and stay as they are.
DISPLAY_NAMES = {
    "ZQ_STRIPS": "ZQ",  # CME's ticker of the 30-day Fed funds futures
    "CUTPROB_NEXT": N_("cut odds history"),
}


def display_name(name: str, lang: str) -> str:
    """A series name fit for a reply (plain text: the caller escapes it): the public ticker or id,
    never an internal one."""
    shown = DISPLAY_NAMES.get(name, name)
    return shown if shown in ("ZQ", name) else str(tr(shown, lang))


def sources_line(
    statuses: Sequence[SeriesStatus], asof: date, lang: str, *, closes: Mapping[str, date] | None = None
) -> Safe:
    """'Source: Yahoo Finance (RUT, NDX) · as of close 2026-02-20' — ends every reply with figures.

    The date is the last close the reply's figures use, never the date asked about: ``closes`` gives it
    per series where the renderer knows it (a ratio on the last common close), otherwise each series'
    last stored date on or before ``asof``. Where the series end on different days, each date says
    which series it is for.
    """
    by_source: dict[str, list[str]] = {}
    for status in statuses:
        by_source.setdefault(source_label(status.source), []).append(display_name(status.name, lang))
    parts = [f"{label} ({', '.join(names)})" for label, names in by_source.items()]
    return tr(N_("<i>Source: {sources} · as of close {asof}</i>"), lang, sources=", ".join(parts),
              asof=asof_text(used_closes(statuses, asof, closes), asof, lang))


def used_closes(
    statuses: Sequence[SeriesStatus], asof: date, closes: Mapping[str, date] | None = None
) -> dict[str, date]:
    """Per series, the last close a reply about ``asof`` can have used: market series (and the futures
    strip) only, as rates and P/E carry their own dates; every series when none is a market series."""
    from bot.series import SERIES

    out: dict[str, date] = {}
    for status in statuses:
        known = (closes or {}).get(status.name)
        last = known or status.last_date
        if last is None:
            continue
        out[status.name] = min(last, asof)
    market = {n: d for n, d in out.items() if n == "ZQ_STRIPS" or (n in SERIES and SERIES[n].market)}
    return market or out


def asof_text(closes: Mapping[str, date], asof: date, lang: str) -> Safe:
    """'2026-02-20' when every series ends on one day, else '2026-02-20 (RUT), 2026-02-27 (NDX, SPX)'."""
    by_day: dict[date, list[str]] = {}
    for name, day in closes.items():
        by_day.setdefault(day, []).append(name)
    if not by_day:
        return fmt.day(asof, lang)
    if len(by_day) == 1:
        return fmt.day(next(iter(by_day)), lang)
    return Safe(LIST_SEPARATOR.get(lang, ", ").join(
        tr(N_("{date} ({series})"), lang, date=fmt.day(day, lang),
           series=NAME_SEPARATOR.get(lang, ", ").join(display_name(n, lang) for n in names))
        for day, names in sorted(by_day.items())))


# Between the per-series dates of a footer: the language's own list punctuation.
LIST_SEPARATOR = {"en": ", ", "zh-Hant": "，"}
NAME_SEPARATOR = {"en": ", ", "zh-Hant": "、"}


SOURCE_LABELS = {
    "yahoo": "Yahoo Finance",
    "stooq": "Stooq",
    "fred": "FRED",
    "cme": "CME settlements",
    "yahoo_pe": "Yahoo Finance",
    "csv": "imported CSV",
}


def source_label(source: str) -> str:
    """What a stored series came from: a provider, or the file it was imported from, named as a file."""
    prefix, _, name = source.partition(":")
    if prefix in ("csv", "file") and name:
        return ("CSV " if name.lower().endswith(".csv") else "file ") + name
    return SOURCE_LABELS.get(source, source)


def stale_lines(statuses: Sequence[SeriesStatus], lang: str) -> list[Safe]:
    """One warning per stale series, saying why: a missed close, an FOMC decision the value predates
    (the target range, a futures strip), or an age past the series' limit (P/E, rates)."""
    from bot.series import SERIES

    out = []
    for status in statuses:
        if not status.stale:
            continue
        last = fmt.day(status.last_date, lang) if status.last_date else Safe("—")
        info = SERIES.get(status.name)
        if status.stale_decision is not None:
            out.append(tr(N_("⚠️ {series} data is stale: last value {last}, before the FOMC decision of {decision}."),
                          lang, series=display_name(status.name, lang), last=last, decision=fmt.day(status.stale_decision, lang)))
        elif info is not None and info.staleness == "age":
            out.append(tr(N_("⚠️ {series} data is stale: last value {last}, more than {days} days old."),
                          lang, series=display_name(status.name, lang), last=last, days=info.max_age_days))
        elif info is not None and not info.market:
            out.append(tr(N_("⚠️ {series} data is stale: last value {last}."), lang, series=display_name(status.name, lang),
                          last=last))
        else:
            out.append(tr(N_("⚠️ {series} data is stale: last close {last}."), lang, series=display_name(status.name, lang),
                          last=last))
    return out


def live_line(quote: LiveQuote, last_close: float, lang: str) -> Safe:
    """The intraday price of a session still trading, marked as not a close, with source and time."""
    return tr(
        N_("⏱ Intraday {price} ({change_pct} on the day) · {source}, {time} — not a close"),
        lang,
        price=fmt.number(quote.price, lang),
        change_pct=fmt.pct(quote.price / last_close - 1.0, lang),
        source=source_label(quote.source),
        time=fmt.instant(quote.fetched_at, lang),
    )


def render_start(commands: Sequence[ListedCommand], lang: str) -> Safe:
    lines = [
        tr(N_("<b>Welcome to capgap</b> — small caps vs large caps, in numbers."), lang),
        tr(N_("Russell 2000 highs, its gap to the Nasdaq-100, the S&amp;P 500 vs S&amp;P 600 P/E gap and Fed cut odds from Fed funds futures."), lang),  # noqa: E501 (a msgid is one line)
        "",
        tr(N_("Commands:"), lang),
    ]
    lines += [_command_line(c, lang) for c in commands]
    lines += ["", tr(N_("Language: /lang en | zh-Hant"), lang)]
    return join(lines)


def render_help(commands: Sequence[ListedCommand], lang: str) -> Safe:
    lines: list[str] = [tr(N_("<b>capgap commands</b>"), lang)]
    lines += [_command_line(c, lang) for c in commands]
    lines += ["", tr(N_("/help COMMAND shows how to use one command."), lang)]
    return join(lines)


class ListedCommand(Protocol):
    """What /start and /help show of a command (bot.seam.Command has it)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...  # a msgid


def _command_line(command: ListedCommand, lang: str) -> Safe:
    return Safe(f"/{command.name} — " + tr(command.description, lang))


def as_terminal_text(html_text: str) -> str:
    """What `capgap ask` prints: the message without tags, entities decoded."""
    import html
    import re

    return html.unescape(re.sub(r"</?(b|i|u|s|code|pre|a)(\s[^>]*)?>", "", html_text))
