"""The series capgap knows: their names, what they hold, and where each one comes from.

Names follow `capgap import --series NAME`: indices and ETFs by ticker without ``^``, FRED series by their
FRED id, P/E series by what they measure. ``sources`` lists providers in priority order; the refresh falls
to the next one when a provider fails.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesInfo:
    name: str
    kind: str  # "bars" (OHLCV) | "scalar" (one value per date)
    label: str  # short English label; the renderer translates
    sources: tuple[str, ...]  # provider names in priority order; () = import only
    symbol: str | None = None  # provider symbol where it differs from the name
    market: bool = True  # True: one value per NYSE session, stale after a missed session


SERIES: dict[str, SeriesInfo] = {
    s.name: s
    for s in (
        SeriesInfo("RUT", "bars", "Russell 2000", ("yahoo", "stooq"), "^RUT"),
        SeriesInfo("NDX", "bars", "Nasdaq-100", ("yahoo", "stooq", "fred"), "^NDX"),
        SeriesInfo("SPX", "bars", "S&P 500", ("yahoo", "stooq", "fred"), "^GSPC"),
        SeriesInfo("SP600", "bars", "S&P SmallCap 600", ("yahoo",), "^SP600"),
        SeriesInfo("IWM", "bars", "iShares Russell 2000 ETF", ("yahoo", "stooq"), "IWM"),
        SeriesInfo("IJR", "bars", "iShares Core S&P Small-Cap ETF", ("yahoo", "stooq"), "IJR"),
        SeriesInfo("SPY", "bars", "SPDR S&P 500 ETF", ("yahoo", "stooq"), "SPY"),
        SeriesInfo("QQQ", "bars", "Invesco QQQ Trust", ("yahoo", "stooq"), "QQQ"),
        SeriesInfo("DFEDTARU", "scalar", "Fed funds target, upper bound", ("fred",), market=False),
        SeriesInfo("DFEDTARL", "scalar", "Fed funds target, lower bound", ("fred",), market=False),
        SeriesInfo("DFEDTAR", "scalar", "Fed funds target (before 2008-12-16)", (), market=False),
        SeriesInfo("EFFR", "scalar", "Effective fed funds rate", ("fred",), market=False),
        SeriesInfo("DFF", "scalar", "Effective fed funds rate (daily, incl. weekends)", (), market=False),
        SeriesInfo("DGS10", "scalar", "10-year Treasury yield", ("fred",), market=False),
        # Trailing P/E of ETF holdings (Yahoo summaryDetail), one observation recorded per session.
        SeriesInfo("PE_SPY", "scalar", "S&P 500 trailing P/E (SPY holdings)", ("yahoo_pe",), "SPY"),
        SeriesInfo("PE_IJR", "scalar", "S&P 600 trailing P/E (IJR holdings)", ("yahoo_pe",), "IJR"),
        SeriesInfo("PE_IWM", "scalar", "Russell 2000 trailing P/E (IWM holdings)", ("yahoo_pe",), "IWM"),
        SeriesInfo("PE_QQQ", "scalar", "Nasdaq-100 trailing P/E (QQQ holdings)", ("yahoo_pe",), "QQQ"),
        # Forward P/E series the operator imports (FactSet, Yardeni, ...): preferred over the proxies.
        SeriesInfo("PE_SPX_FWD", "scalar", "S&P 500 forward P/E", (), market=False),
        SeriesInfo("PE_SP600_FWD", "scalar", "S&P 600 forward P/E", (), market=False),
        SeriesInfo("PE_RUT_FWD", "scalar", "Russell 2000 forward P/E", (), market=False),
        SeriesInfo("PE_NDX_FWD", "scalar", "Nasdaq-100 forward P/E", (), market=False),
    )
}


def series_info(name: str) -> SeriesInfo:
    """The known series ``name`` (case-insensitive, a leading ``^`` ignored); KeyError otherwise."""
    key = name.strip().lstrip("^").upper()
    if key == "GSPC":
        key = "SPX"
    return SERIES[key]
