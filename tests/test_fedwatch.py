"""FedWatch by CME's method: the SPEC's worked example, CME's published tree, edge cases, properties."""

from __future__ import annotations

import csv
import json
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calendar import fomc_meetings
from bot.metrics.fedwatch import FedWatchResult, MeetingOdds, compute_fedwatch, propagate_tree, split_move

SPEC_TRADE_DATE = date(2026, 9, 17)
SPEC_LOWER = 3.75  # 3.75-4.00, raised at the 2026-09-16 meeting


def pct(probabilities: dict[float, float]) -> dict[float, float]:
    """Probabilities as CME shows them: percent to one decimal."""
    return {lower: round(p * 100, 1) for lower, p in probabilities.items() if round(p * 100, 1) > 0}


MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def r(price: float) -> float:
    return 100.0 - price


def load_spec_strip(shared_data: Path) -> dict[date, float]:
    """The CME settlements fixture as ``{first day of month: settle}``, parsed here on purpose (only the
    ``settle`` field, A/B suffix stripped, ``-`` skipped) so this test does not depend on bot.sources.cme."""
    raw = json.loads((shared_data / "fixtures" / "cme" / "settlements_ZQ_20260917.json").read_text())
    strip: dict[date, float] = {}
    for row in raw["settlements"]:
        if row["month"] == "Total" or row["settle"] == "-":
            continue
        name, year = row["month"].split()  # "SEP 26"
        strip[date(2000 + int(year), MONTH_NAMES.index(name) + 1, 1)] = float(row["settle"].rstrip("AB"))
    return strip


@pytest.fixture(scope="module")
def spec_strip(shared_data: Path) -> dict[date, float]:
    return load_spec_strip(shared_data)


@pytest.fixture(scope="module")
def spec_result(spec_strip: dict[date, float]) -> FedWatchResult:
    return compute_fedwatch(spec_strip, fomc_meetings(), trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)


def by_meeting(result: FedWatchResult) -> dict[date, MeetingOdds]:
    return {m.meeting: m for m in result.meetings}


# --- the SPEC's worked example (shared/fedwatch/SPEC.md) ----------------------------------------------


@pytest.mark.parametrize(
    ("meeting", "expected"),
    [
        (date(2026, 10, 28), {3.75: 44.6, 4.00: 55.4}),
        (date(2026, 12, 9), {3.75: 11.0, 4.00: 47.3, 4.25: 41.7}),
        (date(2027, 1, 27), {3.75: 7.0, 4.00: 34.0, 4.25: 43.7, 4.50: 15.3}),
        (date(2027, 3, 17), {3.75: 2.5, 4.00: 16.6, 4.25: 37.5, 4.50: 33.6, 4.75: 9.8}),
    ],
)
def test_compute_fedwatch_spec_example_probabilities_match_cme_to_0_1pp(
    spec_result: FedWatchResult, meeting: date, expected: dict[float, float]
) -> None:
    odds = by_meeting(spec_result)[meeting]
    assert pct(odds.probabilities) == expected


def test_compute_fedwatch_spec_example_start_and_end_rates_match_spec(spec_result: FedWatchResult) -> None:
    got = {m.meeting: (round(m.start_rate, 4), round(m.end_rate, 4)) for m in spec_result.meetings}
    assert got[date(2026, 10, 28)] == (3.8816, 4.0200)
    assert got[date(2026, 12, 9)] == (4.0200, 4.2081)
    assert got[date(2027, 1, 27)] == (4.2081, 4.3000)
    assert got[date(2027, 3, 17)] == (4.3000, 4.4607)
    assert got[date(2027, 4, 28)] == (4.4607, 4.5250)
    assert round(by_meeting(spec_result)[date(2026, 10, 28)].x, 4) == 0.5536


def test_compute_fedwatch_spec_example_reports_every_meeting_to_calendar_end(
    spec_result: FedWatchResult,
) -> None:
    assert [m.meeting for m in spec_result.meetings] == [
        date(2026, 10, 28), date(2026, 12, 9), date(2027, 1, 27), date(2027, 3, 17), date(2027, 4, 28),
        date(2027, 6, 9), date(2027, 7, 28), date(2027, 9, 15), date(2027, 10, 27), date(2027, 12, 8),
    ]  # fmt: skip
    assert spec_result.unsolved == ()
    assert spec_result.horizon == date(2027, 12, 8)
    # Dec 2027 has no anchor after it (Jan 2028 is past the calendar): its own contract gives E.
    dec27 = by_meeting(spec_result)[date(2027, 12, 8)]
    assert dec27.end_rate == pytest.approx((31 * r(95.415) - 8 * r(95.39)) / 23, abs=1e-12)


def test_compute_fedwatch_spec_example_months_show_roles_and_prices_used(spec_result: FedWatchResult) -> None:
    months = {m.month: m for m in spec_result.months}
    anchors = [m.month for m in spec_result.months if m.role == "anchor"]
    assert anchors == [
        date(2026, 11, 1),
        date(2027, 2, 1),
        date(2027, 5, 1),
        date(2027, 8, 1),
        date(2027, 11, 1),
    ]
    assert (
        months[date(2026, 12, 1)].price == 95.8450 and not months[date(2026, 12, 1)].used
    )  # SPEC: DEC 26 unused
    assert months[date(2026, 9, 1)].role == "meeting" and not months[date(2026, 9, 1)].used  # past meeting
    assert months[date(2026, 10, 1)].used and months[date(2026, 11, 1)].rate == 4.02
    assert all(m.role == "beyond_horizon" for m in spec_result.months if m.month >= date(2028, 1, 1))
    assert spec_result.months[-1].month == date(2031, 8, 1)  # the strip runs SEP 26 .. AUG 31


def test_compute_fedwatch_spec_example_totals_and_most_likely(spec_result: FedWatchResult) -> None:
    october, december, january = spec_result.meetings[:3]
    assert (october.cut, round(october.hold, 3), round(october.hike, 3)) == (0.0, 0.446, 0.554)
    assert (round(december.hold, 3), round(december.hike, 3)) == (0.110, 0.890)
    assert (october.most_likely, december.most_likely, january.most_likely) == (4.00, 4.00, 4.25)
    assert october.expected_rate == october.end_rate == pytest.approx(4.02, abs=1e-12)
    # A cut is priced only once the tree reaches the late-2027 meetings with negative x.
    assert round(spec_result.meetings[-1].cut * 100, 1) == 0.3


def test_compute_fedwatch_spec_example_year_end_rates_are_e_of_last_meeting(
    spec_result: FedWatchResult,
) -> None:
    assert spec_result.year_end_rates == {
        2026: pytest.approx((31 * r(95.78) - 4 * r(95.70)) / 27, abs=1e-12),  # S(Jan 27) = E(Dec 26)
        2027: pytest.approx((31 * r(95.415) - 8 * r(95.39)) / 23, abs=1e-12),
    }
    assert spec_result.trade_date == SPEC_TRADE_DATE and spec_result.lower_bound == SPEC_LOWER


def test_compute_fedwatch_meeting_on_trade_date_is_already_decided(spec_strip: dict[date, float]) -> None:
    result = compute_fedwatch(spec_strip, fomc_meetings(), trade_date=date(2026, 9, 16), lower_bound=3.75)
    assert result.meetings[0].meeting == date(2026, 10, 28)


# --- CME's published FedWatch history (shared/data/fedwatch, PROVENANCE.md section 3b) -------------------


def load_cme_history(shared_data: Path) -> dict[date, dict[date, dict[float, float]]]:
    """``{meeting: {trade date: {lower bound %: probability}}}`` from the FedMeeting_YYYYMMDD.csv exports.

    Bins are in basis points; from 1,000 bp on CME writes them with a thousands dot ("(1.225-1.250)").
    Empty cells are zero. Header-only files (meetings with no history) are skipped.
    """
    out: dict[date, dict[date, dict[float, float]]] = {}
    for path in sorted((shared_data / "fedwatch").glob("FedMeeting_2*.csv")):
        stamp = path.stem.split("_")[1]  # YYYYMMDD
        meeting = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], rows[1:]
        if not body:
            continue
        lowers = [int(label.strip("()").split("-")[0].replace(".", "")) / 100 for label in header[1:]]
        days: dict[date, dict[float, float]] = {}
        for row in body:
            day = date(*map(int, row[0].split("/")))  # YYYY/M/D
            days[day] = {
                lower: float(cell)
                for lower, cell in zip(lowers, row[1:], strict=True)
                if cell and float(cell) > 0
            }
        out[meeting] = days
    return out


def mean_lower(dist: dict[float, float]) -> float:
    return sum(lower * p for lower, p in dist.items()) / sum(dist.values())


def max_gap_pp(a: dict[float, float], b: dict[float, float]) -> float:
    return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b)) * 100


def test_propagate_tree_reproduces_cme_published_next_meeting_to_0_1pp(shared_data: Path) -> None:
    """CME's published odds for meeting k+1 are its odds for meeting k pushed through one binary step.

    For every trade date and pair of consecutive meetings in CME's exports, the step's x is read off the
    two distributions (their means differ by x steps); the whole k+1 distribution must then follow.
    This is the cross-check of SPEC steps 6-7 against what CME published (1,589 cases).
    """
    history = load_cme_history(shared_data)
    meetings = sorted(history)
    compared = 0
    worst = 0.0
    for this, nxt in zip(meetings, meetings[1:], strict=False):
        for day, dist in history[this].items():
            later = history[nxt].get(day)
            if day >= this or later is None:
                continue
            x = (mean_lower(later) - mean_lower(dist)) / 0.25
            (predicted,) = propagate_tree(dist, [x])
            worst = max(worst, max_gap_pp(predicted, later))
            compared += 1
    assert compared == 1589
    assert worst < 0.1


def test_propagate_tree_first_meeting_starts_from_current_range_like_cme(shared_data: Path) -> None:
    """CME's odds for the next meeting are one binary step from the range in effect (FRED DFEDTARL).

    Decision days are left out: CME's export row dated a decision day still counts that day's meeting as
    upcoming (its next-meeting row has three ranges), while capgap treats a meeting on the trade date as
    decided. CME exported no file for the meetings before 2025-05-07, so the check starts 2025-03-20.
    """
    history = load_cme_history(shared_data)
    with (shared_data / "fred" / "DFEDTARL_jonsflow.csv").open(newline="") as handle:
        lower_bound = {date.fromisoformat(row["Date"]): float(row["Value"]) for row in csv.DictReader(handle)}
    calendar = fomc_meetings()
    compared = 0
    worst = 0.0
    for day in sorted({d for days in history.values() for d in days}):
        following = next(m for m in calendar if m > day)
        if day in calendar or day not in history.get(following, {}):
            continue
        dist = history[following][day]
        start = lower_bound[day]
        (predicted,) = propagate_tree({start: 1.0}, [(mean_lower(dist) - start) / 0.25])
        worst = max(worst, max_gap_pp(predicted, dist))
        compared += 1
    assert compared == 103
    assert worst < 0.1


def test_cme_crosscheck_from_futures_is_impossible_files_do_not_overlap(shared_data: Path) -> None:
    """Why the brief's direct check (ZQ prices -> our odds vs CME's published odds, same trade dates) is not
    here: the only per-contract ZQ history (pyfedwatch's, converted) ends 2023-09-15 and the continuous
    Investing.com series end 2024-01-26, while CME's exports start 2024-08-21. The SPEC's worked example
    (above) is the futures-to-odds case checked against CME's numbers; the two tree tests above check
    CME's published odds themselves. If overlapping data ever lands in shared/data, this test fails:
    write the direct check then.
    """
    zq_last = date.min
    with (shared_data / "zq" / "ZQ_contracts_daily_1990_2025_pyfedwatch.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            zq_last = max(zq_last, date.fromisoformat(row["date"]))
    investing_last = date.min
    for name in ("ZQ0M", "ZQ3M", "ZQ4M"):
        with (shared_data / "zq" / f"{name}_investing_hussamalazzawi.csv").open(
            encoding="utf-8-sig"
        ) as handle:
            for row in csv.DictReader(handle):
                month, day, year = map(int, row["Date"].split("/"))  # M/D/YYYY
                investing_last = max(investing_last, date(year, month, day))
    history = load_cme_history(shared_data)
    cme_first = min(day for days in history.values() for day in days)
    assert (zq_last, investing_last, cme_first) == (date(2023, 9, 15), date(2024, 1, 26), date(2024, 8, 21))


# --- a real historical strip (pyfedwatch's ZQ history) -------------------------------------------------


def zq_strip(shared_data: Path, trade_date: date) -> dict[date, float]:
    strip: dict[date, float] = {}
    with (shared_data / "zq" / "ZQ_contracts_daily_1990_2025_pyfedwatch.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["date"] == trade_date.isoformat():
                month = date(int(row["expiry_year"]), int(row["expiry_month"]), 1)
                if month >= date(trade_date.year, trade_date.month, 1):
                    strip[month] = float(row["close"])
    return strip


def test_compute_fedwatch_2023_09_15_current_month_meeting_solves_from_own_contract(
    shared_data: Path,
) -> None:
    """Sep 20, 2023: on the 15th the strip starts at SEP 23, so S comes from September's own average.

    Hand: E = r(Oct) = 5.335 (anchor); S = (30 * 5.3325 - 10 * 5.335) / 20 = 5.33125; x = 0.015.
    With August's final settlement (94.67) added, August is an anchor instead: S = 5.33, x = 0.02.
    """
    strip = zq_strip(shared_data, date(2023, 9, 15))
    assert (strip[date(2023, 9, 1)], strip[date(2023, 10, 1)]) == (94.6675, 94.665)
    result = compute_fedwatch(strip, fomc_meetings(), trade_date=date(2023, 9, 15), lower_bound=5.25)
    september = result.meetings[0]
    assert (september.meeting, round(september.start_rate, 5), round(september.x, 4)) == (
        date(2023, 9, 20),
        5.33125,
        0.015,
    )
    assert pct(september.probabilities) == {5.25: 98.5, 5.50: 1.5}

    with_august = compute_fedwatch(
        strip | {date(2023, 8, 1): 94.67}, fomc_meetings(), trade_date=date(2023, 9, 15), lower_bound=5.25
    )
    assert pct(with_august.meetings[0].probabilities) == {5.25: 98.0, 5.50: 2.0}


# --- edge cases, on small hand-made strips (rates are 100 - price) -------------------------------------


def test_compute_fedwatch_decision_on_last_day_with_anchor_after_leaves_month_unused() -> None:
    # 2030-04-30 is April's last day (a = 0). March and May are anchors: S = r(Mar), E = r(May).
    strip = {date(2030, 3, 1): 96.00, date(2030, 4, 1): 95.99, date(2030, 5, 1): 95.80}
    result = compute_fedwatch(
        strip, [date(2030, 4, 30)], trade_date=date(2030, 3, 15), lower_bound=3.75, horizon=date(2030, 5, 31)
    )
    (april,) = result.meetings
    assert (april.start_rate, april.end_rate) == (4.00, 4.20)
    assert pct(april.probabilities) == {3.75: 20.0, 4.00: 80.0}
    assert [m.used for m in result.months] == [True, False, True]


def test_compute_fedwatch_decision_on_last_day_without_anchor_after_takes_next_month_rate() -> None:
    # The calendar ends on 2030-04-30, so May is past the horizon and not an anchor; a = 0 means April's
    # average says nothing about the new rate: E = r(May) (SPEC step 5).
    strip = {date(2030, 3, 1): 96.00, date(2030, 4, 1): 95.99, date(2030, 5, 1): 95.80}
    result = compute_fedwatch(strip, [date(2030, 4, 30)], trade_date=date(2030, 3, 15), lower_bound=3.75)
    (april,) = result.meetings
    assert (april.start_rate, april.end_rate) == (4.00, 4.20)
    assert [m.role for m in result.months] == ["anchor", "meeting", "beyond_horizon"]


def test_compute_fedwatch_decision_on_last_day_solves_start_from_whole_month() -> None:
    # March and April both hold decisions; April's is on its last day, so its average is all old rate:
    # S(Apr) = r(Apr) = E(Mar), and S(Mar) = (31 r(Mar) - 11 E(Mar)) / 20.
    strip = {date(2030, 3, 1): 96.10, date(2030, 4, 1): 96.00, date(2030, 5, 1): 95.90}
    result = compute_fedwatch(
        strip,
        [date(2030, 3, 20), date(2030, 4, 30)],
        trade_date=date(2030, 3, 1),
        lower_bound=3.50,
        horizon=date(2030, 5, 31),
    )
    march, april = result.meetings
    assert april.start_rate == pytest.approx(4.00, abs=1e-12) and april.end_rate == pytest.approx(
        4.10, abs=1e-12
    )
    assert march.end_rate == april.start_rate
    assert march.start_rate == pytest.approx((31 * 3.90 - 11 * 4.00) / 20, abs=1e-12)


def test_compute_fedwatch_calendar_that_stops_early_reports_only_known_meetings(
    spec_strip: dict[date, float],
) -> None:
    known = [m for m in fomc_meetings() if m <= date(2026, 12, 9)]
    result = compute_fedwatch(spec_strip, known, trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)
    assert [m.meeting for m in result.meetings] == [date(2026, 10, 28), date(2026, 12, 9)]
    assert result.unsolved == () and result.horizon == date(2026, 12, 9)
    # January 2027 is past the horizon, not an anchor: December's own contract gives E.
    december = result.meetings[1]
    assert december.end_rate == pytest.approx((31 * r(95.845) - 9 * r(95.98)) / 22, abs=1e-12)
    assert {m.role for m in result.months if m.month >= date(2027, 1, 1)} == {"beyond_horizon"}
    assert result.year_end_rates == {2026: december.end_rate}


def test_compute_fedwatch_strip_too_short_reports_no_meeting(spec_strip: dict[date, float]) -> None:
    short = {month: price for month, price in spec_strip.items() if month <= date(2026, 10, 1)}
    result = compute_fedwatch(short, fomc_meetings(), trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)
    assert result.meetings == ()
    assert result.unsolved == tuple(m for m in fomc_meetings() if m > SPEC_TRADE_DATE)
    assert result.year_end_rates == {}


def test_compute_fedwatch_missing_month_links_meetings_across_it(spec_strip: dict[date, float]) -> None:
    # Without NOV 26 nothing anchors Oct/Dec; the rate cannot move in November, so E(Oct) = S(Dec), and
    # December's own contract (unused with November present) now gives S(Dec).
    strip = {month: price for month, price in spec_strip.items() if month != date(2026, 11, 1)}
    result = compute_fedwatch(strip, fomc_meetings(), trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)
    s_jan = (31 * r(95.78) - 4 * r(95.70)) / 27
    s_dec = (31 * r(95.845) - 22 * s_jan) / 9
    s_oct = (31 * r(96.105) - 3 * s_dec) / 28
    october, december = result.meetings[:2]
    assert [october.start_rate, october.end_rate] == pytest.approx([s_oct, s_dec], abs=1e-12)
    assert december.start_rate == october.end_rate
    months = {m.month: m for m in result.months}
    assert months[date(2026, 11, 1)].role == "missing" and months[date(2026, 12, 1)].used
    assert pct(october.probabilities) == {
        3.75: round((1 - (s_dec - s_oct) / 0.25) * 100, 1),
        4.00: round((s_dec - s_oct) / 0.25 * 100, 1),
    }


def test_compute_fedwatch_unscheduled_meeting_is_a_meeting_like_any_other(
    spec_strip: dict[date, float],
) -> None:
    # An intermeeting decision on 2026-11-18 turns November from an anchor into a meeting month.
    calendar = sorted([*fomc_meetings(), date(2026, 11, 18)])
    result = compute_fedwatch(spec_strip, calendar, trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)
    s_jan = (31 * r(95.78) - 4 * r(95.70)) / 27
    s_dec = (31 * r(95.845) - 22 * s_jan) / 9
    s_nov = (30 * r(95.98) - 12 * s_dec) / 18
    s_oct = (31 * r(96.105) - 3 * s_nov) / 28
    first_three = result.meetings[:3]
    assert [m.meeting for m in first_three] == [date(2026, 10, 28), date(2026, 11, 18), date(2026, 12, 9)]
    rates = [rate for m in first_three for rate in (m.start_rate, m.end_rate)]
    assert rates == pytest.approx([s_oct, s_nov, s_nov, s_dec, s_dec, s_jan], abs=1e-12)


def test_compute_fedwatch_two_upcoming_decisions_in_one_month_are_unsolved(
    spec_strip: dict[date, float],
) -> None:
    calendar = sorted([*fomc_meetings(), date(2026, 12, 2)])
    result = compute_fedwatch(spec_strip, calendar, trade_date=SPEC_TRADE_DATE, lower_bound=SPEC_LOWER)
    assert [m.meeting for m in result.meetings] == [date(2026, 10, 28)]
    assert result.unsolved[:3] == (date(2026, 12, 2), date(2026, 12, 9), date(2027, 1, 27))


def test_compute_fedwatch_negative_x_prices_a_cut() -> None:
    strip = {date(2030, 5, 1): 95.75, date(2030, 6, 1): 95.80, date(2030, 7, 1): 95.825}
    result = compute_fedwatch(
        strip, [date(2030, 6, 12)], trade_date=date(2030, 5, 20), lower_bound=4.00, horizon=date(2030, 7, 31)
    )
    (june,) = result.meetings
    assert round(june.x, 10) == -0.3
    assert pct(june.probabilities) == {3.75: 30.0, 4.00: 70.0}
    assert (round(june.cut, 10), round(june.hold, 10), june.hike) == (0.3, 0.7, 0.0)


def test_compute_fedwatch_whole_step_move_has_no_ghost_branch() -> None:
    # r(Jul) - r(May) = 0.25 exactly in decimal but not in binary floats: x must count as 1, not 0.99999...
    strip = {date(2030, 5, 1): 95.75, date(2030, 6, 1): 95.60, date(2030, 7, 1): 95.50}
    result = compute_fedwatch(
        strip, [date(2030, 6, 12)], trade_date=date(2030, 5, 20), lower_bound=4.00, horizon=date(2030, 7, 31)
    )
    assert result.meetings[0].probabilities == {4.25: 1.0}


@pytest.mark.parametrize(
    ("settles", "message"),
    [
        ({date(2030, 5, 15): 95.75}, "first days of months"),
        ({date(2030, 5, 1): math.nan}, "not a ZQ price"),
        ({date(2030, 5, 1): 0.0}, "not a ZQ price"),
    ],
)
def test_compute_fedwatch_bad_strip_raises(settles: dict[date, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_fedwatch(settles, [date(2030, 6, 12)], trade_date=date(2030, 5, 20), lower_bound=4.0)


def test_compute_fedwatch_empty_strip_solves_nothing() -> None:
    result = compute_fedwatch({}, [date(2030, 6, 12)], trade_date=date(2030, 5, 20), lower_bound=4.0)
    assert (result.meetings, result.unsolved, result.months) == ((), (date(2030, 6, 12),), ())


def test_split_move_negative_and_near_integer() -> None:
    k, p = split_move(-0.3)
    assert (k, round(p, 12)) == (-1, 0.7)
    assert split_move(0.9999999999999) == (1, 0.0)
    assert split_move(-2.0) == (-2, 0.0)


def test_propagate_tree_off_grid_start_raises() -> None:
    with pytest.raises(ValueError, match="25 bp grid"):
        propagate_tree({4.0: 0.5, 4.1: 0.5}, [0.3])


# --- properties -----------------------------------------------------------------------------------------

MONTHS_2030 = [date(2030 + i // 12, i % 12 + 1, 1) for i in range(30)]


@st.composite
def strips(draw: st.DrawFn) -> tuple[dict[date, float], list[date], float]:
    rates = draw(st.lists(st.floats(0.0, 8.0), min_size=len(MONTHS_2030), max_size=len(MONTHS_2030)))
    # Mostly complete strips, so most examples solve several meetings; some months go missing.
    present = draw(
        st.lists(st.integers(0, 9).map(bool), min_size=len(MONTHS_2030), max_size=len(MONTHS_2030))
    )
    settles = {
        m: round(100.0 - rate, 4) for m, rate, keep in zip(MONTHS_2030, rates, present, strict=True) if keep
    }
    days = draw(st.lists(st.one_of(st.none(), st.integers(1, 28)), min_size=24, max_size=24))
    meetings = [date(m.year, m.month, d) for m, d in zip(MONTHS_2030, days, strict=False) if d is not None]
    lower = draw(st.integers(0, 32)) * 0.25
    return settles, meetings, lower


@settings(max_examples=150, deadline=None)
@given(strips())
def test_compute_fedwatch_probabilities_are_a_distribution_whose_mean_moves_by_x(
    case: tuple[dict[date, float], list[date], float],
) -> None:
    settles, meetings, lower = case
    result = compute_fedwatch(settles, meetings, trade_date=date(2030, 1, 1), lower_bound=lower)
    drift = 0.0
    for odds in result.meetings:
        probs = list(odds.probabilities.values())
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert math.fsum(probs) == pytest.approx(1.0, abs=1e-9)
        assert odds.cut + odds.hold + odds.hike == pytest.approx(1.0, abs=1e-9)
        drift += odds.x * 0.25
        assert mean_lower(odds.probabilities) == pytest.approx(lower + drift, abs=1e-6)
    assert len(result.meetings) + len(result.unsolved) == len([m for m in meetings if m > date(2030, 1, 1)])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
    st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=12),
)
def test_propagate_tree_keeps_probabilities_in_unit_interval_summing_to_one(
    weights: list[float], moves: list[float]
) -> None:
    total = sum(weights)
    start = {2.0 + 0.25 * i: w / total for i, w in enumerate(weights) if w > 0}
    rows = propagate_tree(start, moves)
    assert len(rows) == len(moves)
    for row in rows:
        assert all(0.0 <= p <= 1.0 for p in row.values())
        assert math.fsum(row.values()) == pytest.approx(1.0, abs=1e-9)
        assert list(row) == sorted(row)
