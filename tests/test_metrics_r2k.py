"""The /r2k metric on the real Russell 2000 closes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.metrics.r2k import InsufficientData, compute_r2k
from tests.metrics_data import ndx, rut


def test_r2k_on_2026_02_20_matches_the_file(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), ndx(shared_data), date(2026, 2, 20))
    assert r.date == date(2026, 2, 20) and r.close == pytest.approx(2663.78, abs=0.005)
    assert (r.ath, r.ath_date) == (pytest.approx(2718.77, abs=0.005), date(2026, 1, 22))
    assert r.distance_to_ath == pytest.approx(2663.78 / 2718.77 - 1, abs=1e-5)
    assert r.ytd == pytest.approx(2663.78 / 2481.91 - 1, abs=1e-5)  # +7.33 %
    assert not r.is_ath and r.highest_since is not None and r.highest_since > date(2026, 1, 22)


def test_r2k_first_close_above_the_2021_record_is_2025_09_18(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), None, date(2025, 9, 18))
    assert r.is_ath and r.close == pytest.approx(2467.70, abs=0.005)
    assert r.prev_record == (date(2021, 11, 8), pytest.approx(2442.74, abs=0.005))
    before = compute_r2k(rut(shared_data), None, date(2025, 9, 17))
    assert not before.is_ath


def test_r2k_on_a_holiday_describes_the_session_before(shared_data: Path) -> None:
    assert compute_r2k(rut(shared_data), None, date(2025, 12, 25)).date == date(2025, 12, 24)


def test_r2k_before_any_data_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData):
        compute_r2k(rut(shared_data), None, date(1980, 1, 1))


def test_r2k_ratio_to_ndx_and_its_52_week_change(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), ndx(shared_data), date(2025, 12, 31))
    assert r.ratio_ndx == pytest.approx(2481.91 / 25249.85, rel=1e-4)
    year_ago = 2230.16 / 21012.17
    assert r.ratio_ndx_52w_change == pytest.approx((2481.91 / 25249.85) / year_ago - 1, rel=1e-3)


def test_r2k_highest_since_points_at_the_last_higher_close() -> None:
    closes = pd.Series([10.0, 12.0, 9.0, 11.0], index=pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"]))
    r = compute_r2k(closes, None, date(2020, 1, 7))
    assert not r.is_ath and r.highest_since == date(2020, 1, 3)
