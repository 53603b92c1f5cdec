"""/compare FROM [TO|period] [chart]: Russell 2000 vs S&P 500 vs Nasdaq-100 over a window the user names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.metrics.compare import PERIODS, WindowError, compute_compare
from bot.metrics.returns import InsufficientData
from bot.render import charts
from bot.render.compare import compare_chart, render_compare
from bot.seam import Button, Chart, Reply, Request, Services

COMPARE_USAGE = N_("Usage: /compare FROM [TO|1m|3m|6m|1y|3y|5y|10y] [chart] — Russell 2000 vs S&amp;P 500 vs Nasdaq-100 price returns, dates as YYYY-MM-DD (without TO: to the last close)")  # noqa: E501 (a msgid is one line)
NOT_A_DATE = N_("{value} is not a calendar date. Dates are written YYYY-MM-DD, e.g. 2009-03-09.")
WINDOW_FAULTS = {
    "reversed": N_("The window must run forwards: {end} is not after {start}."),
    "before_data": N_("The data begins on {bound}, the first day all three indices have a close: choose a start on or after it."),
    "future": N_("{start} is in the future: this answer is as of {bound}."),
    "after_data": N_("There is no close of all three indices on or after {start} yet: the last one is on {bound}."),
    "too_short": N_("The window {start} → {bound} holds fewer than two sessions of all three indices: nothing to compare."),
}
# Checked by shape before any conversion: a 5,000-digit argument gets the usage line, not a ValueError.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class CompareArgs:
    start: date
    end: date | None  # an explicit TO
    period: str | None  # or a period after FROM; neither = to the last close
    chart: bool

    def callback_data(self) -> str:
        """The chart button's data (at most 35 bytes of Telegram's 64)."""
        parts = [self.start.isoformat()] + ([self.end.isoformat()] if self.end else []) + ([self.period] if self.period else [])
        return ":".join(["compare", *parts, "chart"])


def _date(word: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise UsageError(NOT_A_DATE, value=word) from None


def parse_compare(args: tuple[str, ...]) -> CompareArgs:
    words = [a.lower() for a in args]
    chart = bool(words) and words[-1] == "chart"
    if chart:
        words = words[:-1]
    if not 1 <= len(words) <= 2 or not _DATE.fullmatch(words[0]):
        raise UsageError(COMPARE_USAGE)
    if len(words) == 2 and not (_DATE.fullmatch(words[1]) or words[1] in PERIODS):
        raise UsageError(COMPARE_USAGE)
    start = _date(words[0])
    if len(words) == 1:
        return CompareArgs(start, None, None, chart)
    if words[1] in PERIODS:
        return CompareArgs(start, None, words[1], chart)
    return CompareArgs(start, _date(words[1]), None, chart)


async def compare_command(services: Services, request: Request) -> Reply:
    parsed = parse_compare(request.args)
    snap = request.snapshot(services)
    try:
        result = compute_compare(snap.close("RUT"), snap.close("SPX"), snap.close("NDX"), parsed.start, snap.asof,
                                 end=parsed.end, period=parsed.period)
    except WindowError as exc:
        raise UsageError(WINDOW_FAULTS[exc.reason], start=parsed.start.isoformat(),
                         end=parsed.end.isoformat() if parsed.end else "", bound=exc.bound.isoformat()) from exc
    except InsufficientData as exc:
        raise NoDataError(what=exc.what) from exc
    statuses = [snap.status[n] for n in ("RUT", "SPX", "NDX") if n in snap.status]
    text = render_compare(result, statuses, request.lang)
    if not parsed.chart:
        return Reply(text=text, buttons=((Button(tr(N_("📈 Chart, rebased to 100"), request.lang), parsed.callback_data()),),))
    png = await charts.render(compare_chart, result, statuses, request.lang)
    caption = tr(N_("Russell 2000 vs S&amp;P 500 vs Nasdaq-100, rebased to 100 · {first} → {last}"), request.lang,
                 first=result.first_date.isoformat(), last=result.last_date.isoformat())
    return Reply(text=text, chart=Chart(png=png, caption=caption))
