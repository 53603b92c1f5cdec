"""Alert rules as data: what each built-in rule watches, its defaults, and what a chat may override.

A rule is a small frozen value (the idea of Prometheus' alerting rules, applied to the small-cap
thesis): the metric series it reads, the kind of condition, a threshold, a recovery margin for
hysteresis, how many sessions the condition must hold, a cooldown against repeats, and the msgid of its
message. A subscription overrides a few parameters (its threshold, a window); ``parse_params`` turns a
user's words into them or raises ``RuleParamError`` with a usage msgid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.render.i18n import N_

KINDS = ("above", "below", "new_high", "change_by", "crosses_zero")


class RuleParamError(ValueError):
    """A subscription argument that does not parse; ``msgid`` is the rule's usage line."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(msgid)


@dataclass(frozen=True)
class Rule:
    id: str
    metric: str  # a series built by bot/alerts/series.py
    kind: str  # above | below (level rules, with hysteresis) | new_high | change_by | crosses_zero (events)
    threshold: float = 0.0
    recovery: float = 0.0  # a level rule resolves only past threshold ∓ recovery
    for_sessions: int = 1  # the condition must hold this many consecutive sessions
    window: str | None = None  # new_high: "52w" | "all" | "since:YYYY-MM-DD"; change_by: "1d" | "1w"
    cooldown_days: int = 0  # after a firing, no new firing of this rule for the chat within this many days
    repeat_days: int = 0  # while firing, announce again every this many days (0 = once)
    notify_resolved: bool = False
    expires: date | None = None
    depends_on: tuple[str, ...] = ()  # history series: when one is stale the rule holds
    title: str = ""  # msgid: what the rule is, for /alerts
    usage: str = ""  # msgid: how to subscribe
    overridable: tuple[str, ...] = ()  # params a subscription may set

    def with_params(self, params: Mapping[str, Any]) -> Rule:
        """This rule with a subscription's parameters applied."""
        changes: dict[str, Any] = {}
        for key, value in params.items():
            if key == "expires" and value:
                changes["expires"] = date.fromisoformat(str(value))
            elif key in ("threshold", "recovery"):
                changes[key] = float(value)
            elif key in ("for_sessions", "cooldown_days", "repeat_days"):
                changes[key] = int(value)
            elif key in ("window", "notify_resolved"):
                changes[key] = value
        return replace(self, **changes)


R2K_RECORD_2021 = "since:2021-11-08"

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("r2k_high", "rut_close", "new_high", window=R2K_RECORD_2021, cooldown_days=30, depends_on=("RUT",),
             title=N_("Russell 2000 closes at a new high"),
             usage=N_("Usage: /subscribe r2k_high [52w | all | since:YYYY-MM-DD] — default: above every close since the 2021 record"),
             overridable=("window",)),
        Rule("pe_gap", "pe_gap", "above", threshold=8.0, recovery=0.5, for_sessions=3, depends_on=(),
             title=N_("S&P 500 minus S&P 600 P/E gap at or above a level"),
             usage=N_("Usage: /subscribe pe_gap N [M] — gap ≥ N turns for M sessions (default 8 turns, 3 sessions)"),
             overridable=("threshold", "for_sessions")),
        Rule("cut_odds", "cut_prob_next", "above", threshold=75.0, recovery=5.0, depends_on=("ZQ_STRIPS",),
             title=N_("Next FOMC meeting: cut odds cross a level"),
             usage=N_("Usage: /subscribe cut_odds X — the next meeting's cut probability reaches X% (1–99, default 75; ±5 pp hysteresis)"),
             overridable=("threshold",)),
        Rule("cut_odds_move", "cut_prob_next", "change_by", threshold=10.0, window="1d", depends_on=("ZQ_STRIPS",),
             title=N_("Next FOMC meeting: cut odds move sharply"),
             usage=N_("Usage: /subscribe cut_odds_move N [1d|1w] — cut odds move by N pp or more in a day or a week (default 10, 1d)"),
             overridable=("threshold", "window")),
        Rule("fed_decision", "fed_target_upper", "change_by", threshold=0.01, window="1d", depends_on=(),
             title=N_("The Fed changed its target range"),
             usage=N_("Usage: /subscribe fed_decision")),
        Rule("r2k_drawdown", "rut_drawdown", "above", threshold=10.0, recovery=2.0, depends_on=("RUT",),
             title=N_("Russell 2000 falls a given % below its record close"),
             usage=N_("Usage: /subscribe r2k_drawdown X — X% below the record close (1–90, default 10)"),
             overridable=("threshold",)),
        Rule("spread_flip", "spread_ytd_ndx", "crosses_zero", depends_on=("RUT", "NDX"),
             title=N_("Russell 2000 overtakes (or falls behind) the Nasdaq-100 year to date"),
             usage=N_("Usage: /subscribe spread_flip")),
    )
}

_NUMBER = re.compile(r"^\d+(\.\d+)?%?$")


def _number(text: str, low: float, high: float, usage: str) -> float:
    if not _NUMBER.match(text):
        raise RuleParamError(usage)
    value = float(text.rstrip("%"))
    if not low <= value <= high:
        raise RuleParamError(usage)
    return value


def _window(text: str, usage: str) -> str:
    low = text.lower()
    if low in ("52w", "all"):
        return low
    day = low[6:] if low.startswith("since:") else low
    try:
        date.fromisoformat(day)
    except ValueError:
        raise RuleParamError(usage) from None
    return "since:" + day


def parse_params(rule_id: str, args: Sequence[str]) -> dict[str, Any]:
    """A user's words after ``/subscribe RULE`` -> the subscription's params (only what differs)."""
    rule = RULES[rule_id]
    usage = rule.usage
    args = [a.strip() for a in args if a.strip()]
    if rule_id == "r2k_high":
        if len(args) > 1:
            raise RuleParamError(usage)
        return {"window": _window(args[0], usage)} if args else {}
    if rule_id == "pe_gap":
        if len(args) > 2:
            raise RuleParamError(usage)
        params: dict[str, Any] = {}
        if args:
            params["threshold"] = _number(args[0], 0.5, 50, usage)
        if len(args) == 2:
            params["for_sessions"] = int(_number(args[1], 1, 60, usage))
        return params
    if rule_id == "cut_odds":
        if len(args) > 1:
            raise RuleParamError(usage)
        return {"threshold": _number(args[0], 1, 99, usage)} if args else {}
    if rule_id == "cut_odds_move":
        if len(args) > 2:
            raise RuleParamError(usage)
        params = {}
        if args:
            params["threshold"] = _number(args[0], 1, 100, usage)
        if len(args) == 2:
            if args[1].lower() not in ("1d", "1w"):
                raise RuleParamError(usage)
            params["window"] = args[1].lower()
        return params
    if rule_id == "r2k_drawdown":
        if len(args) > 1:
            raise RuleParamError(usage)
        return {"threshold": _number(args[0], 1, 90, usage)} if args else {}
    if args:  # fed_decision, spread_flip take no parameters
        raise RuleParamError(usage)
    return {}
