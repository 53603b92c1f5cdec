"""The pure evaluator: (rule, params, metric history, state, as-of) -> (state, events). No I/O, no clock.

One subscription's state machine (``evaluate``)::

    inactive --condition--> pending --held for_sessions bars--> firing --past the recovery line--> inactive
        (for_sessions=1 goes straight to firing)                 |  "firing" event on entry;
                                                                 |  "repeat" once per cooldown while firing;
                                                                 |  "resolved" on exit when notify_resolved

Events are transitions, never levels: a rule fires once when its condition starts to hold, not on every
bar while it holds. Daily rules (``evaluate_on="close"``) look at closed bars only, each bar once: the state
remembers the last bar it evaluated, so a rerun or a restart for the same bar emits nothing. Intraday rules
may also look at the open bar (the session has not closed at ``asof``); such a bar is evaluated again on
every later tick but announces each kind of event at most once.

A first evaluation (``state=None``) is quiet: it takes the state the rule would be in had it watched the
whole history silently (``implied_state``) at the latest closed bar and announces nothing; the next
transition is news, a condition that already held when someone subscribed is not. Pending sessions count
(``pe_gap`` held 2 of 3 sessions: the 3rd fires). For ``crosses_*`` rules the unknown past before the first
bar counts as "already past the line" (nothing fires, and nothing resolves aloud, until the value has been
on the other side), for the others as "not". A resolved notice follows a firing that was announced or,
for a subscription that found its rule firing, would have been.

Many subscriptions at once (``evaluate_group``): the same state machine runs once per distinct (rule,
params) and each event it announces goes, as one ``AlertEvent``, to every subscription with those params.
Subscriptions whose params differ only in the threshold share a group: one record per group holds the
bookkeeping (watermark, start, expiry), one small state per distinct threshold holds (status, count,
since), and a state is written back only when it changed. A threshold new to a group that already watches
starts from the state the history implies at the group's watermark and hears of the bars the group has
not evaluated yet (a lone first ``evaluate`` is quiet); an intraday threshold announces an open bar's
event once, not once per newcomer. ``tests/test_alerts_evaluator.py`` checks by hypothesis that this
equals running ``evaluate`` per subscription.

Everything happens in "signal space" ``x`` where every kind reads ``x >= tau`` (condition) and
``x < tau - band`` (resolve): ``x = value`` for above, ``-value`` for below, ``|change|`` for change_by, and
for new_high a three-valued signal (1 = new high, -1 = within the recovery margin, -inf = resolved).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.alerts.rules import CROSSING_KINDS, Rule, RuleParamError, change_window_days, validate_param

NEW_YORK = ZoneInfo("America/New_York")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Bars of series without an NYSE session (FRED values on weekends) count as closed at this New York time.
_DEFAULT_CLOSE = time(16, 0)

STATUSES = ("inactive", "pending", "firing", "expired")
EVENT_KINDS = ("firing", "resolved", "repeat")


# --- values ----------------------------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class AlertState:
    """What is remembered between ticks, stored as JSON per (rule, scope).

    The state machine: ``status`` (one of STATUSES), ``count`` (consecutive bars the condition has held
    while pending), ``since`` (the bar it fired, or would have for a subscription that found it firing;
    None while not firing, and for a crossing rule's unknown past), ``open_bar``/``emitted`` the open bar
    an intraday rule announced something for, and what.

    Bookkeeping: ``last_bar`` the last closed bar evaluated (the watermark), ``started`` the first bar
    evaluated (a duration expiry counts from it).

    ``evaluate`` keeps both in one state per subscription. ``evaluate_group`` keeps the bookkeeping in a
    record per group (scope ``group:<digest>``, ``status`` "inactive" or "expired") and the state
    machine once per distinct params (scope ``params:<params_key>``).
    """

    status: str = "inactive"
    count: int = 0
    since: date | None = None
    last_bar: date | None = None
    started: date | None = None
    open_bar: date | None = None
    emitted: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown alert status {self.status!r}")

    @property
    def expired(self) -> bool:
        return self.status == "expired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "since": self.since.isoformat() if self.since else None,
            "last_bar": self.last_bar.isoformat() if self.last_bar else None,
            "started": self.started.isoformat() if self.started else None,
            "open_bar": self.open_bar.isoformat() if self.open_bar else None,
            "emitted": list(self.emitted),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        return cls(
            status=str(data.get("status", "inactive")),
            count=int(data.get("count", 0)),
            since=_day(data.get("since")),
            last_bar=_day(data.get("last_bar")),
            started=_day(data.get("started")),
            open_bar=_day(data.get("open_bar")),
            emitted=tuple(str(e) for e in data.get("emitted", ())),
        )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One announcement. ``value`` is the metric at ``bar``; ``threshold`` the subscription's level
    (new_high: the window's high that was beaten); ``reference`` what the value is compared with where
    that is not the threshold (new_high: that high; change_by: the value the move started from)."""

    rule_id: str
    kind: str  # "firing" | "resolved" | "repeat"
    bar: date
    value: float
    threshold: float
    reference: float | None
    params: Mapping[str, Any]  # the subscription's effective params (what a subscription could override)
    params_key: str  # "<digest of the shared params>@<threshold>": stable across processes

    @property
    def key(self) -> str:
        """Idempotency key (rule, params, bar, kind): equal for every rerun, every process, every scope
        with the same params; the outbox adds the chat."""
        return f"{self.rule_id}:{self.params_key}:{self.bar.isoformat()}:{self.kind}"


def _digest(params: Mapping[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


def _params_key(group_digest: str, threshold: float | None) -> str:
    return group_digest if threshold is None else f"{group_digest}@{threshold!r}"


def group_params(rule: Rule) -> dict[str, Any]:
    """An effective rule's params except the threshold: what subscriptions of one group share."""
    params = rule.effective_params()
    params.pop("threshold", None)
    return params


def params_key(rule: Rule) -> str:
    """The digest of an effective rule's params, as used in event keys."""
    return _params_key(
        _digest(group_params(rule)), rule.threshold if "threshold" in rule.overridable else None
    )


# --- the metric, in signal space -------------------------------------------------------------------------


def _sparse_max(a: np.ndarray) -> list[np.ndarray]:
    """levels[j][i] = max(a[i : i + 2**j]) for every i where that slice is whole."""
    levels = [a]
    size = 1
    while 2 * size <= len(a):
        prev = levels[-1]
        levels.append(np.maximum(prev[:-size], prev[size:]))
        size *= 2
    return levels


def _range_max(levels: list[np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(a[lo:hi]) per pair (NaN where the range is empty)."""
    out = np.full(len(lo), np.nan)
    ok = hi > lo
    if ok.any():
        length = (hi - lo)[ok]
        j = np.floor(np.log2(length)).astype(np.int64)
        a_lo, a_hi = lo[ok], hi[ok] - (1 << j)
        vals = np.empty(len(j))
        for level in np.unique(j):
            sel = j == level
            vals[sel] = np.maximum(levels[level][a_lo[sel]], levels[level][a_hi[sel]])
        out[ok] = vals
    return out


@dataclass(frozen=True)
class Signal:
    """A metric history prepared for one effective rule: everything per bar, as numpy arrays."""

    days: np.ndarray  # int64 date ordinals, strictly increasing
    value: np.ndarray  # the metric
    x: np.ndarray  # the signal: condition x >= tau, resolve x < tau - band
    w: np.ndarray  # min of x over the last for_sessions bars (-inf before there are that many)
    reference: np.ndarray | None  # new_high: the window high; change_by: the earlier value (NaN = none)
    sign: float  # tau = sign * threshold
    band: float  # the recovery margin in signal space

    def day(self, position: int) -> date:
        return date.fromordinal(int(self.days[position]))

    def ref(self, position: int) -> float | None:
        if self.reference is None:
            return None
        value = float(self.reference[position])
        return None if np.isnan(value) else value


def _window_high(days: np.ndarray, value: np.ndarray, window: str) -> np.ndarray:
    """The highest value of the window before each bar (the bar excluded); NaN where the window is empty."""
    n = len(value)
    high = np.full(n, np.nan)
    if window.startswith("since:"):
        # Inclusive of the since date: its own value is part of the high every later bar must beat.
        start = int(np.searchsorted(days, date.fromisoformat(window[6:]).toordinal(), side="left"))
        if start < n - 1:
            high[start + 1 :] = np.maximum.accumulate(value[start:])[:-1]
        return high
    if window == "all":
        if n > 1:
            high[1:] = np.maximum.accumulate(value)[:-1]
        return high
    weeks = int(window[:-1])
    lo = np.searchsorted(days, days - 7 * weeks, side="left")
    return _range_max(_sparse_max(value), lo, np.arange(n))


def prepare(rule: Rule, history: pd.Series) -> Signal:
    """The history of ``rule.metric`` (a float Series on a DatetimeIndex of exchange dates) in signal
    space for ``rule`` (an effective rule: params applied). NaN observations are dropped."""
    series = history.dropna()
    index = pd.DatetimeIndex(series.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    days = index.normalize().values.astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL
    value = series.to_numpy(dtype=np.float64, copy=True)
    if len(days) and not (np.diff(days) > 0).all():
        order = np.argsort(days, kind="stable")
        days, value = days[order], value[order]
        keep = np.append(np.diff(days) > 0, True)  # a duplicated date keeps its last value
        days, value = days[keep], value[keep]
    reference: np.ndarray | None = None
    sign, band = 1.0, rule.recovery
    if rule.kind in ("above", "crosses_above"):
        x = value
    elif rule.kind in ("below", "crosses_below"):
        x, sign = -value, -1.0
    elif rule.kind == "change_by":
        back = np.searchsorted(days, days - change_window_days(rule.window or "1d"), side="right") - 1
        reference = np.where(back >= 0, value[np.maximum(back, 0)], np.nan)
        x = np.abs(value - reference)
        x[np.isnan(x)] = -np.inf  # no earlier value: no move, and nothing to resolve
    else:  # new_high
        reference = _window_high(days, value, rule.window or "all")
        with np.errstate(invalid="ignore"):
            resolved = np.isnan(reference) | (value < reference * (1.0 - rule.recovery / 100.0))
            x = np.where(value > reference, 1.0, np.where(resolved, -np.inf, -1.0))
        band = 1.0
    f = rule.for_sessions
    if f == 1:
        w = x
    else:
        w = np.full(len(x), -np.inf)
        if len(x) >= f:
            w[f - 1 :] = np.lib.stride_tricks.sliding_window_view(x, f).min(axis=1)
    return Signal(days, value, x, w, reference, sign, band)


# --- which bars an as-of covers ---------------------------------------------------------------------------


def _close_instant(day: date) -> datetime:
    from bot import calendar  # the NYSE calendar, for early closes; loaded on first use

    try:
        if calendar.is_session(day):
            return calendar.session_close(day)
    except ValueError:  # outside the calendar's years
        pass
    return datetime.combine(day, _DEFAULT_CLOSE, NEW_YORK)


def _cover(days: np.ndarray, asof: date | datetime, intraday: bool) -> tuple[int, int | None, int]:
    """(number of closed bars at ``asof``, position of the open bar for an intraday rule, as-of date).

    A ``date`` as-of means "after that day's close". A ``datetime`` (timezone-aware) counts a bar dated
    on its New York date as closed only from that session's close on; later-dated bars are ignored.
    """
    if isinstance(asof, datetime):
        if asof.tzinfo is None:
            raise ValueError("asof must be timezone-aware")
        today = asof.astimezone(NEW_YORK).date()
        before = int(np.searchsorted(days, today.toordinal(), side="left"))
        if before < len(days) and days[before] == today.toordinal():
            if asof >= _close_instant(today):
                return before + 1, None, today.toordinal()
            return before, (before if intraday else None), today.toordinal()
        return before, None, today.toordinal()
    return int(np.searchsorted(days, asof.toordinal(), side="right")), None, asof.toordinal()


def _expiry(rule: Rule, started: date | None) -> int | None:
    """Ordinal of the last date the rule may fire, or None."""
    if rule.expires is None:
        return None
    if isinstance(rule.expires, timedelta):
        return None if started is None else (started + rule.expires).toordinal()
    return rule.expires.toordinal()


@dataclass(frozen=True)
class _Plan:
    """The positions one tick evaluates, and the bookkeeping it leaves behind."""

    closed: list[int]  # closed bars to commit, in order
    quiet: bool  # a first evaluation: the closed bars only set the state, they announce nothing
    open: int | None  # intraday: the open bar, evaluated provisionally
    started: date | None
    expired: bool


def _plan(rule: Rule, sig: Signal, state: AlertState | None, asof: date | datetime) -> _Plan | None:
    if state is not None and state.expired:
        return None
    closed_end, open_pos, today = _cover(sig.days, asof, rule.evaluate_on == "intraday")
    last_bar = state.last_bar if state is not None else None
    fresh = last_bar is None
    if last_bar is None:
        closed = [closed_end - 1] if closed_end > 0 else []  # a new watch starts at the latest bar
    else:
        closed = list(range(int(np.searchsorted(sig.days, last_bar.toordinal(), side="right")), closed_end))
    first = closed[0] if closed else open_pos
    started = (
        state.started
        if state is not None and state.started
        else (sig.day(first) if first is not None else None)
    )
    last = _expiry(rule, started)
    if last is not None:
        closed = [p for p in closed if sig.days[p] <= last]
        if open_pos is not None and sig.days[open_pos] > last:
            open_pos = None
    return _Plan(closed, fresh, open_pos, started, last is not None and today > last)


# --- the state machine -------------------------------------------------------------------------------------


def _tau(rule: Rule, sig: Signal, threshold: float) -> float:
    """A threshold in signal space (new_high's signal has its own level, 0)."""
    return sig.sign * threshold if rule.has_threshold else 0.0


def implied_state(rule: Rule, sig: Signal, threshold: float, position: int) -> AlertState:
    """The state after bar ``position`` of a rule that watched the whole history silently (bookkeeping
    fields unset). ``position`` -1 is the state before the first bar."""
    tau, band = _tau(rule, sig, threshold), sig.band
    x, w = sig.x[: position + 1], sig.w[: position + 1]
    clears = np.flatnonzero(x < tau - band)
    completions = np.flatnonzero(w >= tau)
    last_clear = int(clears[-1]) if len(clears) else -1
    unarmed = rule.kind in CROSSING_KINDS and last_clear == -1
    if unarmed or (len(completions) and completions[-1] > last_clear):
        since = None if unarmed else sig.day(int(completions[completions > last_clear][0]))
        return AlertState("firing", 0, since)
    below = np.flatnonzero(x < tau)
    count = position - (int(below[-1]) if len(below) else -1)
    return AlertState("pending" if count > 0 else "inactive", count)


def advance(
    rule: Rule, sig: Signal, threshold: float, state: AlertState, p: int
) -> tuple[AlertState, str | None]:
    """The state machine on bar ``p``: the next (status, count, since) and the event it announces. A state
    that does not change is returned as it is (the same object)."""
    x = sig.x[p]
    tau = _tau(rule, sig, threshold)
    if state.status == "firing":
        if x < tau - sig.band:
            # since=None: a crossing rule's unknown past, never announced, so nothing to resolve aloud.
            notice = "resolved" if rule.notify_resolved and state.since is not None else None
            return replace(state, status="inactive", count=0, since=None), notice
        if rule.cooldown is not None and state.since is not None and p > 0:
            every = rule.cooldown.days
            start = state.since.toordinal()
            # A fixed cadence from the firing bar: the first bar of each cooldown period repeats it.
            if (int(sig.days[p]) - start) // every > (int(sig.days[p - 1]) - start) // every:
                return state, "repeat"
        return state, None
    if x >= tau:
        count = state.count + 1
        if count >= rule.for_sessions:
            return replace(state, status="firing", count=0, since=sig.day(p)), "firing"
        return replace(state, status="pending", count=count), None
    if state.status == "inactive" and state.count == 0:
        return state, None
    return replace(state, status="inactive", count=0), None


def _step(
    rule: Rule, sig: Signal, plan: _Plan, threshold: float, state: AlertState
) -> tuple[AlertState, list[tuple[int, str]]]:
    """One threshold's state through the bars of ``plan``: (the new state, the (bar position, kind) of
    each event it announces). The state is returned as it is (the same object) when nothing changed.

    An intraday rule's open bar is evaluated, never committed: ``open_bar``/``emitted`` remember what was
    announced for it, so the same kind is not announced again on a later tick, nor once the bar closes.
    They are kept only while something was announced for the open bar.
    """
    current, said = state, []
    open_bar, emitted = state.open_bar, state.emitted
    for p in plan.closed:
        current, kind = advance(rule, sig, threshold, current, p)
        same = open_bar is not None and sig.day(p) == open_bar
        if kind is not None and not plan.quiet and not (same and kind in emitted):
            said.append((p, kind))
        if same:
            open_bar, emitted = None, ()
    if plan.open is not None:
        day = sig.day(plan.open)
        if day != open_bar:
            open_bar, emitted = None, ()
        _, kind = advance(rule, sig, threshold, current, plan.open)
        if kind is not None and kind not in emitted:
            said.append((plan.open, kind))
            open_bar, emitted = day, (*emitted, kind)
    if open_bar != current.open_bar or emitted != current.emitted:
        current = replace(current, open_bar=open_bar, emitted=emitted)
    return current, said


def _event(
    rule: Rule, sig: Signal, p: int, kind: str, threshold: float, params: Mapping[str, Any], key: str
) -> AlertEvent:
    reference = sig.ref(p)
    level = reference if rule.kind == "new_high" and reference is not None else threshold
    return AlertEvent(rule.id, kind, sig.day(p), float(sig.value[p]), level, reference, params, key)


def _first(plan: _Plan) -> int | None:
    """The first bar a plan looks at, None when there is nothing new."""
    return plan.closed[0] if plan.closed else plan.open


def _last_bar(state: AlertState | None, sig: Signal, plan: _Plan) -> date | None:
    """The watermark after ``plan``: its last closed bar, else the one before."""
    return sig.day(plan.closed[-1]) if plan.closed else (state.last_bar if state else None)


# --- one subscription -----------------------------------------------------------------------------------


def evaluate(
    rule: Rule,
    params: Mapping[str, Any],
    history: pd.Series,
    state: AlertState | None,
    asof: date | datetime,
) -> tuple[AlertState, list[AlertEvent]]:
    """One subscription, one tick: step every bar closed since ``state.last_bar`` up to ``asof``, plus the
    open bar for an intraday rule. A new subscription (``state=None``) starts quietly at the latest closed
    bar, in the state implied by the history. Returns the new state and the events, oldest first; an
    expired subscription returns a state whose status is "expired" and no events.

    Raises RuleParamError for params the rule does not accept.
    """
    eff = rule.with_params(params)
    sig = prepare(eff, history)
    plan = _plan(eff, sig, state, asof)
    if plan is None:
        return state or AlertState(status="expired"), []
    first = _first(plan)
    if first is None:  # nothing new to look at
        return (replace(state or AlertState(), status="expired") if plan.expired else state or AlertState()), []
    current = state
    if current is None or current.last_bar is None:
        implied = implied_state(eff, sig, eff.threshold, first - 1)
        current = implied if current is None else replace(implied, open_bar=current.open_bar, emitted=current.emitted)
    current, said = _step(eff, sig, plan, eff.threshold, current)
    event_params, key = eff.effective_params(), params_key(eff)
    events = [_event(eff, sig, p, kind, eff.threshold, event_params, key) for p, kind in said]
    current = replace(current, last_bar=_last_bar(state, sig, plan), started=plan.started)
    if plan.expired:
        current = replace(current, status="expired", count=0, since=None)
    return current, events


# --- many subscriptions: once per distinct params, events fanned out ----------------------------------------


Scope = str | int
"""A subscription's key in an index and in the events: any string, or an int (the watcher's chat ids)."""

PARAMS_SCOPE = "params:"
"""The prefix of a distinct params' state in the state mapping (``"params:" + params_key``)."""


@dataclass(frozen=True)
class SubscriptionGroup:
    """Subscriptions of one rule whose params agree except for the threshold: the distinct thresholds, in
    ascending order, and the subscriptions that chose each."""

    scope: str  # the scope of the group's record (its watermark) in the state mapping: "group:<digest>"
    digest: str
    rule: Rule  # the effective rule (its threshold is the first member's; members carry their own)
    params: Mapping[str, Any]  # the shared params (JSON-ready)
    thresholds: tuple[float, ...]  # distinct, ascending
    keys: tuple[str, ...]  # per threshold: the scope of its state, "params:<params_key>"
    bounds: tuple[int, ...]  # threshold i's members are scopes[bounds[i] : bounds[i + 1]]
    # The members' scope keys, by threshold: an int64 array when every key is an int (a chat id: 8 bytes
    # each instead of an object), else a tuple.
    scopes: tuple[Scope, ...] | np.ndarray

    def members(self, i: int) -> list[Scope]:
        """The scope keys of the subscriptions with threshold ``i``, as given to the index (ints as ints)."""
        chunk = self.scopes[self.bounds[i] : self.bounds[i + 1]]
        return chunk.tolist() if isinstance(chunk, np.ndarray) else list(chunk)


@dataclass(frozen=True)
class SubscriptionIndex:
    """All subscriptions of one rule, grouped by params for ``evaluate_group``.

    Building it is O(n log n); keep it between ticks and rebuild it when subscriptions change. It keeps
    what evaluation needs (per group: distinct thresholds and scope keys), not the subscriptions
    themselves. ``invalid`` lists subscriptions whose stored params the rule rejects, with the error;
    they are left out instead of stopping everyone's alerts. ``len()`` counts every subscription indexed,
    valid or not.
    """

    rule: Rule
    groups: tuple[SubscriptionGroup, ...]
    invalid: tuple[tuple[Scope, RuleParamError], ...] = ()
    size: int = 0

    def __len__(self) -> int:
        return self.size

    def group(self, scope: str) -> SubscriptionGroup | None:
        return next((g for g in self.groups if g.scope == scope), None)


_NO_PARAMS: Mapping[str, Any] = {}


class SubscriptionIndexBuilder:
    """Builds a ``SubscriptionIndex`` from subscriptions added a batch at a time (``add``, then ``build``),
    so the subscriptions need never all be in memory at once: per subscription it keeps a threshold
    and its scope key (8 bytes each when the keys are ints)."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self._thresholded = "threshold" in rule.overridable
        # group digest -> (effective rule, thresholds, scopes: an int64 array while every key is an int)
        self._groups: dict[str, tuple[Rule, array[float], array[int] | list[Scope]]] = {}
        # the params other than the threshold, as a hashable marker -> (effective rule, group digest)
        self._rest: dict[tuple[tuple[str, str], ...], tuple[Rule, str]] = {}
        self._invalid: list[tuple[Scope, RuleParamError]] = []
        self._size = 0

    def add(self, subs: Iterable[tuple[Scope, Mapping[str, Any]]]) -> None:
        """Add (scope key, params) pairs; a scope must not be added twice."""
        rule, thresholded, rest_rules, groups = self.rule, self._thresholded, self._rest, self._groups
        for scope, params in subs:
            self._size += 1
            try:
                if thresholded and len(params) == 1 and "threshold" in params:
                    rest: Mapping[str, Any] = _NO_PARAMS  # the common case: only a threshold
                    marker: tuple[tuple[str, str], ...] = ()
                else:
                    rest = {k: v for k, v in params.items() if k != "threshold"} if thresholded else params
                    marker = tuple(sorted((k, repr(v)) for k, v in rest.items()))
                known = rest_rules.get(marker)
                if known is None:
                    eff = rule.with_params(rest)
                    known = rest_rules[marker] = (eff, _digest(group_params(eff)))
                eff, digest = known
                threshold = eff.threshold
                if thresholded and "threshold" in params:
                    threshold = validate_param(eff, "threshold", params["threshold"])
            except RuleParamError as exc:
                self._invalid.append((scope, exc))
                continue
            entry = groups.get(digest)
            if entry is None:
                entry = groups[digest] = (eff, array("d"), array("q"))
            entry[1].append(threshold)
            scopes = entry[2]
            if isinstance(scopes, array):
                if type(scope) is int and -(2**63) <= scope < 2**63:
                    scopes.append(scope)
                    continue
                scopes = list(scopes)
                groups[digest] = (eff, entry[1], scopes)
            scopes.append(scope)

    def build(self) -> SubscriptionIndex:
        """The index of everything added so far (the builder can take more and build again)."""
        groups = []
        for digest, (eff, thresholds, scopes) in self._groups.items():
            values = np.array(thresholds, dtype=np.float64)
            order = np.argsort(values, kind="stable")
            distinct, starts = np.unique(values[order], return_index=True)
            keyed = distinct.tolist() if self._thresholded else [None] * len(distinct)
            groups.append(
                SubscriptionGroup(
                    "group:" + digest,
                    digest,
                    eff,
                    group_params(eff),
                    tuple(distinct.tolist()),
                    tuple(PARAMS_SCOPE + _params_key(digest, t) for t in keyed),
                    (*starts.tolist(), len(values)),
                    np.frombuffer(scopes, dtype=np.int64)[order]
                    if isinstance(scopes, array)
                    else tuple(scopes[i] for i in order.tolist()),
                )
            )
        return SubscriptionIndex(self.rule, tuple(groups), tuple(self._invalid), self._size)


def index_subscriptions(
    rule: Rule, subs: Iterable[tuple[Scope, Mapping[str, Any]]] | SubscriptionIndex
) -> SubscriptionIndex:
    """Group ``subs`` (scope key, params) by everything but the threshold, and within a group by threshold.

    An index of ``rule`` is returned as it is; an index of another rule cannot be regrouped (it no longer
    holds the params), so that is an error.
    """
    if isinstance(subs, SubscriptionIndex):
        if subs.rule != rule:
            raise ValueError(
                f"an index of {subs.rule.id} cannot be used for another rule ({rule.id});"
                " index the subscriptions again"
            )
        return subs
    builder = SubscriptionIndexBuilder(rule)
    builder.add(subs)
    return builder.build()


def evaluate_group(
    rule: Rule,
    subs: Iterable[tuple[Scope, Mapping[str, Any]]] | SubscriptionIndex,
    history: pd.Series,
    states: Mapping[str, AlertState],
    asof: date | datetime,
) -> tuple[dict[str, AlertState], dict[Scope, list[AlertEvent]]]:
    """Every subscription of ``rule`` in one tick: ``subs`` are (scope key, params) pairs, best a
    ``SubscriptionIndex`` kept between ticks. The state machine runs once per distinct params and each
    event it announces goes, as one ``AlertEvent``, to every subscription with those params.

    ``states`` holds, per group (the params but the threshold), its record "group:<digest>" (the
    watermark, start and expiry) and per distinct params its state "params:<params_key>". Returns (the
    states that changed, events per subscription scope key as given, oldest first).
    """
    index = index_subscriptions(rule, subs)
    changed: dict[str, AlertState] = {}
    events: dict[Scope, list[AlertEvent]] = {}
    signals: dict[tuple[Any, ...], Signal] = {}
    for group in index.groups:
        eff = group.rule
        shape = (eff.kind, eff.window, eff.for_sessions, eff.recovery if eff.kind == "new_high" else None)
        sig = signals.get(shape)
        if sig is None:
            sig = signals[shape] = prepare(eff, history)
        record = states.get(group.scope)
        plan = _plan(eff, sig, record, asof)
        if plan is None:
            continue
        first = _first(plan)
        if first is None:
            if plan.expired:
                changed[group.scope] = replace(record or AlertState(), status="expired")
            continue
        # A threshold new to a watched group starts from the state the history implies at its watermark,
        # as does every threshold before the group's first closed bar (keeping what it announced for an
        # open bar), as in ``evaluate``.
        watched = record is not None and record.last_bar is not None
        thresholded = "threshold" in eff.overridable
        for i, (threshold, key) in enumerate(zip(group.thresholds, group.keys, strict=True)):
            stored = states.get(key)
            state = stored
            if state is None or not watched:
                state = implied_state(eff, sig, threshold, first - 1)
                if stored is not None:
                    state = replace(state, open_bar=stored.open_bar, emitted=stored.emitted)
            new, said = _step(eff, sig, plan, threshold, state)
            if new is not stored:
                changed[key] = new
            if not said:
                continue
            params = {**group.params, "threshold": threshold} if thresholded else group.params
            members = group.members(i)
            for p, kind in said:
                event = _event(eff, sig, p, kind, threshold, params, key[len(PARAMS_SCOPE) :])
                for scope in members:
                    events.setdefault(scope, []).append(event)
        status = "expired" if plan.expired else "inactive"
        new_record = AlertState(status, last_bar=_last_bar(record, sig, plan), started=plan.started)
        if new_record != record:
            changed[group.scope] = new_record
    return changed, events
