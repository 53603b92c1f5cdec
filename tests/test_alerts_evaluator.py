"""Alert rules tested like `promtool test rules`: fabricated series in (tests/rules/*.yaml), exact
announcements out; then the same evaluator on the real Russell 2000 history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.backtest import backtest
from bot.alerts.evaluator import AlertState, GroupStates, evaluate, events_of, observe, step
from bot.alerts.rules import RULES, RuleParamError, parse_params
from tests.metrics_data import rut

CASES = [case for path in sorted((Path(__file__).parent / "rules").glob("*.yaml")) for case in yaml.safe_load(path.read_text())]


def series_of(case: dict[str, Any]) -> pd.Series:
    items = sorted((pd.Timestamp(str(k)), float(v)) for k, v in case["series"].items())
    return pd.Series([v for _, v in items], index=pd.DatetimeIndex([k for k, _ in items]))


def rule_of(case: dict[str, Any]):  # type: ignore[no-untyped-def]
    rule = RULES[case["rule"]].with_params(case.get("params", {}))
    overrides = dict(case.get("overrides", {}))
    if "expires" in overrides:
        overrides["expires"] = date.fromisoformat(str(overrides["expires"]))
    return replace(rule, **overrides)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rule_case_announces_exactly_the_expected_events(case: dict[str, Any]) -> None:
    history = series_of(case)
    rule = rule_of(case)
    state: AlertState | None = None
    seen = []
    for ts in history.index:
        state, events = evaluate(rule, history, state, ts.date())
        seen += [{"date": e.bar.isoformat(), "kind": e.kind} for e in events]
    expected = [{"date": str(e["date"]), "kind": e["kind"]} for e in case["expect"]]
    assert seen == expected


def test_reevaluating_the_same_bar_emits_nothing() -> None:
    history = pd.Series([70.0, 80.0], index=pd.to_datetime(["2026-01-05", "2026-01-06"]))
    rule = RULES["cut_odds"]
    state, _ = evaluate(rule, history, None, date(2026, 1, 5))
    state, first = evaluate(rule, history, state, date(2026, 1, 6))
    again, second = evaluate(rule, history, state, date(2026, 1, 6))
    assert [e.kind for e in first] == ["firing"] and second == [] and again == state


def test_state_round_trips_through_json() -> None:
    state = AlertState("firing", 2, date(2026, 1, 6), date(2026, 1, 5))
    assert AlertState.from_dict(state.to_dict()) == state


@given(
    values=st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=30),
    thresholds=st.lists(st.floats(1, 99, allow_nan=False), min_size=1, max_size=20),
    for_sessions=st.integers(1, 3),
)
@settings(max_examples=60, deadline=None)
def test_group_step_equals_one_subscriber_at_a_time(values: list[float], thresholds: list[float], for_sessions: int) -> None:
    history = pd.Series(values, index=pd.bdate_range("2026-01-05", periods=len(values)))
    rule = replace(RULES["pe_gap"], for_sessions=for_sessions, recovery=2.0)
    arr = np.array(thresholds)
    group = GroupStates.from_states([AlertState()] * len(thresholds))
    grouped: list[tuple[str, date, str]] = []
    singles: list[tuple[str, date, str]] = []
    states: list[AlertState | None] = [None] * len(thresholds)
    for ts in history.index:
        obs = observe(rule, history, ts.date())
        assert obs is not None
        fired, resolved, repeat = step(rule, arr, group, obs)
        grouped += [(e.scope, e.bar, e.kind) for e in events_of(rule, [str(i) for i in range(len(arr))], arr, obs, fired, resolved, repeat)]
        for i, threshold in enumerate(thresholds):
            states[i], events = evaluate(rule, history, states[i], ts.date(), threshold=threshold, scope=str(i))
            singles += [(e.scope, e.bar, e.kind) for e in events]
    assert sorted(grouped) == sorted(singles)
    assert [group.state(i) for i in range(len(thresholds))] == states


@pytest.mark.parametrize(("rule_id", "args"), [
    ("cut_odds", ["0"]), ("cut_odds", ["100"]), ("cut_odds", ["-3"]), ("cut_odds", ["abc"]), ("cut_odds", ["75", "80"]),
    ("r2k_high", ["2021-13-40"]), ("r2k_high", ["banana"]), ("pe_gap", ["7", "0"]), ("cut_odds_move", ["10", "2w"]),
    ("fed_decision", ["1"]), ("r2k_drawdown", ["95"]),
])
def test_bad_subscription_arguments_raise_the_rules_usage(rule_id: str, args: list[str]) -> None:
    with pytest.raises(RuleParamError) as info:
        parse_params(rule_id, args)
    assert info.value.msgid == RULES[rule_id].usage


def test_good_subscription_arguments_parse() -> None:
    assert parse_params("cut_odds", ["75"]) == {"threshold": 75.0}
    assert parse_params("r2k_high", ["52w"]) == {"window": "52w"}
    assert parse_params("r2k_high", ["2021-11-08"]) == {"window": "since:2021-11-08"}
    assert parse_params("pe_gap", ["7", "5"]) == {"threshold": 7.0, "for_sessions": 5}
    assert parse_params("cut_odds_move", ["15", "1w"]) == {"threshold": 15.0, "window": "1w"}


def test_r2k_high_since_the_2021_record_fires_first_on_2025_09_18(shared_data: Path) -> None:
    closes = rut(shared_data)
    result = backtest(RULES["r2k_high"], closes, closes)
    assert result.firings[0] == date(2025, 9, 18)
    assert closes[pd.Timestamp("2025-09-18")] == pytest.approx(2467.70, abs=0.005)
    assert all(d >= date(2025, 9, 18) for d in result.firings)
    assert result.median_rut_return[1] is not None


def test_r2k_high_52w_backtest_lists_firings_and_forward_returns(shared_data: Path) -> None:
    closes = rut(shared_data)
    result = backtest(RULES["r2k_high"].with_params({"window": "52w"}), closes, closes)
    assert len(result.firings) > 50 and result.last_five[-1] <= date(2026, 2, 20)
    assert result.counted[12] < len(result.firings)  # the last year's firings have no 12-month window yet
