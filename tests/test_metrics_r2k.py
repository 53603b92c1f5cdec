"""bot.metrics.returns and the /r2k metric, on the real ^RUT/^NDX closes and on small synthetic series."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.metrics.r2k import InsufficientData, compute_r2k
from bot.metrics.returns import add_months, period_return, rebase, truncate
from tests.metrics_data import ndx, rut


def _closes(values: list[float], start: str = "2019-12-30") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype="float64")


# --- returns ------------------------------------------------------------------------------------------


def test_period_return_ytd_2025_based_on_last_close_of_2024(shared_data: Path) -> None:
    r = period_return(rut(shared_data), "ytd", date(2025, 12, 31), "RUT")
    assert (r.base.date, round(r.base.close, 2)) == (date(2024, 12, 31), 2230.16)
    assert (r.end.date, round(r.end.close, 2)) == (date(2025, 12, 31), 2481.91)
    assert round(r.value, 4) == 0.1129


def test_period_return_1d_based_on_previous_close(shared_data: Path) -> None:
    r = period_return(rut(shared_data), "1d", date(2025, 9, 18), "RUT")
    assert (r.base.date, round(r.base.close, 2), round(r.end.close, 2)) == (
        date(2025, 9, 17),
        2407.34,
        2467.70,
    )


def test_period_return_1m_start_on_a_weekend_base_is_close_before(shared_data: Path) -> None:
    # 2025-12-01 − 1 month = 2025-11-01, a Saturday: the base is Friday's close.
    assert period_return(rut(shared_data), "1m", date(2025, 12, 1)).base.date == date(2025, 10, 31)


def test_period_return_asof_on_a_sunday_counts_from_friday_close(shared_data: Path) -> None:
    r = period_return(rut(shared_data), "1m", date(2025, 3, 2))
    assert (r.end.date, r.base.date) == (date(2025, 2, 28), date(2025, 1, 28))


def test_add_months_missing_day_clamped_to_month_end() -> None:
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 15), -60) == date(2020, 1, 15)


def test_period_return_5y_longer_than_history_raises() -> None:
    with pytest.raises(InsufficientData, match="5y"):
        period_return(_closes([1.0, 2.0, 3.0]), "5y", date(2020, 1, 3))


def test_period_return_unknown_period_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_return(_closes([1.0, 2.0]), "2w", date(2020, 1, 3))  # type: ignore[arg-type]


def test_truncate_empty_series_raises_insufficient() -> None:
    with pytest.raises(InsufficientData, match="empty"):
        truncate(pd.Series([], index=pd.DatetimeIndex([]), dtype="float64"), date(2020, 1, 1))


def test_truncate_nan_close_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        truncate(_closes([1.0, float("nan"), 2.0]), date(2020, 1, 3))


def test_truncate_unsorted_dates_rejected() -> None:
    closes = pd.Series([1.0, 2.0], index=pd.to_datetime(["2020-01-03", "2020-01-02"]))
    with pytest.raises(ValueError, match="increasing"):
        truncate(closes, date(2020, 1, 3))


def test_rebase_base_on_a_sunday_starts_at_friday_close_100() -> None:
    out = rebase(_closes([40.0, 50.0, 60.0, 45.0], "2020-01-02"), date(2020, 1, 5))
    assert out.to_list() == [100.0, 120.0, 90.0]
    assert out.index[0] == pd.Timestamp("2020-01-03")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=1.0, max_value=1e4, allow_nan=False), min_size=30, max_size=400),
    st.sampled_from(["1d", "1m", "3m", "1y"]),
)
def test_period_return_property_base_is_last_close_on_or_before_start(
    values: list[float], period: str
) -> None:
    closes = _closes(values, "2019-01-01")
    try:
        r = period_return(closes, period, date(2030, 1, 1))  # type: ignore[arg-type]
    except InsufficientData:
        months = {"1m": 1, "3m": 3, "1y": 12}[period]
        assert closes.index[0].date() > add_months(closes.index[-1].date(), -months)
        return
    assert r.value == pytest.approx(r.end.close / r.base.close - 1)
    assert r.end.date == closes.index[-1].date()
    after_base = closes.loc[pd.Timestamp(r.base.date) :]
    assert closes[pd.Timestamp(r.base.date)] == r.base.close
    if period != "1d":
        start = add_months(r.end.date, -{"1m": 1, "3m": 3, "1y": 12}[period])
        assert r.base.date <= start < after_base.index[1].date()


# --- /r2k on the real closes ------------------------------------------------------------------------


def test_r2k_on_2026_02_20_close_ath_and_distance(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), ndx(shared_data), date(2026, 2, 20))
    assert (r.date, round(r.close, 2)) == (date(2026, 2, 20), 2663.78)
    assert (round(r.ath, 2), r.ath_date) == (2718.77, date(2026, 1, 22))
    assert round(r.distance_to_ath * 100, 2) == -2.02
    assert (round(r.high_52w, 2), r.high_52w_date) == (2718.77, date(2026, 1, 22))
    assert (r.prev_date, round(r.prev_close or 0, 2), round(r.day_change, 2)) == (
        date(2026, 2, 19),
        2665.09,
        -1.31,
    )
    assert round(r.ytd * 100, 2) == 7.33
    assert not r.is_ath and r.prev_record is None
    assert (r.highest_since, round(r.highest_since_close or 0, 2)) == (date(2026, 2, 19), 2665.09)


def test_r2k_on_2025_09_18_first_close_above_the_2021_record(shared_data: Path) -> None:
    closes = rut(shared_data)
    r = compute_r2k(closes, None, date(2025, 9, 18))
    assert r.is_ath and round(r.close, 2) == 2467.70 and r.distance_to_ath == 0.0
    assert r.prev_record is not None
    assert (r.prev_record[0], round(r.prev_record[1], 2)) == (date(2021, 11, 8), 2442.74)
    # No close in between was above the 2021 record (2024-11-25 came within 0.71 points).
    assert round(closes.loc["2021-11-09":"2025-09-17"].max(), 2) == 2442.03
    assert r.highest_since is None


@pytest.mark.parametrize(
    ("asof", "broken", "after_gap"),
    [
        (date(2025, 9, 18), date(2021, 11, 8), True),  # nearly four years without a record
        (date(2026, 1, 22), date(2026, 1, 21), False),  # a run of records: the one before was yesterday
    ],
)
def test_r2k_first_record_after_gap_only_when_the_broken_record_is_a_year_old(
    shared_data: Path, asof: date, broken: date, after_gap: bool
) -> None:
    r = compute_r2k(rut(shared_data), None, asof)
    assert r.is_ath and r.prev_record is not None and r.prev_record[0] == broken
    assert r.first_record_after_gap is after_gap


def test_r2k_on_2025_09_17_below_record_52w_high_is_2024_11_25(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), None, date(2025, 9, 17))
    assert not r.is_ath
    assert (r.high_52w_date, round(r.high_52w, 2)) == (date(2024, 11, 25), 2442.03)
    assert (r.highest_since, round(r.highest_since_close or 0, 2)) == (date(2025, 9, 11), 2421.53)


def test_r2k_on_a_holiday_describes_the_session_before(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), None, date(2025, 12, 25))
    assert r.date == date(2025, 12, 24) and r.prev_date == date(2025, 12, 23)


def test_r2k_before_any_data_is_insufficient(shared_data: Path) -> None:
    with pytest.raises(InsufficientData, match="1980-01-01"):
        compute_r2k(rut(shared_data), None, date(1980, 1, 1))


def test_r2k_empty_series_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="empty"):
        compute_r2k(pd.Series([], index=pd.DatetimeIndex([]), dtype="float64"), None, date(2025, 1, 1))


def test_r2k_history_without_year_end_base_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="ytd"):
        compute_r2k(_closes([10.0, 11.0], "2020-01-02"), None, date(2020, 1, 3))


def test_r2k_ratio_to_ndx_and_its_52_week_change(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), ndx(shared_data), date(2025, 12, 31))
    assert r.ratio_date == date(2025, 12, 31)
    assert r.ratio_ndx == pytest.approx(2481.91 / 25249.85, rel=1e-6)
    # 52 weeks before 2025-12-31 is 2025-01-01, a holiday: the ratio of 2024-12-31.
    assert r.ratio_ndx_52w_change == pytest.approx((2481.91 / 25249.85) / (2230.16 / 21012.17) - 1, rel=1e-5)


def test_r2k_ndx_ahead_of_rut_ratio_on_last_common_close(shared_data: Path) -> None:
    # RUT's file ends 2026-02-20, NDX's 2026-02-27: the ratio must not mix the two dates.
    r = compute_r2k(rut(shared_data), ndx(shared_data), date(2026, 2, 27))
    assert r.date == date(2026, 2, 20) and r.ratio_date == date(2026, 2, 20)
    assert r.ratio_ndx == pytest.approx(2663.78 / 25012.62, rel=1e-6)


def test_r2k_without_ndx_ratio_fields_none(shared_data: Path) -> None:
    r = compute_r2k(rut(shared_data), None, date(2026, 2, 20))
    assert (r.ratio_ndx, r.ratio_ndx_52w_change, r.ratio_date) == (None, None, None)


def test_r2k_close_tying_the_record_is_not_a_record() -> None:
    r = compute_r2k(_closes([10.0, 12.0, 9.0, 12.0]), None, date(2020, 1, 2))
    assert not r.is_ath and r.highest_since == date(2019, 12, 31) and r.highest_since_close == 12.0


def test_r2k_highest_since_points_at_the_last_higher_close() -> None:
    r = compute_r2k(_closes([10.0, 12.0, 13.0, 9.0, 11.0]), None, date(2020, 1, 3))
    assert not r.is_ath and r.highest_since == date(2020, 1, 1) and r.highest_since_close == 13.0


def test_r2k_short_history_longer_periods_none() -> None:
    r = compute_r2k(_closes([10.0, 11.0, 12.0]), None, date(2020, 1, 1))
    assert (r.ret_1m, r.ret_3m, r.ret_1y) == (None, None, None)
    assert r.ytd == pytest.approx(12.0 / 11.0 - 1)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=100.0, allow_nan=False), min_size=3, max_size=300))
def test_r2k_property_record_fields_agree_with_the_closes(values: list[float]) -> None:
    closes = _closes(values, "2019-12-31")
    r = compute_r2k(closes, None, date(2030, 1, 1))
    earlier = np.array(values[:-1])
    assert r.is_ath == (values[-1] > earlier.max())
    assert r.ath == max(values) and r.distance_to_ath <= 0.0
    if r.is_ath:
        assert r.prev_record is not None and r.prev_record[1] == earlier.max() and r.highest_since is None
    else:
        assert r.highest_since is not None and r.highest_since_close is not None
        assert r.highest_since_close >= values[-1]
        between = closes.loc[pd.Timestamp(r.highest_since) :].iloc[1:-1]
        assert (between < values[-1]).all()
