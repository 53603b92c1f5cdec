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

import pandas as pd

from bot.alerts.evaluator import AlertEvent, AlertState, SubscriptionIndex, evaluate_group, index_subscriptions
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


# One index per rule, rebuilt only when the rule's subscriptions change (100k take ~150 ms to index).
_INDEXES: dict[str, tuple[tuple[tuple[str, str], ...], SubscriptionIndex]] = {}


def _index(rule: Rule, subs: Sequence[Subscription]) -> SubscriptionIndex:
    pairs = [(str(s.chat_id), dict(s.params)) for s in subs]
    marker = tuple(sorted((scope, repr(sorted(params.items()))) for scope, params in pairs))
    cached = _INDEXES.get(rule.id)
    if cached is not None and cached[0] == marker and cached[1].rule == rule:
        return cached[1]
    index = index_subscriptions(rule, pairs)
    for scope, error in index.invalid:
        log.warning("subscription %s of %s has bad params (%s); skipped", scope, rule.id, error.params)
    _INDEXES[rule.id] = (marker, index)
    return index


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
    events: list[tuple[int, AlertEvent]] = []
    pending_states: dict[str, dict[str, dict[str, Any]]] = {}
    watermarks: dict[str, date] = {}
    for rule_id, subs in subs_by_rule.items():
        rule = rules[rule_id]
        stale = [s.name for s in snap.stale(rule.depends_on)]
        if stale:
            report.held[rule_id] = "stale: " + ", ".join(stale)
            continue
        try:
            history = METRICS[rule.metric](snap)
        except NoDataError:
            report.held[rule_id] = "no data"
            continue
        history = history.loc[: pd.Timestamp(snap.asof)].dropna()
        if history.empty:
            report.held[rule_id] = "no data"
            continue
        stored = await store.get_alert_states(rule_id)
        states = {scope: AlertState.from_dict(value) for scope, value in stored.items() if scope.startswith("group:")}
        changed, by_scope = evaluate_group(rule, _index(rule, subs), history, states, now)
        announce_from = history.index[max(0, len(history) - ANNOUNCE_BARS)].date()
        for scope, scope_events in by_scope.items():
            events += [(int(scope), e) for e in scope_events if e.bar >= announce_from]
        pending_states[rule_id] = {scope: state.to_dict() for scope, state in changed.items()}
        before = [s.last_bar for s in states.values() if s.last_bar]
        after = [s.last_bar for s in changed.values() if s.last_bar]
        if after:
            old, new = (max(before) if before else None), max(after)
            dates = history.index
            report.evaluated[rule_id] = (
                1 if old is None else int(((dates > pd.Timestamp(old)) & (dates <= pd.Timestamp(new))).sum())
            )
            watermarks[rule_id] = new

    report.events = len(events)
    if events:
        all_chats = await store.list_chats(active_only=False)
        muted = _muted(all_chats, subs_by_rule, now)
        by_chat: dict[int, list[AlertEvent]] = defaultdict(list)
        for chat_id, event in events:
            if (chat_id, event.rule_id) not in muted:
                by_chat[chat_id].append(event)
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
    for rule_id, changed_states in pending_states.items():
        if changed_states:
            await store.put_alert_states(rule_id, changed_states)
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

