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
from bot.metrics.risk import compute_risk, worst_drawdown_in_year
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
    ("name", "year", "depth_pct", "peak", "trough"),
    [
        ("RUT", 2008, 54.98, date(2007, 7, 13), date(2008, 11, 20)),
        ("SPX", 2008, 51.93, date(2007, 10, 9), date(2008, 11, 20)),
        ("NDX", 2008, 53.71, date(2007, 10, 31), date(2008, 11, 20)),  # not from the 2000 peak
        ("RUT", 2020, 41.87, date(2020, 1, 16), date(2020, 3, 18)),
        ("SPX", 2020, 33.92, date(2020, 2, 19), date(2020, 3, 23)),
        ("NDX", 2020, 28.03, date(2020, 2, 19), date(2020, 3, 20)),
        ("RUT", 2022, 32.46, date(2021, 11, 8), date(2022, 6, 16)),
        ("SPX", 2022, 25.43, date(2022, 1, 3), date(2022, 10, 12)),
        ("NDX", 2022, 35.56, date(2021, 11, 19), date(2022, 12, 28)),
    ],
)
def test_risk_crisis_drawdowns_peak_since_previous_year_trough_in_year(
    shared_data: Path, name: str, year: int, depth_pct: float, peak: date, trough: date
) -> None:
    closes = {"RUT": rut, "SPX": spx, "NDX": ndx}[name](shared_data)
    dd = compute_risk(name, closes, ASOF).crises[year]
    assert dd is not None and dd.complete
    assert (round(dd.depth * 100, 2), dd.peak_date, dd.trough_date) == (depth_pct, peak, trough)
    assert dd.depth == pytest.approx(1 - dd.trough_close / dd.peak_close)


def test_risk_year_in_progress_is_marked_incomplete(shared_data: Path) -> None:
    dd = compute_risk("RUT", rut(shared_data), date(2022, 3, 31)).crises[2022]
    assert dd is not None and not dd.complete and dd.trough_date <= date(2022, 3, 31)
    assert dd.peak_date == date(2021, 11, 8)


def test_risk_years_after_asof_left_out_and_years_before_data_none(shared_data: Path) -> None:
    r = compute_risk("RUT", rut(shared_data), date(2019, 6, 28), years=(1980, 2008, 2020))
    assert set(r.crises) == {1980, 2008} and r.crises[1980] is None


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
def test_risk_property_drawdown_in_year_is_the_deepest_fall(values: list[float]) -> None:
    closes = pd.Series(values, index=pd.bdate_range("2019-06-03", periods=len(values)))
    year = closes.index[-1].year
    dd = worst_drawdown_in_year(closes, year)
    assert dd is not None and 0.0 <= dd.depth < 1.0
    assert dd.peak_date <= dd.trough_date and dd.trough_date.year == year and dd.peak_date.year >= year - 1
    window = closes.loc[f"{year - 1}-01-01" :]
    running = window.cummax()
    deepest = (1 - window / running).loc[f"{year}-01-01" :].max()
    assert dd.depth == pytest.approx(max(deepest, 0.0), abs=1e-12)
