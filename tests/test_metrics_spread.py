"""/spread's metric on the real closes (PROVENANCE.md anchors) and on synthetic series."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.metrics.r2k import InsufficientData
from bot.metrics.spread import compute_spread
from tests.metrics_data import ndx, rut, spx


def _independent_ytd_gap(data: Path, year: int, asof: str) -> pd.Series:
    """R2K − NDX YTD gap (pp) for ``year`` computed straight from the CSV closes."""
    both = pd.concat({"r": rut(data), "n": ndx(data)}, axis=1, join="inner").loc[:asof]
    base = both.loc[: f"{year - 1}-12-31"].iloc[-1]
    rel = both.loc[f"{year}-01-01" :] / base - 1
    return (rel["r"] - rel["n"]) * 100


def test_spread_ytd_2025_matches_the_anchors(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), spx(shared_data), date(2025, 12, 31), "ytd")
    assert (s.asof, s.base_date) == (date(2025, 12, 31), date(2024, 12, 31))
    assert (round(s.rut * 100, 2), round(s.ndx * 100, 2), round(s.gap_ndx_pp, 2)) == (11.29, 20.17, -8.88)
    assert s.spx == pytest.approx(6845.50 / 5881.63 - 1, abs=1e-6)
    assert round(s.gap_spx_pp or 0, 2) == -5.10


def test_spread_ytd_2024_matches_the_anchors(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2024, 12, 31), "ytd")
    assert (round(s.rut * 100, 2), round(s.ndx * 100, 2), round(s.gap_ndx_pp, 2)) == (10.02, 24.88, -14.86)
    assert s.spx is None and s.gap_spx_pp is None and s.base_date == date(2023, 12, 29)


def test_spread_series_ending_on_different_days_uses_last_common_close(shared_data: Path) -> None:
    # RUT ends 2026-02-20, NDX and SPX 2026-02-27: every figure is as of 2026-02-20.
    s = compute_spread(rut(shared_data), ndx(shared_data), spx(shared_data), date(2026, 2, 27), "ytd")
    assert s.asof == date(2026, 2, 20)
    assert (round(s.rut * 100, 2), round(s.ndx * 100, 2), round(s.gap_ndx_pp, 2)) == (7.33, -0.94, 8.27)


def test_spread_widest_and_narrowest_2025_by_distance_from_zero(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), "ytd")
    gap = _independent_ytd_gap(shared_data, 2025, "2025-12-31")
    assert (s.widest_date, round(s.widest_pp, 2)) == (date(2025, 11, 17), -13.04)
    assert (s.narrowest_date, round(s.narrowest_pp, 2)) == (date(2025, 1, 17), 0.01)
    assert s.widest_pp == pytest.approx(gap.loc[gap.abs().idxmax()])
    assert s.narrowest_pp == pytest.approx(gap.loc[gap.abs().idxmin()])


def test_spread_positive_gap_2026_widest_is_the_maximum(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2026, 2, 20), "ytd")
    assert (s.widest_date, round(s.widest_pp, 2)) == (date(2026, 2, 19), 9.17)
    assert (s.narrowest_date, round(s.narrowest_pp, 2)) == (date(2026, 1, 2), 1.23)


def test_spread_trend_is_least_squares_slope_of_last_20_ytd_gaps(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2024, 12, 31), "ytd")
    gap = _independent_ytd_gap(shared_data, 2024, "2024-12-31")
    expected = np.polyfit(np.arange(20), gap.iloc[-20:].to_numpy(), 1)[0]
    assert s.trend_pp_per_day == pytest.approx(expected, rel=1e-9) and s.trend_sessions == 20
    assert round(s.trend_pp_per_day, 3) == -0.545


@pytest.mark.parametrize(
    ("asof", "trend"),
    [
        (date(2025, 12, 31), "flat"),  # gap −8.88, slope +0.008: inside the flat band
        (date(2025, 9, 18), "flat"),  # gap −5.73, slope −0.033: was "widening (−0.033 pp per session)"
        (date(2024, 12, 31), "widening"),  # gap −14.86, slope −0.545: falling further behind
        (date(2026, 2, 20), "widening"),  # gap +8.27, slope +0.259: small caps pulling further ahead
    ],
)
def test_spread_trend_word_has_a_flat_band_and_points_to_or_from_zero(shared_data: Path, asof: date, trend: str) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, asof, "ytd")
    assert s.trend == trend


def test_spread_trend_closing_when_the_slope_points_towards_zero_beyond_the_band() -> None:
    # R2K falls behind for 30 sessions, then catches up 0.3 pp a session for 20.
    index = pd.bdate_range("2024-12-31", periods=51)
    gap = np.concatenate([np.linspace(0.0, -0.10, 31), -0.10 + 0.003 * np.arange(1, 21)])
    ndx_closes = pd.Series(100.0, index=index)
    rut_closes = pd.Series(100.0 * (1.0 + gap), index=index)
    s = compute_spread(rut_closes, ndx_closes, None, index[-1].date(), "ytd")
    assert s.trend == "closing" and s.trend_pp_per_day == pytest.approx(0.3)
    assert s.widening_pp_per_day == pytest.approx(-0.3)  # closing: negative, whatever the gap's sign


@pytest.mark.parametrize("asof", [date(2024, 12, 31), date(2026, 2, 20)])
def test_spread_widening_rate_is_positive_when_widening_on_either_side_of_zero(shared_data: Path, asof: date) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, asof, "ytd")
    assert s.trend == "widening" and s.widening_pp_per_day > 0
    assert abs(s.widening_pp_per_day) == pytest.approx(abs(s.trend_pp_per_day))


def test_spread_gap_series_runs_from_zero_at_base_to_todays_gap(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), "ytd")
    assert s.gap_series.index[0] == pd.Timestamp("2024-12-31") and s.gap_series.iloc[0] == 0.0
    assert s.gap_series.iloc[-1] == pytest.approx(s.gap_ndx_pp) and len(s.gap_series) == 251


def test_spread_early_january_trend_uses_the_base_and_few_sessions(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 1, 3), "ytd")
    assert s.trend_sessions == 3  # 2024-12-31 (0.0), 2025-01-02, 2025-01-03
    assert (s.widest_date, s.narrowest_date) in {
        (date(2025, 1, 2), date(2025, 1, 3)),
        (date(2025, 1, 3), date(2025, 1, 2)),
    }


def test_spread_1d_based_on_previous_common_close(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 9, 18), "1d")
    assert s.base_date == date(2025, 9, 17) and round(s.rut * 100, 2) == 2.51
    assert len(s.gap_series) == 2


@pytest.mark.parametrize(
    ("period", "base"),
    [
        ("1m", date(2025, 11, 28)),
        ("3m", date(2025, 9, 30)),
        ("1y", date(2024, 12, 31)),
        ("5y", date(2020, 12, 31)),
    ],
)
def test_spread_period_base_is_last_common_close_on_or_before_offset(
    shared_data: Path, period: str, base: date
) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), period)
    assert s.base_date == base
    closes = rut(shared_data)
    assert s.rut == pytest.approx(closes[pd.Timestamp("2025-12-31")] / closes[pd.Timestamp(base)] - 1)


def test_spread_history_shorter_than_the_period_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData, match="5y"):
        compute_spread(rut(shared_data).loc["2023-06-01":], ndx(shared_data), None, date(2025, 12, 31), "5y")


def test_spread_asof_before_data_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData, match="1980-01-01"):
        compute_spread(rut(shared_data), ndx(shared_data), None, date(1980, 1, 1), "ytd")


def test_spread_unknown_period_rejected(shared_data: Path) -> None:
    with pytest.raises(ValueError, match="unknown period"):
        compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), "2y")


def test_spread_no_common_dates_is_insufficient() -> None:
    a = pd.Series([1.0, 2.0], index=pd.to_datetime(["2020-01-02", "2020-01-03"]))
    b = pd.Series([1.0, 2.0], index=pd.to_datetime(["2020-01-06", "2020-01-07"]))
    with pytest.raises(InsufficientData, match="common"):
        compute_spread(a, b, None, date(2020, 1, 7), "1d")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(min_value=1.0, max_value=1000.0, allow_nan=False), min_size=5, max_size=120),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_spread_property_proportional_indices_have_zero_gap(values: list[float], scale: float) -> None:
    index = pd.bdate_range("2019-12-27", periods=len(values))
    a = pd.Series(values, index=index)
    s = compute_spread(a, a * scale, a * 2.0, date(2030, 1, 1), "ytd")
    assert s.gap_ndx_pp == pytest.approx(0.0, abs=1e-9) and s.gap_spx_pp == pytest.approx(0.0, abs=1e-9)
    assert s.trend != "closing" and s.widest_pp == pytest.approx(0.0, abs=1e-9)
