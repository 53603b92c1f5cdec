"""/cuts: what small and large caps did after the first Fed cut of each easing cycle the data covers.

Source: FRED's DFEDTAR (the single target, to 2008-12-15) spliced with DFEDTARU (the upper bound of the
target range, from 2008-12-16) — ``splice_target`` — plus daily closes of ^RUT and ^GSPC and, optionally,
the FOMC announcement dates (data/fomc, bot.calendar). Pure: series and an ``asof`` in, a frozen
dataclass out.

**First cut.** A decrease of the target is the first cut of an easing cycle when the previous change
was a hike, or when the target had not moved for at least ``PAUSE_MONTHS`` = 12 calendar months before
it. Twelve months separates a new cycle from a pause inside one. Every cycle the data covers counts:
the target history starts in 1982 and the Russell 2000 on 1987-09-10, so the study starts with the
1987-11-04 cut (after the crash; the previous change, 1987-09-24, was a hike) and the 1989-06-06 cut,
then 1995-07-06, 1998-09-29, 2001-01-03, 2007-09-18, 2019-07-31 and 2024-09-18.

**Resumed cuts.** A cut inside a running cycle that came after at least ``RESUME_MONTHS`` = 6 months
without a change is listed too, marked as resumed and kept out of the averages (it is not a new
cycle): 1990-07-13 (6 months after the December 1989 cut), 2002-11-06 and 2003-06-25 (10 and 7 months
into pauses of the 2001 cycle) and 2025-09-17 (8 months after the December 2024 cut: the 2024 cycle
resumed). 2020-03-03 and 2020-03-15 (4 months after the October 2019 cut) are steps of the 2019 cycle.
Listing 2025-09-17 is what a reader asking about "the latest first cut" expects, with its windows that
have not ended said as such.

**Dates.** FRED dates a change on the day it takes effect: the day after the announcement for modern
decisions (2019-08-01 for the 2019-07-31 cut), the same day for older and intermeeting ones. Given the
announcement dates, each change is dated by the latest announcement on or up to three days before its
FRED date; with none that close, the FRED date stands.

**Returns.** Close-to-close, from the close of the announcement day (the last close on or before it: a
Sunday decision such as 2020-03-15 is measured from the Friday close) to the last close on or before
3, 6 and 12 calendar months later. A window is complete when that date is on or before ``asof`` and the
series has a close within a week before it; incomplete windows are None and stay out of the averages.
A window whose end date is after ``asof`` has *not ended* (``FirstCut.ends`` gives its end date), which
is different from one that ended over a hole in the closes. Returns are price returns of the indices
(no dividends). Averages are plain means over the first cuts (not resumed ones) whose window is
complete for both indices.

What the data says (asof 2026-02-20, 8 cycles 1987–2024): 12 months after a first cut the Russell 2000
averaged +6.9 % and the S&P 500 +7.1 %; FoolBull (2025-09-30) reported +18.7 % vs +11.2 %, which these
closes do not reproduce.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from bot.metrics.returns import add_months, close_on_or_before, day, truncate

PAUSE_MONTHS = 12
RESUME_MONTHS = 6
HORIZONS = (3, 6, 12)
# FRED's effective date is at most a weekend after the announcement.
ANNOUNCEMENT_WINDOW = timedelta(days=3)
# An end close older than this before the horizon date means the series has a hole there, not a close.
_MAX_STALENESS = timedelta(days=7)


@dataclass(frozen=True)
class RateChange:
    """One change of the target (percent; the upper bound in the range era)."""

    date: dt.date  # the announcement, or FRED's date when no announcement matches
    effective: dt.date  # FRED's date of the change
    before: float
    after: float
    previous: dt.date | None  # FRED date of the change before it (None: the first in the history)
    previous_kind: Literal["hike", "cut"] | None


@dataclass(frozen=True)
class FirstCut:
    """The first cut of one easing cycle and the returns that followed it (fractions)."""

    date: dt.date  # announcement (or FRED effective date when no announcement matches)
    effective: dt.date  # FRED's date of the change
    before: float  # target (upper bound) before, percent
    after: float
    rut: dict[int, float | None]  # months -> return, fraction (None = window incomplete)
    spx: dict[int, float | None]
    base_date: dt.date | None = None  # the close the returns are measured from
    ends: dict[int, dt.date] = field(default_factory=dict)  # months -> the window's end date
    kind: Literal["cycle", "resumed"] = "cycle"  # resumed: a cut after a pause inside a running cycle
    paused_months: int | None = None  # whole months without a change before it (None: none before)


@dataclass(frozen=True)
class CutsStudy:
    """Every first cut (and resumed cut) with R2K data, and average returns of the first cuts per horizon."""

    asof: date
    cycles: tuple[FirstCut, ...]  # first cuts and resumed cuts, oldest first
    avg_rut: dict[int, float | None]  # None when no cycle has a complete window
    avg_spx: dict[int, float | None]
    counted: dict[int, int]  # cycles with a complete window per horizon
    used: dict[int, tuple[date, ...]] | None = None  # those cycles' dates, per horizon
    pause_months: int = PAUSE_MONTHS
    data_start: date | None = None  # the first Russell 2000 close: cycles before it are not covered
    resume_months: int = RESUME_MONTHS

    def not_ended(self, cut: FirstCut, months: int) -> bool:
        """The window has not ended by ``asof`` (said as such, never computed on partial data)."""
        return cut.ends[months] > self.asof


def splice_target(dfedtar: pd.Series | None, dfedtaru: pd.Series) -> pd.Series:
    """One target series: DFEDTAR until the day before DFEDTARU starts (2008-12-15), then DFEDTARU."""
    if dfedtar is None or dfedtar.empty:
        return dfedtaru
    if dfedtaru.empty:
        return dfedtar
    start = dfedtaru.index[0]
    spliced: pd.Series = pd.concat([dfedtar.loc[: start - pd.Timedelta(days=1)], dfedtaru])
    return spliced


def _announced(effective: date, announcements: Sequence[date]) -> date:
    i = bisect.bisect_right(announcements, effective) - 1
    if i >= 0 and effective - announcements[i] <= ANNOUNCEMENT_WINDOW:
        return announcements[i]
    return effective


def rate_changes(target: pd.Series, asof: date, announcements: Sequence[date] = ()) -> tuple[RateChange, ...]:
    """Every change of ``target`` dated (by FRED) on or before ``asof``, oldest first."""
    held = truncate(target, asof, "Fed funds target")
    values = held.to_numpy(dtype="float64")
    # Rates are quoted to 1/16 pp at most; anything smaller is float noise from a CSV round trip.
    at = np.flatnonzero(np.abs(np.diff(values)) > 1e-9) + 1
    decided = sorted(announcements)
    out: list[RateChange] = []
    for i in at.tolist():
        effective = day(held.index[i])
        prev = out[-1] if out else None
        out.append(
            RateChange(
                date=_announced(effective, decided),
                effective=effective,
                before=float(values[i - 1]),
                after=float(values[i]),
                previous=prev.effective if prev else None,
                previous_kind=(None if prev is None else "hike" if prev.after > prev.before else "cut"),
            )
        )
    return tuple(out)


def find_first_cuts(
    target: pd.Series,
    asof: date,
    announcements: Sequence[date] = (),
    *,
    pause_months: int = PAUSE_MONTHS,
    since: date | None = None,
) -> tuple[RateChange, ...]:
    """The first cut of every easing cycle in the history (dated on or after ``since`` if given)."""
    found = classify_cuts(target, asof, announcements, pause_months=pause_months, since=since)
    return tuple(c for c, kind in found if kind == "cycle")


def whole_months(start: date, end: date) -> int:
    """Calendar months from ``start`` to ``end``, rounded down (2024-12-19 → 2025-09-18: 8)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months if add_months(start, months) <= end else months - 1


def classify_cuts(
    target: pd.Series,
    asof: date,
    announcements: Sequence[date] = (),
    *,
    pause_months: int = PAUSE_MONTHS,
    resume_months: int = RESUME_MONTHS,
    since: date | None = None,
) -> tuple[tuple[RateChange, Literal["cycle", "resumed"]], ...]:
    """Every first cut ("cycle") and resumed cut ("resumed") of the history, oldest first (module doc)."""
    held = truncate(target, asof, "Fed funds target")
    history_start = day(held.index[0])
    out: list[tuple[RateChange, Literal["cycle", "resumed"]]] = []
    for change in rate_changes(held, asof, announcements):
        if change.after >= change.before or (since is not None and change.date < since):
            continue
        if change.previous_kind == "hike":
            out.append((change, "cycle"))
        elif change.previous is not None:
            if add_months(change.previous, pause_months) <= change.effective:
                out.append((change, "cycle"))
            elif add_months(change.previous, resume_months) <= change.effective:
                out.append((change, "resumed"))
        elif add_months(history_start, pause_months) <= change.effective:
            # No earlier change in the history held, and it covers a full pause: a new cycle.
            out.append((change, "cycle"))
    return tuple(out)


def _forward(closes: pd.Series, start: date, months: int, asof: date) -> float | None:
    base = close_on_or_before(closes, start)
    horizon = add_months(start, months)
    if base is None or horizon > asof or start - base.date > _MAX_STALENESS:
        return None
    end = close_on_or_before(closes, horizon)
    if end is None or horizon - end.date > _MAX_STALENESS:
        return None
    return end.close / base.close - 1.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compute_cuts(
    target: pd.Series,
    rut: pd.Series,
    spx: pd.Series,
    asof: date,
    announcements: Sequence[date] = (),
    *,
    pause_months: int = PAUSE_MONTHS,
    resume_months: int = RESUME_MONTHS,
    horizons: tuple[int, ...] = HORIZONS,
) -> CutsStudy:
    """R2K and S&P 500 price returns after each first (and resumed) cut the data covers, as of ``asof``.

    Cuts before the first RUT close are left out. Raises InsufficientData when the target, RUT or S&P
    500 history has nothing on or before ``asof``.
    """
    rut_held = truncate(rut, asof, "Russell 2000")
    spx_held = truncate(spx, asof, "S&P 500")
    first_rut = day(rut_held.index[0])
    cycles = []
    found = classify_cuts(target, asof, announcements, pause_months=pause_months, resume_months=resume_months)
    for cut, kind in found:
        if cut.date < first_rut:
            continue
        base = close_on_or_before(rut_held, cut.date)
        cycles.append(
            FirstCut(
                date=cut.date,
                effective=cut.effective,
                before=cut.before,
                after=cut.after,
                rut={m: _forward(rut_held, cut.date, m, asof) for m in horizons},
                spx={m: _forward(spx_held, cut.date, m, asof) for m in horizons},
                base_date=base.date if base else None,
                ends={m: add_months(cut.date, m) for m in horizons},
                kind=kind,
                paused_months=whole_months(cut.previous, cut.effective) if cut.previous else None,
            )
        )
    avg_rut: dict[int, float | None] = {}
    avg_spx: dict[int, float | None] = {}
    counted: dict[int, int] = {}
    used: dict[int, tuple[date, ...]] = {}
    for m in horizons:
        complete = [c for c in cycles if c.kind == "cycle" and c.rut[m] is not None and c.spx[m] is not None]
        used[m] = tuple(c.date for c in complete)
        counted[m] = len(complete)
        avg_rut[m] = _mean([c.rut[m] for c in complete])  # type: ignore[misc]
        avg_spx[m] = _mean([c.spx[m] for c in complete])  # type: ignore[misc]
    return CutsStudy(
        asof=asof,
        cycles=tuple(cycles),
        avg_rut=avg_rut,
        avg_spx=avg_spx,
        counted=counted,
        used=used,
        pause_months=pause_months,
        data_start=first_rut,
        resume_months=resume_months,
    )
