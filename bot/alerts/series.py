"""The metrics alert rules watch: for each, how its daily series is built from a market snapshot (by
the functions of bot/metrics), the stored series it reads, what a reader calls that data, and the unit its
values are said in. A rule names its metric; whether it holds on stale data and how its messages print
its numbers both follow from here, so no other table repeats them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bot.i18n import N_
from bot.market import CUT_ODDS_SERIES, Snapshot
from bot.metrics.fedpath import path_gap_series
from bot.metrics.pe import CANDIDATES, best_pe, pe_gap_series
from bot.metrics.risk import drawdown_series
from bot.metrics.spread import ytd_gap_series
from bot.series import SERIES

UNITS = ("index", "turns", "percent", "pp", "rate", "bp")


@dataclass(frozen=True)
class Metric:
    compute: Callable[[Snapshot], pd.Series]
    # The stored series the values come from: when one is stale the rule holds (no fire, no resolve).
    inputs: Callable[[Snapshot], tuple[str, ...]]
    data: str  # msgid: the data as a reader knows it ("Russell 2000 closes"), for "no data" replies
    unit: str  # how a value reads: an index level, P/E turns, a percentage, percentage points, a rate in %, bp

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")


def _fixed(*names: str) -> Callable[[Snapshot], tuple[str, ...]]:
    return lambda snap: names


def _pe_values(snap: Snapshot) -> tuple[dict[str, pd.Series], dict[str, str]]:
    names = {n for names in CANDIDATES.values() for n in names if snap.has(n)}
    return {n: snap.close(n) for n in names}, {n: SERIES[n].label for n in names}


def pe_gap(snap: Snapshot) -> pd.Series:
    """S&P 500 minus S&P 600 P/E (turns), from the best series held (forward before trailing)."""
    return pe_gap_series(*_pe_values(snap))


def pe_gap_inputs(snap: Snapshot) -> tuple[str, ...]:
    """The two P/E series the gap is computed from (as pe_gap chooses them)."""
    values, labels = _pe_values(snap)
    chosen = (best_pe(values, role, labels) for role in ("large", "small"))
    return tuple(s.name for s in chosen if s is not None)


def fed_path_gap(snap: Snapshot) -> pd.Series:
    """|market − Fed SEP median| (bp) at the first year end ahead, per stored strip since the first SEP
    stored (bot/metrics/fedpath.py), from the market rates record_odds keeps with the odds history."""
    key = ("metric", "fed_path_gap")
    if key not in snap.memo:
        snap.memo[key] = path_gap_series(snap.frame(CUT_ODDS_SERIES), snap.frame("FEDTARMD"))
    value = snap.memo[key]
    assert isinstance(value, pd.Series)
    return value


METRICS: dict[str, Metric] = {
    "rut_close": Metric(lambda snap: snap.close("RUT"), _fixed("RUT"), N_("Russell 2000 closes"), "index"),
    "rut_drawdown": Metric(lambda snap: drawdown_series(snap.close("RUT")), _fixed("RUT"),
                           N_("Russell 2000 closes"), "percent"),
    "spread_ytd_ndx": Metric(lambda snap: ytd_gap_series(snap.close("RUT"), snap.close("NDX")), _fixed("RUT", "NDX"),
                             N_("Russell 2000 and Nasdaq-100 closes"), "pp"),
    "pe_gap": Metric(pe_gap, pe_gap_inputs, N_("S&P 500 and S&P 600 P/E history"), "turns"),
    # The next meeting's cut probability (percent) per stored strip, labelled from the target range.
    "cut_prob_next": Metric(lambda snap: snap.close(CUT_ODDS_SERIES) * 100.0, _fixed("ZQ_STRIPS", "DFEDTARL"),
                            N_("cut odds history"), "percent"),
    "fed_path_gap": Metric(fed_path_gap, _fixed("ZQ_STRIPS", "DFEDTARL", "FEDTARMD"),
                           N_("futures strips and the Fed's SEP median (FRED FEDTARMD)"), "bp"),
    "fed_target_upper": Metric(lambda snap: snap.close("DFEDTARU"), _fixed("DFEDTARU"),
                               N_("Fed funds target range history"), "rate"),
}
