"""FedWatch: the odds of each Fed target range after every upcoming FOMC meeting, by CME's method.

The method is the conditional probability tree of CME's FedWatch Tool, stated with a worked example in
``shared/fedwatch/SPEC.md``; the step numbers in comments below refer to it. Inputs are one trade date's
30-day Fed funds futures (ZQ) settlement strip, the complete FOMC decision calendar (announcement dates,
past, scheduled and unscheduled) and the lower bound of the target range in effect at that day's
settlement. Rates are in percent (4.0200 = 4.02 %), probabilities are fractions in [0, 1].

Pure: no I/O, no clock, no globals.
"""

from __future__ import annotations

import bisect
import math
import operator
from calendar import monthrange
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

STEP = 0.25
"""One move of the target range, in percentage points (25 bp)."""

_SNAP = 1e-9  # |x - round(x)| below this is float noise from 100 - price, not a 1e-9 chance of a move
_KEY_DP = 6  # lower bounds are rounded to this many decimals so they compare as dictionary keys

MonthRole = Literal["meeting", "anchor", "missing", "beyond_horizon"]


@dataclass(frozen=True)
class MonthPrice:
    """One contract month of the strip as the method saw it.

    ``role``: ``meeting`` (a decision falls in the month, past ones included), ``anchor`` (priced, no
    decision, inside the calendar's horizon), ``missing`` (no decision and no settlement),
    ``beyond_horizon`` (after the last month the calendar is known to cover: never an anchor).
    ``used`` is True when the month's rate enters the S or E of a reported meeting.
    """

    month: date
    price: float | None
    rate: float | None
    role: MonthRole
    used: bool


@dataclass(frozen=True)
class MeetingOdds:
    """The futures-implied outlook for one upcoming FOMC decision.

    ``start_rate``/``end_rate`` (S, E) are the implied average fed funds rates before and after the
    decision, percent. ``x = (E - S) / 0.25`` is the expected move in 25 bp steps. ``probabilities`` maps
    the lower bound of each 25 bp target range (percent, ascending) to the probability that it is the range
    after this meeting (conditional tree over all earlier upcoming meetings); they sum to 1. ``cut``,
    ``hold`` and ``hike`` total them below, at and above the range in effect on the trade date.
    """

    meeting: date
    start_rate: float
    end_rate: float
    x: float
    probabilities: dict[float, float]
    cut: float
    hold: float
    hike: float
    most_likely: float

    @property
    def expected_rate(self) -> float:
        """The futures-implied average rate after the meeting (E), percent: CME's "expected rate"."""
        return self.end_rate


@dataclass(frozen=True)
class FedWatchResult:
    """FedWatch on one trade date.

    ``meetings`` holds every upcoming meeting (after ``trade_date``) that the strip solves, in date order;
    ``unsolved`` the upcoming meetings inside the horizon that it does not (the first one the strip cannot
    price and every one after it, since the tree needs each earlier step). ``year_end_rates`` maps a
    calendar year to the implied rate after its last FOMC decision (that meeting's E, percent): the
    futures' expectation of the average effective rate going into the new year. A year appears only when
    its last decision in the calendar is a reported meeting. ``months`` lists each contract month with the
    price used, so the numbers can be recomputed by hand.
    """

    trade_date: date
    lower_bound: float
    horizon: date
    meetings: tuple[MeetingOdds, ...]
    unsolved: tuple[date, ...]
    year_end_rates: dict[int, float]
    months: tuple[MonthPrice, ...]


def split_move(x: float) -> tuple[int, float]:
    """SPEC step 6: ``x`` steps of 25 bp as ``k`` steps with probability ``1 - p`` and ``k + 1`` with ``p``.

    ``k = floor(x)``, ``p = x - k`` (so negative ``x`` works the same way); ``x`` within 1e-9 of an integer
    counts as that integer.
    """
    nearest = round(x)
    if abs(x - nearest) < _SNAP:
        return int(nearest), 0.0
    k = math.floor(x)
    return k, x - k


def propagate_tree(start: Mapping[float, float], moves: Sequence[float]) -> tuple[dict[float, float], ...]:
    """SPEC step 7: the distribution of the target range after each of ``moves`` in turn.

    ``start`` maps lower bounds (percent, on a 25 bp grid) to probabilities; ``moves`` are the meetings'
    ``x`` in date order. Returns one ``{lower bound: probability}`` per move, ascending, zero entries
    dropped. Each branch at ``l`` goes to ``l + 25k bp`` with weight ``1 - p`` and ``l + 25(k+1) bp`` with
    weight ``p``: the distribution after ``j`` moves is the start convolved with ``j`` two-point laws.
    """
    if not start:
        raise ValueError("propagate_tree needs a non-empty start distribution")
    lowers = sorted(start)
    base = lowers[0]
    offsets = []
    for lower in lowers:
        steps = (lower - base) / STEP
        if abs(steps - round(steps)) > 1e-6:
            raise ValueError(f"lower bound {lower} is not on the 25 bp grid of {base}")
        offsets.append(round(steps))
    if not moves:
        return ()
    # Each move widens the support by at most one step, so one row width holds them all; the rows are
    # filled move by move (a two-point convolution each) and read out together.
    width = offsets[-1] + 1 + len(moves)
    table = np.zeros((len(moves), width))
    dist = np.zeros(width)
    dist[offsets] = [start[lower] for lower in lowers]
    shifts = np.empty(len(moves), dtype=np.int64)
    shift = 0
    for j, x in enumerate(moves):
        k, p = split_move(x)
        if p:
            nxt = dist * (1.0 - p)
            nxt[1:] += dist[:-1] * p
            dist = nxt
        shift += k
        shifts[j] = shift
        table[j] = dist
    row_of, col_of = np.nonzero(table)
    keys = np.round(base + STEP * (shifts[row_of] + col_of), _KEY_DP).tolist()
    values = table[row_of, col_of].tolist()
    bounds = np.searchsorted(row_of, np.arange(len(moves) + 1)).tolist()
    return tuple(
        dict(zip(keys[lo:hi], values[lo:hi], strict=True)) for lo, hi in zip(bounds, bounds[1:], strict=False)
    )


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def compute_fedwatch(
    settles: Mapping[date, float],
    meetings: Sequence[date],
    *,
    trade_date: date,
    lower_bound: float,
    horizon: date | None = None,
) -> FedWatchResult:
    """Probabilities of each 25 bp target range after every upcoming FOMC meeting (CME FedWatch).

    ``settles``: first day of each ZQ contract month -> settlement price on ``trade_date`` (the ``settle``
    field, never ``last``; see ``bot.sources.base.Strip``); months may be missing. ``meetings``: the full
    decision calendar (announcement dates; past and unscheduled decisions included). ``lower_bound``: lower
    end of the target range in effect at the trade date's settlement, percent. ``horizon``: the last day
    the calendar is known to be complete through (default: its last decision); later months are never
    anchors and later dates are ignored. A meeting on ``trade_date`` is past: ZQ settles after the
    announcement.

    Beyond SPEC's letter, two cases a real strip can hold: a month with neither a decision nor a
    settlement is skipped over when linking neighbouring meetings (the rate cannot move in it), and a
    month holding two decisions cannot be split by its one contract, so its own price is never solved
    for, and an upcoming decision in it (and every later one) is reported as unsolved.
    """
    calendar = list(meetings)
    if not all(map(operator.lt, calendar, calendar[1:])):
        calendar = sorted(set(calendar))
    if horizon is None:
        horizon = calendar[-1] if calendar else trade_date
    del calendar[bisect.bisect_right(calendar, horizon) :]

    for month, settle in settles.items():
        if month.day != 1:
            raise ValueError(f"contract month keys are first days of months, got {month}")
        if not math.isfinite(settle) or not 0.0 < settle < 200.0:
            raise ValueError(f"settlement price {settle!r} for {month:%b %Y} is not a ZQ price")

    upcoming = calendar[bisect.bisect_right(calendar, trade_date) :]
    if not settles:
        return FedWatchResult(trade_date, lower_bound, horizon, (), tuple(upcoming), {}, ())

    priced = sorted(settles)
    first = min(_month_index(trade_date), _month_index(priced[0]))
    last = _month_index(priced[-1])
    count = last - first + 1
    starts = [_month_start(first + i) for i in range(count)]
    days = [monthrange(d.year, d.month)[1] for d in starts]
    horizon_index = _month_index(horizon)
    horizon_is_month_end = horizon.day == monthrange(horizon.year, horizon.month)[1]

    price: list[float | None] = [settles.get(d) for d in starts]
    # Rounded so that 100 - 96.2525 reads 3.7475, not 3.7475000000000023 (prices have at most 4-5 dp).
    rate: list[float | None] = [None if p is None else round(100.0 - p, 10) for p in price]
    decisions: list[list[date]] = [[] for _ in range(count)]
    in_range = calendar[
        bisect.bisect_left(calendar, starts[0]) : bisect.bisect_left(calendar, _month_start(last + 1))
    ]
    for m in in_range:
        decisions[_month_index(m) - first].append(m)

    roles: list[MonthRole] = []
    for i in range(count):
        inside = first + i < horizon_index or (first + i == horizon_index and horizon_is_month_end)
        if decisions[i]:
            roles.append("meeting")
        elif not inside:
            roles.append("beyond_horizon")
        elif price[i] is None:
            roles.append("missing")
        else:
            roles.append("anchor")

    def neighbour_meeting(i: int, direction: int) -> int | None:
        """The nearest meeting month from ``i`` in ``direction``, across months the rate cannot move in."""
        j = i + direction
        while 0 <= j < count and roles[j] == "missing":
            j += direction
        return j if 0 <= j < count and roles[j] == "meeting" else None

    start: list[float | None] = [None] * count
    end: list[float | None] = [None] * count
    # The contract months each value was derived from, to mark the prices a reported number depends on.
    start_dep: list[frozenset[int]] = [frozenset()] * count
    end_dep: list[frozenset[int]] = [frozenset()] * count

    # Step 3: an anchor month's average is the rate both after the meeting before it and before the next.
    for q in range(count):
        if roles[q] != "anchor":
            continue
        r_q = rate[q]
        before = neighbour_meeting(q, -1)
        if before is not None:
            end[before], end_dep[before] = r_q, frozenset({q})
        after = neighbour_meeting(q, +1)
        if after is not None:
            start[after], start_dep[after] = r_q, frozenset({q})

    def own_rate(i: int) -> float | None:
        """The month's average rate when its contract can solve a side: priced, exactly one decision."""
        return rate[i] if len(decisions[i]) == 1 else None

    meeting_months = [i for i in range(count) if roles[i] == "meeting"]

    # Step 4, backward: chain E from the next meeting's S, then solve S from the month's own average.
    for i in reversed(meeting_months):
        if end[i] is None:
            nxt = neighbour_meeting(i, +1)
            if nxt is not None and start[nxt] is not None:
                end[i], end_dep[i] = start[nxt], start_dep[nxt]
        e_i, r_i = end[i], own_rate(i)
        if start[i] is None and e_i is not None and r_i is not None:
            n_days = days[i]
            b = decisions[i][0].day  # the decision day itself is at the old rate
            a = n_days - b
            start[i] = (n_days * r_i - a * e_i) / b
            start_dep[i] = end_dep[i] | {i}

    # Step 5, forward: for what no later anchor reaches.
    for i in meeting_months:
        if start[i] is None:
            prv = neighbour_meeting(i, -1)
            if prv is not None and end[prv] is not None:
                start[i], start_dep[i] = end[prv], end_dep[prv]
        s_i, r_i = start[i], own_rate(i)
        if end[i] is None and s_i is not None and r_i is not None:
            n_days = days[i]
            b = decisions[i][0].day
            a = n_days - b
            if a > 0:
                end[i] = (n_days * r_i - b * s_i) / a
                end_dep[i] = start_dep[i] | {i}
            elif i + 1 < count and rate[i + 1] is not None:
                # Decision on the month's last day: the month says nothing about the new rate.
                end[i], end_dep[i] = rate[i + 1], frozenset({i + 1})

    solved: list[tuple[date, float, float]] = []
    unsolved: list[date] = []
    used: set[int] = set()
    for m in upcoming:
        i = _month_index(m) - first
        s_m = start[i] if 0 <= i < count else None
        e_m = end[i] if 0 <= i < count else None
        if unsolved or s_m is None or e_m is None or len(decisions[i]) != 1:
            unsolved.append(m)
            continue
        solved.append((m, s_m, e_m))
        used |= start_dep[i] | end_dep[i]

    moves = [(e - s) / STEP for _, s, e in solved]
    trees = propagate_tree({round(lower_bound, _KEY_DP): 1.0}, moves) if solved else ()
    odds: list[MeetingOdds] = []
    for (m, s_m, e_m), x, probs in zip(solved, moves, trees, strict=True):
        cut = hold = hike = 0.0
        for lower, pr in probs.items():
            if lower < lower_bound - 1e-9:
                cut += pr
            elif lower > lower_bound + 1e-9:
                hike += pr
            else:
                hold += pr
        most_likely = max(probs, key=lambda lower: probs[lower])
        odds.append(MeetingOdds(m, s_m, e_m, x, probs, cut, hold, hike, most_likely))

    year_end: dict[int, float] = {}
    for meeting in odds:
        year = meeting.meeting.year
        if calendar[bisect.bisect_right(calendar, date(year, 12, 31)) - 1] == meeting.meeting:
            year_end[year] = meeting.end_rate

    months = tuple(MonthPrice(starts[i], price[i], rate[i], roles[i], i in used) for i in range(count))
    return FedWatchResult(trade_date, lower_bound, horizon, tuple(odds), tuple(unsolved), year_end, months)
