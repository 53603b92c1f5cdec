"""The pure evaluator: (rule, thresholds, states, metric history, bar) -> (states, events).

Each rule is evaluated once per bar for all of its subscribers at once: the subscribers of one rule
that share every parameter but the threshold form a group, whose thresholds and states are numpy
arrays, and one step is a handful of vector operations whatever the group's size. Only the subscribers
whose state changed become Python objects (events and states to store).

States go inactive -> pending (condition true, ``for_sessions`` not yet met) -> firing -> inactive
(resolved). A level rule (``above``/``below``) fires when its condition starts to hold and resolves
only when the value is back past ``threshold ∓ recovery`` (hysteresis: no flapping around the line).
An event rule (``new_high``, ``change_by``, ``crosses_zero``) fires on each bar where the event
happens and is inactive again right after. A bar is evaluated once: re-evaluating the bar a state last
saw changes nothing and emits nothing, so a rerun or a restart never repeats an alert. A firing within
``cooldown_days`` of the previous one is recorded but not announced; a rule with ``repeat_days``
announces a condition that still holds again every that many days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from bot.alerts.rules import Rule

INACTIVE, PENDING, FIRING = 0, 1, 2
STATUS_NAMES = ("inactive", "pending", "firing")
NEVER = -(10**9)  # ordinal of "no such bar"
LEVEL_KINDS = ("above", "below")


@dataclass(frozen=True)
class AlertState:
    """What is remembered per (rule, chat) between bars; stored as JSON."""

    status: str = "inactive"
    count: int = 0  # consecutive bars the condition held (for ``for_sessions``)
    last_bar: date | None = None  # the last bar evaluated
    last_fired: date | None = None  # the last bar a firing was announced

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "last_bar": self.last_bar.isoformat() if self.last_bar else None,
            "last_fired": self.last_fired.isoformat() if self.last_fired else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        return cls(
            status=str(data.get("status", "inactive")),
            count=int(data.get("count", 0)),
            last_bar=date.fromisoformat(data["last_bar"]) if data.get("last_bar") else None,
            last_fired=date.fromisoformat(data["last_fired"]) if data.get("last_fired") else None,
        )


@dataclass(frozen=True)
class AlertEvent:
    rule_id: str
    scope: str  # the chat id, as a string
    kind: str  # "firing" | "resolved" | "repeat"
    bar: date
    value: float
    threshold: float
    reference: float | None  # new_high: the high it beat; change_by: the value it moved from

    @property
    def key(self) -> str:
        """Stable across reruns: the outbox's idempotency key is built from it."""
        return f"{self.rule_id}:{self.scope}:{self.bar.isoformat()}:{self.kind}"


@dataclass
class GroupStates:
    """The states of a group of subscribers as arrays (one slot per subscriber)."""

    status: np.ndarray  # int8
    count: np.ndarray  # int32
    last_bar: np.ndarray  # int64 ordinal
    last_fired: np.ndarray  # int64 ordinal

    @classmethod
    def from_states(cls, states: Sequence[AlertState]) -> GroupStates:
        return cls(
            status=np.array([STATUS_NAMES.index(s.status) if s.status in STATUS_NAMES else 0 for s in states], dtype=np.int8),
            count=np.array([s.count for s in states], dtype=np.int32),
            last_bar=np.array([s.last_bar.toordinal() if s.last_bar else NEVER for s in states], dtype=np.int64),
            last_fired=np.array([s.last_fired.toordinal() if s.last_fired else NEVER for s in states], dtype=np.int64),
        )

    def state(self, i: int) -> AlertState:
        return AlertState(
            status=STATUS_NAMES[int(self.status[i])],
            count=int(self.count[i]),
            last_bar=date.fromordinal(int(self.last_bar[i])) if self.last_bar[i] > 0 else None,
            last_fired=date.fromordinal(int(self.last_fired[i])) if self.last_fired[i] > 0 else None,
        )


@dataclass(frozen=True)
class Observation:
    """What a rule sees at one bar: the value, and the reference it compares with (scalar rules)."""

    bar: date
    value: float
    reference: float | None  # new_high: highest close of the window before the bar; change_by: earlier value
    event: bool | None  # crosses_zero: whether the sign flipped at this bar


def observe(rule: Rule, history: pd.Series, bar: date) -> Observation | None:
    """The rule's inputs at ``bar`` from the metric history (None when ``bar`` is not in it)."""
    ts = pd.Timestamp(bar)
    upto = history.loc[:ts]
    if upto.empty or upto.index[-1] != ts:
        return None
    value = float(upto.iloc[-1])
    before = upto.iloc[:-1]
    if rule.kind == "new_high":
        window = rule.window or "all"
        if window == "52w":
            before = before.loc[ts - pd.DateOffset(weeks=52) :]
        elif window.startswith("since:"):
            before = before.loc[pd.Timestamp(window[6:]) :]
        return Observation(bar, value, float(before.max()) if len(before) else None, None)
    if rule.kind == "change_by":
        if rule.window == "1w":
            base = before.loc[: ts - pd.Timedelta(days=7)]
        else:
            base = before
        return Observation(bar, value, float(base.iloc[-1]) if len(base) else None, None)
    if rule.kind == "crosses_zero":
        if before.empty:
            return Observation(bar, value, None, False)
        prev = float(before.iloc[-1])
        return Observation(bar, value, prev, (prev < 0 <= value) or (prev >= 0 > value))
    return Observation(bar, value, None, None)


def _conditions(rule: Rule, obs: Observation, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(condition holds, level rules: value is back past the recovery line) per subscriber."""
    v = obs.value
    if rule.kind == "above":
        return thresholds <= v, v < thresholds - rule.recovery
    if rule.kind == "below":
        return thresholds >= v, v > thresholds + rule.recovery
    if rule.kind == "new_high":
        holds = obs.reference is not None and v > obs.reference
    elif rule.kind == "change_by":
        if obs.reference is None:
            cond = np.zeros(len(thresholds), dtype=bool)
        else:
            cond = abs(v - obs.reference) >= thresholds - 1e-9
        return cond, ~cond
    else:  # crosses_zero
        holds = bool(obs.event)
    cond = np.full(len(thresholds), holds, dtype=bool)
    return cond, ~cond


def step(rule: Rule, thresholds: np.ndarray, states: GroupStates, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance every subscriber of the group to ``obs.bar``; returns index arrays (fired, resolved, repeat).

    ``states`` is updated in place. Subscribers whose last bar is this one or later, or whose rule has
    expired, are left as they are.
    """
    bar = obs.bar.toordinal()
    live = states.last_bar < bar
    if rule.expires is not None and obs.bar > rule.expires:
        live[:] = False
    cond, clear = _conditions(rule, obs, thresholds)
    status, count = states.status, states.count

    idle = live & (status != FIRING)
    count[idle] = np.where(cond[idle], count[idle] + 1, 0)
    start = idle & cond & (count >= rule.for_sessions)
    status[idle] = np.where(cond[idle], PENDING, INACTIVE)
    status[start] = FIRING
    quiet = bar - states.last_fired < rule.cooldown_days if rule.cooldown_days else np.zeros(len(status), dtype=bool)
    fired = start & ~quiet
    states.last_fired[fired] = bar
    if rule.kind not in LEVEL_KINDS:
        # An event (a new high, a move, a flip) is over once it is announced: the next one starts afresh.
        status[start] = INACTIVE
        count[start] = 0

    firing = live & (status == FIRING) & ~start
    resolve = firing & clear
    status[resolve] = INACTIVE
    count[resolve] = 0
    resolved = resolve if rule.notify_resolved else np.zeros(len(status), dtype=bool)
    if rule.repeat_days:
        repeat = firing & ~resolve & (bar - states.last_fired >= rule.repeat_days)
        states.last_fired[repeat] = bar
    else:
        repeat = np.zeros(len(status), dtype=bool)

    states.last_bar[live] = bar
    return np.flatnonzero(fired), np.flatnonzero(resolved), np.flatnonzero(repeat)


def events_of(rule: Rule, scopes: Sequence[str], thresholds: np.ndarray, obs: Observation,
              fired: np.ndarray, resolved: np.ndarray, repeat: np.ndarray) -> list[AlertEvent]:
    out = []
    for kind, idx in (("firing", fired), ("resolved", resolved), ("repeat", repeat)):
        for i in idx.tolist():
            out.append(AlertEvent(rule.id, scopes[i], kind, obs.bar, obs.value, float(thresholds[i]), obs.reference))
    return out


def initial_states(rule: Rule, thresholds: np.ndarray, obs: Observation | None) -> GroupStates:
    """States for new subscribers at ``obs``: a level condition already true counts as firing (without
    an announcement), so a subscription alerts on the next crossing, not on the state it found."""
    n = len(thresholds)
    states = GroupStates(np.zeros(n, np.int8), np.zeros(n, np.int32), np.full(n, NEVER, np.int64), np.full(n, NEVER, np.int64))
    if obs is not None:
        if rule.kind in LEVEL_KINDS:
            cond, _ = _conditions(rule, obs, thresholds)
            states.status[cond] = FIRING
        states.last_bar[:] = obs.bar.toordinal()
    return states


def evaluate(rule: Rule, history: pd.Series, state: AlertState | None, bar: date, threshold: float | None = None,
             scope: str = "0") -> tuple[AlertState, list[AlertEvent]]:
    """One subscriber, one bar: the step above on a group of one (tests and backtests use this)."""
    thresholds = np.array([rule.threshold if threshold is None else threshold], dtype=float)
    states = GroupStates.from_states([state or AlertState()])
    obs = observe(rule, history, bar)
    if obs is None:
        return state or AlertState(), []
    fired, resolved, repeat = step(rule, thresholds, states, obs)
    return states.state(0), events_of(rule, [scope], thresholds, obs, fired, resolved, repeat)
