"""/rates' metric on the real FRED series (PROVENANCE.md anchors) and on truncated copies (stale inputs)."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from bot import calendar
from bot.metrics.rates import MAX_AGE_DAYS, Rates, compute_rates, last_decision
from bot.metrics.returns import InsufficientData
from tests.metrics_data import dfedtarl, dfedtaru


@cache
def _fred(path: Path) -> pd.Series:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return frame["Value"].astype("float64").dropna()


def effr(data: Path) -> pd.Series:
    """FRED EFFR, 2000-07-03 … 2026-03-26 (business days)."""
    return _fred(data / "fred" / "EFFR_jonsflow.csv")


def dgs10(data: Path) -> pd.Series:
    """FRED DGS10, 1962-01-02 … 2026-03-26 (business days, holidays dropped)."""
    return _fred(data / "fred" / "DGS10_jonsflow.csv")


def _rates(data: Path, asof: date, **cut: str) -> Rates:
    """compute_rates on the real series; ``cut`` ends a series early (name -> last date kept)."""
    series = {"lower": dfedtarl(data), "upper": dfedtaru(data), "effr": effr(data), "dgs10": dgs10(data)}
    for name, last in cut.items():
        series[name] = series[name].loc[:last]
    return compute_rates(series["lower"], series["upper"], series["effr"], series["dgs10"], calendar.fomc_meetings(), asof)


def test_rates_day_after_the_2025_09_17_cut_shows_it_everywhere(shared_data: Path) -> None:
    r = _rates(shared_data, date(2025, 9, 18))
    assert (r.asof, r.decision) == (date(2025, 9, 18), date(2025, 9, 17))
    t = r.target
    assert t is not None
    assert (t.lower, t.upper, t.date, t.since) == (4.00, 4.25, date(2025, 9, 18), date(2025, 9, 18))
    assert (t.before_lower, t.before_upper, t.before_date) == (4.25, 4.50, date(2025, 9, 16))
    assert t.change_bp == pytest.approx(-25.0) and t.shows_decision and not t.stale
    assert r.effr is not None and (r.effr.value, r.effr.date, r.effr.before) == (4.08, date(2025, 9, 18), 4.33)
    assert r.effr.change_bp == pytest.approx(-25.0) and r.effr.shows_decision
    assert r.dgs10 is not None and (r.dgs10.value, r.dgs10.before, r.dgs10.before_date) == (4.11, 4.04, date(2025, 9, 16))
    assert r.dgs10.change_bp == pytest.approx(7.0)
    assert not r.stale


def test_rates_on_the_announcement_day_range_and_effr_do_not_show_it_yet(shared_data: Path) -> None:
    # FRED dates the new range from its effective day (2025-09-18): on the 17th it is not stale, only early.
    r = _rates(shared_data, date(2025, 9, 17))
    assert r.decision == date(2025, 9, 17)
    assert r.target is not None and r.effr is not None and r.dgs10 is not None
    assert (r.target.upper, r.target.change_bp, r.target.shows_decision, r.target.stale) == (4.50, 0.0, False, False)
    assert r.target.effective == date(2025, 9, 18) and r.target.since == date(2024, 12, 19)
    assert (r.effr.value, r.effr.shows_decision, r.effr.stale) == (4.33, False, False)
    # The 10-year yield's close already carries the 14:00 statement.
    assert r.dgs10.shows_decision and r.dgs10.change_bp == pytest.approx(2.0)


def test_rates_2026_02_20_changes_since_the_january_hold(shared_data: Path) -> None:
    r = _rates(shared_data, date(2026, 2, 20))
    assert r.decision == date(2026, 1, 28) and r.asof == date(2026, 2, 20)
    assert r.target is not None and (r.target.lower, r.target.upper, r.target.since) == (3.50, 3.75, date(2025, 12, 11))
    assert r.target.change_bp == 0.0 and r.target.before_date == date(2026, 1, 27)
    assert r.effr is not None and (r.effr.value, r.effr.change_bp) == (3.64, 0.0)
    assert r.dgs10 is not None and (r.dgs10.value, r.dgs10.before, r.dgs10.before_date) == (4.08, 4.24, date(2026, 1, 27))
    assert r.dgs10.change_bp == pytest.approx(-16.0)
    assert not r.stale


@pytest.mark.parametrize(
    ("decision", "change_bp"),
    [
        (date(2024, 9, 18), -50.0),
        (date(2024, 11, 7), -25.0),
        (date(2024, 12, 18), -25.0),
        (date(2025, 1, 29), 0.0),
        (date(2025, 10, 29), -25.0),
        (date(2025, 12, 10), -25.0),
    ],
)
def test_rates_target_change_matches_each_decision_two_days_later(shared_data: Path, decision: date, change_bp: float) -> None:
    asof = date.fromordinal(decision.toordinal() + 2)
    r = _rates(shared_data, asof)
    assert r.decision == decision
    assert r.target is not None and r.target.change_bp == pytest.approx(change_bp) and r.target.shows_decision
    # Independently: the upper bound two days after minus the one the day before the announcement.
    upper = dfedtaru(shared_data)
    before = upper.loc[: pd.Timestamp(date.fromordinal(decision.toordinal() - 1))].iloc[-1]
    assert r.target.change_bp == pytest.approx((upper.loc[pd.Timestamp(asof)] - before) * 100)


def test_rates_range_missing_a_decision_in_effect_is_stale(shared_data: Path) -> None:
    # The range stops on the announcement day; two days later the cut is in effect but not in the data.
    r = _rates(shared_data, date(2025, 9, 19), lower="2025-09-17", upper="2025-09-17")
    assert r.target is not None and r.target.stale and not r.target.shows_decision
    assert r.target.date == date(2025, 9, 17) and r.stale
    assert r.effr is not None and not r.effr.stale


def test_rates_dgs10_more_than_a_week_old_is_stale(shared_data: Path) -> None:
    old = _rates(shared_data, date(2026, 2, 20), dgs10="2026-02-12")
    assert old.dgs10 is not None and old.dgs10.stale and old.dgs10.date == date(2026, 2, 12)
    exactly_a_week = _rates(shared_data, date(2026, 2, 20), dgs10="2026-02-13")
    assert exactly_a_week.dgs10 is not None and not exactly_a_week.dgs10.stale
    assert (date(2026, 2, 20) - exactly_a_week.dgs10.date).days == MAX_AGE_DAYS


def test_rates_before_the_range_era_leaves_the_target_out(shared_data: Path) -> None:
    r = _rates(shared_data, date(2005, 1, 3))
    assert r.target is None and r.decision == date(2004, 12, 14)
    assert r.effr is not None and r.effr.before_date == date(2004, 12, 13)


def test_rates_missing_series_are_none_and_all_missing_is_insufficient(shared_data: Path) -> None:
    r = compute_rates(None, None, None, dgs10(shared_data), calendar.fomc_meetings(), date(2026, 2, 20))
    assert r.target is None and r.effr is None and r.dgs10 is not None and r.asof == date(2026, 2, 20)
    with pytest.raises(InsufficientData):
        compute_rates(None, None, None, None, calendar.fomc_meetings(), date(2026, 2, 20))


def test_rates_asof_is_the_latest_observation_used(shared_data: Path) -> None:
    # A Saturday: the range is daily (2026-02-21), EFFR and DGS10 stop on Friday.
    r = _rates(shared_data, date(2026, 2, 21))
    assert r.asof == date(2026, 2, 21) and r.requested == date(2026, 2, 21)
    assert r.effr is not None and r.effr.date == date(2026, 2, 20)


def test_last_decision_is_on_or_before_asof() -> None:
    decisions = (date(2025, 9, 17), date(2025, 10, 29))
    assert last_decision(decisions, date(2025, 9, 17)) == date(2025, 9, 17)
    assert last_decision(decisions, date(2025, 10, 28)) == date(2025, 9, 17)
    assert last_decision(decisions, date(2025, 9, 16)) is None
