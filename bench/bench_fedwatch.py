"""capgap's FedWatch against pyfedwatch 1.2.0 (the peer) on the same strips and FOMC calendar.

Run: ``python -m bench.bench_fedwatch`` (needs ``pip install pyfedwatch==1.2.0`` and ../shared/data).

Inputs, identical for both: the CME settlement strip of 2026-09-17 (the SPEC's worked example) and five
trade dates of the ZQ history in shared/data/zq (pyfedwatch's own data, 2022-2023); the FOMC calendar of
``bot/data/fomc_decisions.csv``; the target range from FRED (shared/data/fred). No ZQ prices overlap
CME's published FedWatch history (2024-08 .. 2025-08), so the CME cross-check in tests/test_fedwatch.py
cannot use these dates; here the peer is pyfedwatch.

Every month either program reads gets the same price: the settle on the trade date, or for a month that
has already expired (pyfedwatch starts its month list at the last month without a decision) the
contract's last price of that month, which is also what pyfedwatch picks.

pyfedwatch counts the decision day at the new rate (``m = N - d + 1`` days after the meeting); CME, the
SPEC and capgap count it at the old rate. The "aligned" rows feed pyfedwatch every decision date one day
later, which turns its day count into CME's, to show that this convention is the only difference.
They stop before the first upcoming meeting on a month's last day, which the shift would move into the
next month.

Odds history (issue 16): the whole ZQ file's 8,572 strips backfilled into every meeting's odds history
(strips per second) and one meeting's history as ``/fedodds 2022-03 history`` computes it on demand;
these rows need no peer and run first.

Timing: wall clock in one process, median of several batches, inputs prepared outside the timer; capgap
solves every meeting the strip allows, pyfedwatch as many as it can (it needs a month without a
decision after the last one), so the ratio is if anything unfair to capgap.
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from bench.common import SHARED_DATA, print_table, row
from bot.calendar import fomc_meetings
from bot.metrics.fedwatch import FedWatchResult, compute_fedwatch

FIXTURE = SHARED_DATA / "fixtures" / "cme" / "settlements_ZQ_20260917.json"
ZQ_FILE = SHARED_DATA / "zq" / "ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
DFEDTARL = SHARED_DATA / "fred" / "DFEDTARL_jonsflow.csv"

# Settlement days of the ZQ file, none on or the day before an FOMC decision (a decision on the trade
# date is past for capgap and pyfedwatch alike; the aligned run shifts decisions by a day).
HISTORICAL_DATES = (
    date(2022, 3, 1),
    date(2022, 6, 1),
    date(2022, 10, 3),
    date(2023, 3, 1),
    date(2023, 9, 15),
)
FIXTURE_DATE = date(2026, 9, 17)
FIXTURE_LOWER_BOUND = (
    3.75  # raised at the 2026-09-16 meeting (SPEC; fixtures/cme/fred_target_range_202609.json)
)

SPEED_GOAL = 10.0  # capgap at least this many times faster
AGREEMENT_GOAL_PP = 0.1  # same probabilities within this many percentage points

MONTH_CODES = "FGHJKMNQUVXZ"
CME_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _naive(d: date) -> datetime:
    """pyfedwatch's API takes naive datetimes for dates; this is the one place they are made."""
    return datetime(d.year, d.month, d.day)  # noqa: DTZ001


def _month_from(text: str) -> date:
    """``YYYY-MM`` (pyfedwatch's month list) as the first day of that month."""
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def _symbol(month: date) -> str:
    return f"ZQ{MONTH_CODES[month.month - 1]}{month.year % 100:02d}"


def _month_end(month: date) -> date:
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


@dataclass(frozen=True)
class Case:
    """One trade date's inputs, already in each program's shape."""

    trade_date: date
    lower_bound: float
    settles: dict[date, float]  # capgap: contract month -> price
    frames: dict[str, pd.DataFrame]  # pyfedwatch: symbol -> Date-indexed frame with a Close column
    source: str


def _import_pyfedwatch() -> Any:
    """pyfedwatch.fedwatch.FedWatch, importable under pandas 3.

    pyfedwatch imports pandas_datareader 0.10 at module level, which fails on pandas 3; it calls it only
    to fetch the target range from FRED when none is given, and the bench always gives it. If the real
    package does not import, an empty module stands in so nothing here can reach the network.
    """
    try:
        import pandas_datareader  # noqa: F401
    except Exception:
        sys.modules["pandas_datareader"] = types.ModuleType("pandas_datareader")
    from pyfedwatch.fedwatch import FedWatch

    return FedWatch


def _load_zq() -> dict[str, pd.DataFrame]:
    frame = pd.read_csv(ZQ_FILE, usecols=["symbol", "date", "close"], parse_dates=["date"])
    out: dict[str, pd.DataFrame] = {}
    for symbol, rows in frame.groupby("symbol"):
        rows = rows.rename(columns={"date": "Date", "close": "Close"}).set_index("Date")[["Close"]]
        out[str(symbol)] = rows.sort_index()
    return out


def _lower_bound(trade_date: date) -> float:
    series = pd.read_csv(DFEDTARL, parse_dates=["Date"], index_col="Date")["Value"]
    return float(series.loc[pd.Timestamp(trade_date)])


def _historical_case(trade_date: date, zq: dict[str, pd.DataFrame], first_month: date) -> Case:
    settles: dict[date, float] = {}
    frames: dict[str, pd.DataFrame] = {}
    trade_month = date(trade_date.year, trade_date.month, 1)
    month = first_month
    while (history := zq.get(_symbol(month))) is not None:
        if month < trade_month:
            upto = history.loc[: pd.Timestamp(_month_end(month))]  # expired: its last price of the month
            if upto.empty:
                break
        else:
            upto = history.loc[: pd.Timestamp(trade_date)]  # live: must have settled on the trade date
            if upto.empty or upto.index[-1] != pd.Timestamp(trade_date):
                break
        settles[month] = float(upto["Close"].iloc[-1])
        frames[_symbol(month)] = upto
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return Case(trade_date, _lower_bound(trade_date), settles, frames, f"ZQ file {trade_date}")


def _fixture_case() -> Case:
    import json

    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    settles: dict[date, float] = {}
    for line in raw["settlements"]:
        if line["month"] == "Total" or line["settle"] == "-":
            continue
        name, year = line["month"].split()  # "SEP 26"
        month = date(2000 + int(year), CME_MONTHS.index(name) + 1, 1)
        settles[month] = float(line["settle"].rstrip("AB"))
    frames = {
        _symbol(month): pd.DataFrame({"Close": [price]}, index=pd.DatetimeIndex([FIXTURE_DATE], name="Date"))
        for month, price in settles.items()
    }
    # pyfedwatch starts at the last month without a decision (Aug 2026), which the trade date's strip no
    # longer lists. It only sets S of the past Sep 16 meeting, never an upcoming one; Sep's price stands in.
    frames[_symbol(date(2026, 8, 1))] = pd.DataFrame(
        {"Close": [settles[min(settles)]]}, index=pd.DatetimeIndex([date(2026, 8, 31)], name="Date")
    )
    return Case(FIXTURE_DATE, FIXTURE_LOWER_BOUND, settles, frames, "CME fixture 2026-09-17")


def _pyfedwatch_months(case: Case, calendar: list[datetime]) -> tuple[int, list[date]]:
    """The most upcoming meetings pyfedwatch can solve on this strip, and the months it then reads."""
    from pyfedwatch.fomc import FOMC

    watch = _naive(case.trade_date)
    upcoming = sum(1 for m in calendar if m > watch)
    for n in range(upcoming, 0, -1):
        try:
            fomc = FOMC(watch, calendar, n)
        except (ValueError, IndexError):
            continue
        months = [_month_from(m) for m in fomc.month_list]
        if all(_symbol(m) in case.frames for m in months):
            return n, months
    raise RuntimeError(f"pyfedwatch cannot solve any meeting on {case.source}")


def _run_pyfedwatch(
    fed_watch: Any, case: Case, calendar: list[datetime], n: int
) -> dict[date, dict[float, float]]:
    watch = _naive(case.trade_date)
    frames = case.frames

    def user_func(symbol: str) -> pd.DataFrame:
        return frames[symbol]

    table = fed_watch(watch, n, calendar, user_func).generate_hike_info(rate_cols=False)
    out: dict[date, dict[float, float]] = {}
    for (_, meeting), odds in table.iterrows():
        probs = {
            round(case.lower_bound + float(size) / 100.0, 6): float(p) for size, p in odds.items() if p > 0
        }
        out[date.fromisoformat(str(meeting))] = probs
    return out


def _max_diff_pp(
    ours: FedWatchResult, theirs: dict[date, dict[float, float]], shift_days: int
) -> tuple[float, int]:
    worst = 0.0
    compared = 0
    for meeting in ours.meetings:
        peer = theirs.get(meeting.meeting + timedelta(days=shift_days))
        if peer is None:
            continue
        compared += 1
        for lower in set(peer) | set(meeting.probabilities):
            worst = max(worst, abs(meeting.probabilities.get(lower, 0.0) - peer.get(lower, 0.0)) * 100)
    return worst, compared


def _median_seconds(fn: Callable[[], object], *, batch: int, batches: int) -> float:
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def _cases(calendar: list[datetime]) -> list[Case]:
    zq = _load_zq()
    cases = [_fixture_case()]
    for trade_date in HISTORICAL_DATES:
        # The months pyfedwatch reads start at its first month without a decision; give capgap those too.
        watch = _naive(trade_date)
        from pyfedwatch.fomc import FOMC

        first = _month_from(FOMC(watch, calendar, 1).month_list[0])
        cases.append(_historical_case(trade_date, zq, first))
    return cases


BACKFILL_GOAL = 150.0  # strips per second: the whole 30-year file (8,572 strips) in under a minute
MEETING_GOAL_S = 3.0  # one meeting's history (/fedodds YYYY-MM history) computed within this many seconds


def backfill_rows() -> list[dict[str, object]]:
    """Odds history over the whole shared ZQ file: every strip solved once for all its meetings
    (``backfill_odds_history``), and one meeting's history as /fedodds 2022-03 history computes it.
    The file is parsed outside the timer (its parse time is a row of its own)."""
    from bot.metrics.odds_history import backfill_odds_history, meeting_odds_history, target_lower_bound
    from bot.sources.csvfile import read_series_csv
    from bot.sources.zq_daily import parse_zq_daily

    data = ZQ_FILE.read_bytes()
    start = time.perf_counter()
    parsed = parse_zq_daily(data, origin=ZQ_FILE.name)
    parse_s = time.perf_counter() - start
    strips = {s.trade_date: s for s in parsed.strips}
    lower = read_series_csv(DFEDTARL, "DFEDTARL").frame["value"]
    single = read_series_csv(SHARED_DATA / "fred" / "DFEDTAR_hussamalazzawi.csv", "DFEDTAR").frame["value"]
    target = target_lower_bound(lower, single)
    meetings = fomc_meetings()
    start = time.perf_counter()
    histories = backfill_odds_history(strips, target, meetings)
    backfill_s = time.perf_counter() - start
    rate = len(strips) / backfill_s
    one_s = _median_seconds(lambda: meeting_odds_history(strips, target, meetings, date(2022, 3, 16)), batch=1, batches=3)
    return [
        row(f"ZQ daily file parse: seconds ({len(strips):,} strips, {parsed.rows:,} rows)", parse_s, "reference"),
        row(f"odds history backfill: strips per second ({len(strips):,} strips, {len(histories)} meetings,"
            f" {backfill_s:.1f} s)", rate, f">= {BACKFILL_GOAL:g}", rate >= BACKFILL_GOAL),
        row("odds history of one meeting (2022-03, as /fedodds 2022-03 history): seconds", one_s,
            f"<= {MEETING_GOAL_S:g} s", one_s <= MEETING_GOAL_S),
    ]


def run(*, verbose: bool = False) -> list[dict[str, object]]:
    """Rows ``name, capgap, peer, ratio, goal, pass`` for the lead's table printer.

    Per case: time per whole-strip computation (microseconds; ratio = peer / capgap), and the largest
    probability difference in percentage points over the meetings both report, against pyfedwatch as
    published and with its day count aligned to CME's.
    """
    rows: list[dict[str, object]] = backfill_rows()  # needs no peer: measured even where pyfedwatch is absent
    try:
        fed_watch = _import_pyfedwatch()
    except ImportError as exc:
        rows.append(row(f"pyfedwatch comparison: not run ({exc})", "missing", "pip install pyfedwatch==1.2.0", False))
        return rows
    meetings = fomc_meetings()
    calendar = [_naive(m) for m in meetings]
    shifted = [m + timedelta(days=1) for m in calendar]
    for case in _cases(calendar):

        def ours(case: Case = case) -> FedWatchResult:
            return compute_fedwatch(
                case.settles, meetings, trade_date=case.trade_date, lower_bound=case.lower_bound
            )

        result = ours()
        n_peer, _ = _pyfedwatch_months(case, calendar)
        peer = _run_pyfedwatch(fed_watch, case, calendar, n_peer)

        # Aligned: stop before the first upcoming meeting on a month's last day (the shift would move it).
        upcoming = [m for m in meetings if m > case.trade_date]
        n_aligned = n_peer
        for i, m in enumerate(upcoming[:n_peer]):
            if (m + timedelta(days=1)).month != m.month:
                n_aligned = i
                break
        aligned = _run_pyfedwatch(fed_watch, case, shifted, n_aligned) if n_aligned else {}

        t_ours = _median_seconds(ours, batch=200, batches=7)

        def theirs(case: Case = case, n: int = n_peer) -> dict[date, dict[float, float]]:
            return _run_pyfedwatch(fed_watch, case, calendar, n)

        t_peer = _median_seconds(theirs, batch=3, batches=5)
        ratio = t_peer / t_ours
        diff, compared = _max_diff_pp(result, peer, 0)
        diff_aligned, compared_aligned = _max_diff_pp(result, aligned, 1)

        label = case.source
        rows.append(row(
            f"{label}: pyfedwatch / capgap time per strip ({t_peer * 1e6:,.0f} vs {t_ours * 1e6:,.1f} µs;"
            f" {len(result.meetings)} vs {n_peer} meetings)",
            ratio, f">= {SPEED_GOAL:g}x", ratio >= SPEED_GOAL,
        ))
        # As published the two differ by the decision-day convention (module docstring): a reference figure.
        rows.append(row(f"{label}: max |dp| pp vs pyfedwatch as published ({compared} meetings)",
                        diff, "reference (day count)"))
        rows.append(row(f"{label}: max |dp| pp vs pyfedwatch, day count aligned ({compared_aligned} meetings)",
                        diff_aligned, f"<= {AGREEMENT_GOAL_PP:g} pp", diff_aligned <= AGREEMENT_GOAL_PP))
        if verbose:
            _print_side_by_side(case, result, peer)
    return rows


def _print_side_by_side(case: Case, result: FedWatchResult, peer: dict[date, dict[float, float]]) -> None:
    print(f"\n{case.source}  (target range lower bound {case.lower_bound:.2f} %)")
    print(f"  {'meeting':<10}  {'range':<11} {'capgap %':>9} {'pyfedwatch %':>13} {'diff pp':>8}")
    for meeting in result.meetings:
        theirs = peer.get(meeting.meeting)
        if theirs is None:
            continue
        for lower in sorted(set(theirs) | set(meeting.probabilities)):
            ours_pp = meeting.probabilities.get(lower, 0.0) * 100
            peer_pp = theirs.get(lower, 0.0) * 100
            if ours_pp < 0.05 and peer_pp < 0.05:
                continue
            print(
                f"  {meeting.meeting.isoformat():<10}  {lower:.2f}-{lower + 0.25:.2f}"
                f" {ours_pp:9.1f} {peer_pp:13.1f} {ours_pp - peer_pp:8.2f}"
            )


def main() -> None:
    print_table(run(verbose=True))


if __name__ == "__main__":
    main()
