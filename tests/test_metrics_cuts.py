"""/cuts: first cuts of easing cycles from FRED's target history, and R2K vs S&P 500 after them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.metrics.cuts import compute_cuts, find_first_cuts, rate_changes, splice_target
from bot.metrics.returns import InsufficientData, add_months
from tests.metrics_data import dfedtar, dfedtaru, fomc_announcements, rut, spx

ASOF = date(2026, 2, 20)
RUT_START = date(1987, 9, 10)
FIRST_CUTS = [  # every cycle the Russell 2000 data cover
    date(1987, 11, 4),
    date(1989, 6, 6),
    date(1995, 7, 6),
    date(1998, 9, 29),
    date(2001, 1, 3),
    date(2007, 9, 18),
    date(2019, 7, 31),
    date(2024, 9, 18),
]
RESUMED = [date(1990, 7, 13), date(2002, 11, 6), date(2003, 6, 25), date(2025, 9, 17)]


@pytest.fixture(scope="module")
def target(shared_data: Path) -> pd.Series:
    return splice_target(dfedtar(shared_data), dfedtaru(shared_data))


def _steps(changes: list[tuple[str, float]], start: str = "2000-01-01", end: str = "2004-12-31") -> pd.Series:
    """A daily target series from (date, new level) steps, starting at 5.0."""
    index = pd.date_range(start, end, freq="D")
    values = pd.Series(5.0, index=index)
    for when, level in changes:
        values.loc[when:] = level
    return values


def test_splice_target_switches_to_upper_bound_on_2008_12_16(target: pd.Series) -> None:
    assert target[pd.Timestamp("2008-12-15")] == 1.0 and target[pd.Timestamp("2008-12-16")] == 0.25
    assert target.index.is_monotonic_increasing and target.index.is_unique
    assert target.index[0] == pd.Timestamp("1982-09-27")


def test_first_cuts_since_the_russell_data_begin_by_announcement(shared_data: Path, target: pd.Series) -> None:
    cuts = find_first_cuts(target, ASOF, fomc_announcements(shared_data), since=RUT_START)
    assert [c.date for c in cuts] == FIRST_CUTS
    assert [c.effective for c in cuts][-2:] == [date(2019, 8, 1), date(2024, 9, 19)]
    assert [(c.before, c.after) for c in cuts][-2:] == [(2.5, 2.25), (5.5, 5.0)]
    assert [c.previous_kind for c in cuts] == ["hike"] * 8


def test_first_cuts_without_since_cover_the_whole_target_history(shared_data: Path, target: pd.Series) -> None:
    cuts = find_first_cuts(target, ASOF, fomc_announcements(shared_data))
    assert cuts[0].date == date(1983, 8, 17) and [c.date for c in cuts if c.date >= RUT_START] == FIRST_CUTS


def test_first_cuts_without_announcements_keep_fred_dates(target: pd.Series) -> None:
    dates = [c.date for c in find_first_cuts(target, ASOF, since=RUT_START)]
    assert dates == FIRST_CUTS[:6] + [date(2019, 8, 1), date(2024, 9, 19)]


def test_first_cuts_six_month_pause_adds_1990_2002_2003_and_2025(
    shared_data: Path, target: pd.Series
) -> None:
    dates = [c.date for c in find_first_cuts(target, ASOF, fomc_announcements(shared_data), pause_months=6, since=RUT_START)]
    extra = {date(1990, 7, 13), date(2002, 11, 6), date(2003, 6, 25), date(2025, 9, 17)}
    assert dates == sorted(set(FIRST_CUTS) | extra)


def test_rate_changes_march_2020_mapped_to_announcements(shared_data: Path, target: pd.Series) -> None:
    changes = {c.effective: c for c in rate_changes(target, ASOF, fomc_announcements(shared_data))}
    assert changes[date(2020, 3, 4)].date == date(2020, 3, 3)
    assert changes[date(2020, 3, 16)].date == date(2020, 3, 15)  # a Sunday decision
    assert (changes[date(2020, 3, 16)].before, changes[date(2020, 3, 16)].after) == (1.25, 0.25)


def test_announcement_more_than_three_days_before_is_not_used() -> None:
    series = _steps([("2001-03-10", 4.5)])
    (cut,) = find_first_cuts(series, date(2004, 1, 1), [date(2001, 3, 6)], since=date(2000, 1, 1))
    assert (cut.date, cut.effective) == (date(2001, 3, 10), date(2001, 3, 10))
    (cut,) = find_first_cuts(series, date(2004, 1, 1), [date(2001, 3, 7)], since=date(2000, 1, 1))
    assert cut.date == date(2001, 3, 7)


def test_cut_after_hike_is_first_cut_even_weeks_later() -> None:
    series = _steps([("2001-01-10", 5.25), ("2001-02-10", 5.0)])
    cuts = find_first_cuts(series, date(2004, 1, 1), since=date(2000, 1, 1))
    assert [c.date for c in cuts] == [date(2001, 2, 10)]


@pytest.mark.parametrize(("second", "is_new_cycle"), [("2002-03-09", False), ("2002-03-10", True)])
def test_cut_after_a_pause_is_new_cycle_only_from_twelve_months(second: str, is_new_cycle: bool) -> None:
    series = _steps([("2001-03-10", 4.75), (second, 4.5)])
    dates = [c.date for c in find_first_cuts(series, date(2004, 1, 1), since=date(2000, 1, 1))]
    assert dates == [date(2001, 3, 10)] + ([pd.Timestamp(second).date()] if is_new_cycle else [])


def test_cuts_every_cycle_since_the_russell_data_begin_and_resumed_cuts_marked(shared_data: Path, target: pd.Series) -> None:
    study = compute_cuts(target, rut(shared_data), spx(shared_data), ASOF, fomc_announcements(shared_data))
    assert study.data_start == RUT_START
    assert [c.date for c in study.cycles if c.kind == "cycle"] == FIRST_CUTS  # 1987-11 and 1989-06 included
    assert [c.date for c in study.cycles if c.kind == "resumed"] == RESUMED
    assert [c.paused_months for c in study.cycles if c.kind == "resumed"] == [6, 10, 7, 8]


def test_cuts_latest_cut_2025_09_17_windows_not_ended_are_marked_not_computed(shared_data: Path, target: pd.Series) -> None:
    study = compute_cuts(target, rut(shared_data), spx(shared_data), ASOF, fomc_announcements(shared_data))
    latest = study.cycles[-1]
    assert (latest.date, latest.kind) == (date(2025, 9, 17), "resumed")
    assert latest.ends == {3: date(2025, 12, 17), 6: date(2026, 3, 17), 12: date(2026, 9, 17)}
    assert [study.not_ended(latest, m) for m in (3, 6, 12)] == [False, True, True]
    assert latest.rut[3] is not None and latest.rut[6] is None and latest.spx[12] is None


def test_cuts_returns_from_the_announcement_close(shared_data: Path, target: pd.Series) -> None:
    study = compute_cuts(target, rut(shared_data), spx(shared_data), ASOF, fomc_announcements(shared_data))
    c2024 = next(c for c in study.cycles if c.date == date(2024, 9, 18))
    closes = rut(shared_data)
    assert c2024.base_date == date(2024, 9, 18)
    assert c2024.rut[12] == pytest.approx(
        closes[pd.Timestamp("2025-09-18")] / closes[pd.Timestamp("2024-09-18")] - 1
    )
    assert {m: round(v * 100, 2) for m, v in c2024.rut.items() if v is not None} == {
        3: 1.14,
        6: -7.09,
        12: 11.85,
    }
    assert {m: round(v * 100, 2) for m, v in c2024.spx.items() if v is not None} == {
        3: 4.52,
        6: -0.06,
        12: 18.04,
    }


def test_cuts_averages_over_the_eight_complete_cycles_not_the_resumed_cuts(shared_data: Path, target: pd.Series) -> None:
    study = compute_cuts(target, rut(shared_data), spx(shared_data), ASOF, fomc_announcements(shared_data))
    assert study.counted == {3: 8, 6: 8, 12: 8}
    assert study.used is not None and study.used[12] == tuple(FIRST_CUTS)
    assert {m: round((v or 0) * 100, 2) for m, v in study.avg_rut.items()} == {3: 1.27, 6: 2.85, 12: 6.91}
    assert {m: round((v or 0) * 100, 2) for m, v in study.avg_spx.items()} == {3: 2.1, 6: 4.45, 12: 7.1}
    # FoolBull's (2025-09-30) 18.7 % vs 11.2 % is not what these closes say.
    assert study.avg_rut[12] is not None and study.avg_rut[12] < study.avg_spx[12]  # type: ignore[operator]


def test_cuts_incomplete_windows_left_out_of_the_averages(shared_data: Path, target: pd.Series) -> None:
    study = compute_cuts(
        target, rut(shared_data), spx(shared_data), date(2025, 1, 31), fomc_announcements(shared_data)
    )
    c2024 = study.cycles[-1]
    assert c2024.date == date(2024, 9, 18)
    assert c2024.rut[3] is not None and c2024.rut[6] is None and c2024.rut[12] is None
    assert study.counted == {3: 8, 6: 7, 12: 7}
    assert study.used is not None and date(2024, 9, 18) not in study.used[6]


def test_cuts_window_over_a_hole_in_the_closes_is_incomplete(shared_data: Path, target: pd.Series) -> None:
    holed = rut(shared_data).drop(rut(shared_data).loc["2025-09-01":"2025-09-30"].index)
    study = compute_cuts(target, holed, spx(shared_data), ASOF, fomc_announcements(shared_data))
    c2024 = next(c for c in study.cycles if c.date == date(2024, 9, 18))
    assert c2024.rut[12] is None and study.counted[12] == 7
    # 2025-09-17's base close would be 2025-08-29, nearly three weeks old: no return from it.
    assert study.cycles[-1].rut[3] is None and not study.not_ended(study.cycles[-1], 3)


def test_cuts_asof_before_target_history_is_insufficient(shared_data: Path, target: pd.Series) -> None:
    with pytest.raises(InsufficientData, match="1980-01-01"):
        compute_cuts(target, rut(shared_data), spx(shared_data), date(1980, 1, 1))


def test_cuts_empty_target_is_insufficient(shared_data: Path) -> None:
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype="float64")
    with pytest.raises(InsufficientData, match="empty"):
        compute_cuts(empty, rut(shared_data), spx(shared_data), ASOF)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=5, max_value=600), st.sampled_from([-0.5, -0.25, 0.25, 0.5])),
        min_size=1,
        max_size=12,
    )
)
def test_first_cuts_property_each_follows_a_hike_or_a_full_pause(steps: list[tuple[int, float]]) -> None:
    day, level, changes = date(2000, 1, 1), 5.0, []
    for gap, move in steps:
        day += timedelta(days=gap)
        level += move
        changes.append((day.isoformat(), level))
    series = _steps(changes, end=(day + timedelta(days=1)).isoformat())
    cuts = find_first_cuts(series, day, since=date(2000, 1, 1))
    history = rate_changes(series, day)
    assert {c.effective for c in cuts} <= {c.effective for c in history if c.after < c.before}
    for cut in cuts:
        assert (
            cut.previous_kind == "hike" or add_months(cut.previous or date(2000, 1, 1), 12) <= cut.effective
        )
    for change in history:
        qualifies = change.after < change.before and (
            change.previous_kind == "hike"
            or add_months(change.previous or date(2000, 1, 1), 12) <= change.effective
        )
        assert qualifies == (change in cuts)


def test_render_cuts_before_the_article_was_published_does_not_quote_it() -> None:
    from datetime import date

    from bot.metrics.cuts import CutsStudy
    from bot.render.cuts import CLAIM_PUBLISHED, render_cuts

    for asof, quoted in ((date(2025, 9, 18), False), (CLAIM_PUBLISHED, True)):
        study = CutsStudy(asof=asof, data_start=date(1987, 9, 10), cycles=(), avg_rut={3: None, 6: None, 12: None},
                          avg_spx={3: None, 6: None, 12: None}, counted={3: 0, 6: 0, 12: 0})
        assert ("FoolBull" in render_cuts(study, [], "en")) is quoted
