"""Replies say the dates their data has and flag every stale input (issue 13, sections 1 and 2).

Each case runs the command the way `capgap ask` does, on the real data in ../shared/data, live (a clock
long after the data ends) or `--as-of` a past close.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot import calendar
from bot.clock import FixedClock
from bot.history import HistoryStore
from bot.market import Market, record_odds
from bot.seam import Services
from bot.sources.base import Strip
from bot.sources.cme import parse_cme_settlements
from tests.commands_data import ask, import_real_data, services_for, table_rows
from tests.shared_files import SHARED_FILES

LATER = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # a Friday long after the shared data ends
SEPT_17 = date(2026, 9, 17)


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    return import_real_data(shared_data, tmp_path_factory.mktemp("history"))


@pytest.fixture(scope="module")
def march_range(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    """The 2026-09-17 strip with a target range that ends 2026-03-27 (no September range imported)."""
    history = import_real_data(shared_data, tmp_path_factory.mktemp("march"), with_strip=False)
    history.put_strip(parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
    record_odds(history)
    return history


def live(history: HistoryStore, tmp_path: Path, now: datetime = LATER) -> Services:
    services = services_for(history, date(2025, 12, 31), tmp_path)
    services.clock = FixedClock(now)
    services.market = Market(history, services.clock)
    return services


async def test_r2k_live_after_the_data_ends_dates_header_and_footer_by_the_last_close(history: HistoryStore,
                                                                                      tmp_path: Path) -> None:
    text, _ = await ask(live(history, tmp_path), "/r2k")
    assert "close 2026-02-20" in text and "as of close 2026-02-20" in text
    assert "2026-12-03" not in text and "2026-12-04" not in text
    assert "⚠️ RUT data is stale: last close 2026-02-20." in text


async def test_r2k_chart_footer_is_the_last_close_not_the_date_asked(history: HistoryStore, tmp_path: Path) -> None:
    services = services_for(history, date(2026, 3, 6), tmp_path)
    text, reply = await ask(services, "/r2k chart ytd", asof=date(2026, 3, 6))
    assert reply.chart is not None and "2026-03-06" not in reply.chart.caption and "2026-02-20" in reply.chart.caption
    assert "as of close 2026-02-20" in text and "2026-03-0" not in text


async def test_risk_live_footer_says_which_series_ends_when(history: HistoryStore, tmp_path: Path) -> None:
    text, _ = await ask(live(history, tmp_path), "/risk")
    assert ("as of close 2026-02-20 (RUT), 2026-02-27 (SPX, NDX)" in text
            or "as of close 2026-02-20 (RUT), 2026-02-27 (NDX, SPX)" in text)
    zh, _ = await ask(live(history, tmp_path), "/risk", lang="zh-Hant")
    assert "2026-02-20（RUT），2026-02-27（SPX、NDX）" in zh or "2026-02-20（RUT），2026-02-27（NDX、SPX）" in zh


async def test_backtest_live_footer_is_the_last_close_of_the_history(history: HistoryStore, tmp_path: Path) -> None:
    text, _ = await ask(live(history, tmp_path), "/backtest r2k_high")
    assert "as of close 2026-02-20" in text and "2026-12-0" not in text


async def test_r2k_as_of_before_the_history_starts_says_when_it_starts(history: HistoryStore, tmp_path: Path) -> None:
    day = date(1986, 1, 2)
    text, _ = await ask(services_for(history, day, tmp_path), "/r2k", asof=day)
    assert text == "The Russell 2000 history held starts on 1987-09-10: there is no close on or before 1986-01-02."


async def test_digest_live_heads_with_the_last_close_and_never_shows_a_decided_meeting(history: HistoryStore,
                                                                                       tmp_path: Path) -> None:
    text, reply = await ask(live(history, tmp_path), "/digest")
    assert text.startswith("capgap daily · close of 2026-02-20")
    assert "FOMC 2026-10-28" not in text  # decided on 2026-10-28, after the 2026-09-17 strip
    assert "FOMC 2026-12-09: cut 0%, hold 11%, hike 89%" in text and "settlements of 2026-09-17" in text
    assert "⚠️ ZQ data is stale: last value 2026-09-17, before the FOMC decision of 2026-10-28." in text
    assert "as of close 2026-02-20 (RUT, NDX), 2026-09-17 (ZQ)" in text
    assert reply.chart is not None and "2026-02-20" in reply.chart.caption


async def test_fedodds_as_of_with_a_range_older_than_the_last_decision_flags_both_bounds(march_range: HistoryStore,
                                                                                         tmp_path: Path) -> None:
    text, _ = await ask(services_for(march_range, SEPT_17, tmp_path), "/fedodds", asof=SEPT_17)
    for bound in ("DFEDTARL", "DFEDTARU"):
        assert f"⚠️ {bound} data is stale: last value 2026-03-27, before the FOMC decision of 2026-09-16." in text


async def test_fedodds_live_with_a_range_older_than_the_last_decision_flags_both_bounds(march_range: HistoryStore,
                                                                                        tmp_path: Path) -> None:
    services = live(march_range, tmp_path, datetime(2026, 9, 18, 12, 0, tzinfo=UTC))
    text, _ = await ask(services, "/fedodds")
    for bound in ("DFEDTARL", "DFEDTARU"):
        assert f"⚠️ {bound} data is stale: last value 2026-03-27, before the FOMC decision of 2026-09-16." in text


async def test_fedodds_as_of_with_a_current_range_has_no_stale_warning(history: HistoryStore, tmp_path: Path) -> None:
    text, _ = await ask(services_for(history, SEPT_17, tmp_path), "/fedodds", asof=SEPT_17)
    assert "stale" not in text and "most likely 4.00–4.25" in text


async def test_fedodds_live_long_after_the_strip_hides_decided_meetings_and_says_why(history: HistoryStore,
                                                                                     tmp_path: Path) -> None:
    text, _ = await ask(live(history, tmp_path), "/fedodds")
    assert "FOMC 2026-10-28" not in text and "FOMC 2026-12-09" in text
    assert "⚠️ ZQ data is stale: last value 2026-09-17, before the FOMC decision of 2026-10-28." in text
    assert "as of close 2026-09-17" in text


async def test_cuts_live_does_not_call_the_discontinued_single_target_stale(history: HistoryStore, tmp_path: Path) -> None:
    text, _ = await ask(live(history, tmp_path, datetime(2026, 9, 18, 12, 0, tzinfo=UTC)), "/cuts")
    assert "(DFEDTAR)" in text  # used (the cycles before 2008) ...
    assert "DFEDTAR data is stale" not in text  # ... and complete: FRED ended it on 2008-12-15 by design


def _shifted(strip: Strip, day: date, move: float, source: str) -> Strip:
    """The strip as of an earlier ``day``, with prices from 2026-11 on ``move`` higher: lower rates
    priced after the October meeting then, so the hike odds have risen since."""
    settles = {m: p + (move if m >= date(2026, 11, 1) else 0.0) for m, p in strip.settles.items()}
    return Strip(trade_date=day, settles=settles, source=source)


@pytest.fixture
def with_earlier_strips(shared_data: Path, tmp_path: Path) -> HistoryStore:
    """The real 2026-09-17 strip, one for the previous session and one 20 days older (no week/month)."""
    history = import_real_data(shared_data, tmp_path / "earlier")
    strip = parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes())
    history.put_strip(_shifted(strip, date(2026, 8, 28), 0.05, "cme"))
    history.put_strip(_shifted(strip, date(2026, 9, 16), 0.01, "cme"))
    history.put_strip(Strip(strip.trade_date, strip.settles, "csv:settlements_ZQ_20260917.json"))
    return history


async def test_fedodds_changes_name_the_previous_session_and_the_hike_side(with_earlier_strips: HistoryStore,
                                                                           tmp_path: Path) -> None:
    text, _ = await ask(services_for(with_earlier_strips, SEPT_17, tmp_path), "/fedodds 1", asof=SEPT_17)
    line = next(x for x in text.splitlines() if "vs 2026-09-16" in x)
    assert "(previous session)" in line and "cut" in line and "hike +" in line
    # 2026-08-28 is neither a week (2026-09-10) nor a month (2026-08-17) before: never compared with.
    assert "2026-08-28" not in text


async def test_fedodds_without_the_previous_sessions_strip_compares_with_nothing(with_earlier_strips: HistoryStore,
                                                                                 tmp_path: Path) -> None:
    day = date(2026, 9, 16)
    text, _ = await ask(services_for(with_earlier_strips, day, tmp_path), "/fedodds 1", asof=day)
    assert "changes: no settlements stored for the previous session, a week or a month earlier" in text
    assert "2026-08-28" not in text.split("Settlement prices")[0]


async def test_fedodds_imported_strip_is_labelled_by_its_file(with_earlier_strips: HistoryStore, tmp_path: Path) -> None:
    text, reply = await ask(services_for(with_earlier_strips, SEPT_17, tmp_path), "/fedodds", asof=SEPT_17)
    assert "(file settlements_ZQ_20260917.json)" in text and "CME settlements" not in text
    assert "target range: FRED (DFEDTARL, DFEDTARU)" in text  # import_real_data stores the September range as "fred"


async def test_fedodds_then_and_now_says_per_column_which_earlier_strip_is_missing(with_earlier_strips: HistoryStore,
                                                                                  tmp_path: Path) -> None:
    services = services_for(with_earlier_strips, SEPT_17, tmp_path)
    one, _ = await ask(services, "/fedodds 2026-12", asof=SEPT_17)
    assert ("2026-09-17 now · 2026-09-16 previous session · 2026-09-10 1 week earlier (no settlements stored) · "
            "2026-08-17 1 month earlier (no settlements stored)") in one
    rows = table_rows(one, ["09-17", "09-16", "09-10", "08-17"])
    assert rows["4.00–4.25"][0] == "47.3%" and rows["4.25–4.50"][0] == "41.7%"
    assert all(cells[1].endswith("%") and cells[2:] == ["-", "-"] for cells in rows.values())
    several, _ = await ask(services, "/fedodds 2", asof=SEPT_17)
    assert "· 2026-09-10 no settlements stored · 2026-08-17 no settlements stored" in several
    assert "4.00–4.25 then: 2026-09-16 " in several and "then and now" not in several.lower()
    zh, _ = await ask(services, "/fedodds 2026-12", lang="zh-Hant", asof=SEPT_17)
    assert "2026-09-10 1 週前（未存有結算價）" in zh and table_rows(zh, ["09-17", "09-16", "09-10", "08-17"]) == rows
    none, _ = await ask(services_for(with_earlier_strips, date(2026, 9, 16), tmp_path), "/fedodds 2", asof=date(2026, 9, 16))
    assert " then: " not in none  # no earlier strip at all: the changes line alone says so


async def test_fedodds_then_and_now_names_a_meeting_the_earlier_strip_did_not_price(shared_data: Path, tmp_path: Path) -> None:
    history = import_real_data(shared_data, tmp_path / "short")
    strip = parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes())
    # The previous session's strip ends with January 2027: it cannot price the March 2027 meeting.
    short = {m: p for m, p in strip.settles.items() if m <= date(2027, 1, 1)}
    history.put_strip(Strip(trade_date=date(2026, 9, 16), settles=short, source="cme"))
    text, _ = await ask(services_for(history, SEPT_17, tmp_path), "/fedodds 2027-03", asof=SEPT_17)
    assert "2026-09-16 previous session (meeting not priced then)" in text
    december, _ = await ask(services_for(history, SEPT_17, tmp_path), "/fedodds 2026-12", asof=SEPT_17)
    assert "2026-09-16 previous session ·" in december and "not priced" not in december


def _pe(history: HistoryStore, name: str, dates: list[str], values: list[float]) -> None:
    frame = pd.DataFrame({"value": values}, index=pd.DatetimeIndex(dates, name="date"))
    history.write(name, frame, source="csv:" + name.lower() + ".csv", fetched_at=None)


FEB_2026 = [d.isoformat() for d in pd.bdate_range("2026-02-02", "2026-02-20").date if calendar.is_session(d)]


@pytest.fixture
def pe_history(shared_data: Path, tmp_path: Path) -> HistoryStore:
    return import_real_data(shared_data, tmp_path / "pe", with_strip=False)


async def test_pe_forward_from_a_quarter_ago_is_flagged_stale(pe_history: HistoryStore, tmp_path: Path) -> None:
    _pe(pe_history, "PE_SPX_FWD", ["2025-06-30", "2025-09-30"], [22.0, 22.8])
    _pe(pe_history, "PE_SP600_FWD", ["2025-06-30", "2025-09-30"], [15.0, 15.6])
    day = date(2026, 2, 20)
    text, _ = await ask(services_for(pe_history, day, tmp_path), "/pe", asof=day)
    assert "⚠️ PE_SPX_FWD data is stale: last value 2025-09-30, more than 45 days old." in text
    assert "⚠️ PE_SP600_FWD data is stale: last value 2025-09-30, more than 45 days old." in text
    assert "as of close 2025-09-30" in text and "2026-02-20" not in text


async def test_digest_never_calls_a_trailing_proxy_forward_and_warns_as_pe_does(pe_history: HistoryStore, tmp_path: Path) -> None:
    _pe(pe_history, "PE_SPX_FWD", FEB_2026, [22.0] * len(FEB_2026))
    _pe(pe_history, "PE_IJR", FEB_2026, [17.0] * len(FEB_2026))
    day = date(2026, 2, 20)
    text, _ = await ask(services_for(pe_history, day, tmp_path), "/digest", asof=day)
    line = next(x for x in text.splitlines() if x.startswith("P/E gap"))
    assert "S&P 500 forward, S&P 600 trailing" in line and "(forward," not in line
    assert "⚠️ The two P/E are of different kinds (forward vs trailing): the gap is indicative only." in text


async def test_pe_with_only_the_sp500_side_names_the_missing_side_and_shows_the_other(pe_history: HistoryStore,
                                                                                      tmp_path: Path) -> None:
    _pe(pe_history, "PE_SPY", FEB_2026, [27.5] * len(FEB_2026))
    day = date(2026, 2, 20)
    text, _ = await ask(services_for(pe_history, day, tmp_path), "/pe", asof=day)
    assert "S&P 500 trailing P/E (SPY holdings): 27.5 (trailing, 2026-02-20)" in text
    assert "No S&P 600 P/E is stored yet" in text and "S&P 500 and S&P 600 P/E" not in text


# --- Done when: every command, at three closes and live, shows no date its data does not have --------

COMMANDS = ("/r2k", "/r2k chart ytd", "/spread", "/spread 1y chart", "/pe", "/risk", "/cuts", "/fedodds", "/fedodds 2 chart",
            "/digest", "/backtest r2k_high", "/backtest fed_decision", "/backtest spread_flip")
DAYS = (date(2025, 9, 18), date(2025, 12, 31), date(2026, 2, 20), None)  # None: live, long after the data ends
ISO = r"\d{4}-\d{2}-\d{2}"


@pytest.fixture(scope="module")
def shared_history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    """Every shared file a series can come from, imported as `capgap import` does."""
    from bot.sources.csvfile import read_series_csv
    from bot.sources.fred import parse_fredgraph_csv

    history = HistoryStore(tmp_path_factory.mktemp("shared"))
    for name, rel in SHARED_FILES.items():
        history.write(name, read_series_csv(shared_data / rel, name).frame, source="csv:" + Path(rel).name, fetched_at=None)
    history.put_strip(parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
    bundle = json.loads((shared_data / "fixtures/cme/fred_target_range_202609.json").read_text())
    for series_id, body in bundle.items():
        history.upsert(series_id, parse_fredgraph_csv(body, series_id), source="csv:fred_target_range_202609.json",
                       fetched_at=None)
    record_odds(history)
    return history


@pytest.mark.parametrize("day", DAYS, ids=lambda d: d.isoformat() if d else "live")
@pytest.mark.parametrize("command", COMMANDS)
async def test_reply_on_shared_data_shows_no_date_beyond_its_data_and_flags_stale_inputs(
    shared_history: HistoryStore, tmp_path: Path, command: str, day: date | None
) -> None:
    import re

    from bot.render.text import display_name

    services = live(shared_history, tmp_path) if day is None else services_for(shared_history, day, tmp_path)
    text, reply = await ask(services, command, asof=day)
    snap = services.market.snapshot if day is None else services.market.at(day)
    last_data = max(s.last_date for s in snap.status.values() if s.last_date is not None)
    meetings = set(calendar.fomc_meetings())  # FOMC dates ahead are the calendar's, not data
    shown = text + ("\n" + reply.chart.caption if reply.chart is not None else "")
    # A window that has not ended yet is named by its end date (/cuts: "6M: not ended (ends D)"): a
    # date of the calendar, not of the data.
    shown = re.sub(r"not ended \(ends " + ISO + r"\)", "not ended", shown)
    for found in re.findall(ISO, shown):
        seen = date.fromisoformat(found)
        assert seen <= last_data or seen in meetings, f"{command} shows {found}, after the data's last date {last_data}"
    source = next((line for line in text.splitlines() if line.startswith("Source:")), None)
    if source is None:
        return  # a reply without figures (usage, no data)
    named = {n for group in re.findall(r"\(([^()]*)\)", source.split(" · as of")[0]) for n in re.split(r",\s*", group)}
    if source.startswith("Source: ZQ settlements") or "ZQ" in named:
        named.add("ZQ_STRIPS")  # the strip is named by what it is (ZQ), not by its store name
    used = [snap.status[n] for n in named if n in snap.status]
    assert used, source
    # The footer's dates are last dates the series it names actually have (on or before the as-of).
    footer_dates = {date.fromisoformat(d) for d in re.findall(ISO, source.split(" · as of")[1])}
    have = {min(s.last_date, snap.asof) for s in used if s.last_date is not None}
    assert footer_dates <= have, f"{command}: footer {source!r} dates {footer_dates - have} no series ends on"
    for status in used:
        if status.stale:
            shown_name = display_name(status.name, "en")
            assert f"{shown_name} data is stale" in text, f"{command}: {status.name} is stale and not flagged"


def test_stale_after_target_range_turns_stale_only_once_a_decision_it_predates_took_effect() -> None:
    from bot.series import SERIES, stale_after

    upper = SERIES["DFEDTARU"]
    # 2025-09-17 decision (effective 2025-09-18, the day FRED dates the new range by).
    assert stale_after(upper, date(2025, 9, 17), date(2025, 9, 17)) == (False, None)  # decision day: not yet in effect
    assert stale_after(upper, date(2025, 9, 17), date(2025, 9, 18)) == (True, date(2025, 9, 17))
    assert stale_after(upper, date(2025, 9, 18), date(2025, 9, 18)) == (False, None)
    assert stale_after(upper, date(2025, 9, 18), date(2025, 10, 28)) == (False, None)  # nothing decided since
    assert stale_after(SERIES["DFEDTAR"], date(2008, 12, 15), date(2026, 2, 20)) == (False, None)  # ended by design
    assert stale_after(SERIES["PE_SPX_FWD"], date(2025, 9, 30), date(2025, 11, 14)) == (False, None)  # 45 days
    assert stale_after(SERIES["PE_SPX_FWD"], date(2025, 9, 30), date(2025, 11, 17)) == (True, None)
