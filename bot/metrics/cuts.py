"""/cuts: what small and large caps did after the first Fed cut of each easing cycle since 1990.

Pure. The target-rate history is FRED's DFEDTAR (single target, to 2008-12-15) spliced with DFEDTARU
(the range's upper bound, from 2008-12-16). A *first cut* is a decrease of the target when the previous
change was a hike, or when the previous cut was more than ``PAUSE_MONTHS`` months before: a new easing
cycle, not another step of the same one (so March 2020 belongs to the cycle begun in July 2019).

FRED dates each change on the day it takes effect, the day after the announcement for most modern
decisions; when announcement dates are given, a change is dated by the announcement on or up to three
days before it. Returns are close-to-close from the announcement day's close (the last close on or before
it) to the last close on or before 3, 6 and 12 calendar months later; a window not yet complete at the
as-of date is left out of the averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from bot.metrics.r2k import InsufficientData, truncate

PAUSE_MONTHS = 12
HORIZONS = (3, 6, 12)
SINCE = pd.Timestamp("1990-01-01")


@dataclass(frozen=True)
class FirstCut:
    date: date  # announcement (or FRED effective date when no announcement matches)
    effective: date  # FRED's date of the change
    before: float  # target (upper bound) before, percent
    after: float
    rut: dict[int, float | None]  # months -> return, fraction (None = window incomplete)
    spx: dict[int, float | None]


@dataclass(frozen=True)
class CutsStudy:
    asof: date
    cycles: tuple[FirstCut, ...]
    avg_rut: dict[int, float | None]
    avg_spx: dict[int, float | None]
    counted: dict[int, int]  # cycles with a complete window per horizon


def splice_target(dfedtar: pd.Series | None, dfedtaru: pd.Series) -> pd.Series:
    """One target series: the single target until the range era, then the range's upper bound."""
    if dfedtar is None or dfedtar.empty:
        return dfedtaru
    start = dfedtaru.index[0]
    return pd.concat([dfedtar.loc[: start - pd.Timedelta(days=1)], dfedtaru]).sort_index()


def first_cuts(target: pd.Series, announcements: Sequence[date] = ()) -> list[tuple[date, date, float, float]]:
    """(dated, effective, before, after) for each first cut since 1990."""
    changes = target[target.diff().fillna(0) != 0]
    previous = target.shift(1).loc[changes.index]
    out = []
    last_hike: pd.Timestamp | None = None
    last_cut: pd.Timestamp | None = None
    decided = sorted(announcements)
    for when, level in changes.items():
        before = float(previous.loc[when])
        if level > before:
            last_hike = when
            continue
        new_cycle = (
            last_cut is None
            or (last_hike is not None and last_hike > last_cut)
            or when > last_cut + pd.DateOffset(months=PAUSE_MONTHS)
        )
        last_cut = when
        if new_cycle and when >= SINCE:
            effective = when.date()
            dated = next((d for d in reversed(decided) if effective - timedelta(days=3) <= d <= effective), effective)
            out.append((dated, effective, before, float(level)))
    return out


def _forward(closes: pd.Series, start: date, months: int, asof: date) -> float | None:
    base = closes.loc[: pd.Timestamp(start)]
    end = pd.Timestamp(start) + pd.DateOffset(months=months)
    if base.empty or end.date() > asof:
        return None
    later = closes.loc[:end]
    return float(later.iloc[-1] / base.iloc[-1] - 1.0)


def compute_cuts(
    target: pd.Series, rut: pd.Series, spx: pd.Series, asof: date, announcements: Sequence[date] = ()
) -> CutsStudy:
    target = truncate(target, asof)
    rut, spx = truncate(rut, asof), truncate(spx, asof)
    if target.empty or rut.empty or spx.empty:
        raise InsufficientData("target-rate, Russell 2000 and S&P 500 history")
    cycles = []
    for dated, effective, before, after in first_cuts(target, announcements):
        if pd.Timestamp(dated) < rut.index[0]:
            continue
        cycles.append(FirstCut(
            date=dated, effective=effective, before=before, after=after,
            rut={m: _forward(rut, dated, m, asof) for m in HORIZONS},
            spx={m: _forward(spx, dated, m, asof) for m in HORIZONS},
        ))
    avg_rut: dict[int, float | None] = {}
    avg_spx: dict[int, float | None] = {}
    counted: dict[int, int] = {}
    for m in HORIZONS:
        pairs = [(c.rut[m], c.spx[m]) for c in cycles if c.rut[m] is not None and c.spx[m] is not None]
        counted[m] = len(pairs)
        avg_rut[m] = sum(p[0] for p in pairs) / len(pairs) if pairs else None  # type: ignore[misc]
        avg_spx[m] = sum(p[1] for p in pairs) / len(pairs) if pairs else None  # type: ignore[misc]
    return CutsStudy(asof=asof, cycles=tuple(cycles), avg_rut=avg_rut, avg_spx=avg_spx, counted=counted)
