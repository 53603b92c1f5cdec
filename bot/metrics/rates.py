"""/rates' numbers: the Fed target range, the effective fed funds rate and the 10-year Treasury yield,
each with its change since the last FOMC decision.

Source: FRED DFEDTARL/DFEDTARU (target range bounds, one value per calendar day), EFFR (business days,
published the next business day) and DGS10 (10-year constant-maturity yield, business days), all in
percent; FOMC announcement dates from bot.calendar. Pure: series, the decision dates and an ``asof`` in,
a frozen dataclass out; only observations dated on or before ``asof`` are read.

**The decision** is the last FOMC announcement dated on or before ``asof`` (the statement comes out at
14:00 New York, before the day's close). FRED dates a change of the target range on its effective day,
the day after the announcement (DESIGN.md), and EFFR moves from that day too, while the 10-year yield's
end-of-day value already carries the announcement. So the first observation that can show the decision
(``effective``) is the announcement day + 1 for the target range and EFFR, the announcement day for DGS10.

**Change since the decision** = latest value − the last value dated *before* the announcement day, in
basis points (a DGS10 move on the decision day itself counts as a move since it). For the range it is
the change of the upper bound (both bounds have moved together at every decision since the range began
on 2008-12-16); the range before is kept so a reply can show it.

**Stale**: a reading dated more than ``MAX_AGE_DAYS`` before ``asof`` (FRED publishes within a business
day or two), and a target range that does not yet show the last decision although ``asof`` is on or
after its effective day. A reading that does not show the decision yet but is not stale (EFFR the day
after a decision, before FRED has published it) has ``shows_decision`` False.

What the data says (../shared/data): as of 2025-09-18 the range is 4.00–4.25 % (−25 bp since the
2025-09-17 decision, in effect from 2025-09-18), EFFR 4.08 % (−25 bp) and DGS10 4.11 % (+7 bp).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.metrics.returns import InsufficientData, as_timestamp, close_on_or_before, day, truncate

_Day = date  # the classes below have a field named ``date``: their other date fields use this name

MAX_AGE_DAYS = 7
_EFFECTIVE_LAG = {"target": timedelta(days=1), "EFFR": timedelta(days=1), "DGS10": timedelta(days=0)}


@dataclass(frozen=True)
class Reading:
    """One rate (percent) at its last observation, and its move since the last decision."""

    name: str  # "EFFR" | "DGS10"
    value: float
    date: date  # the observation's date
    before: float | None  # the last value dated before the announcement; None without a decision
    before_date: _Day | None
    change_bp: float | None  # (value − before) × 100
    effective: _Day | None  # the first observation date that can show the decision
    shows_decision: bool  # observed on or after ``effective``
    stale: bool


@dataclass(frozen=True)
class TargetRange:
    """The Fed funds target range (percent) at its last observation, and since when it holds."""

    lower: float
    upper: float
    date: date  # the observation's date
    since: _Day  # the first day of the current range (its effective day, as FRED dates it)
    before_lower: float | None  # the range before the last decision
    before_upper: float | None
    before_date: _Day | None
    change_bp: float | None  # change of the upper bound since the decision, bp
    effective: _Day | None  # the day FRED's range shows the decision: the announcement + 1 day
    shows_decision: bool
    stale: bool


@dataclass(frozen=True)
class Rates:
    """The three rates as of ``asof``; see module doc. A missing series is None."""

    asof: date  # the latest observation used (what the reply names as its as-of)
    requested: date  # the as-of asked for
    decision: date | None  # the last FOMC announcement on or before ``requested``
    target: TargetRange | None
    effr: Reading | None
    dgs10: Reading | None

    @property
    def stale(self) -> bool:
        return any(r is not None and r.stale for r in (self.target, self.effr, self.dgs10))


def last_decision(decisions: Sequence[date], asof: date) -> date | None:
    """The last FOMC announcement dated on or before ``asof`` (``decisions`` ascending)."""
    i = bisect.bisect_right(decisions, asof)
    return decisions[i - 1] if i else None


def _too_old(observed: date, asof: date) -> bool:
    return (asof - observed).days > MAX_AGE_DAYS


def _reading(values: pd.Series, name: str, decision: date | None, asof: date) -> Reading:
    held = truncate(values, asof, name)
    value, observed = float(held.iloc[-1]), day(held.index[-1])
    before = close_on_or_before(held, decision - timedelta(days=1)) if decision is not None else None
    effective = decision + _EFFECTIVE_LAG[name] if decision is not None else None
    shows = effective is None or observed >= effective
    return Reading(
        name=name,
        value=value,
        date=observed,
        before=before.close if before else None,
        before_date=before.date if before else None,
        change_bp=(value - before.close) * 100.0 if before else None,
        effective=effective,
        shows_decision=shows,
        stale=_too_old(observed, asof),
    )


def _target(lower: pd.Series, upper: pd.Series, decision: date | None, asof: date) -> TargetRange:
    both = pd.concat(
        {"lower": truncate(lower, asof, "DFEDTARL"), "upper": truncate(upper, asof, "DFEDTARU")}, axis=1, join="inner"
    )
    if both.empty:
        raise InsufficientData(f"DFEDTARL and DFEDTARU: no common observation on or before {asof.isoformat()}")
    lo, up = both["lower"].to_numpy(dtype="float64"), both["upper"].to_numpy(dtype="float64")
    observed = day(both.index[-1])
    changed = np.flatnonzero((lo[:-1] != lo[-1]) | (up[:-1] != up[-1]))
    since = day(both.index[changed[-1] + 1]) if len(changed) else day(both.index[0])
    row = -1
    if decision is not None:
        row = int(both.index.searchsorted(as_timestamp(decision), side="left")) - 1
    effective = decision + _EFFECTIVE_LAG["target"] if decision is not None else None
    shows = effective is None or observed >= effective
    has_before = row >= 0
    return TargetRange(
        lower=float(lo[-1]),
        upper=float(up[-1]),
        date=observed,
        since=since,
        before_lower=float(lo[row]) if has_before else None,
        before_upper=float(up[row]) if has_before else None,
        before_date=day(both.index[row]) if has_before else None,
        change_bp=(float(up[-1]) - float(up[row])) * 100.0 if has_before else None,
        effective=effective,
        shows_decision=shows,
        # A range that misses a decision already in effect on the as-of is behind, whatever its age.
        stale=_too_old(observed, asof) or (effective is not None and not shows and asof >= effective),
    )


def compute_rates(
    lower: pd.Series | None,
    upper: pd.Series | None,
    effr: pd.Series | None,
    dgs10: pd.Series | None,
    decisions: Sequence[date],
    asof: date,
) -> Rates:
    """The target range, EFFR and DGS10 as of ``asof``, each against the last decision in ``decisions``.

    A series that is None or has nothing on or before ``asof`` is left out (None in the result);
    InsufficientData when none of the three is left.
    """
    decision = last_decision(decisions, asof)
    target = effr_reading = dgs10_reading = None
    if lower is not None and upper is not None:
        try:
            target = _target(lower, upper, decision, asof)
        except InsufficientData:
            target = None
    if effr is not None:
        try:
            effr_reading = _reading(effr, "EFFR", decision, asof)
        except InsufficientData:
            effr_reading = None
    if dgs10 is not None:
        try:
            dgs10_reading = _reading(dgs10, "DGS10", decision, asof)
        except InsufficientData:
            dgs10_reading = None
    dates = [r.date for r in (target, effr_reading, dgs10_reading) if r is not None]
    if not dates:
        raise InsufficientData("Fed target range, effective fed funds rate and 10-year Treasury yield")
    return Rates(
        asof=max(dates),
        requested=asof,
        decision=decision,
        target=target,
        effr=effr_reading,
        dgs10=dgs10_reading,
    )
