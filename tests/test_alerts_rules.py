"""Alert rules as data: the built-in rules and their defaults, and subscription parameters from a user's
words (parse_params) or from the store (validate_params)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from bot.alerts.rules import (
    KINDS,
    RULES,
    Rule,
    RuleParamError,
    change_window_days,
    high_window,
    parse_params,
    validate_params,
)
from bot.errors import UsageError


def test_builtin_rules_are_the_eight_of_the_design() -> None:
    assert list(RULES) == [
        "r2k_high",
        "pe_gap",
        "cut_odds",
        "cut_odds_move",
        "fed_decision",
        "r2k_drawdown",
        "spread_flip",
        "fed_path_gap",
    ]


@pytest.mark.parametrize(
    ("rule_id", "metric", "kind", "threshold", "recovery", "for_sessions", "window"),
    [
        ("r2k_high", "rut_close", "new_high", 0.0, 3.0, 1, "since:2021-11-08"),
        ("pe_gap", "pe_gap", "above", 8.0, 0.5, 3, None),
        ("cut_odds", "cut_prob_next", "crosses_above", 75.0, 5.0, 1, None),
        ("cut_odds_move", "cut_prob_next", "change_by", 10.0, 0.0, 1, "1d"),
        ("fed_decision", "fed_target_upper", "change_by", 0.01, 0.0, 1, "1d"),
        ("r2k_drawdown", "rut_drawdown", "above", 10.0, 2.0, 1, None),
        ("spread_flip", "spread_ytd_ndx", "crosses_above", 0.25, 0.5, 1, None),
        ("fed_path_gap", "fed_path_gap", "above", 50.0, 10.0, 1, None),
    ],
)
def test_builtin_rule_defaults(
    rule_id: str,
    metric: str,
    kind: str,
    threshold: float,
    recovery: float,
    for_sessions: int,
    window: str | None,
) -> None:
    rule = RULES[rule_id]
    assert (rule.metric, rule.kind, rule.threshold, rule.recovery, rule.for_sessions, rule.window) == (
        metric,
        kind,
        threshold,
        recovery,
        for_sessions,
        window,
    )
    assert rule.evaluate_on == "close" and rule.cooldown is None and rule.expires is None
    assert rule.msgid and rule.title and rule.usage.startswith(f"Usage: /subscribe {rule_id}")


def test_builtin_rules_notify_resolved_only_for_spread_flip() -> None:
    assert [r.id for r in RULES.values() if r.notify_resolved] == ["spread_flip"]


@pytest.mark.parametrize(
    ("rule_id", "args", "params"),
    [
        ("cut_odds", ["75"], {"threshold": 75.0}),
        ("cut_odds", ["62.5%"], {"threshold": 62.5}),
        ("cut_odds", [], {}),
        ("r2k_high", ["52w"], {"window": "52w"}),
        ("r2k_high", ["ALL"], {"window": "all"}),
        ("r2k_high", ["since:2021-11-08"], {"window": "since:2021-11-08"}),
        ("r2k_high", ["2021-11-08"], {"window": "since:2021-11-08"}),
        ("pe_gap", ["7"], {"threshold": 7.0}),
        ("pe_gap", ["7", "5"], {"threshold": 7.0, "for_sessions": 5}),
        ("cut_odds_move", ["15", "1w"], {"threshold": 15.0, "window": "1w"}),
        ("cut_odds_move", ["15", "7d"], {"threshold": 15.0, "window": "1w"}),
        ("cut_odds_move", ["5", "3d"], {"threshold": 5.0, "window": "3d"}),
        ("r2k_drawdown", ["5%"], {"threshold": 5.0}),
        ("fed_decision", [], {}),
        (
            "cut_odds",
            ["80", "until:2026-03-18", "resolved"],
            {"threshold": 80.0, "expires": "2026-03-18", "notify_resolved": True},
        ),
        ("spread_flip", ["resolved"], {"notify_resolved": True}),
    ],
)
def test_parse_params_good_words_give_the_stored_params(
    rule_id: str, args: list[str], params: dict[str, Any]
) -> None:
    assert parse_params(rule_id, args) == params
    assert parse_params(RULES[rule_id], args) == params


@pytest.mark.parametrize(
    ("rule_id", "args"),
    [
        ("cut_odds", ["0"]),
        ("cut_odds", ["100"]),
        ("cut_odds", ["-3"]),
        ("cut_odds", ["abc"]),
        ("cut_odds", ["75", "80"]),
        ("cut_odds", ["nan"]),
        ("cut_odds", ["1e2"]),
        ("cut_odds", ["until:2026-02-30"]),
        ("cut_odds", ["until:2026-03-01", "until:2026-03-02"]),
        ("r2k_high", ["2021-13-40"]),
        ("r2k_high", ["banana"]),
        ("r2k_high", ["0w"]),
        ("r2k_high", ["521w"]),
        ("r2k_high", ["52w", "all"]),
        ("pe_gap", ["7", "0"]),
        ("pe_gap", ["7", "2.5"]),
        ("pe_gap", ["0.4"]),
        ("pe_gap", ["51"]),
        ("cut_odds_move", ["10", "2w"]),
        ("cut_odds_move", ["10", "0d"]),
        ("cut_odds_move", ["10", "1m"]),
        ("cut_odds_move", ["0.5"]),
        ("fed_decision", ["1"]),
        ("spread_flip", ["0"]),
        ("r2k_drawdown", ["95"]),
        ("r2k_drawdown", ["0.5%"]),
    ],
)
def test_parse_params_bad_words_raise_the_rules_usage(rule_id: str, args: list[str]) -> None:
    with pytest.raises(RuleParamError) as info:
        parse_params(rule_id, args)
    assert info.value.msgid == RULES[rule_id].usage
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)


def test_rule_param_error_names_the_offending_word() -> None:
    with pytest.raises(RuleParamError) as info:
        parse_params("cut_odds", ["150"])
    assert info.value.params == {"arg": "150"}


@pytest.mark.parametrize(
    ("rule_id", "params", "fields"),
    [
        ("cut_odds", {"threshold": 75}, {"threshold": 75.0}),
        ("pe_gap", {"threshold": 7.5, "for_sessions": 4.0}, {"threshold": 7.5, "for_sessions": 4}),
        ("r2k_high", {"window": "2021-11-08"}, {"window": "since:2021-11-08"}),
        ("cut_odds", {"expires": "2026-03-18"}, {"expires": date(2026, 3, 18)}),
        ("cut_odds", {"expires": None, "notify_resolved": True}, {"expires": None, "notify_resolved": True}),
        ("cut_odds", {}, {}),
    ],
)
def test_validate_params_stored_values_become_rule_fields(
    rule_id: str, params: dict[str, Any], fields: dict[str, Any]
) -> None:
    assert validate_params(RULES[rule_id], params) == fields


@pytest.mark.parametrize(
    ("rule_id", "params"),
    [
        ("cut_odds", {"threshold": "75"}),
        ("cut_odds", {"threshold": True}),
        ("cut_odds", {"threshold": float("nan")}),
        ("cut_odds", {"treshold": 75}),
        ("cut_odds", {"window": "1d"}),
        ("pe_gap", {"for_sessions": 2.5}),
        ("r2k_high", {"window": 52}),
        ("cut_odds", {"expires": "2026-13-01"}),
        ("cut_odds", {"notify_resolved": "yes"}),
        ("fed_decision", {"threshold": 0.5}),
    ],
)
def test_validate_params_wrong_type_range_or_key_raises(rule_id: str, params: dict[str, Any]) -> None:
    with pytest.raises(RuleParamError) as info:
        validate_params(RULES[rule_id], params)
    assert info.value.msgid == RULES[rule_id].usage


def test_with_params_applies_overrides_and_keeps_the_rest() -> None:
    rule = RULES["pe_gap"].with_params({"threshold": 7, "for_sessions": 5})
    assert (rule.threshold, rule.for_sessions, rule.recovery, rule.id) == (7.0, 5, 0.5, "pe_gap")
    assert RULES["pe_gap"].with_params({}) is RULES["pe_gap"]


def test_effective_params_are_json_ready_and_name_everything_overridable() -> None:
    rule = replace(RULES["cut_odds_move"], expires=timedelta(days=14)).with_params(
        {"threshold": 12, "window": "1w"}
    )
    assert rule.effective_params() == {
        "threshold": 12.0,
        "window": "1w",
        "expires": "14d",
        "notify_resolved": False,
    }
    assert RULES["r2k_high"].with_params({"expires": "2026-06-30"}).effective_params() == {
        "window": "since:2021-11-08",
        "expires": "2026-06-30",
        "notify_resolved": False,
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "sideways"},
        {"evaluate_on": "hourly"},
        {"for_sessions": 0},
        {"recovery": -1.0},
        {"cooldown": timedelta(hours=12)},
        {"cooldown": timedelta(days=1, hours=1)},
    ],
)
def test_rule_with_impossible_fields_raises(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replace(RULES["cut_odds"], **changes)


def test_rule_with_bad_window_for_its_kind_raises() -> None:
    with pytest.raises(ValueError):
        Rule("x", "rut_close", "new_high", window="1d")
    with pytest.raises(ValueError):
        Rule("x", "cut_prob_next", "change_by", window="52x")


def test_kinds_are_the_six_of_the_design() -> None:
    assert set(KINDS) == {"crosses_above", "crosses_below", "above", "below", "new_high", "change_by"}


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("all", "all"),
        ("52W", "52w"),
        ("052w", "52w"),
        ("since:2021-11-08", "since:2021-11-08"),
        ("2021-11-08", "since:2021-11-08"),
    ],
)
def test_high_window_canonical_forms(text: str, window: str) -> None:
    assert high_window(text) == window


@pytest.mark.parametrize(("text", "days"), [("1d", 1), ("1w", 7), ("3D", 3), ("2w", 14)])
def test_change_window_days(text: str, days: int) -> None:
    assert change_window_days(text) == days


@pytest.mark.parametrize("text", ["0d", "1m", "d", "-1d", "1.5w"])
def test_change_window_days_bad_raises(text: str) -> None:
    with pytest.raises(ValueError):
        change_window_days(text)
