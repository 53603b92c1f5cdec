"""/risk's metric: volatility and drawdowns on the real ^RUT, ^GSPC and ^NDX closes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.metrics.returns import InsufficientData
from bot.metrics.risk import EPISODES, Episode, compute_risk, episode_drawdown
from tests.metrics_data import ndx, rut, spx

ASOF = date(2026, 2, 20)


def _logs(closes: pd.Series) -> np.ndarray:
    return np.diff(np.log(closes.to_numpy()))


def test_risk_volatility_windows_are_annualised_std_of_log_returns(shared_data: Path) -> None:
    closes = rut(shared_data).loc[:"2026-02-20"]
    r = compute_risk("RUT", closes, ASOF)
    logs = _logs(closes)
    assert r.vol_20d == pytest.approx(np.std(logs[-20:], ddof=1) * np.sqrt(252), rel=1e-12)
    assert r.vol_1y == pytest.approx(np.std(logs[-252:], ddof=1) * np.sqrt(252), rel=1e-12)
    since_1990 = _logs(closes.loc["1990-01-01":])
    assert r.vol_long == pytest.approx(np.std(since_1990, ddof=1) * np.sqrt(252), rel=1e-12)
    assert r.long_start == date(1990, 1, 2)
    assert (round(r.vol_20d or 0, 4), round(r.vol_1y or 0, 4), round(r.vol_long or 0, 4)) == (
        0.2003,
        0.2323,
        0.2179,
    )


def test_risk_current_drawdown_from_the_record_close(shared_data: Path) -> None:
    r = compute_risk("RUT", rut(shared_data), ASOF)
    assert (r.ath_date, round(r.ath, 2), round(r.close, 2)) == (date(2026, 1, 22), 2718.77, 2663.78)
    assert round(r.drawdown_now * 100, 2) == 2.02


@pytest.mark.parametrize(
    ("name", "episode", "depth_pct", "peak", "trough"),
    [
        # The financial crisis runs to the March 2009 trough (not the 2008-11-20 low a calendar year stops at).
        ("RUT", "gfc", 59.89, date(2007, 7, 13), date(2009, 3, 9)),
        ("SPX", "gfc", 56.78, date(2007, 10, 9), date(2009, 3, 9)),
        ("NDX", "gfc", 53.71, date(2007, 10, 31), date(2008, 11, 20)),  # not from the 2000 record
        ("RUT", "covid", 43.06, date(2018, 8, 31), date(2020, 3, 18)),  # the last record, not the 2020 high
        ("SPX", "covid", 33.92, date(2020, 2, 19), date(2020, 3, 23)),
        ("NDX", "covid", 28.03, date(2020, 2, 19), date(2020, 3, 20)),
        ("RUT", "bear2022", 32.46, date(2021, 11, 8), date(2022, 6, 16)),
        ("SPX", "bear2022", 25.43, date(2022, 1, 3), date(2022, 10, 12)),
        ("NDX", "bear2022", 35.56, date(2021, 11, 19), date(2022, 12, 28)),
    ],
)
def test_risk_episode_drawdown_peak_is_last_record_trough_is_lowest_close_of_episode(
    shared_data: Path, name: str, episode: str, depth_pct: float, peak: date, trough: date
) -> None:
    closes = {"RUT": rut, "SPX": spx, "NDX": ndx}[name](shared_data)
    dd = compute_risk(name, closes, ASOF).episodes[episode]
    assert dd is not None and dd.complete
    assert (round(dd.depth * 100, 2), dd.peak_date, dd.trough_date) == (depth_pct, peak, trough)
    assert dd.depth == pytest.approx(1 - dd.trough_close / dd.peak_close)
    assert dd.peak_is_record == ((name, episode) != ("NDX", "gfc"))


def test_risk_financial_crisis_reaches_march_2009_near_the_quoted_59_and_57_percent(shared_data: Path) -> None:
    small = compute_risk("RUT", rut(shared_data), ASOF).episodes["gfc"]
    large = compute_risk("SPX", spx(shared_data), ASOF).episodes["gfc"]
    assert small is not None and large is not None
    assert round(small.depth * 100) == 60 and round(large.depth * 100) == 57
    assert small.trough_date == large.trough_date == date(2009, 3, 9)


def test_risk_episode_in_progress_is_marked_incomplete(shared_data: Path) -> None:
    dd = compute_risk("RUT", rut(shared_data), date(2022, 3, 31)).episodes["bear2022"]
    assert dd is not None and not dd.complete and dd.trough_date <= date(2022, 3, 31)
    assert dd.peak_date == date(2021, 11, 8)


def test_risk_episodes_after_asof_left_out_and_episodes_before_data_none(shared_data: Path) -> None:
    old = Episode("old", date(1980, 1, 1), date(1981, 1, 1), date(1979, 1, 1))
    r = compute_risk("RUT", rut(shared_data), date(2019, 6, 28), episodes=(old,) + EPISODES)
    assert set(r.episodes) == {"old", "gfc"} and r.episodes["old"] is None


def test_risk_on_a_holiday_describes_the_session_before(shared_data: Path) -> None:
    assert compute_risk("SPX", spx(shared_data), date(2025, 12, 25)).asof == date(2025, 12, 24)


def test_risk_short_history_long_windows_none() -> None:
    closes = pd.Series(np.linspace(100.0, 110.0, 30), index=pd.bdate_range("2024-01-01", periods=30))
    r = compute_risk("RUT", closes, date(2024, 12, 31))
    assert r.vol_20d is not None and r.vol_1y is None
    assert r.long_start == date(2024, 1, 1) and r.vol_long is not None  # "since 1990" = since the first close


def test_risk_asof_before_data_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData, match="RUT"):
        compute_risk("RUT", rut(shared_data), date(1980, 1, 1))


def test_risk_single_close_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="two closes"):
        compute_risk("RUT", pd.Series([1.0], index=pd.to_datetime(["2024-01-02"])), date(2024, 1, 2))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=1000.0, allow_nan=False), min_size=2, max_size=700))
def test_risk_property_episode_trough_is_lowest_close_and_peak_the_last_record_before_it(values: list[float]) -> None:
    closes = pd.Series(values, index=pd.bdate_range("2019-06-03", periods=len(values)))
    episode = Episode("x", date(2020, 1, 1), date(2020, 12, 31), peak_from=date(2019, 1, 1))
    dd = episode_drawdown(closes, episode)
    inside = closes.loc["2020-01-01":"2020-12-31"]
    if inside.empty:
        assert dd is None
        return
    assert dd is not None and 0.0 <= dd.depth < 1.0 and dd.peak_is_record  # every close is after peak_from
    assert dd.trough_close == inside.min() and dd.trough_date == inside.idxmin().date()
    before = closes.loc[: pd.Timestamp(dd.trough_date)]
    assert dd.peak_close == before.max()
    assert (before.loc[pd.Timestamp(dd.peak_date) :].iloc[1:] < dd.peak_close).all()  # the last record
