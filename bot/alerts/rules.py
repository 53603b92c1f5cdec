"""Alert rules as data: what each built-in rule watches, its defaults, and what a subscription may change.

A rule is a frozen value in the manner of a Prometheus alerting rule: the metric series it reads (a name
the watch job resolves, see bot/alerts/series.py), the kind of condition, a threshold, a recovery margin
(hysteresis), how many sessions the condition must hold (``for_sessions``), when it is evaluated
(``close`` or ``intraday``), an optional repeat cooldown and expiry, whether a resolved notice is sent, and
the msgids its messages are rendered from. Nothing here evaluates anything (bot/alerts/evaluator.py does).

Kinds, with ``t`` the threshold and ``r`` the recovery:

- ``above`` / ``below``: a level. Holds while ``value >= t`` (``<= t``); resolves once ``value < t - r``
  (``> t + r``). Before the first bar of the history the condition counts as false.
- ``crosses_above`` / ``crosses_below``: the same band, but a crossing needs the value to have been on the
  other side first: at the start of the history the value is taken to be past the line already, so
  nothing fires until it has gone back past the recovery line and crossed again.
- ``new_high``: the value closes strictly above the highest value of its ``window`` (``all``, ``Nw`` or
  ``since:YYYY-MM-DD``, the bar itself excluded); resolves once it is ``r`` percent below that high.
- ``change_by``: ``|value - value window ago| >= t`` with ``window`` ``Nd``/``Nw`` (the value of the last
  bar on or before the bar's date minus the window); resolves once the move is below ``t - r``.

A subscription stores only the parameters it overrides (``params``, JSON). ``parse_params`` turns a user's
words into them and ``validate_params`` checks stored ones; both raise ``RuleParamError`` carrying the
rule's usage msgid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from bot.errors import UsageError
from bot.i18n import N_

KINDS = ("crosses_above", "crosses_below", "above", "below", "new_high", "change_by")
EVALUATE_ON = ("close", "intraday")
THRESHOLD_KINDS = ("crosses_above", "crosses_below", "above", "below", "change_by")
CROSSING_KINDS = ("crosses_above", "crosses_below")

# Parameters every subscription may set, whatever its rule: an end date and resolved notices.
COMMON_PARAMS = ("expires", "notify_resolved")


class RuleParamError(UsageError, ValueError):
    """A subscription parameter that does not parse or is out of range.

    ``msgid`` is the rule's usage line; ``params`` may name the offending argument (``arg``) for logs.
    It is a ``UsageError``, so an uncaught one reaches the user as that usage line.
    """


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a subscription may override, in the order ``parse_params`` reads arguments.

    ``type``: ``number`` (a float, "75", "7.5", "5%"), ``int`` ("3"), ``high_window`` ("52w", "all",
    "since:YYYY-MM-DD" or a bare date), ``change_window`` ("1d", "1w"), ``date`` (YYYY-MM-DD).
    ``low``/``high`` bound numbers and counts, and a ``change_window``'s length in days.
    """

    name: str
    type: str
    low: float | None = None
    high: float | None = None


# The resolved notice of every rule that does not word its own.
RESOLVED_MSGID = N_("✅ Resolved ({date}): {title}")


@dataclass(frozen=True)
class Rule:
    """An alert rule. ``threshold``/``recovery`` are in the metric's unit (new_high: recovery in %)."""  # noqa: E501 (a msgid is one line)

    id: str
    metric: str  # a series the watch job provides: rut_close, pe_gap, cut_prob_next, ...
    kind: str  # one of KINDS
    threshold: float = 0.0
    recovery: float = 0.0  # hysteresis: resolves only past threshold ∓ recovery
    for_sessions: int = 1  # the condition must hold this many consecutive bars before it fires
    evaluate_on: str = (
        "close"  # "close": closed bars only; "intraday": the open bar too, at most once per kind
    )
    window: str | None = None  # new_high: "all" | "Nw" | "since:YYYY-MM-DD"; change_by: "Nd" | "Nw"
    cooldown: timedelta | None = None  # while firing, repeat once per cooldown (whole days); None = never
    expires: date | timedelta | None = (
        None  # last date it may fire; a duration counts from the first bar seen
    )
    notify_resolved: bool = False  # send a notice when a firing alert resolves (opt-in)
    # The alert message (firing and repeat) and the resolved notice, rendered by bot/render/alerts.py with
    # {value} (the metric at the bar), {date}, {threshold}, {reference} (what the value is compared with:
    # the beaten high, the value a move started from), {change} (value − reference) and {title}, each
    # formatted in the metric's unit (bot/alerts/series.py).
    msgid: str = ""
    resolved_msgid: str = RESOLVED_MSGID  # the resolved notice
    title: str = ""  # what the rule is, for /alerts
    usage: str = ""  # how to subscribe; every RuleParamError of this rule carries it
    params: tuple[ParamSpec, ...] = ()  # what a subscription may override, in argument order

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"rule {self.id}: unknown kind {self.kind!r}")
        if self.evaluate_on not in EVALUATE_ON:
            raise ValueError(f"rule {self.id}: evaluate_on must be one of {EVALUATE_ON}")
        if self.for_sessions < 1 or self.recovery < 0:
            raise ValueError(f"rule {self.id}: for_sessions >= 1 and recovery >= 0")
        if self.cooldown is not None and (self.cooldown.days < 1 or self.cooldown % timedelta(days=1)):
            raise ValueError(f"rule {self.id}: cooldown is a whole number of days")
        if self.kind == "new_high":
            high_window(self.window or "all")
        elif self.kind == "change_by":
            change_window_days(self.window or "1d")

    @property
    def overridable(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params) + COMMON_PARAMS

    @property
    def has_threshold(self) -> bool:
        """True when subscriptions of this rule differ by a threshold (they are indexed by it)."""
        return self.kind in THRESHOLD_KINDS

    def with_params(self, params: Mapping[str, Any]) -> Rule:
        """This rule with a subscription's (validated) parameters applied."""
        clean = validate_params(self, params)
        return replace(self, **clean) if clean else self

    def effective_params(self) -> dict[str, Any]:
        """The values of everything a subscription could override, JSON-ready: what identifies the alert."""
        out: dict[str, Any] = {}
        for name in self.overridable:
            value = getattr(self, name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, timedelta):
                value = f"{value.days}d"
            out[name] = value
        return out


# --- parsing and validation ---------------------------------------------------------------------------

# Shapes a user's word must have before it is converted: bounded lengths (int() refuses more than 4,300
# digits with a ValueError) and ASCII digits only (str.isdigit() accepts "²", which int() does not).
_NUMBER = re.compile(r"^[+-]?(\d{1,9}(\.\d{0,9})?|\.\d{1,9})%?$", re.ASCII)
_INT = re.compile(r"^\d{1,6}$", re.ASCII)
_WEEKS = re.compile(r"^(\d{1,3})w$", re.ASCII)
_PERIOD = re.compile(r"^(\d{1,3})([dw])$", re.ASCII)


def high_window(text: str) -> str:
    """Canonical new-high window: "all", "Nw" (1–520 weeks) or "since:YYYY-MM-DD"; ValueError otherwise."""
    low = text.strip().lower()
    if low == "all":
        return low
    match = _WEEKS.match(low)
    if match:
        if not 1 <= int(match.group(1)) <= 520:
            raise ValueError(f"window out of range: {text!r}")
        return f"{int(match.group(1))}w"
    day = low.removeprefix("since:")
    return "since:" + date.fromisoformat(day).isoformat()


def change_window_days(text: str) -> int:
    """Length in days of a change window "Nd" / "Nw"; ValueError otherwise."""
    match = _PERIOD.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a period: {text!r}")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _canonical_change_window(text: str) -> str:
    days = change_window_days(text)
    return f"{days // 7}w" if days % 7 == 0 else f"{days}d"


def _bad(rule: Rule, arg: object) -> RuleParamError:
    return RuleParamError(rule.usage, arg=str(arg))


def _check_range(rule: Rule, spec: ParamSpec, value: float, arg: object) -> None:
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        raise _bad(rule, arg)


def _coerce(rule: Rule, spec: ParamSpec, value: Any) -> Any:
    """A stored or typed value of ``spec`` -> its canonical form; RuleParamError when wrong."""
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise _bad(rule, value)
        number = float(value)
        _check_range(rule, spec, number, value)
        return number
    if spec.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            raise _bad(rule, value)
        count = int(value)
        _check_range(rule, spec, count, value)
        return count
    if not isinstance(value, str):
        raise _bad(rule, value)
    try:
        if spec.type == "high_window":
            return high_window(value)
        if spec.type == "change_window":
            _check_range(rule, spec, change_window_days(value), value)
            return _canonical_change_window(value)
        if spec.type == "date":
            return date.fromisoformat(value)
    except ValueError:
        raise _bad(rule, value) from None
    raise ValueError(f"rule {rule.id}: unknown parameter type {spec.type!r}")


_EXPIRES = ParamSpec("expires", "date")


def validate_param(rule: Rule, name: str, value: Any) -> Any:
    """One stored parameter -> its Rule field value (``validate_params`` for a single key, without
    building a dict: the subscription index checks 100k thresholds with it)."""
    for spec in rule.params:
        if spec.name == name:
            return _coerce(rule, spec, value)
    return validate_params(rule, {name: value})[name]


def validate_params(rule: Rule, params: Mapping[str, Any]) -> dict[str, Any]:
    """Stored subscription params -> Rule field values (typed, in range); RuleParamError when not.

    Keys a rule does not let subscriptions override are errors too, so a typo never silently means
    "default".
    """
    if not params:
        return {}
    specs = {p.name: p for p in rule.params}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in specs:
            out[name] = _coerce(rule, specs[name], value)
        elif name == "expires":
            out[name] = None if value is None else _coerce(rule, _EXPIRES, value)
        elif name == "notify_resolved":
            if not isinstance(value, bool):
                raise _bad(rule, value)
            out[name] = value
        else:
            raise _bad(rule, name)
    return out


def _parse_word(rule: Rule, spec: ParamSpec, word: str) -> Any:
    try:
        if spec.type in ("number", "int"):
            if not _NUMBER.match(word) or (spec.type == "int" and not _INT.match(word)):
                raise _bad(rule, word)
            return _coerce(rule, spec, float(word.rstrip("%")) if spec.type == "number" else int(word))
        return _coerce(rule, spec, word)
    except RuleParamError:
        raise _bad(rule, word) from None


def parse_params(rule: Rule | str, args: Sequence[str]) -> dict[str, Any]:
    """A user's words after ``/subscribe RULE`` -> the subscription's params (JSON-ready).

    Positional words fill the rule's ``params`` in order ("75", "5%", "52w", "since:2021-11-08", "1w");
    anywhere among them ``until:YYYY-MM-DD`` sets an end date and ``resolved`` asks for resolved notices.
    Raises RuleParamError (the rule's usage msgid) for a word that does not parse, is out of range, or
    is one too many.
    """
    if isinstance(rule, str):
        rule = RULES[rule]
    out: dict[str, Any] = {}
    position = 0
    for raw in args:
        word = raw.strip()
        if not word:
            continue
        low = word.lower()
        if low.startswith("until:"):
            if "expires" in out:
                raise _bad(rule, word)
            out["expires"] = _coerce(rule, _EXPIRES, low[6:]).isoformat()
        elif low == "resolved":
            out["notify_resolved"] = True
        elif position < len(rule.params):
            spec = rule.params[position]
            out[spec.name] = _parse_word(rule, spec, word)
            position += 1
        else:
            raise _bad(rule, word)
    return out


# --- the built-in rules --------------------------------------------------------------------------------

# The Russell 2000's record close of 2021-11-08 (2442.74). "Since" includes that day: the window's high
# is the record itself, so the first close above it (2467.70 on 2025-09-18) fires, and no close before
# the record date can (their window is empty). 2024-11-25 closed at 2442.03, just below: no alert.
R2K_RECORD_2021 = "since:2021-11-08"

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "r2k_high",
            "rut_close",
            "new_high",
            window=R2K_RECORD_2021,
            # A run of record closes is one alert; a new one needs a 3 % pull-back from the high first.
            recovery=3.0,
            params=(ParamSpec("window", "high_window"),),
            msgid=N_(
                "🏁 <b>Russell 2000 new high</b>: closed at {value} on {date}, above the highest close of the window ({reference})."  # noqa: E501 (a msgid is one line)
            ),
            title=N_("Russell 2000 closes at a new high"),
            usage=N_(
                "Usage: /subscribe r2k_high [52w | all | since:YYYY-MM-DD] — default: above every close since the 2021 record"  # noqa: E501 (a msgid is one line)
            ),
        ),
        Rule(
            "pe_gap",
            "pe_gap",
            "above",
            threshold=8.0,
            recovery=0.5,
            for_sessions=3,
            params=(ParamSpec("threshold", "number", 0.5, 50.0), ParamSpec("for_sessions", "int", 1, 60)),
            msgid=N_(
                "📊 <b>P/E gap</b> S&amp;P 500 − S&amp;P 600 is {value} turns on {date} (your level {threshold})."  # noqa: E501 (a msgid is one line)
            ),
            title=N_("S&P 500 minus S&P 600 P/E gap at or above a level"),
            usage=N_(
                "Usage: /subscribe pe_gap N [M] — gap ≥ N turns for M sessions (default 8 turns, 3 sessions)"
            ),
        ),
        Rule(
            "cut_odds",
            "cut_prob_next",
            "crosses_above",
            threshold=75.0,
            recovery=5.0,
            params=(ParamSpec("threshold", "number", 1.0, 99.0),),
            msgid=N_(
                "🏦 <b>Cut odds</b> for the next FOMC meeting reached {value} on {date} (your level {threshold})."  # noqa: E501 (a msgid is one line)
            ),
            title=N_("Next FOMC meeting: cut odds cross a level"),
            usage=N_(
                "Usage: /subscribe cut_odds X — the next meeting's cut probability reaches X% (1–99, default 75; ±5 pp hysteresis)"  # noqa: E501 (a msgid is one line)
            ),
        ),
        Rule(
            "cut_odds_move",
            "cut_prob_next",
            "change_by",
            threshold=10.0,
            window="1d",
            params=(ParamSpec("threshold", "number", 1.0, 100.0), ParamSpec("window", "change_window", 1, 7)),
            msgid=N_("🏦 <b>Cut odds moved</b> {change} to {value} on {date}."),
            title=N_("Next FOMC meeting: cut odds move sharply"),
            usage=N_(
                "Usage: /subscribe cut_odds_move N [1d|1w] — cut odds move by N pp or more in a day or a week (default 10, 1d)"  # noqa: E501 (a msgid is one line)
            ),
        ),
        Rule(
            # FRED's DFEDTARU has a value every calendar day and steps on the effective date (the day
            # after the announcement), so "1d" compares each day with the one before: one bar per change.
            "fed_decision",
            "fed_target_upper",
            "change_by",
            threshold=0.01,
            window="1d",
            msgid=N_(
                "🏦 <b>The Fed changed its target</b>: upper bound {reference} → {value} (effective {date})."
            ),
            title=N_("The Fed changed its target range"),
            usage=N_("Usage: /subscribe fed_decision"),
        ),
        Rule(
            "r2k_drawdown",
            "rut_drawdown",
            "above",
            threshold=10.0,
            recovery=2.0,
            params=(ParamSpec("threshold", "number", 1.0, 90.0),),
            msgid=N_(
                "📉 <b>Russell 2000</b> closed {value} below its record on {date} (your level {threshold})."
            ),
            title=N_("Russell 2000 falls a given % below its record close"),
            usage=N_("Usage: /subscribe r2k_drawdown X — X% below the record close (1–90, default 10)"),
        ),
        Rule(
            # R2K − NDX YTD return (pp) crossing zero either way: firing = R2K pulled ahead, resolved = it
            # fell behind again, so resolved notices are on. A ±0.25 pp band keeps a day hovering at zero
            # from flapping.
            "spread_flip",
            "spread_ytd_ndx",
            "crosses_above",
            threshold=0.25,
            recovery=0.5,
            notify_resolved=True,
            msgid=N_("🔁 <b>Russell 2000 overtook the Nasdaq-100</b> year to date: {value} on {date}."),
            resolved_msgid=N_(
                "🔁 <b>Russell 2000 fell behind the Nasdaq-100</b> year to date: {value} on {date}."
            ),
            title=N_("Russell 2000 overtakes (or falls behind) the Nasdaq-100 year to date"),
            usage=N_("Usage: /subscribe spread_flip"),
        ),
        Rule(
            # |market − Fed| in bp at the first year end the futures price ahead of the strip's date: the
            # current year until its last FOMC meeting, the next year from that meeting on (the year the
            # SEP's first median is about). Holds while the SEP is stale (a newer one is out) like every
            # rule on stale inputs. Resolves 10 bp under the level, so a gap hovering there is one alert.
            "fed_path_gap",
            "fed_path_gap",
            "above",
            threshold=50.0,
            recovery=10.0,
            params=(ParamSpec("threshold", "number", 5.0, 500.0),),
            msgid=N_(
                "🏦 <b>Market vs Fed path</b>: on {date} the futures price the rate at the coming year end {value} away from the Fed's SEP median (your level {threshold})."  # noqa: E501 (a msgid is one line)
            ),
            resolved_msgid=N_(
                "✅ <b>Market vs Fed path</b>: on {date} the futures price the coming year end {value} from the Fed's SEP median, back under your level."  # noqa: E501 (a msgid is one line)
            ),
            title=N_("Futures rate path vs the Fed's SEP median: the gap at the coming year end beyond a level"),
            usage=N_(
                "Usage: /subscribe fed_path_gap N — the futures-implied rate at the coming year end (this year's until its last FOMC meeting, then next year's) differs from the Fed's SEP median by N bp or more (5–500, default 50; resolves 10 bp under)"  # noqa: E501 (a msgid is one line)
            ),
        ),
    )
}
