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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from bot.alerts.evaluator import (
    PARAMS_SCOPE,
    AlertEvent,
    AlertState,
    SubscriptionIndex,
    SubscriptionIndexBuilder,
    evaluate_group,
)
from bot.alerts.rules import RULES, Rule
from bot.alerts.series import METRICS
from bot.errors import NoDataError
from bot.market import Snapshot
from bot.store.base import OutboxItem, Store

log = logging.getLogger(__name__)

# The alert states evaluate_group keeps: a record per group and a state per distinct params.
STATE_SCOPES = ("group:", PARAMS_SCOPE)

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


@dataclass
class _Subscribers:
    """What the watcher keeps of one rule's subscriptions between ticks."""

    rule: Rule  # the rule they were indexed for
    index: SubscriptionIndex
    mutes: dict[int, datetime]  # chat id -> muted_until, for the subscriptions that carry a mute


@dataclass
class _Indexed:
    version: str  # the store's subscriptions_version read before these were listed
    rules: dict[str, _Subscribers] = field(default_factory=dict)


async def _index(store: Store, rule_id: str, rule: Rule) -> _Subscribers:
    """Index the subscriptions to ``rule_id`` a page at a time (100k take ~150 ms to index)."""
    builder = SubscriptionIndexBuilder(rule)
    mutes: dict[int, datetime] = {}
    async for page in store.iter_subscriptions(rule_id):
        builder.add((sub.chat_id, sub.params) for sub in page)  # int keys: 8 bytes each in the index
        mutes.update((sub.chat_id, sub.muted_until) for sub in page if sub.muted_until is not None)
    index = builder.build()
    for scope, error in index.invalid:
        log.warning("subscription %s of %s has bad params (%s); skipped", scope, rule_id, error.params)
    return _Subscribers(rule, index, mutes)


class Watcher:
    """Evaluates the rules for one store, keeping each rule's subscriber index between ticks.

    The index is kept as of one ``subscriptions_version`` of the store: a tick whose version matches
    lists nothing; any write to subscriptions (subscribe, unsubscribe, mute, a chat migration) changes
    the version, and the next tick lists the rules again, a page at a time. The running bot keeps one
    Watcher (bot/seam.py Services); ``watch_once`` evaluates without keeping anything.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._indexed: _Indexed | None = None

    async def _subscribers(self, rules: Mapping[str, Rule]) -> dict[str, _Subscribers]:
        """The subscribers of each rule that has any, from the kept index while the version holds."""
        # The version is read before listing: a write that lands during the listing changes it, so the
        # next tick lists again even if this listing missed the write.
        version = await self.store.subscriptions_version()
        indexed = self._indexed
        if indexed is None or indexed.version != version:
            indexed = self._indexed = _Indexed(version)  # the old indexes go now, before new ones are built
        for rule_id, rule in rules.items():
            kept = indexed.rules.get(rule_id)
            if kept is None or kept.rule != rule:
                indexed.rules[rule_id] = await _index(self.store, rule_id, rule)
        return {rule_id: indexed.rules[rule_id] for rule_id in rules if len(indexed.rules[rule_id].index)}

    async def watch(self, snap: Snapshot, now: datetime, render: Any, *, rules: Mapping[str, Rule] = RULES) -> WatchReport:
        """Evaluate every subscribed rule on ``snap``; ``render(chat, events, snap) -> payload`` builds messages."""
        report = WatchReport()
        store = self.store
        subscribers = await self._subscribers(rules)
        events: list[tuple[int, AlertEvent]] = []
        pending_states: dict[str, dict[str, dict[str, Any]]] = {}
        orphans: dict[str, list[str]] = {}
        watermarks: dict[str, date] = {}
        for rule_id, subs in subscribers.items():
            rule = rules[rule_id]
            metric = METRICS[rule.metric]
            try:
                stale = [s.name for s in snap.stale(metric.inputs(snap))]
                if stale:
                    report.held[rule_id] = "stale: " + ", ".join(stale)
                    continue
                history = metric.compute(snap)
            except NoDataError:
                report.held[rule_id] = "no data"
                continue
            history = history.loc[: pd.Timestamp(snap.asof)].dropna()
            if history.empty:
                report.held[rule_id] = "no data"
                continue
            stored = await store.get_alert_states(rule_id)
            states = {scope: AlertState.from_dict(value) for scope, value in stored.items() if scope.startswith(STATE_SCOPES)}
            changed, by_scope = evaluate_group(rule, subs.index, history, states, now)
            announce_from = history.index[max(0, len(history) - ANNOUNCE_BARS)].date()
            for scope, scope_events in by_scope.items():
                events += [(int(scope), e) for e in scope_events if e.bar >= announce_from]
            pending_states[rule_id] = {scope: state.to_dict() for scope, state in changed.items()}
            # A threshold nobody holds any more (a chat changed it or left) loses its state, so the states
            # read each tick stay as many as the distinct params subscribed, however long the bot runs.
            live = {scope for g in subs.index.groups for scope in (g.scope, *g.keys)}
            orphans[rule_id] = [scope for scope in states if scope not in live]
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
            muted_chats = {c.chat_id for c in all_chats if c.muted_until and c.muted_until > now}
            by_chat: dict[int, list[AlertEvent]] = defaultdict(list)
            for chat_id, event in events:
                if chat_id in muted_chats:
                    continue  # the whole chat is muted
                until = subscribers[event.rule_id].mutes.get(chat_id)
                if until is not None and until > now:
                    continue  # this subscription is muted
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
            if changed_states or orphans[rule_id]:
                await store.put_alert_states(rule_id, changed_states, drop=orphans[rule_id])
        for rule_id, latest in watermarks.items():
            await store.set_meta(watermark_key(rule_id), latest.isoformat())
        return report


async def watch_once(
    store: Store, snap: Snapshot, now: datetime, render: Any, *, rules: Mapping[str, Rule] = RULES
) -> WatchReport:
    """One evaluation of every subscribed rule, listing the subscriptions afresh (tools, tests)."""
    return await Watcher(store).watch(snap, now, render, rules=rules)
