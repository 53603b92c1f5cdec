"""The series capgap knows: their names, what they hold, and where each one comes from.

Names follow `capgap import --series NAME`: indices and ETFs by ticker without ``^``, FRED series by their
FRED id, P/E series by what they measure. ``sources`` lists providers in priority order; the refresh falls
to the next one when a provider fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.i18n import N_


@dataclass(frozen=True)
class SeriesInfo:
    name: str
    kind: str  # "bars" (OHLCV) | "scalar" (one value per date)
    label: str  # short English label; the renderer translates
    sources: tuple[str, ...]  # provider names in priority order; () = import only
    symbol: str | None = None  # provider symbol where it differs from the name
    market: bool = True  # True: one value per NYSE session, stale after a missed session
    # How old the last value may be before a reply calls it stale (see ``stale_after`` below):
    # "session" (a missed NYSE session), "fomc" (older than the last FOMC decision), "sep" (older than
    # the last FOMC meeting with a Summary of Economic Projections), "age" (older than ``max_age_days``
    # calendar days).
    staleness: str = "session"
    max_age_days: int = 7
    ends: date | None = None  # the series was discontinued on this date: complete, never stale after it


# Forward P/E vendors publish with a lag and the operator imports by hand: older than a quarter's worth
# of days plus the lag (45 days) no longer describes the market the reply talks about.
PE_MAX_AGE_DAYS = 45
# A monthly series dated on the 1st describes that month: stale once the next month's value is overdue.
MONTHLY_MAX_AGE_DAYS = 62


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
        # The target range changes only at FOMC decisions: it is stale once a decision it predates.
        SeriesInfo("DFEDTARU", "scalar", N_("Fed funds target, upper bound"), ("fred",), market=False,
                   staleness="fomc"),
        SeriesInfo("DFEDTARL", "scalar", N_("Fed funds target, lower bound"), ("fred",), market=False,
                   staleness="fomc"),
        # FRED discontinued the single target on 2008-12-15 (the range replaced it): complete, by design.
        SeriesInfo("DFEDTAR", "scalar", N_("Fed funds target (before 2008-12-16)"), (), market=False,
                   staleness="fomc", ends=date(2008, 12, 15)),
        # The FOMC's SEP median of the fed funds rate per projection year, one row per SEP release (its
        # decision day; see bot/sources/fred.py): stale once a later SEP meeting has passed without it.
        SeriesInfo("FEDTARMD", "scalar", N_("Fed's SEP median fed funds rate"), ("fred",), market=False,
                   staleness="sep"),
        # FRED publishes rates a business day or two late: a week without a value is stale.
        SeriesInfo("EFFR", "scalar", N_("Effective fed funds rate"), ("fred",), market=False,
                   staleness="age"),
        SeriesInfo("DFF", "scalar", N_("Effective fed funds rate (daily, incl. weekends)"), (), market=False,
                   staleness="age"),
        SeriesInfo("DGS10", "scalar", N_("10-year Treasury yield"), ("fred",), market=False, staleness="age"),
        # Trailing P/E of ETF holdings (Yahoo summaryDetail), one observation recorded per session.
        SeriesInfo("PE_SPY", "scalar", N_("S&P 500 trailing P/E (SPY holdings)"), ("yahoo_pe",), "SPY"),
        SeriesInfo("PE_IJR", "scalar", N_("S&P 600 trailing P/E (IJR holdings)"), ("yahoo_pe",), "IJR"),
        SeriesInfo("PE_IWM", "scalar", N_("Russell 2000 trailing P/E (IWM holdings)"), ("yahoo_pe",), "IWM"),
        SeriesInfo("PE_QQQ", "scalar", N_("Nasdaq-100 trailing P/E (QQQ holdings)"), ("yahoo_pe",), "QQQ"),
        # Forward P/E series the operator imports (FactSet, Yardeni, ...): preferred over the proxies.
        SeriesInfo("PE_SPX_FWD", "scalar", N_("S&P 500 forward P/E"), (), market=False,
                   staleness="age", max_age_days=PE_MAX_AGE_DAYS),
        SeriesInfo("PE_SP600_FWD", "scalar", N_("S&P 600 forward P/E"), (), market=False,
                   staleness="age", max_age_days=PE_MAX_AGE_DAYS),
        SeriesInfo("PE_RUT_FWD", "scalar", N_("Russell 2000 forward P/E"), (), market=False,
                   staleness="age", max_age_days=PE_MAX_AGE_DAYS),
        SeriesInfo("PE_NDX_FWD", "scalar", N_("Nasdaq-100 forward P/E"), (), market=False,
                   staleness="age", max_age_days=PE_MAX_AGE_DAYS),
        # Shiller's monthly file (price / trailing 12-month earnings), imported: a monthly trailing P/E.
        SeriesInfo("PE_SPX_SHILLER", "scalar", N_("S&P 500 trailing P/E (Shiller, monthly)"), (),
                   market=False,
                   staleness="age", max_age_days=MONTHLY_MAX_AGE_DAYS),
    )
}


def stale_after(info: SeriesInfo, last: date | None, asof: date) -> tuple[bool, date | None]:
    """Whether a series whose last value is dated ``last`` is stale for a reply about the close of
    ``asof`` (a session), and for the "fomc" policy the decision it predates.

    - "session": a market series must hold the close of ``asof`` itself.
    - "fomc": the target range changes on the day after an FOMC announcement (FRED dates by effective
      day), so a value dated on or before the last decision announced before ``asof`` cannot show it.
    - "sep": a series dated by SEP release (FEDTARMD) is stale once a later SEP meeting has been
      announced on or before ``asof`` (the projections are published with that day's decision); the
      meeting is returned as the decision it predates.
    - "age": older than ``max_age_days`` calendar days before ``asof``.
    A series that ``ends`` (discontinued) and holds values up to its end is complete, never stale.
    """
    from bot import calendar

    if last is None:
        return True, None
    if info.ends is not None and last >= info.ends:
        return False, None
    if info.staleness == "fomc":
        decided = [d for d in calendar.meetings_between(last, asof) if last <= d < asof]
        return (True, decided[-1]) if decided else (False, None)
    if info.staleness == "sep":
        later = [d for d in calendar.sep_meetings() if last < d <= asof]
        return (True, later[-1]) if later else (False, None)
    if info.staleness == "age":
        return (asof - last).days > info.max_age_days, None
    session = asof if calendar.is_session(asof) else calendar.previous_session(asof)
    return last < session, None


def series_key(name: str) -> str:
    """A series name as the user or a vendor may spell it -> capgap's name: case-insensitive, a leading
    ``^`` ignored, Yahoo's ``GSPC`` for the S&P 500 is ``SPX`` (``^RUT`` -> ``RUT``)."""
    key = name.strip().lstrip("^").upper()
    return "SPX" if key == "GSPC" else key


def series_info(name: str) -> SeriesInfo:
    """The known series ``name`` (spelt as ``series_key`` accepts); KeyError otherwise."""
    return SERIES[series_key(name)]
