"""Backtests: when a rule would have fired over stored history, and the Russell 2000's return after."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from bot.alerts.backtest import HORIZONS, backtest, forward_return
from bot.alerts.rules import RULES, RuleParamError


@cache
def _rut_closes(path: Path) -> pd.Series:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    # The last row (2026-02-23, volume 0) is an intraday snapshot, not a close.
    assert frame.index[-1] == pd.Timestamp("2026-02-23") and frame["Volume"].iloc[-1] == 0
    return frame["Close"].iloc[:-1].astype("float64")


@pytest.fixture
def rut(shared_data: Path) -> pd.Series:
    return _rut_closes(shared_data / "indices" / "RUT_yahoo_alitalbi.csv")


def test_backtest_r2k_high_default_over_the_whole_file_lists_its_firings(rut: pd.Series) -> None:
    result = backtest(RULES["r2k_high"], {}, rut, rut)
    assert result.firings == (date(2025, 9, 18), date(2025, 10, 14), date(2025, 12, 4), date(2026, 1, 8))
    assert result.count == 4 and result.last_five == result.firings
    assert (result.start, result.end) == (date(1987, 9, 10), date(2026, 2, 20))
    assert result.params == {"window": "since:2021-11-08", "expires": None, "notify_resolved": False}
    assert [round(o.value, 2) for o in result.outcomes] == [2467.70, 2495.50, 2531.16, 2603.91]


def test_backtest_r2k_high_default_forward_returns(rut: pd.Series) -> None:
    result = backtest(RULES["r2k_high"], {}, rut, rut)
    returns = [
        {m: None if r is None else round(r, 6) for m, r in o.rut_returns.items()} for o in result.outcomes
    ]
    assert returns == [
        {1: -0.006293, 3: 0.016278, 12: None},  # 2025-10-17 and 2025-12-18 closes over 2467.70
        {1: -0.042985, 3: 0.062569, 12: None},
        {1: -0.009063, 3: None, 12: None},  # 2026-03-04 is after the last close (2026-02-20)
        {1: 0.025512, 3: None, 12: None},
    ]
    # 2025-09-18 + 1 month = Saturday 2025-10-18: the close before it, 2025-10-17.
    assert (
        result.outcomes[0].rut_returns[1]
        == rut[pd.Timestamp("2025-10-17")] / rut[pd.Timestamp("2025-09-18")] - 1
    )
    assert result.counted == {1: 4, 3: 2, 12: 0}
    medians = {m: None if v is None else round(v, 6) for m, v in result.median_rut_return.items()}
    # Four 1-month returns: the median is the mean of the middle two (2025-12-04's and 2025-09-18's).
    assert medians == {1: round((-0.009063015456472145 - 0.006293321556172127) / 2, 6), 3: 0.039423, 12: None}


def test_backtest_start_and_end_choose_the_firings_reported(rut: pd.Series) -> None:
    result = backtest(RULES["r2k_high"], {}, rut, rut, start=date(2025, 10, 1), end=date(2025, 12, 31))
    assert result.firings == (date(2025, 10, 14), date(2025, 12, 4))
    assert (result.start, result.end) == (date(2025, 10, 1), date(2025, 12, 31))


def test_backtest_range_without_bars_reports_nothing(rut: pd.Series) -> None:
    result = backtest(RULES["r2k_high"], {}, rut, rut, start=date(2030, 1, 1))
    assert (result.firings, result.start, result.end, result.counted) == ((), None, None, {1: 0, 3: 0, 12: 0})
    assert result.median_rut_return == {1: None, 3: None, 12: None}


def test_backtest_all_time_window_starts_with_the_second_close_of_the_file(rut: pd.Series) -> None:
    result = backtest(RULES["r2k_high"], {"window": "all"}, rut, rut)
    assert result.firings[:2] == (date(1987, 9, 11), date(1989, 6, 2))
    assert result.last_five == (
        date(2021, 11, 2),
        date(2025, 9, 18),
        date(2025, 10, 14),
        date(2025, 12, 4),
        date(2026, 1, 8),
    )
    assert result.count == 60


def test_backtest_fed_decision_on_fred_target_lists_every_change(shared_data: Path, rut: pd.Series) -> None:
    frame = pd.read_csv(
        shared_data / "fred" / "DFEDTARU_jonsflow.csv", parse_dates=["Date"], index_col="Date"
    )
    result = backtest(RULES["fed_decision"], {}, frame["Value"], rut)
    assert result.count == 31
    assert result.firings[:2] == (date(2015, 12, 16), date(2016, 12, 14))
    assert result.last_five == (
        date(2024, 11, 8),
        date(2024, 12, 19),
        date(2025, 9, 18),
        date(2025, 10, 30),
        date(2025, 12, 11),
    )
    assert result.counted == {1: 31, 3: 30, 12: 28}


def test_backtest_synthetic_series_gives_exact_returns() -> None:
    days = pd.bdate_range("2024-01-01", "2025-06-30")
    rut = pd.Series([100.0 + i for i in range(len(days))], index=days)
    odds = pd.Series(50.0, index=days)
    odds[pd.Timestamp("2024-03-01")] = 80.0  # crosses 75, back below 70 the next session
    odds[pd.Timestamp("2025-05-01")] = 90.0
    result = backtest(RULES["cut_odds"], {}, odds, rut)
    assert result.firings == (date(2024, 3, 1), date(2025, 5, 1))
    base = rut[pd.Timestamp("2024-03-01")]
    assert result.outcomes[0].rut_returns == {
        1: rut[pd.Timestamp("2024-04-01")] / base - 1,
        3: rut[pd.Timestamp("2024-05-31")] / base - 1,  # 2024-06-01 is a Saturday
        12: rut[pd.Timestamp("2025-02-28")] / base - 1,  # 2025-03-01 is a Saturday
    }
    assert result.outcomes[1].rut_returns == {
        1: rut[pd.Timestamp("2025-05-30")] / rut[pd.Timestamp("2025-05-01")] - 1,
        3: None,
        12: None,
    }
    assert result.median_rut_return[12] == result.outcomes[0].rut_returns[12]
    assert HORIZONS == (1, 3, 12)


def test_forward_return_before_the_first_close_is_none() -> None:
    rut = pd.Series([100.0, 110.0], index=pd.to_datetime(["2024-02-01", "2024-03-15"]))
    assert forward_return(rut, date(2024, 1, 2), 1) is None
    assert forward_return(rut, date(2024, 2, 1), 1) == 0.0  # 2024-03-01: the close before it is 100
    assert forward_return(rut, date(2024, 2, 1), 2) is None  # 2024-04-01 is after the last close


def test_backtest_bad_params_raise_rule_param_error(rut: pd.Series) -> None:
    with pytest.raises(RuleParamError):
        backtest(RULES["r2k_high"], {"window": "yesterday"}, rut, rut)


def test_backtest_reply_with_one_firing_and_a_one_month_window_uses_singular_forms(rut: pd.Series) -> None:
    from bot.render.alerts import render_backtest

    result = backtest(RULES["r2k_high"], {}, rut, rut, start=date(2025, 10, 1), end=date(2025, 10, 31))
    assert result.firings == (date(2025, 10, 14),)
    text = render_backtest(RULES["r2k_high"], result, [], date(2025, 10, 31), "en")
    assert "it would have fired 1 time." in text and "1 times" not in text
    assert "Median Russell 2000 return 1 month later:" in text and "3 months later:" in text
    assert "(1 firing)" in text and "1 months" not in text


@pytest.mark.parametrize(("sessions", "en", "zh"),
                         [(1, "for 1 session)", "連續 1 個交易日"), (3, "for 3 sessions)", "連續 3 個交易日")])
def test_rule_description_counts_sessions_with_the_right_plural(sessions: int, en: str, zh: str) -> None:
    from bot.render.alerts import describe_rule

    rule = RULES["pe_gap"].with_params({"threshold": 7.0, "for_sessions": sessions})
    assert describe_rule(rule, "en").endswith(en) and zh in describe_rule(rule, "zh-Hant")
