"""The series capgap knows: their names, what they hold, and where each one comes from.

Names follow `capgap import --series NAME`: indices and ETFs by ticker without ``^``, FRED series by their
FRED id, P/E series by what they measure. ``sources`` lists providers in priority order; the refresh falls
to the next one when a provider fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.render.i18n import N_


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
        SeriesInfo("RUT", "bars", N_("Russell 2000"), ("yahoo", "stooq"), "^RUT"),
        SeriesInfo("NDX", "bars", N_("Nasdaq-100"), ("yahoo", "stooq", "fred"), "^NDX"),
        SeriesInfo("SPX", "bars", N_("S&P 500"), ("yahoo", "stooq", "fred"), "^GSPC"),
        SeriesInfo("SP600", "bars", N_("S&P SmallCap 600"), ("yahoo",), "^SP600"),
        SeriesInfo("IWM", "bars", N_("iShares Russell 2000 ETF"), ("yahoo", "stooq"), "IWM"),
        SeriesInfo("IJR", "bars", N_("iShares Core S&P Small-Cap ETF"), ("yahoo", "stooq"), "IJR"),
        SeriesInfo("SPY", "bars", N_("SPDR S&P 500 ETF"), ("yahoo", "stooq"), "SPY"),
        SeriesInfo("QQQ", "bars", N_("Invesco QQQ Trust"), ("yahoo", "stooq"), "QQQ"),
        SeriesInfo("DFEDTARU", "scalar", N_("Fed funds target, upper bound"), ("fred",), market=False),
        SeriesInfo("DFEDTARL", "scalar", N_("Fed funds target, lower bound"), ("fred",), market=False),
        SeriesInfo("DFEDTAR", "scalar", N_("Fed funds target (before 2008-12-16)"), (), market=False),
        SeriesInfo("EFFR", "scalar", N_("Effective fed funds rate"), ("fred",), market=False),
        SeriesInfo("DFF", "scalar", N_("Effective fed funds rate (daily, incl. weekends)"), (), market=False),
        SeriesInfo("DGS10", "scalar", N_("10-year Treasury yield"), ("fred",), market=False),
        # Trailing P/E of ETF holdings (Yahoo summaryDetail), one observation recorded per session.
        SeriesInfo("PE_SPY", "scalar", N_("S&P 500 trailing P/E (SPY holdings)"), ("yahoo_pe",), "SPY"),
        SeriesInfo("PE_IJR", "scalar", N_("S&P 600 trailing P/E (IJR holdings)"), ("yahoo_pe",), "IJR"),
        SeriesInfo("PE_IWM", "scalar", N_("Russell 2000 trailing P/E (IWM holdings)"), ("yahoo_pe",), "IWM"),
        SeriesInfo("PE_QQQ", "scalar", N_("Nasdaq-100 trailing P/E (QQQ holdings)"), ("yahoo_pe",), "QQQ"),
        # Forward P/E series the operator imports (FactSet, Yardeni, ...): preferred over the proxies.
        SeriesInfo("PE_SPX_FWD", "scalar", N_("S&P 500 forward P/E"), (), market=False),
        SeriesInfo("PE_SP600_FWD", "scalar", N_("S&P 600 forward P/E"), (), market=False),
        SeriesInfo("PE_RUT_FWD", "scalar", N_("Russell 2000 forward P/E"), (), market=False),
        SeriesInfo("PE_NDX_FWD", "scalar", N_("Nasdaq-100 forward P/E"), (), market=False),
    )
}


def series_key(name: str) -> str:
    """A series name as the user or a vendor may spell it -> capgap's name: case-insensitive, a leading
    ``^`` ignored, Yahoo's ``GSPC`` for the S&P 500 is ``SPX`` (``^RUT`` -> ``RUT``)."""
    key = name.strip().lstrip("^").upper()
    return "SPX" if key == "GSPC" else key


def series_info(name: str) -> SeriesInfo:
    """The known series ``name`` (spelt as ``series_key`` accepts); KeyError otherwise."""
    return SERIES[series_key(name)]
