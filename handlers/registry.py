"""Every command the bot answers, in menu order. bot/app.py and `capgap ask` both read this table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.i18n import N_
from bot.seam import Command, CommandFunc, Reply, Request, Services
from bot.seam import visible_commands as seam_visible
from handlers import alerts, compare, cuts, digest, fedodds, pe, r2k, rates, risk, spread, start, status


def _with_table(func: Callable[[Services, Request, Sequence[Command]], Awaitable[Reply]]) -> CommandFunc:
    """/start and /help list the table below: it is handed to them here, so they need not import it."""

    async def command(services: Services, request: Request) -> Reply:
        return await func(services, request, _ALL)

    return command


_ALL: tuple[Command, ...] = (
    Command("start", _with_table(start.start_command), N_("Welcome and the list of commands"), start.START_USAGE),
    Command("help", _with_table(start.help_command), N_("How to use each command"), start.HELP_USAGE),
    Command("r2k", r2k.r2k_command, N_("Russell 2000: last close, YTD, highs, distance to the record"), r2k.R2K_USAGE,
            cacheable=True),
    Command("spread", spread.spread_command, N_("Small caps minus large caps over a period, with a chart"), spread.SPREAD_USAGE,
            cacheable=True),
    Command("compare", compare.compare_command, N_("Russell 2000 vs S&amp;P 500 vs Nasdaq-100 over any window, with a chart"),
            compare.COMPARE_USAGE, cacheable=True),
    Command("pe", pe.pe_command, N_("S&amp;P 500 vs S&amp;P 600 P/E gap"), pe.PE_USAGE, cacheable=True),
    Command("risk", risk.risk_command, N_("Volatility and drawdowns: small vs large caps"), risk.RISK_USAGE, cacheable=True),
    Command("cuts", cuts.cuts_command, N_("Small vs large caps after the first Fed cut of each cycle"), cuts.CUTS_USAGE,
            cacheable=True),
    Command("fedodds", fedodds.fedodds_command, N_("Fed cut odds by FOMC meeting, from Fed funds futures"), fedodds.FEDODDS_USAGE,
            cacheable=True),
    Command("rates", rates.rates_command, N_("Fed target range, effective fed funds rate, 10-year yield since the last FOMC decision"), rates.RATES_USAGE, cacheable=True),  # noqa: E501 (a msgid is one line)
    Command("digest", digest.digest_command, N_("Today's digest; /digest on HH:MM Area/City for a daily one"),
            digest.DIGEST_USAGE, changes_chat_with_args=True),
    Command("subscribe", alerts.subscribe_command, N_("Subscribe to an alert, with your own threshold"), alerts.SUBSCRIBE_USAGE,
            changes_chat=True),
    Command("unsubscribe", alerts.unsubscribe_command, N_("Stop an alert"), alerts.UNSUBSCRIBE_USAGE, changes_chat=True),
    Command("alerts", alerts.alerts_command, N_("Your alerts, with mute and delete buttons"), alerts.ALERTS_USAGE,
            changes_chat_with_args=True, button_edits=True),
    Command("mute", alerts.mute_command, N_("Mute all alerts of this chat for a while"), alerts.MUTE_USAGE, changes_chat=True),
    Command("backtest", alerts.backtest_command, N_("When an alert would have fired, and what followed"), alerts.BACKTEST_USAGE),
    Command("status", status.status_command, N_("Data freshness per series (operators)"), status.STATUS_USAGE, admin_only=True),
    Command("lang", start.lang_command, N_("Language: English or Traditional Chinese"), start.LANG_USAGE, changes_chat=True),
)

COMMANDS: dict[str, Command] = {c.name: c for c in _ALL}


def visible_commands(request: Request | None = None) -> list[Command]:
    """Commands to list in the menu, /start and /help (see bot.seam.visible_commands)."""
    return seam_visible(_ALL, request)
