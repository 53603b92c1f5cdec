"""/spread's metric against an independent computation from the same CSVs (PROVENANCE.md anchors)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.metrics.r2k import InsufficientData
from bot.metrics.spread import compute_spread
from tests.metrics_data import ndx, rut, spx


def test_spread_ytd_2025_matches_the_anchors(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), spx(shared_data), date(2025, 12, 31), "ytd")
    assert round(s.rut * 100, 2) == 11.29 and round(s.ndx * 100, 2) == 20.17
    assert round(s.gap_ndx_pp, 2) == -8.88
    assert s.spx == pytest.approx(6845.50 / 5881.63 - 1, abs=1e-5)
    assert s.base_date == date(2024, 12, 31)


def test_spread_ytd_2024_matches_the_anchors(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2024, 12, 31), "ytd")
    assert round(s.rut * 100, 2) == 10.02 and round(s.ndx * 100, 2) == 24.88 and s.spx is None


def test_spread_widest_and_narrowest_are_extremes_of_the_ytd_gap(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), "ytd")
    assert s.widest_pp == pytest.approx(s.gap_series.min()) and s.narrowest_pp == pytest.approx(s.gap_series.max())
    assert s.widest_pp <= s.gap_ndx_pp <= s.narrowest_pp
    assert s.gap_series.iloc[-1] == pytest.approx(s.gap_ndx_pp)


def test_spread_trend_sign_says_closing_or_widening(shared_data: Path) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2024, 12, 31), "ytd")
    assert s.closing == (s.trend_pp_per_day > 0)


@pytest.mark.parametrize("period", ["1m", "3m", "1y", "5y"])
def test_spread_periods_start_from_the_close_on_or_before_the_offset(shared_data: Path, period: str) -> None:
    s = compute_spread(rut(shared_data), ndx(shared_data), None, date(2025, 12, 31), period)
    assert s.base_date < date(2025, 12, 31)


def test_spread_with_history_shorter_than_the_period_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData):
        compute_spread(rut(shared_data).loc["2025-06-01":], ndx(shared_data), None, date(2025, 12, 31), "5y")
