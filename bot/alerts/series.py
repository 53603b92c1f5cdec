"""The metric series alert rules watch, built from a market snapshot (pure functions of its frames)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bot.market import CUT_ODDS_SERIES, Snapshot
from bot.metrics.pe import CANDIDATES, pe_gap_series
from bot.series import SERIES


def rut_close(snap: Snapshot) -> pd.Series:
    return snap.close("RUT")


def rut_drawdown(snap: Snapshot) -> pd.Series:
    """Percent below the highest close so far (0 at a record)."""
    closes = snap.close("RUT")
    return (1.0 - closes / np.maximum.accumulate(closes)) * 100.0


def spread_ytd_ndx(snap: Snapshot) -> pd.Series:
    """R2K minus NDX year-to-date return, pp, at every common close (each year based on the last close
    of the year before)."""
    both = pd.concat([snap.close("RUT").rename("rut"), snap.close("NDX").rename("ndx")], axis=1, join="inner").dropna()
    year_end = both.groupby(both.index.year).last()
    base = year_end.shift(1).reindex(both.index.year)
    base.index = both.index
    rel = both / base - 1.0
    return ((rel["rut"] - rel["ndx"]) * 100.0).dropna()


def pe_gap(snap: Snapshot) -> pd.Series:
    """S&P 500 minus S&P 600 P/E (turns), from the best series held (forward before trailing)."""
    names = {n for names in CANDIDATES.values() for n in names if snap.has(n)}
    return pe_gap_series({n: snap.close(n) for n in names}, {n: SERIES[n].label for n in names})


def cut_prob_next(snap: Snapshot) -> pd.Series:
    """The next meeting's cut probability, percent, per stored trade date."""
    return snap.close(CUT_ODDS_SERIES) * 100.0


def fed_target_upper(snap: Snapshot) -> pd.Series:
    return snap.close("DFEDTARU")


METRICS: dict[str, Callable[[Snapshot], pd.Series]] = {
    "rut_close": rut_close,
    "rut_drawdown": rut_drawdown,
    "spread_ytd_ndx": spread_ytd_ndx,
    "pe_gap": pe_gap,
    "cut_prob_next": cut_prob_next,
    "fed_target_upper": fed_target_upper,
}
