"""/pe: the S&P 500 vs S&P 600 P/E gap, from the best series held, labelled for what it is.

Sources: a forward P/E the operator imported (FactSet, Yardeni, ...: ``PE_*_FWD``) or the trailing P/E
of ETF holdings the bot records from Yahoo each session (``PE_SPY``, ``PE_IJR``, ``PE_IWM``,
``PE_QQQ``). Pure: labelled series and an ``asof`` in, a frozen dataclass out.

A P/E of zero or below, or a non-finite one, is not a valuation (vendors write 0 for "no earnings",
Shiller's file has 0.0 placeholders after 2023-06, price / 0 is infinite): such observations are
dropped before anything is computed.

The gap is large minus small on their last common date, in turns of earnings, and in percent of the
small-cap P/E (``gap_pct`` = gap / small, a fraction). Its mean and percentile are over every common
date held up to ``asof``; the percentile (share of those dates with a strictly smaller gap, 0..1) is
only given when that history spans at least ``MIN_HISTORY_DAYS`` calendar days, else None and
``history_days`` says how much there is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.metrics.returns import InsufficientData, as_timestamp, day

MIN_HISTORY_DAYS = 365
# The gap's chart (mean and a 10th–90th percentile band) needs the year a percentile needs, and at least
# this many common dates in it: a year of month-end imports (12) draws a line; fewer says why not.
MIN_CHART_POINTS = 12
CHART_BAND = (10.0, 90.0)


@dataclass(frozen=True, eq=False)
class PESeries:
    """One P/E series with what it measures: ``kind`` "forward" | "trailing" and a source ``label``."""

    name: str  # history series name, e.g. "PE_SPX_FWD" or "PE_SPY"
    values: pd.Series  # P/E per date (naive DatetimeIndex, increasing)
    kind: str  # "forward" | "trailing"
    label: str  # e.g. "S&P 500 forward P/E (imported CSV)"


@dataclass(frozen=True)
class PEReading:
    """The latest P/E of one series on or before the as-of date."""

    name: str
    label: str
    kind: str
    value: float
    date: dt.date


@dataclass(frozen=True)
class PEGap:
    """S&P 500 minus S&P 600 P/E as of ``asof``, the last date both series have (see module doc)."""

    asof: date
    large: PEReading
    small: PEReading
    gap_turns: float  # large − small
    gap_pct: float  # gap / small, fraction
    mean_turns: float  # mean gap over the common history
    percentile: float | None  # share of the history with a smaller gap (0..1); None with < 1 year
    history_days: int  # calendar days between the first and last common observation
    history_start: date
    comparable: bool  # both series measure the same kind of P/E
    observations: int = 0  # common dates in the history
    others: tuple[PEReading, ...] = ()  # latest Russell 2000 / Nasdaq-100 readings, when given


def _valid(series: PESeries, asof: date | None) -> pd.Series:
    """The series' real P/E observations dated on or before ``asof`` (None: all of them)."""
    values = series.values
    if not isinstance(values.index, pd.DatetimeIndex) or not values.index.is_monotonic_increasing:
        raise ValueError(f"{series.name}: index must be an increasing DatetimeIndex")
    if asof is not None:
        values = values.iloc[: int(values.index.searchsorted(as_timestamp(asof), side="right"))]
    raw = values.to_numpy(dtype="float64")
    keep = np.isfinite(raw) & (raw > 0)
    return values[keep] if not keep.all() else values


def latest(series: PESeries, asof: date) -> PEReading:
    """The last real observation of ``series`` on or before ``asof``; InsufficientData when none."""
    values = _valid(series, asof)
    if values.empty:
        raise InsufficientData(f"{series.label}: no P/E on or before {asof.isoformat()}")
    return PEReading(
        series.name,
        series.label,
        series.kind,
        float(values.to_numpy(dtype="float64")[-1]),
        day(values.index[-1]),
    )


def _is_fresh(series: PESeries, asof: date | None, max_age: timedelta) -> bool:
    if asof is None:
        return True
    try:
        return asof - latest(series, asof).date <= max_age
    except InsufficientData:
        return False


def choose_pe_series(
    candidates: Sequence[PESeries | None],
    *,
    asof: date | None = None,
    max_age: timedelta = timedelta(days=45),
) -> PESeries | None:
    """The series to quote among ``candidates`` (None entries and empty series are skipped).

    Forward (imported) before trailing (ETF proxy), then the longest history. With ``asof``, a series
    with nothing on or before it is skipped, and one whose last observation is older than ``max_age``
    ranks after every fresh one (a forward CSV imported once must not outrank today's proxy forever).
    The chosen series' ``name``, ``kind`` and ``label`` say what it is.
    """
    present = []
    for c in candidates:
        if c is None:
            continue
        held = _valid(c, asof)
        if not held.empty:
            present.append((not _is_fresh(c, asof, max_age), c.kind != "forward", -len(held), c))
    if not present:
        return None
    return min(present, key=lambda t: t[:3])[3]


def _common(large: PESeries, small: PESeries, asof: date | None) -> pd.DataFrame:
    return pd.concat({"large": _valid(large, asof), "small": _valid(small, asof)}, axis=1, join="inner")


def compute_pe_gap(
    large: PESeries,
    small: PESeries,
    asof: date,
    *,
    r2k: PESeries | None = None,
    ndx: PESeries | None = None,
) -> PEGap:
    """The P/E gap of ``large`` (S&P 500) over ``small`` (S&P 600) as of ``asof``.

    ``r2k`` and ``ndx`` add their latest readings to ``others`` (skipped when they hold nothing by
    ``asof``). Raises InsufficientData when the two main series share no date on or before ``asof``.
    """
    both = _common(large, small, asof)
    if both.empty:
        raise InsufficientData(
            f"{large.label} and {small.label}: no P/E on common dates by {asof.isoformat()}"
        )
    lv = both["large"].to_numpy(dtype="float64")
    sv = both["small"].to_numpy(dtype="float64")
    gaps = lv - sv
    gap = float(gaps[-1])
    first, last = both.index[0], both.index[-1]
    days = int((last - first).days)
    others = []
    for extra in (r2k, ndx):
        if extra is not None:
            try:
                others.append(latest(extra, asof))
            except InsufficientData:
                pass
    return PEGap(
        asof=day(last),
        large=PEReading(large.name, large.label, large.kind, float(lv[-1]), day(last)),
        small=PEReading(small.name, small.label, small.kind, float(sv[-1]), day(last)),
        gap_turns=gap,
        gap_pct=gap / float(sv[-1]),
        mean_turns=float(gaps.mean()),
        percentile=float(np.count_nonzero(gaps < gap) / len(gaps)) if days >= MIN_HISTORY_DAYS else None,
        history_days=days,
        history_start=day(first),
        comparable=large.kind == small.kind,
        observations=len(gaps),
        others=tuple(others),
    )


# Per role: the imported forward series first, then the ETF proxy the bot records each session.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "large": ("PE_SPX_FWD", "PE_SPY", "PE_SPX_SHILLER"),
    "small": ("PE_SP600_FWD", "PE_IJR"),
    "r2k": ("PE_RUT_FWD", "PE_IWM"),
    "ndx": ("PE_NDX_FWD", "PE_QQQ"),
}


def best_pe(
    values: Mapping[str, pd.Series], role: str, labels: Mapping[str, str], asof: date | None = None
) -> PESeries | None:
    """The best P/E series held for ``role`` ("large", "small", "r2k", "ndx") among ``values`` by name."""
    return choose_pe_series(
        [
            PESeries(
                name, values[name], "forward" if name.endswith("_FWD") else "trailing", labels.get(name, name)
            )
            for name in CANDIDATES[role]
            if name in values
        ],
        asof=asof,
    )


def gap_history(large: PESeries, small: PESeries, asof: date | None = None) -> pd.Series:
    """The large-minus-small P/E gap (turns) on every common date on or before ``asof`` (None: all)."""
    both = _common(large, small, asof)
    return both["large"] - both["small"]


def chartable(gap: PEGap) -> bool:
    """Enough history for the gap's chart: a percentile (a year) and ``MIN_CHART_POINTS`` common dates."""
    return gap.percentile is not None and gap.observations >= MIN_CHART_POINTS


def pe_gap_series(values: Mapping[str, pd.Series], labels: Mapping[str, str]) -> pd.Series:
    """The large-minus-small P/E gap (turns) on every common date, from the best series held."""
    large, small = best_pe(values, "large", labels), best_pe(values, "small", labels)
    if large is None or small is None:
        return pd.Series(dtype="float64")
    return gap_history(large, small)
