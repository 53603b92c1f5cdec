"""The two calendars capgap runs on: FOMC decisions and NYSE sessions.

FOMC decision (announcement) dates are data, in ``bot/data/fomc_decisions.csv`` (its header says where
each stretch comes from; the Fed publishes the calendar a year or so ahead, so that file needs a new year
appended each time the Fed publishes one). A test fails when it runs out within 12 months.

NYSE sessions come from exchange_calendars ("XNYS"), built once on first use and kept as plain arrays so
each question is a dictionary or bisect lookup (the library's own minute-level calls take ~0.3 ms each).
Dates of sessions are New York dates; instants are timezone-aware UTC.
"""

from __future__ import annotations

import bisect
import csv
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Literal, cast

FOMC_FILE = Path(__file__).resolve().parent / "data" / "fomc_decisions.csv"

DecisionKind = Literal["scheduled", "unscheduled", "tentative"]


@dataclass(frozen=True)
class FomcDecision:
    """One FOMC policy decision: the announcement date (New York) and whether it was a scheduled
    meeting, an intermeeting (unscheduled) move, or a date the Fed has published as tentative."""

    decision_date: date
    kind: DecisionKind


@cache
def fomc_decisions() -> tuple[FomcDecision, ...]:
    """Every FOMC decision in ``bot/data/fomc_decisions.csv``, ascending (1982-10-01 onwards)."""
    kinds: tuple[DecisionKind, ...] = ("scheduled", "unscheduled", "tentative")
    rows: list[FomcDecision] = []
    with FOMC_FILE.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        for row in csv.DictReader(lines):
            kind = row["kind"]
            if kind not in kinds:
                raise ValueError(f"{FOMC_FILE.name}: unknown kind {kind!r} on {row['decision_date']}")
            rows.append(FomcDecision(date.fromisoformat(row["decision_date"]), cast(DecisionKind, kind)))
    rows.sort(key=lambda decision: decision.decision_date)
    dates = [decision.decision_date for decision in rows]
    if len(set(dates)) != len(dates):
        raise ValueError(f"{FOMC_FILE.name}: duplicate decision dates")
    return tuple(rows)


@cache
def fomc_meetings() -> tuple[date, ...]:
    """All FOMC decision dates (scheduled, unscheduled, tentative), ascending: the calendar FedWatch needs."""
    return tuple(decision.decision_date for decision in fomc_decisions())


# The FOMC publishes its Summary of Economic Projections (the SEP: the "dot plot" and its medians) at
# the scheduled meetings of March, June, September and December, with the decision.
SEP_MONTHS = (3, 6, 9, 12)


@cache
def sep_meetings() -> tuple[date, ...]:
    """The decision dates that come with a Summary of Economic Projections, ascending: the scheduled
    meetings of March, June, September and December (an intermeeting move never has one; the March 2020
    SEP was cancelled, and that month had only unscheduled decisions)."""
    return tuple(d.decision_date for d in fomc_decisions()
                 if d.kind != "unscheduled" and d.decision_date.month in SEP_MONTHS)


def next_meeting(after: date) -> date | None:
    """The first FOMC decision date strictly after ``after``; None when the known calendar has run out."""
    meetings = fomc_meetings()
    i = bisect.bisect_right(meetings, after)
    return meetings[i] if i < len(meetings) else None


def meetings_between(a: date, b: date) -> tuple[date, ...]:
    """FOMC decision dates ``d`` with ``a <= d <= b`` (both ends included), ascending."""
    meetings = fomc_meetings()
    return meetings[bisect.bisect_left(meetings, a) : bisect.bisect_right(meetings, b)]


def calendar_horizon() -> date:
    """The last FOMC decision date the calendar knows: FedWatch cannot look past it."""
    return fomc_meetings()[-1]


# --- NYSE sessions -------------------------------------------------------------------------------------

NYSE_FIRST = date(1985, 1, 1)
NYSE_LAST = date(2035, 12, 31)
"""Coverage of the session calendar. exchange_calendars starts ~20 years back by default; history here
goes to 1985. Years ahead are computed from NYSE's holiday rules (future special closures are unknown)."""


@dataclass(frozen=True)
class _Sessions:
    ordinals: tuple[int, ...]  # date.toordinal() of each session, ascending
    opens_s: tuple[int, ...]  # each session's open, whole seconds since the epoch
    closes_s: tuple[int, ...]  # each session's close, whole seconds since the epoch (closes fall on minutes)
    index: dict[int, int]  # ordinal -> position


@cache
def _sessions() -> _Sessions:
    # Imported here: exchange_calendars pulls in pandas and costs ~0.3 s, which only users of sessions pay.
    import exchange_calendars as xcals
    import pandas as pd

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads tz-aware Series.values, which pandas 3.1 deprecates; harmless here.
        warnings.filterwarnings(
            "ignore", message="Series.values returning an ndarray", category=DeprecationWarning
        )
        cal = xcals.get_calendar("XNYS", start=NYSE_FIRST.isoformat(), end=NYSE_LAST.isoformat())
    ordinals = tuple(ts.date().toordinal() for ts in cal.sessions)
    epoch = pd.Timestamp(0, tz="UTC")
    opens_s = tuple(int(v) for v in (cal.opens - epoch) // pd.Timedelta(seconds=1))
    closes_s = tuple(int(v) for v in (cal.closes - epoch) // pd.Timedelta(seconds=1))
    return _Sessions(ordinals, opens_s, closes_s, {o: i for i, o in enumerate(ordinals)})


def _check_covered(d: date) -> None:
    if not NYSE_FIRST <= d <= NYSE_LAST:
        raise ValueError(f"{d} is outside the NYSE calendar ({NYSE_FIRST} .. {NYSE_LAST})")


def is_session(d: date) -> bool:
    """True when the NYSE trades on the New York date ``d`` (early closes included)."""
    _check_covered(d)
    return d.toordinal() in _sessions().index


def previous_session(d: date) -> date:
    """The latest NYSE session strictly before ``d`` (``d`` itself need not be a session)."""
    _check_covered(d)
    s = _sessions()
    i = bisect.bisect_left(s.ordinals, d.toordinal())
    if i == 0:
        raise ValueError(f"no NYSE session before {d} in the calendar")
    return date.fromordinal(s.ordinals[i - 1])


def next_session(d: date) -> date:
    """The earliest NYSE session strictly after ``d`` (``d`` itself need not be a session)."""
    _check_covered(d)
    s = _sessions()
    i = bisect.bisect_right(s.ordinals, d.toordinal())
    if i == len(s.ordinals):
        raise ValueError(f"no NYSE session after {d} in the calendar")
    return date.fromordinal(s.ordinals[i])


def session_close(d: date) -> datetime:
    """The close of the NYSE session on ``d`` as an aware UTC datetime (13:00 New York on early closes)."""
    _check_covered(d)
    s = _sessions()
    i = s.index.get(d.toordinal())
    if i is None:
        raise ValueError(f"{d} is not an NYSE session")
    return datetime.fromtimestamp(s.closes_s[i], UTC)


def last_completed_session(now: datetime) -> date:
    """The latest NYSE session whose close is at or before ``now`` (an aware datetime).

    At 15:59 New York on a trading day that is the previous session; at 16:00 it is today; on a Saturday
    it is Friday (or Friday's early close).
    """
    if now.tzinfo is None:
        raise ValueError("last_completed_session needs a timezone-aware datetime")
    now_utc = now.astimezone(UTC)
    _check_covered(now_utc.date())
    s = _sessions()
    i = bisect.bisect_right(s.closes_s, now_utc.timestamp())
    if i == 0:
        raise ValueError(f"no NYSE session closed by {now.isoformat()} in the calendar")
    return date.fromordinal(s.ordinals[i - 1])


def session_in_progress(now: datetime) -> date | None:
    """The NYSE session trading at ``now`` (open <= now < close, early closes included), else None."""
    if now.tzinfo is None:
        raise ValueError("session_in_progress needs a timezone-aware datetime")
    now_utc = now.astimezone(UTC)
    _check_covered(now_utc.date())
    s = _sessions()
    i = bisect.bisect_right(s.opens_s, now_utc.timestamp()) - 1
    if i < 0 or now_utc.timestamp() >= s.closes_s[i]:
        return None
    return date.fromordinal(s.ordinals[i])
