"""/risk, /cuts and /pe metrics on the real data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot import calendar
from bot.metrics.cuts import compute_cuts, splice_target
from bot.metrics.pe import PESeries, choose_pe_series, compute_pe_gap
from bot.metrics.risk import compute_risk
from tests.metrics_data import dfedtar, dfedtaru, ndx, rut, shiller_trailing_pe, spx


def test_risk_drawdowns_in_2022_match_the_closes(shared_data: Path) -> None:
    r = compute_risk("RUT", rut(shared_data), date(2026, 2, 20))
    dd = r.episodes["bear2022"]
    assert dd is not None and (dd.peak_date, dd.trough_date) == (date(2021, 11, 8), date(2022, 6, 16))
    closes = rut(shared_data)
    assert dd.depth == pytest.approx(1 - closes[pd.Timestamp("2022-06-16")] / closes[pd.Timestamp("2021-11-08")])


def test_risk_financial_crisis_is_not_measured_from_the_dot_com_peak(shared_data: Path) -> None:
    dd = compute_risk("NDX", ndx(shared_data), date(2026, 2, 20)).episodes["gfc"]
    assert dd is not None and dd.peak_date.year == 2007 and 0.45 < dd.depth < 0.6 and not dd.peak_is_record


def test_risk_small_caps_fell_further_than_the_sp500_in_each_episode(shared_data: Path) -> None:
    small = compute_risk("RUT", rut(shared_data), date(2026, 2, 20)).episodes
    large = compute_risk("SPX", spx(shared_data), date(2026, 2, 20)).episodes
    for key in ("gfc", "covid", "bear2022"):
        assert small[key].depth > large[key].depth  # type: ignore[union-attr]


def test_risk_volatility_is_annualised_std_of_log_returns(shared_data: Path) -> None:
    closes = rut(shared_data).loc[:"2026-02-20"]
    expected = float(np.std(np.diff(np.log(closes.to_numpy()))[-252:], ddof=1) * np.sqrt(252))
    assert compute_risk("RUT", closes, date(2026, 2, 20)).vol_1y == pytest.approx(expected)


def test_cuts_finds_the_2001_2007_2019_and_2024_cycles_by_announcement(shared_data: Path) -> None:
    target = splice_target(dfedtar(shared_data), dfedtaru(shared_data))
    study = compute_cuts(target, rut(shared_data), spx(shared_data), date(2026, 2, 20), calendar.fomc_meetings())
    dates = [c.date for c in study.cycles]
    for expected in (date(2001, 1, 3), date(2007, 9, 18), date(2019, 7, 31), date(2024, 9, 18)):
        assert expected in dates
    assert date(2020, 3, 3) not in dates and date(2020, 3, 15) not in dates  # inside the 2019 cycle


def test_cuts_returns_are_from_the_announcement_close(shared_data: Path) -> None:
    target = splice_target(dfedtar(shared_data), dfedtaru(shared_data))
    study = compute_cuts(target, rut(shared_data), spx(shared_data), date(2026, 2, 20), calendar.fomc_meetings())
    c2024 = next(c for c in study.cycles if c.date == date(2024, 9, 18))
    closes = rut(shared_data)
    base = closes.loc[:"2024-09-18"].iloc[-1]
    assert c2024.rut[12] == pytest.approx(closes.loc[:"2025-09-18"].iloc[-1] / base - 1)
    assert study.counted[12] == len([c for c in study.cycles if c.kind == "cycle" and c.rut[12] is not None])


def test_cuts_incomplete_windows_are_left_out_of_the_averages(shared_data: Path) -> None:
    target = splice_target(dfedtar(shared_data), dfedtaru(shared_data))
    study = compute_cuts(target, rut(shared_data), spx(shared_data), date(2025, 1, 31), calendar.fomc_meetings())
    c2024 = next(c for c in study.cycles if c.date == date(2024, 9, 18))
    assert c2024.rut[3] is not None and c2024.rut[6] is None and c2024.rut[12] is None


def _series(values: list[float], start: str = "2024-01-02") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)))


def test_pe_gap_in_turns_and_percent_without_percentile_under_a_year() -> None:
    large = PESeries("PE_SPY", _series([25.0, 26.0]), "trailing", "S&P 500 trailing P/E (SPY holdings)")
    small = PESeries("PE_IJR", _series([16.0, 16.25]), "trailing", "S&P 600 trailing P/E (IJR holdings)")
    gap = compute_pe_gap(large, small, date(2024, 1, 3))
    assert gap.gap_turns == pytest.approx(9.75) and gap.gap_pct == pytest.approx(9.75 / 16.25)
    assert gap.percentile is None and gap.history_days == 1 and gap.comparable


def test_pe_reply_with_one_day_of_gap_history_says_1_day() -> None:
    from bot.render.pe import render_pe

    large = PESeries("PE_SPY", _series([25.0, 26.0]), "trailing", "S&P 500 trailing P/E (SPY holdings)")
    small = PESeries("PE_IJR", _series([16.0, 16.25]), "trailing", "S&P 600 trailing P/E (IJR holdings)")
    gap = compute_pe_gap(large, small, date(2024, 1, 3))
    text = render_pe(gap, [], [], "en")
    assert "covers 1 day (since" in text and "1 days" not in text


def test_pe_gap_percentile_with_more_than_a_year_of_history() -> None:
    n = 300
    large = PESeries("PE_SPX_FWD", _series([20.0 + i * 0.01 for i in range(n)], "2023-01-02"), "forward", "S&P 500 forward P/E")
    small = PESeries("PE_SP600_FWD", _series([15.0] * n, "2023-01-02"), "forward", "S&P 600 forward P/E")
    gap = compute_pe_gap(large, small, date(2024, 12, 31))
    assert gap.percentile == pytest.approx((n - 1) / n)


def test_pe_prefers_an_imported_forward_series_over_the_trailing_proxy() -> None:
    trailing = PESeries("PE_SPY", _series([25.0] * 500), "trailing", "x")
    forward = PESeries("PE_SPX_FWD", _series([21.0] * 10), "forward", "y")
    assert choose_pe_series([trailing, forward, None]) is forward


def test_pe_on_the_shiller_file_uses_real_trailing_pe(shared_data: Path) -> None:
    pe = shiller_trailing_pe(shared_data)
    assert pe.loc["2021-12"].iloc[0] == pytest.approx(23.63, abs=0.01)
