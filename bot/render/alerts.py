"""Alert messages: every event due for one chat in one message, in the chat's language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from bot.alerts.backtest import HORIZONS, BacktestResult
from bot.alerts.evaluator import AlertEvent
from bot.alerts.rules import RULES, Rule
from bot.alerts.series import METRICS
from bot.i18n import N_, Safe, tr, tr_text, trn
from bot.market import SeriesStatus, Snapshot
from bot.render import format as fmt
from bot.render.text import join, sources_line, stale_lines
from bot.store.base import ChatSettings, Subscription


def _in_unit(value: float, unit: str, lang: str, *, level: bool = False) -> Safe:
    """A metric value as a reader reads it, in its metric's unit (bot/alerts/series.py); a subscriber's
    level (``level``) without decimals when it has none."""
    if unit == "percent":
        return fmt.pct(value / 100, lang, 0 if level and float(value).is_integer() else 1, sign=False)
    if unit == "pp":
        return fmt.pp(value, lang)
    if unit == "turns":
        return fmt.number(value, lang, 1)
    if unit == "rate":
        return Safe(f"{fmt.number(value, lang)}%")
    if unit == "bp":
        return tr(N_("{value} bp"), lang, value=fmt.number(value, lang, 0))
    return fmt.number(value, lang)


def render_event(e: AlertEvent, lang: str) -> Safe:
    """One event from its rule's own message (a resolved one from the rule's resolved notice)."""
    rule = RULES[e.rule_id]
    unit = METRICS[rule.metric].unit
    reference = e.reference if e.reference is not None else e.threshold
    fields = {
        "value": _in_unit(e.value, unit, lang),
        "date": fmt.day(e.bar, lang),
        "threshold": _in_unit(e.threshold, unit, lang, level=True),
        "reference": _in_unit(reference, unit, lang),
        "change": fmt.pp(e.value - reference, lang, 1) if unit in ("percent", "pp") else fmt.signed(e.value - reference, lang),
        "title": tr_text(rule.title, lang),
    }
    msgid = rule.resolved_msgid if e.kind == "resolved" else rule.msgid
    return tr(msgid, lang, **fields)


def _day_or_dash(day: date | None, lang: str) -> Safe:
    return fmt.day(day, lang) if day is not None else Safe("—")


def render_alerts(chat: ChatSettings, events: Sequence[AlertEvent], snap: Snapshot) -> dict[str, Any]:
    """The outbox payload for one chat."""
    lang = chat.lang or "en"
    names = sorted({n for e in events for n in METRICS[RULES[e.rule_id].metric].inputs(snap)})
    statuses = [snap.status[n] for n in names if n in snap.status]
    lines: list[str] = [tr(N_("<b>capgap alert</b>"), lang), *(render_event(e, lang) for e in events)]
    lines += ["", tr(N_("Manage your alerts with /alerts."), lang), sources_line(statuses, snap.asof, lang)]
    return {"text": join(lines)}


def describe_rule(rule: Rule, lang: str) -> Safe:
    """A subscription's rule with its parameters, in words."""
    title = tr_text(rule.title, lang)
    if rule.id == "r2k_high":
        window = rule.window or "all"
        detail = (tr(N_("above every close of the last 52 weeks"), lang) if window == "52w"
                  else tr(N_("above every earlier close"), lang) if window == "all"
                  else tr(N_("above every close since {date}"), lang, date=window[6:]))
    elif rule.id in ("cut_odds", "r2k_drawdown"):
        detail = tr(N_("level {threshold}%"), lang, threshold=fmt.number(rule.threshold, lang, 0))
    elif rule.id == "pe_gap":
        detail = trn("≥ {threshold} turns for {sessions} session", "≥ {threshold} turns for {sessions} sessions",
                     rule.for_sessions, lang,
                     threshold=fmt.number(rule.threshold, lang, 1), sessions=rule.for_sessions)
    elif rule.id == "fed_path_gap":
        detail = tr(N_("a gap of {threshold} bp or more"), lang, threshold=fmt.number(rule.threshold, lang, 0))
    elif rule.id == "cut_odds_move":
        detail = tr(N_("a move of {threshold} pp in {window}"), lang, threshold=fmt.number(rule.threshold, lang, 0),
                    window=rule.window or "1d")
    else:
        return title
    return Safe(f"{title} ({detail})")


def rule_usage(rule: Rule, lang: str, command: str = "subscribe") -> Safe:
    """A rule's usage line without its "Usage:" lead, for ``command`` (/backtest takes the parameters of
    /subscribe): "/backtest pe_gap N [M] — gap ≥ N turns for M sessions (default 8 turns, 3 sessions)".
    The command stays literal in every catalog, so the line is found by it in any language."""
    line = tr(rule.usage, lang)
    start = line.find("/subscribe ")
    rest = line[start + len("/subscribe "):] if start >= 0 else rule.id
    return Safe(f"/{command} {rest}")


def render_subscribe_help(lang: str) -> Safe:
    """/help subscribe: every rule with what it watches, its parameters and their defaults."""
    lines = [
        tr(N_("<b>/subscribe RULE [params]</b> — one alert per rule in this chat; subscribing to a rule again changes its parameters."), lang),  # noqa: E501 (a msgid is one line)
        tr(N_("Rules, their parameters and defaults:"), lang),
    ]
    for rule in RULES.values():
        lines.append(Safe(f"• <b>{rule.id}</b>: " + tr_text(rule.title, lang)))
        lines.append(Safe("   " + rule_usage(rule, lang)))
    lines += [
        tr(N_("Every rule also takes until:YYYY-MM-DD (the last day it may fire) and resolved (a message when it ends, too)."), lang),  # noqa: E501 (a msgid is one line)
        tr(N_("/backtest RULE [params] shows when a rule would have fired and what followed; /alerts lists this chat's alerts."), lang),  # noqa: E501 (a msgid is one line)
    ]
    return join(lines)


# What each parameter a subscription may change is called in a reply, and how its value reads.
PARAM_LABELS = {
    "threshold": N_("level"),
    "for_sessions": N_("sessions"),
    "window": N_("window"),
    "expires": N_("last day"),
    "notify_resolved": N_("resolved notices"),
}


def _param_value(value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return tr(N_("on"), lang) if value else tr(N_("off"), lang)
    if isinstance(value, int | float):
        return fmt.number(value, lang, 0 if float(value).is_integer() else 1)
    return str(value).removeprefix("since:")


def render_resubscribed(before: Rule, after: Rule, lang: str) -> Safe:
    """A chat subscribed again to a rule it had: the new parameters and what changed (old → new)."""
    old, new = before.effective_params(), after.effective_params()
    changes = [
        tr(N_("{param} {old} → {new}"), lang, param=tr(PARAM_LABELS.get(name, name), lang),
           old=_param_value(old[name], lang), new=_param_value(new[name], lang))
        for name in after.overridable if old.get(name) != new.get(name)
    ]
    if not changes:
        return tr(N_("✅ Already subscribed, with the same parameters: {rule}"), lang, rule=describe_rule(after, lang))
    return join([
        tr(N_("✅ Subscription changed: {rule}"), lang, rule=describe_rule(after, lang)),
        tr(N_("Changed: {changes}"), lang, changes=Safe("; ".join(changes))),
    ])


def render_subscribed(rule: Rule, lang: str) -> Safe:
    return join([
        tr(N_("✅ Subscribed: {rule}"), lang, rule=describe_rule(rule, lang)),
        tr(N_("You will get one message when it happens (a condition already true now waits for the next crossing). /alerts lists your subscriptions."), lang),  # noqa: E501 (a msgid is one line)
    ])


def render_alert_list(subs: Sequence[Subscription], chat: ChatSettings | None, now: datetime, lang: str,
                      notice: Safe | None = None) -> Safe:
    """/alerts; ``notice`` (what a mute, unmute or delete just did) heads the list, so the message a
    button press edits in place says what changed."""
    head = [notice, ""] if notice else []
    if not subs:
        return join(head + [tr(N_("No alert subscriptions in this chat. Try /subscribe r2k_high or /subscribe cut_odds 75."), lang)])  # noqa: E501 (a msgid is one line)
    lines = head + [tr(N_("<b>Your alerts</b>"), lang)]
    for sub in subs:
        muted = sub.muted_until is not None and sub.muted_until > now
        line = Safe(f"• <code>{sub.rule_id}</code> — " + describe_rule(RULES[sub.rule_id].with_params(sub.params), lang))
        lines.append(Safe(line + " " + tr(N_("(muted)"), lang)) if muted else line)
    if chat is not None and chat.muted_until and chat.muted_until > now:
        lines.append(tr(N_("All alerts of this chat are muted until {until} (UTC)."), lang,
                        until=chat.muted_until.strftime("%Y-%m-%d %H:%M")))
    return join(lines)


def render_backtest(rule: Rule, result: BacktestResult, statuses: Sequence[SeriesStatus], asof: date, lang: str) -> Safe:
    lines: list[str] = [
        tr(N_("<b>Backtest</b>: {rule}"), lang, rule=describe_rule(rule, lang)),
        trn("From {start} to {end} it would have fired {count} time.", "From {start} to {end} it would have fired {count} times.",
            len(result.firings), lang, start=_day_or_dash(result.start, lang), end=_day_or_dash(result.end, lang),
            count=len(result.firings)),
    ]
    if result.firings:
        lines.append(tr(N_("Last firings: {dates}"), lang, dates=", ".join(d.isoformat() for d in result.last_five)))
        for months in HORIZONS:
            median = result.median_rut_return[months]
            count = result.counted[months]
            lines.append(Safe(
                trn("Median Russell 2000 return {months} month later: {value}",
                    "Median Russell 2000 return {months} months later: {value}",
                    months, lang, months=months, value=fmt.pct(median, lang, 1) if median is not None else "—")
                + " " + trn("({count} firing)", "({count} firings)", count, lang, count=count)))
    lines += [*stale_lines(statuses, lang), "", sources_line(statuses, asof, lang)]
    return join(lines)
