"""/subscribe, /unsubscribe, /alerts (with mute / unmute / delete buttons), /mute and /backtest."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

from bot.alerts.backtest import backtest
from bot.alerts.rules import RULES, RuleParamError, parse_params
from bot.alerts.series import METRICS
from bot.errors import NoDataError, UsageError
from bot.i18n import N_, tr
from bot.render.alerts import (
    render_alert_list,
    render_backtest,
    render_resubscribed,
    render_subscribed,
    rule_usage,
)
from bot.seam import Button, Reply, Request, Services
from bot.store.base import ChatSettings, Subscription

SUBSCRIBE_USAGE = N_("Usage: /subscribe RULE [params]. Rules: r2k_high, pe_gap, cut_odds, cut_odds_move, fed_decision, r2k_drawdown, spread_flip, fed_path_gap. Example: /subscribe cut_odds 75")  # noqa: E501 (a msgid is one line)
UNSUBSCRIBE_USAGE = N_("Usage: /unsubscribe RULE — e.g. /unsubscribe cut_odds")
ALERTS_USAGE = N_("Usage: /alerts — your subscriptions, with buttons to mute, unmute or delete")
MUTE_USAGE = N_("Usage: /mute 1h | 1d | 1w | off — mute every alert of this chat for a while")
BACKTEST_USAGE = N_("Usage: /backtest RULE [params] — when an alert would have fired, with the rules and parameters of /subscribe (/help subscribe lists them); e.g. /backtest r2k_high 52w")  # noqa: E501 (a msgid is one line)
# A bad parameter of one rule: that rule's usage line, as /backtest takes it.
BACKTEST_RULE_USAGE = N_("Usage: {usage}")
NOT_SUBSCRIBED = N_("This chat has no {rule} subscription. /alerts lists them.")
UNSUBSCRIBED = N_("Unsubscribed from {rule}.")
MUTED = N_("Alerts muted until {until} (UTC). /mute off to resume.")
UNMUTED = N_("Alerts are on again.")
NO_STORE = N_("Subscriptions need the bot's store; `capgap ask` has none.")
RULE_MUTED = N_("🔕 {rule} muted.")
RULE_UNMUTED = N_("🔔 {rule} unmuted.")
RULE_DELETED = N_("🗑 {rule} deleted.")
_DURATION = re.compile(r"^(\d{1,3})([hdw])$", re.ASCII)


def _store(services: Services):  # type: ignore[no-untyped-def]
    if services.store is None:
        raise UsageError(NO_STORE)
    return services.store


def _rule_id(arg: str, usage: str) -> str:
    rule_id = arg.strip().lower()
    if rule_id not in RULES:
        raise UsageError(usage)
    return rule_id


def _rule_and_params(args: tuple[str, ...], usage: str, lang: str, command: str = "subscribe") -> tuple[str, dict[str, object]]:
    """``RULE [params]`` -> the rule id and the subscription's params; a bad one gets its rule's usage
    line, worded for ``command`` (/backtest takes the parameters of /subscribe)."""
    if not args:
        raise UsageError(usage)
    rule_id = _rule_id(args[0], usage)
    try:
        return rule_id, parse_params(rule_id, args[1:])
    except RuleParamError as exc:
        if command == "subscribe":
            raise UsageError(exc.msgid) from exc
        raise UsageError(BACKTEST_RULE_USAGE, usage=rule_usage(RULES[rule_id], lang, command)) from exc


async def subscribe_command(services: Services, request: Request) -> Reply:
    rule_id, params = _rule_and_params(request.args, SUBSCRIBE_USAGE, request.lang)
    store = _store(services)
    chat = await store.get_chat(request.chat_id)
    if chat is None:
        await store.put_chat(ChatSettings(chat_id=request.chat_id, lang=None, kind=request.chat_type))
    elif not chat.active:
        await store.put_chat(replace(chat, active=True, inactive_reason=None))
    # One subscription per rule and chat: subscribing again replaces its parameters, so say which.
    before = next((s for s in await store.list_subscriptions(chat_id=request.chat_id) if s.rule_id == rule_id), None)
    await store.put_subscription(Subscription(chat_id=request.chat_id, rule_id=rule_id, params=params,
                                              created_at=services.clock.now()))
    rule = RULES[rule_id]
    if before is None:
        return Reply(text=render_subscribed(rule.with_params(params), request.lang))
    return Reply(text=render_resubscribed(rule.with_params(before.params), rule.with_params(params), request.lang))


async def unsubscribe_command(services: Services, request: Request) -> Reply:
    if len(request.args) != 1:
        raise UsageError(UNSUBSCRIBE_USAGE)
    rule_id = _rule_id(request.args[0], UNSUBSCRIBE_USAGE)
    if not await _store(services).delete_subscription(request.chat_id, rule_id):
        raise UsageError(NOT_SUBSCRIBED, rule=rule_id)
    return Reply(text=tr(UNSUBSCRIBED, request.lang, rule=rule_id))


async def alerts_command(services: Services, request: Request) -> Reply:
    """/alerts lists; the buttons come back as /alerts mute|unmute|del RULE."""
    store = _store(services)
    args = tuple(a.lower() for a in request.args)
    if args:
        if len(args) != 2 or args[0] not in ("mute", "unmute", "del") or args[1] not in RULES:
            raise UsageError(ALERTS_USAGE)
        subs = {s.rule_id: s for s in await store.list_subscriptions(chat_id=request.chat_id)}
        sub = subs.get(args[1])
        if sub is None:
            raise UsageError(NOT_SUBSCRIBED, rule=args[1])
        if args[0] == "del":
            await store.delete_subscription(request.chat_id, args[1])
            notice = tr(RULE_DELETED, request.lang, rule=args[1])
        else:
            until = services.clock.now() + timedelta(days=3650) if args[0] == "mute" else None
            await store.put_subscription(replace(sub, muted_until=until))
            done = RULE_MUTED if args[0] == "mute" else RULE_UNMUTED
            notice = tr(done, request.lang, rule=args[1])
    else:
        notice = None
    subs = await store.list_subscriptions(chat_id=request.chat_id)
    now = services.clock.now()
    buttons = tuple(
        (
            Button(tr(N_("🔔 Unmute {rule}"), request.lang, rule=s.rule_id) if s.muted_until and s.muted_until > now
                   else tr(N_("🔕 Mute {rule}"), request.lang, rule=s.rule_id),
                   f"alerts:{'unmute' if s.muted_until and s.muted_until > now else 'mute'}:{s.rule_id}"),
            Button(tr(N_("🗑 Delete {rule}"), request.lang, rule=s.rule_id), f"alerts:del:{s.rule_id}"),
        )
        for s in subs
    )
    chat = await store.get_chat(request.chat_id)
    return Reply(text=render_alert_list(subs, chat, now, request.lang, notice), buttons=buttons, notice=notice or "")


async def mute_command(services: Services, request: Request) -> Reply:
    if len(request.args) != 1:
        raise UsageError(MUTE_USAGE)
    arg = request.args[0].lower()
    store = _store(services)
    chat = await store.get_chat(request.chat_id) or ChatSettings(chat_id=request.chat_id, kind=request.chat_type)
    if arg == "off":
        await store.put_chat(replace(chat, muted_until=None))
        return Reply(text=tr(UNMUTED, request.lang))
    match = _DURATION.match(arg)
    if not match or int(match.group(1)) == 0:
        raise UsageError(MUTE_USAGE)
    unit = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}[match.group(2)]
    until = services.clock.now() + unit * int(match.group(1))
    if until - services.clock.now() > timedelta(days=366):
        raise UsageError(MUTE_USAGE)
    await store.put_chat(replace(chat, muted_until=until))
    return Reply(text=tr(MUTED, request.lang, until=until.strftime("%Y-%m-%d %H:%M")))


async def backtest_command(services: Services, request: Request) -> Reply:
    rule_id, params = _rule_and_params(request.args, BACKTEST_USAGE, request.lang, "backtest")
    rule = RULES[rule_id].with_params(params)
    snap = request.snapshot(services)
    metric = METRICS[rule.metric]
    try:
        history = metric.compute(snap)
    except NoDataError:  # names the series as stored (CUTPROB_NEXT): say what it is instead
        history = None
    if history is None or history.empty:
        raise NoDataError(what=metric.data)
    result = await asyncio.to_thread(backtest, RULES[rule_id], params, history, snap.close("RUT"))
    names = dict.fromkeys((*metric.inputs(snap), "RUT"))
    statuses = [snap.status[n] for n in names if n in snap.status]
    return Reply(text=render_backtest(rule, result, statuses, snap.asof, request.lang))

