"""/fedodds [N | YYYY-MM] [chart]: FOMC meeting odds from 30-day Fed funds futures; the chart on request
(a button under the text), as /r2k does: most readers want the numbers, and the chart doubles the reply."""

from __future__ import annotations

import re

from bot.errors import UsageError
from bot.i18n import N_, tr
from bot.render import charts
from bot.render.fedodds import fedodds_chart, render_fedodds, strip_label
from bot.seam import Button, Chart, Reply, Request, Services
from handlers.fedodds_history import fedodds_history_reply
from handlers.fedpath import fedpath_reply, latest_odds

FEDODDS_USAGE = N_("Usage: /fedodds [N | YYYY-MM] [chart] — the next N meetings (1–12, default 4) or the meeting in a month with its odds then and now, e.g. /fedodds 8 or /fedodds 2026-12; add chart for the picture (a heatmap of the meetings by target range, bars for one meeting); /fedodds YYYY-MM history charts how that meeting's odds moved, e.g. /fedodds 2022-03 history; /fedodds path [chart] shows the market's rate path beside the Fed's SEP median")  # noqa: E501 (a msgid is one line)
NO_MEETING = N_("No FOMC meeting in {month} among the meetings the futures price now. Try /fedodds 8.")
DEFAULT_MEETINGS = 4
MAX_MEETINGS = 12
# Shapes first, conversion after: int() of user text can raise (5,000 digits exceed Python's 4,300-digit
# limit; "²" passes str.isdigit() but not int()). re.ASCII: only 0-9 count as digits.
_COUNT = re.compile(r"^\d{1,2}$", re.ASCII)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)


def parse_fedodds_args(args: tuple[str, ...]) -> tuple[int, tuple[int, int] | None]:
    """-> (how many meetings, a (year, month) filter or None)."""
    if not args:
        return DEFAULT_MEETINGS, None
    if len(args) > 1:
        raise UsageError(FEDODDS_USAGE)
    arg = args[0].strip()
    if _COUNT.match(arg) and 1 <= int(arg) <= MAX_MEETINGS:
        return int(arg), None
    match = _MONTH.match(arg)
    if match and 1 <= int(match.group(2)) <= 12:
        return MAX_MEETINGS, (int(match.group(1)), int(match.group(2)))
    raise UsageError(FEDODDS_USAGE)


def parse_history_args(args: tuple[str, ...]) -> tuple[int, int] | None:
    """``YYYY-MM history`` (either order) -> (year, month); None when ``history`` is not asked for."""
    words = [a.strip().lower() for a in args]
    if "history" not in words:
        return None
    months = [_MONTH.match(w) for w in words if w != "history"]
    if len(words) != 2 or len(months) != 1 or months[0] is None or not 1 <= int(months[0].group(2)) <= 12:
        raise UsageError(FEDODDS_USAGE)
    return int(months[0].group(1)), int(months[0].group(2))


def parse_path_args(args: tuple[str, ...]) -> bool | None:
    """``path [chart]`` -> whether the chart is asked for; None when ``path`` is not asked for."""
    words = [a.strip().lower() for a in args]
    if "path" not in words:
        return None
    if words not in (["path"], ["path", "chart"]):
        raise UsageError(FEDODDS_USAGE)
    return len(words) == 2


async def fedodds_command(services: Services, request: Request) -> Reply:
    args = tuple(request.args)
    path_chart = parse_path_args(args)
    if path_chart is not None:
        return await fedpath_reply(services, request, path_chart)
    history_month = parse_history_args(args)
    if history_month is not None:
        return await fedodds_history_reply(services, request, history_month)
    want_chart = bool(args) and args[-1].strip().lower() == "chart"
    if want_chart:
        args = args[:-1]
    count, month = parse_fedodds_args(args)
    snap = request.snapshot(services)
    view = latest_odds(snap)
    meetings = list(view.upcoming)  # a meeting decided since the strip's day is never shown as upcoming
    if month is not None:
        meetings = [m for m in meetings if (m.meeting.year, m.meeting.month) == month]
        if not meetings:
            raise UsageError(NO_MEETING, month=f"{month[0]:04d}-{month[1]:02d}")
    meetings = meetings[:count]
    statuses = [snap.status[n] for n in ("ZQ_STRIPS", "DFEDTARL", "DFEDTARU") if n in snap.status]
    text = render_fedodds(view, meetings, statuses, request.lang)
    if not meetings:  # nothing upcoming to draw: the text says so, and no chart is offered
        return Reply(text=text)
    if not want_chart:
        data = ":".join(("fedodds", *(a.strip() for a in args), "chart"))
        return Reply(text=text, buttons=((Button(tr(N_("📊 Chart of these odds"), request.lang), data),),))
    png = await charts.render(fedodds_chart, view, meetings, request.lang)
    caption = tr(N_("FOMC odds · {source} {trade_date}"), request.lang, source=strip_label(view.strip.source, request.lang),
                 trade_date=view.result.trade_date.isoformat())
    return Reply(text=text, chart=Chart(png=png, caption=caption))
