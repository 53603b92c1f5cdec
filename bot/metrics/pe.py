"""/pe: the S&P 500 vs S&P 600 P/E gap, from the best series we hold, labelled for what it is.

Pure. A forward P/E the operator imported (FactSet, Yardeni, ...) is preferred over the trailing P/E of
ETF holdings that the bot records from Yahoo each session. The gap is large minus small in turns of
earnings and in percent of the small-cap P/E; its mean and percentile are over the common history held,
and a percentile is only quoted with at least a year of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.metrics.r2k import InsufficientData, truncate

MIN_HISTORY_DAYS = 365


@dataclass(frozen=True)
class PESeries:
    name: str  # history series name, e.g. "PE_SPX_FWD" or "PE_SPY"
    values: pd.Series
    kind: str  # "forward" | "trailing"
    label: str  # e.g. "S&P 500 forward P/E (imported CSV)"


@dataclass(frozen=True)
class PEReading:
    name: str
    label: str
    kind: str
    value: float
    date: date


@dataclass(frozen=True)
class PEGap:
    asof: date  # the last date both series have
    large: PEReading
    small: PEReading
    gap_turns: float  # large − small
    gap_pct: float  # gap / small, fraction
    mean_turns: float  # mean gap over the common history
    percentile: float | None  # share of the history with a smaller gap (0..1); None with < 1 year
    history_days: int  # calendar days between the first and last common observation
    history_start: date
    comparable: bool  # both series measure the same kind of P/E


def choose_pe_series(candidates: Sequence[PESeries | None]) -> PESeries | None:
    """The best available series: forward before trailing, then the longest history."""
    present = [c for c in candidates if c is not None and not c.values.dropna().empty]
    if not present:
        return None
    return sorted(present, key=lambda c: (c.kind != "forward", -len(c.values)))[0]


def latest(series: PESeries, asof: date) -> PEReading:
    values = truncate(series.values.dropna(), asof)
    if values.empty:
        raise InsufficientData(series.label)
    return PEReading(series.name, series.label, series.kind, float(values.iloc[-1]), values.index[-1].date())


def compute_pe_gap(large: PESeries, small: PESeries, asof: date) -> PEGap:
    both = pd.concat(
        [truncate(large.values, asof).rename("large"), truncate(small.values, asof).rename("small")], axis=1, join="inner"
    ).dropna()
    both = both[(both["large"] > 0) & (both["small"] > 0)]  # vendors write 0 for "no earnings"
    if both.empty:
        raise InsufficientData("P/E observations on common dates")
    gaps = both["large"] - both["small"]
    last = both.index[-1]
    gap = float(gaps.iloc[-1])
    days = (last - both.index[0]).days
    percentile = float((gaps < gap).mean()) if days >= MIN_HISTORY_DAYS else None
    return PEGap(
        asof=last.date(),
        large=PEReading(large.name, large.label, large.kind, float(both["large"].iloc[-1]), last.date()),
        small=PEReading(small.name, small.label, small.kind, float(both["small"].iloc[-1]), last.date()),
        gap_turns=gap,
        gap_pct=gap / float(both["small"].iloc[-1]),
        mean_turns=float(gaps.mean()),
        percentile=percentile,
        history_days=days,
        history_start=both.index[0].date(),
        comparable=large.kind == small.kind,
    )


# Per role: the imported forward series first, then the ETF proxy the bot records each session.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "large": ("PE_SPX_FWD", "PE_SPY"),
    "small": ("PE_SP600_FWD", "PE_IJR"),
    "r2k": ("PE_RUT_FWD", "PE_IWM"),
    "ndx": ("PE_NDX_FWD", "PE_QQQ"),
}


def best_pe(values: Mapping[str, pd.Series], role: str, labels: Mapping[str, str]) -> PESeries | None:
    """The best P/E series held for ``role`` ("large", "small", "r2k", "ndx") among ``values`` by name."""
    return choose_pe_series([
        PESeries(name, values[name], "forward" if name.endswith("_FWD") else "trailing", labels.get(name, name))
        for name in CANDIDATES[role] if name in values
    ])


def pe_gap_series(values: Mapping[str, pd.Series], labels: Mapping[str, str]) -> pd.Series:
    """The large-minus-small P/E gap (turns) on every common date, from the best series held."""
    large, small = best_pe(values, "large", labels), best_pe(values, "small", labels)
    if large is None or small is None:
        return pd.Series(dtype="float64")
    both = pd.concat([large.values.rename("l"), small.values.rename("s")], axis=1, join="inner").dropna()
    both = both[(both["l"] > 0) & (both["s"] > 0)]
    return both["l"] - both["s"]
