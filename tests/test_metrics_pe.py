"""/pe: the S&P 500 vs S&P 600 P/E gap on synthetic series and on Shiller's S&P 500 trailing P/E."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.metrics.pe import PESeries, best_pe, choose_pe_series, compute_pe_gap, latest, pe_gap_series
from bot.metrics.returns import InsufficientData
from tests.metrics_data import shiller_trailing_pe


def _series(values: list[float], start: str = "2024-01-02", freq: str = "B") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq), dtype="float64")


def _pe(name: str, values: pd.Series, kind: str = "trailing") -> PESeries:
    return PESeries(name, values, kind, f"{name} label")


def test_pe_gap_turns_and_percent_under_a_year_no_percentile() -> None:
    gap = compute_pe_gap(
        _pe("PE_SPY", _series([25.0, 26.0])), _pe("PE_IJR", _series([16.0, 16.25])), date(2024, 1, 3)
    )
    assert (gap.asof, gap.large.value, gap.small.value) == (date(2024, 1, 3), 26.0, 16.25)
    assert gap.gap_turns == 9.75 and gap.gap_pct == 9.75 / 16.25
    assert gap.percentile is None and (gap.history_days, gap.observations) == (1, 2)
    assert gap.mean_turns == (9.0 + 9.75) / 2 and gap.comparable


def test_pe_gap_percentile_with_more_than_a_year() -> None:
    n = 300
    large = _pe("PE_SPX_FWD", _series([20.0 + i * 0.01 for i in range(n)], "2023-01-02"), "forward")
    small = _pe("PE_SP600_FWD", _series([15.0] * n, "2023-01-02"), "forward")
    gap = compute_pe_gap(large, small, date(2024, 12, 31))
    assert gap.history_days == 417 and gap.percentile == (n - 1) / n


def test_pe_gap_asof_truncates_history() -> None:
    large = _pe("PE_SPY", _series([20.0, 21.0, 30.0]))
    small = _pe("PE_IJR", _series([15.0, 15.0, 15.0]))
    gap = compute_pe_gap(large, small, date(2024, 1, 3))
    assert (gap.asof, gap.gap_turns, gap.observations) == (date(2024, 1, 3), 6.0, 2)


def test_pe_gap_on_last_common_date_when_series_end_apart() -> None:
    large = _pe("PE_SPY", _series([20.0, 21.0, 22.0]))
    small = _pe("PE_IJR", _series([15.0, 15.5]))
    gap = compute_pe_gap(large, small, date(2024, 1, 31))
    assert (gap.asof, gap.gap_turns) == (date(2024, 1, 3), 5.5)
    assert latest(large, date(2024, 1, 31)).value == 22.0


def test_pe_gap_zero_and_infinite_placeholders_dropped() -> None:
    large = _pe("PE_SPY", _series([20.0, 0.0, np.inf, 22.0]))
    small = _pe("PE_IJR", _series([15.0, 15.0, 15.0, -3.0]))
    gap = compute_pe_gap(large, small, date(2024, 1, 31))
    assert (gap.asof, gap.gap_turns, gap.observations) == (date(2024, 1, 2), 5.0, 1)


def test_pe_gap_mixed_kinds_flagged_not_comparable() -> None:
    gap = compute_pe_gap(
        _pe("PE_SPX_FWD", _series([21.0]), "forward"), _pe("PE_IJR", _series([16.0])), date(2024, 1, 2)
    )
    assert not gap.comparable and gap.large.kind == "forward" and gap.small.kind == "trailing"


def test_pe_gap_others_carry_latest_r2k_and_ndx() -> None:
    gap = compute_pe_gap(
        _pe("PE_SPY", _series([25.0, 26.0])),
        _pe("PE_IJR", _series([16.0, 16.25])),
        date(2024, 1, 3),
        r2k=_pe("PE_IWM", _series([18.0])),
        ndx=_pe("PE_QQQ", _series([], "2024-01-02")),
    )
    assert [(o.name, o.value, o.date) for o in gap.others] == [("PE_IWM", 18.0, date(2024, 1, 2))]


def test_pe_gap_no_common_dates_is_insufficient() -> None:
    large = _pe("PE_SPY", _series([25.0], "2024-01-02"))
    small = _pe("PE_IJR", _series([16.0], "2024-01-03"))
    with pytest.raises(InsufficientData, match="common dates"):
        compute_pe_gap(large, small, date(2024, 1, 31))


def test_pe_gap_asof_before_data_is_insufficient() -> None:
    with pytest.raises(InsufficientData):
        compute_pe_gap(_pe("PE_SPY", _series([25.0])), _pe("PE_IJR", _series([16.0])), date(2023, 12, 31))


def test_pe_latest_empty_series_is_insufficient() -> None:
    with pytest.raises(InsufficientData, match="PE_IJR label"):
        latest(_pe("PE_IJR", _series([])), date(2024, 1, 2))


def test_choose_pe_prefers_forward_over_longer_trailing() -> None:
    trailing = _pe("PE_SPY", _series([25.0] * 500))
    forward = _pe("PE_SPX_FWD", _series([21.0] * 10), "forward")
    assert choose_pe_series([trailing, forward, None]) is forward


def test_choose_pe_stale_forward_loses_to_fresh_trailing() -> None:
    trailing = _pe("PE_SPY", _series([25.0] * 500, "2023-01-02"))  # to 2024-11-01
    forward = _pe("PE_SPX_FWD", _series([21.0] * 10, "2023-01-02"), "forward")  # to 2023-01-13
    assert choose_pe_series([trailing, forward], asof=date(2024, 11, 1)) is trailing
    assert choose_pe_series([trailing, forward], asof=date(2023, 1, 20)) is forward


def test_choose_pe_skips_empty_and_future_only_series() -> None:
    empty = _pe("PE_SPX_FWD", _series([]), "forward")
    later = _pe("PE_SPY", _series([25.0], "2025-01-02"))
    assert choose_pe_series([empty, later], asof=date(2024, 12, 31)) is None
    assert choose_pe_series([empty, later]) is later
    assert choose_pe_series([]) is None


def test_best_pe_by_series_name_marks_fwd_as_forward() -> None:
    values = {"PE_SPY": _series([25.0] * 3), "PE_SPX_FWD": _series([21.0] * 2)}
    chosen = best_pe(values, "large", {"PE_SPX_FWD": "S&P 500 forward P/E"})
    assert chosen is not None and (chosen.name, chosen.kind, chosen.label) == (
        "PE_SPX_FWD",
        "forward",
        "S&P 500 forward P/E",
    )


def test_pe_gap_series_uses_best_series_on_common_dates() -> None:
    values = {"PE_SPY": _series([25.0, 26.0, 27.0]), "PE_IJR": _series([16.0, 0.0, 17.0])}
    out = pe_gap_series(values, {})
    assert out.to_list() == [9.0, 10.0] and out.index[-1] == pd.Timestamp("2024-01-04")


def test_shiller_trailing_pe_placeholders_dropped(shared_data: Path) -> None:
    pe = shiller_trailing_pe(shared_data)
    assert round(pe[pd.Timestamp("2021-12-01")], 2) == 23.63
    assert round(pe[pd.Timestamp("2022-12-01")], 2) == 22.65
    assert pe.index[-1] == pd.Timestamp("2023-06-01") and round(pe.iloc[-1], 2) == 23.99


def test_pe_gap_on_shiller_raw_price_over_earnings_skips_the_zero_earnings(shared_data: Path) -> None:
    raw = pd.read_csv(
        shared_data / "pe" / "shiller_sp500_monthly_datahub.csv", parse_dates=["Date"], index_col="Date"
    )
    with np.errstate(divide="ignore"):
        pe = (raw["SP500"] / raw["Earnings"]).astype("float64")  # inf from 2023-07 on
    large = _pe("SHILLER", pe)
    small = _pe("FLAT", pd.Series(15.0, index=pe.index))
    assert latest(large, date(2026, 6, 30)).date == date(2023, 6, 1)
    gap = compute_pe_gap(large, small, date(2021, 12, 31))
    assert (gap.asof, round(gap.large.value, 2), round(gap.gap_turns, 2)) == (date(2021, 12, 1), 23.63, 8.63)
    assert gap.history_start == date(1871, 1, 1) and gap.percentile is not None
    ref = pe.loc[:"2021-12-01"] - 15.0
    assert gap.percentile == pytest.approx(float((ref < ref.iloc[-1]).mean()))
    assert round(gap.percentile, 4) == 0.9161  # Dec 2021 was above 91.6 % of months since 1871


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0.5, max_value=80.0), st.floats(min_value=0.5, max_value=80.0)),
        min_size=1,
        max_size=600,
    )
)
def test_pe_gap_property_gap_mean_and_percentile(pairs: list[tuple[float, float]]) -> None:
    large = _pe("L", _series([p[0] for p in pairs]))
    small = _pe("S", _series([p[1] for p in pairs]))
    gap = compute_pe_gap(large, small, date(2030, 1, 1))
    gaps = np.array([a - b for a, b in pairs])
    assert gap.gap_turns == pytest.approx(gaps[-1]) and gap.mean_turns == pytest.approx(gaps.mean())
    if gap.history_days >= 365:
        assert gap.percentile is not None and 0.0 <= gap.percentile < 1.0
        assert gap.percentile == pytest.approx(np.count_nonzero(gaps < gaps[-1]) / len(gaps))
    else:
        assert gap.percentile is None
