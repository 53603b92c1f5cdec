"""/compare's metric on the real closes (checked against a computation straight from the CSVs) and on
synthetic series (windows, cuts, common dates, impossible windows)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.metrics.compare import Comparison, WindowError, compute_compare, window_end
from bot.metrics.returns import InsufficientData
from tests.metrics_data import ndx, rut, spx

LAST_FILE_DAY = date(2026, 2, 27)  # NDX and SPX end here, RUT on 2026-02-20


def _independent(data: Path, start: str, end: str) -> dict[str, tuple[pd.Timestamp, pd.Timestamp, float]]:
    """Per index: the first and last common close inside [start, end] and the price return, by pandas."""
    both = pd.concat({"RUT": rut(data), "SPX": spx(data), "NDX": ndx(data)}, axis=1, sort=True).dropna().loc[start:end]
    return {k: (both.index[0], both.index[-1], both[k].iloc[-1] / both[k].iloc[0] - 1) for k in both.columns}


def _compare(data: Path, start: date, *, end: date | None = None, period: str | None = None) -> Comparison:
    return compute_compare(rut(data), spx(data), ndx(data), start, LAST_FILE_DAY, end=end, period=period)


def test_compare_2009_bottom_5y_matches_an_independent_computation(shared_data: Path) -> None:
    c = compute_compare(rut(shared_data), spx(shared_data), ndx(shared_data), date(2009, 3, 9), LAST_FILE_DAY, period="5y")
    expected = _independent(shared_data, "2009-03-09", "2014-03-09")
    assert (c.first_date, c.last_date, c.end, c.cut) == (date(2009, 3, 9), date(2014, 3, 7), date(2014, 3, 9), False)
    for i in c.indices:
        first, last, ret = expected[i.name]
        assert (i.first_date, i.last_date) == (first.date(), last.date())
        assert i.ret == pytest.approx(ret, rel=1e-12)
    # What the data shows, whatever the "+187 % against +107 %" claim says.
    assert [round(i.ret * 100, 2) for i in c.indices] == [250.56, 177.60, 254.78]
    assert (round(c.gap_spx_pp, 2), round(c.gap_ndx_pp, 2)) == (72.96, -4.22)
    assert c.index("RUT").first_close == pytest.approx(343.26, abs=0.005)
    assert c.index("RUT").last_close == pytest.approx(1203.32, abs=0.005)
    assert c.best.name == "NDX"


def test_compare_2000_peak_three_years_matches_an_independent_computation(shared_data: Path) -> None:
    c = _compare(shared_data, date(2000, 3, 10), end=date(2003, 3, 10))
    expected = _independent(shared_data, "2000-03-10", "2003-03-10")
    assert (c.first_date, c.last_date) == (date(2000, 3, 10), date(2003, 3, 10))
    for i in c.indices:
        assert i.ret == pytest.approx(expected[i.name][2], rel=1e-12)
    assert [round(i.ret * 100, 2) for i in c.indices] == [-42.36, -42.12, -78.98]


def test_compare_without_to_runs_to_the_last_common_close(shared_data: Path) -> None:
    c = _compare(shared_data, date(2025, 1, 1))
    # 2025-01-01 is a holiday: the first session inside is 2025-01-02; RUT's file ends 2026-02-20.
    assert (c.first_date, c.last_date, c.end, c.cut) == (date(2025, 1, 2), date(2026, 2, 20), None, False)
    assert round(c.index("RUT").ret * 100, 2) == 19.36


def test_compare_to_after_the_last_close_is_cut_there(shared_data: Path) -> None:
    c = _compare(shared_data, date(2025, 1, 1), end=date(2030, 1, 1))
    assert c.cut and c.last_date == date(2026, 2, 20) and c.end == date(2030, 1, 1)
    period = _compare(shared_data, date(2025, 1, 1), period="5y")
    assert period.cut and period.last_date == date(2026, 2, 20)


def test_compare_reads_nothing_after_asof(shared_data: Path) -> None:
    c = compute_compare(rut(shared_data), spx(shared_data), ndx(shared_data), date(2009, 3, 9), date(2014, 3, 7))
    assert c.last_date == date(2014, 3, 7) and not c.cut
    assert round(c.index("RUT").ret * 100, 2) == 250.56


def test_compare_rebased_starts_at_100_and_ends_at_the_returns(shared_data: Path) -> None:
    c = _compare(shared_data, date(2009, 3, 9), period="5y")
    rebased = c.rebased
    assert list(rebased.columns) == ["RUT", "SPX", "NDX"]
    assert (rebased.iloc[0] == 100.0).all()
    for i in c.indices:
        assert rebased[i.name].iloc[-1] == pytest.approx((1 + i.ret) * 100)
    assert rebased.index[0].date() == c.first_date and rebased.index[-1].date() == c.last_date


def _synthetic(dates: list[str], values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.DatetimeIndex(dates), dtype="float64")


def test_compare_uses_only_dates_all_three_indices_have() -> None:
    # SPX has no close on 01-03: a window from 01-03 starts on 01-04 for all three.
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    r = _synthetic(days, [100, 105, 110, 121])
    s = _synthetic([days[0], days[2], days[3]], [40, 50, 55])
    n = _synthetic(days, [5, 8, 10, 15])
    c = compute_compare(r, s, n, date(2024, 1, 3), date(2024, 1, 5))
    assert c.first_date == date(2024, 1, 4) and c.last_date == date(2024, 1, 5)
    assert [round(i.ret, 10) for i in c.indices] == [0.1, 0.1, 0.5]
    assert c.gap_spx_pp == pytest.approx(0.0, abs=1e-9) and c.gap_ndx_pp == pytest.approx(-40.0)


def test_window_end_clamps_a_missing_month_end() -> None:
    assert window_end(date(2024, 1, 31), "1m") == date(2024, 2, 29)
    assert window_end(date(2009, 3, 9), "10y") == date(2019, 3, 9)
    with pytest.raises(ValueError, match="unknown period"):
        window_end(date(2009, 3, 9), "2y")


@pytest.mark.parametrize(
    ("start", "kwargs", "reason", "bound"),
    [
        (date(2020, 1, 1), {"end": date(2019, 1, 1)}, "reversed", date(2019, 1, 1)),
        (date(2020, 1, 1), {"end": date(2020, 1, 1)}, "reversed", date(2020, 1, 1)),
        (date(1987, 9, 9), {}, "before_data", date(1987, 9, 10)),  # RUT's first close is the limit
        (date(1, 1, 1), {"period": "10y"}, "before_data", date(1987, 9, 10)),  # no Timestamp overflow
        (date(2027, 1, 1), {}, "future", LAST_FILE_DAY),
        (date(9999, 12, 31), {"period": "10y"}, "future", LAST_FILE_DAY),  # no year-10009 overflow
        (date(2026, 2, 21), {}, "after_data", date(2026, 2, 20)),  # NDX/SPX have closes, RUT does not
        (date(2025, 1, 4), {"end": date(2025, 1, 5)}, "too_short", date(2025, 1, 5)),  # a weekend
        (date(2026, 2, 20), {}, "too_short", date(2026, 2, 20)),  # one close only
    ],
)
def test_compare_impossible_window_raises_its_reason(
    shared_data: Path, start: date, kwargs: dict[str, date | str], reason: str, bound: date
) -> None:
    with pytest.raises(WindowError) as caught:
        _compare(shared_data, start, **kwargs)  # type: ignore[arg-type]
    assert (caught.value.reason, caught.value.bound) == (reason, bound)


def test_compare_index_without_a_close_before_asof_is_insufficient_data() -> None:
    r = _synthetic(["2024-01-02", "2024-01-03"], [1, 2])
    late = _synthetic(["2024-02-01", "2024-02-02"], [1, 2])
    with pytest.raises(InsufficientData, match="Nasdaq-100"):
        compute_compare(r, r, late, date(2024, 1, 2), date(2024, 1, 5))


def test_compare_both_to_and_period_is_a_programming_error() -> None:
    r = _synthetic(["2024-01-02", "2024-01-03"], [1, 2])
    with pytest.raises(ValueError, match="not both"):
        compute_compare(r, r, r, date(2024, 1, 2), date(2024, 1, 5), end=date(2024, 1, 3), period="1m")
