"""The FOMC decision calendar (bot/data/fomc_decisions.csv) and NYSE sessions."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import calendar
from bot.calendar import (
    FomcDecision,
    calendar_horizon,
    fomc_decisions,
    fomc_meetings,
    is_session,
    last_completed_session,
    meetings_between,
    next_meeting,
    next_session,
    previous_session,
    session_close,
)

NEW_YORK = ZoneInfo("America/New_York")


# --- FOMC -----------------------------------------------------------------------------------------------


def test_fomc_meetings_2024_has_the_real_dates_not_pyfedwatch_projections() -> None:
    meetings_2024 = meetings_between(date(2024, 1, 1), date(2024, 12, 31))
    assert meetings_2024 == (
        date(2024, 1, 31), date(2024, 3, 20), date(2024, 5, 1), date(2024, 6, 12),
        date(2024, 7, 31), date(2024, 9, 18), date(2024, 11, 7), date(2024, 12, 18),
    )  # fmt: skip
    assert not {date(2024, 6, 19), date(2024, 9, 25), date(2024, 11, 6)} & set(fomc_meetings())


def test_fomc_decisions_2020_unscheduled_cuts_present() -> None:
    kinds = {d.decision_date: d.kind for d in fomc_decisions() if d.decision_date.year == 2020}
    assert kinds[date(2020, 3, 3)] == "unscheduled"
    assert kinds[date(2020, 3, 15)] == "unscheduled"
    assert Counter(kinds.values()) == {
        "scheduled": 7,
        "unscheduled": 2,
    }  # March 17-18 was replaced by the 15th


def test_fomc_decisions_kinds_since_1994_match_known_intermeeting_moves() -> None:
    unscheduled = [
        d.decision_date for d in fomc_decisions() if d.kind == "unscheduled" and d.decision_date.year >= 1994
    ]
    assert unscheduled == [
        date(1994, 4, 18), date(1998, 10, 15), date(2001, 1, 3), date(2001, 4, 18), date(2001, 9, 17),
        date(2008, 1, 22), date(2008, 10, 8), date(2020, 3, 3), date(2020, 3, 15),
    ]  # fmt: skip
    tentative = [d.decision_date for d in fomc_decisions() if d.kind == "tentative"]
    assert tentative == list(meetings_between(date(2027, 1, 1), date(2027, 12, 31))) and len(tentative) == 8


def test_fomc_meetings_span_1982_to_2027_sorted_and_unique() -> None:
    meetings = fomc_meetings()
    assert (meetings[0], meetings[-1], len(meetings)) == (date(1982, 10, 1), date(2027, 12, 8), 309)
    assert list(meetings) == sorted(set(meetings))
    per_year = Counter(m.year for m in meetings)
    assert all(per_year[year] == 8 for year in (2021, 2022, 2023, 2024, 2025, 2026, 2027))
    assert fomc_meetings() is meetings  # cached


def test_fomc_csv_matches_its_sources(shared_data: Path) -> None:
    """The data file is the shared sources stitched as documented in its header."""
    fomc = shared_data / "fomc"
    with (fomc / "fomc_meetings_1982_2024_pyfedwatch.csv").open(newline="") as handle:
        pyfedwatch = [date.fromisoformat(row["FOMCDate"]) for row in csv.DictReader(handle)]
    with (fomc / "fomc_dates_2021_2025_HuseynliGulara.csv").open(newline="") as handle:
        huseynli = [date.fromisoformat(row["decision_date"]) for row in csv.DictReader(handle)]
    with (fomc / "fomc_decisions_2026_2027.csv").open(newline="") as handle:
        published = [
            (date.fromisoformat(row["decision_date"]), row["status"]) for row in csv.DictReader(handle)
        ]
    expected = (
        [d for d in pyfedwatch if d.year <= 2023]
        + [d for d in huseynli if d.year >= 2024]
        + [d for d, _ in published]
    )
    assert list(fomc_meetings()) == expected
    assert [d for d in pyfedwatch if 2021 <= d.year <= 2023] == [d for d in huseynli if d.year <= 2023]
    kinds = {d.decision_date: d.kind for d in fomc_decisions()}
    assert all(kinds[d] == status for d, status in published)


def test_next_meeting_is_strictly_after_and_none_past_the_horizon() -> None:
    assert next_meeting(date(2026, 9, 16)) == date(2026, 10, 28)
    assert next_meeting(date(2026, 9, 15)) == date(2026, 9, 16)
    assert next_meeting(date(2027, 12, 8)) is None


def test_meetings_between_includes_both_ends() -> None:
    assert meetings_between(date(2020, 3, 3), date(2020, 3, 15)) == (date(2020, 3, 3), date(2020, 3, 15))
    assert meetings_between(date(2020, 3, 4), date(2020, 3, 14)) == ()


def test_calendar_horizon_is_more_than_12_months_after_today() -> None:
    """Fails when the FOMC calendar runs out within 12 months of the real date of the test run.

    This test alone reads the wall clock, on purpose: its job is to warn maintainers to append the Fed's
    next published calendar (federalreserve.gov/monetarypolicy/fomccalendars.htm) to
    bot/data/fomc_decisions.csv before FedWatch runs out of meetings to price.
    """
    today = datetime.now(UTC).date()
    assert calendar_horizon() == fomc_meetings()[-1]
    assert calendar_horizon() > today + timedelta(days=365), (
        f"FOMC calendar ends {calendar_horizon()}: append the Fed's next dates to bot/data/fomc_decisions.csv"
    )


def test_fomc_decision_is_frozen() -> None:
    decision = fomc_decisions()[0]
    assert isinstance(decision, FomcDecision)
    with pytest.raises(AttributeError):
        decision.kind = "scheduled"  # type: ignore[misc]


# --- NYSE -----------------------------------------------------------------------------------------------


def test_is_session_thanksgiving_2026_closed_and_black_friday_open() -> None:
    assert not is_session(date(2026, 11, 26))
    assert is_session(date(2026, 11, 27))
    assert not is_session(date(2026, 11, 28))  # Saturday


def test_session_close_black_friday_2026_is_early_close_13h_new_york() -> None:
    assert session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert session_close(date(2026, 11, 25)) == datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert session_close(date(2026, 7, 1)) == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # summer time
    with pytest.raises(ValueError, match="not an NYSE session"):
        session_close(date(2026, 11, 26))


def test_last_completed_session_on_saturday_is_friday_early_close() -> None:
    assert last_completed_session(datetime(2026, 11, 28, 12, 0, tzinfo=NEW_YORK)) == date(2026, 11, 27)


def test_last_completed_session_before_and_after_the_16h_close() -> None:
    assert last_completed_session(datetime(2026, 11, 24, 15, 59, tzinfo=NEW_YORK)) == date(2026, 11, 23)
    assert last_completed_session(datetime(2026, 11, 24, 16, 1, tzinfo=NEW_YORK)) == date(2026, 11, 24)
    assert last_completed_session(datetime(2026, 11, 24, 16, 0, tzinfo=NEW_YORK)) == date(
        2026, 11, 24
    )  # close <= now


def test_last_completed_session_counts_the_early_close() -> None:
    assert last_completed_session(datetime(2026, 11, 27, 12, 59, tzinfo=NEW_YORK)) == date(2026, 11, 25)
    assert last_completed_session(datetime(2026, 11, 27, 13, 0, tzinfo=NEW_YORK)) == date(2026, 11, 27)


def test_last_completed_session_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        last_completed_session(datetime(2026, 11, 24, 17, 0))  # noqa: DTZ001


def test_previous_and_next_session_skip_the_holiday() -> None:
    assert previous_session(date(2026, 11, 27)) == date(2026, 11, 25)
    assert next_session(date(2026, 11, 25)) == date(2026, 11, 27)
    assert previous_session(date(2026, 11, 28)) == date(2026, 11, 27)
    assert next_session(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas on Friday, then the weekend


def test_nyse_calendar_covers_1985_through_2027_and_beyond() -> None:
    assert is_session(date(1985, 1, 2))
    assert not is_session(date(1985, 9, 27))  # Hurricane Gloria
    assert not is_session(date(2001, 9, 11))
    assert is_session(date(2027, 12, 31))
    assert not is_session(date(2027, 11, 25))  # Thanksgiving 2027
    with pytest.raises(ValueError, match="outside the NYSE calendar"):
        is_session(date(1984, 12, 31))


def test_nyse_calendar_is_built_once() -> None:
    assert calendar._sessions() is calendar._sessions()


def test_session_in_progress_from_open_until_close_early_close_and_holiday() -> None:
    def at(iso: str) -> date | None:
        return calendar.session_in_progress(datetime.fromisoformat(iso).replace(tzinfo=UTC))

    assert at("2026-11-25T14:29:59") is None  # 09:29:59 New York
    assert at("2026-11-25T14:30:00") == date(2026, 11, 25)
    assert at("2026-11-25T20:59:59") == date(2026, 11, 25)
    assert at("2026-11-25T21:00:00") is None  # the 16:00 close
    assert at("2026-11-26T16:00:00") is None  # Thanksgiving
    assert at("2026-11-27T17:59:00") == date(2026, 11, 27)
    assert at("2026-11-27T18:00:00") is None  # Black Friday closes at 13:00
