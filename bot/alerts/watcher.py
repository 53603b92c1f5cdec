"""The watch service: after each refresh, evaluate every rule once for all its subscribers, write the
alerts to the outbox, then remember the new states.

Order matters for crash safety: events go to the outbox (idempotent keys) before states are stored and
before the rule's watermark (the last bar evaluated) moves. A crash anywhere reruns the same bars on the
next tick: the same events get the same keys and the outbox drops them, so nothing is lost or repeated.
Rules whose source series is stale hold: no firing, no resolving, the watermark stays.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from bot.alerts.evaluator import NEVER, AlertEvent, AlertState, GroupStates, initial_states, observe, step, events_of
from bot.alerts.rules import RULES, Rule
from bot.alerts.series import METRICS
from bot.errors import NoDataError
from bot.market import Snapshot
from bot.store.base import ChatSettings, OutboxItem, Store, Subscription

log = logging.getLogger(__name__)

# Events of bars older than this many bars behind the latest (a long outage) update state silently:
# an alert about a close weeks ago is not news.
ANNOUNCE_BARS = 5


@dataclass
class WatchReport:
    evaluated: dict[str, int] = field(default_factory=dict)  # rule -> bars evaluated
    held: dict[str, str] = field(default_factory=dict)  # rule -> why it held
    events: int = 0
    messages: int = 0


def watermark_key(rule_id: str) -> str:
    return f"watch:{rule_id}:last_bar"


def group_key(rule: Rule) -> tuple[Any, ...]:
    """Subscribers whose rules differ only in their threshold share one vectorised group."""
    return (rule.window, rule.for_sessions, rule.recovery, rule.cooldown_days, rule.repeat_days, rule.notify_resolved, rule.expires)


def state_changed(before: AlertState, after: AlertState) -> bool:
    return (before.status, before.count, before.last_fired) != (after.status, after.count, after.last_fired)


async def watch_once(
    store: Store,
    snap: Snapshot,
    now: datetime,
    render: Any,
    *,
    rules: Mapping[str, Rule] = RULES,
) -> WatchReport:
    """Evaluate every subscribed rule on ``snap``; ``render(chat, events, snap) -> payload`` builds messages."""
    report = WatchReport()
    subs_by_rule: dict[str, list[Subscription]] = defaultdict(list)
    for sub in await store.list_subscriptions():
        if sub.rule_id in rules:
            subs_by_rule[sub.rule_id].append(sub)
    events: list[AlertEvent] = []
    pending_states: dict[str, dict[str, dict[str, Any]]] = {}
    watermarks: dict[str, date] = {}
    for rule_id, subs in subs_by_rule.items():
        base = rules[rule_id]
        stale = [s.name for s in snap.stale(base.depends_on)]
        if stale:
            report.held[rule_id] = "stale: " + ", ".join(stale)
            continue
        try:
            history = METRICS[base.metric](snap)
        except NoDataError:
            report.held[rule_id] = "no data"
            continue
        history = history.loc[: pd.Timestamp(snap.asof)].dropna()
        if history.empty:
            report.held[rule_id] = "no data"
            continue
        mark_text = await store.get_meta(watermark_key(rule_id))
        mark = date.fromisoformat(mark_text) if mark_text else None
        bars = [ts.date() for ts in history.index if mark is None or ts.date() > mark]
        if mark is None:
            bars = bars[-1:]  # a rule watched for the first time starts at the latest bar
        if not bars:
            continue
        stored = await store.get_alert_states(rule_id)
        latest = history.index[-1].date()
        announce_from = history.index[max(0, len(history) - ANNOUNCE_BARS)].date()
        groups: dict[tuple[Any, ...], list[Subscription]] = defaultdict(list)
        applied: dict[int, Rule] = {}
        for sub in subs:
            rule = base.with_params(sub.params)
            applied[sub.chat_id] = rule
            groups[group_key(rule)].append(sub)
        for members in groups.values():
            rule = applied[members[0].chat_id]
            scopes = [str(s.chat_id) for s in members]
            thresholds = np.array([applied[s.chat_id].threshold for s in members], dtype=float)
            old = [AlertState.from_dict(stored.get(scope)) if scope in stored else None for scope in scopes]
            fresh = np.array([o is None for o in old])
            states = GroupStates.from_states([o or AlertState() for o in old])
            # Everyone already stored is at the rule's watermark; newcomers start at the latest bar.
            states.last_bar[:] = mark.toordinal() if mark else NEVER
            if fresh.any():
                start = initial_states(rule, thresholds[fresh], observe(rule, history, latest))
                for name in ("status", "count", "last_bar", "last_fired"):
                    getattr(states, name)[fresh] = getattr(start, name)
            for bar in bars:
                obs = observe(rule, history, bar)
                if obs is None:
                    continue
                fired, resolved, repeat = step(rule, thresholds, states, obs)
                if bar >= announce_from:
                    events += events_of(rule, scopes, thresholds, obs, fired, resolved, repeat)
            changed = pending_states.setdefault(rule_id, {})
            for i, scope in enumerate(scopes):
                after = states.state(i)
                if old[i] is None or state_changed(old[i], after):  # type: ignore[arg-type]
                    changed[scope] = after.to_dict()
        report.evaluated[rule_id] = len(bars)
        watermarks[rule_id] = latest

    report.events = len(events)
    if events:
        all_chats = await store.list_chats(active_only=False)
        muted = _muted(all_chats, subs_by_rule, now)
        by_chat: dict[int, list[AlertEvent]] = defaultdict(list)
        for event in events:
            if (int(event.scope), event.rule_id) not in muted:
                by_chat[int(event.scope)].append(event)
        chats = {c.chat_id: c for c in all_chats if c.active}
        items = []
        for chat_id, chat_events in by_chat.items():
            chat = chats.get(chat_id)
            if chat is None:
                continue  # the chat blocked the bot or was never started: nothing to send
            digest = hashlib.sha256("|".join(sorted(e.key for e in chat_events)).encode()).hexdigest()[:20]
            items.append(OutboxItem(key=f"alert:{chat_id}:{digest}", chat_id=chat_id, payload=render(chat, chat_events, snap),
                                    created_at=now, not_before=now))
        report.messages = await store.enqueue(items) if items else 0
    for rule_id, changed in pending_states.items():
        if changed:
            await store.put_alert_states(rule_id, changed)
    for rule_id, latest in watermarks.items():
        await store.set_meta(watermark_key(rule_id), latest.isoformat())
    return report


def _muted(chats: Sequence[ChatSettings], subs_by_rule: Mapping[str, Sequence[Subscription]], now: datetime) -> set[tuple[int, str]]:
    """(chat, rule) pairs whose alerts are muted now: the subscription or the whole chat."""
    muted_chats = {c.chat_id for c in chats if c.muted_until and c.muted_until > now}
    out = set()
    for rule_id, subs in subs_by_rule.items():
        for sub in subs:
            if sub.chat_id in muted_chats or (sub.muted_until and sub.muted_until > now):
                out.add((sub.chat_id, rule_id))
    return out

