"""Odds history of one FOMC meeting over the stored ZQ strips: values against a hand computation from
the raw file, the target on each date, the March 2022 hike becoming certain, and the command."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot import calendar
from bot.history import HistoryStore
from bot.metrics.odds_history import (
    OddsHistory,
    backfill_odds_history,
    lower_bounds_on,
    meeting_odds_history,
    target_lower_bound,
)
from bot.seam import Services
from bot.sources.base import Strip
from bot.sources.csvfile import read_series_csv
from bot.sources.zq_daily import parse_zq_daily
from handlers.fedodds import parse_history_args
from tests.commands_data import ask, import_real_data, services_for, table_rows

ZQ_FILE = "zq/ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
MARCH_2022 = date(2022, 3, 16)


@pytest.fixture(scope="module")
def strips(shared_data: Path) -> dict[date, Strip]:
    path = shared_data / ZQ_FILE
    return {s.trade_date: s for s in parse_zq_daily(path.read_bytes(), origin=path.name).strips}


@pytest.fixture(scope="module")
def target(shared_data: Path) -> pd.Series:
    lower = read_series_csv(shared_data / "fred/DFEDTARL_jonsflow.csv", "DFEDTARL").frame["value"]
    single = read_series_csv(shared_data / "fred/DFEDTAR_hussamalazzawi.csv", "DFEDTAR").frame["value"]
    return target_lower_bound(lower, single)


@pytest.fixture(scope="module")
def march_2022(strips: dict[date, Strip], target: pd.Series) -> OddsHistory:
    history = meeting_odds_history(strips, target, calendar.fomc_meetings(), MARCH_2022)
    assert history is not None
    return history


def raw_closes(shared_data: Path, day: date) -> dict[str, float]:
    """The file's close of each contract on ``day``, read with the csv module (not the parser under test)."""
    with (shared_data / ZQ_FILE).open(newline="") as handle:
        return {
            row["symbol"]: float(row["close"])
            for row in csv.DictReader(handle)
            if row["date"] == day.isoformat()
        }


def two_point(x: float) -> tuple[int, float]:
    k = math.floor(x)
    return k, x - k


def test_meeting_odds_history_march_2022_on_2022_03_01_matches_a_hand_computation(
    shared_data: Path, strips: dict[date, Strip], target: pd.Series
) -> None:
    """SPEC steps by hand on the raw closes of 2022-03-01 (target range 0.00–0.25; meetings 2022-03-16,
    05-04, 06-15, 07-27; April and August are anchor months)."""
    day = date(2022, 3, 1)
    closes = raw_closes(shared_data, day)
    r = {s: 100 - closes[s] for s in ("ZQH22", "ZQJ22", "ZQK22", "ZQM22", "ZQN22", "ZQQ22")}
    # March: decision on the 16th of 31 days; E = April's average (anchor), S from March's own average.
    e_mar = r["ZQJ22"]
    s_mar = (31 * r["ZQH22"] - 15 * e_mar) / 16
    # May..July: E(Jul) = August (anchor); S(Jul) from July (27 days before, 4 after the 27th);
    # E(Jun) = S(Jul); S(Jun) from June (15 and 15 days); E(May) = S(Jun); S(May) = April (anchor).
    e_jul = r["ZQQ22"]
    s_jul = (31 * r["ZQN22"] - 4 * e_jul) / 27
    s_jun = (30 * r["ZQM22"] - 15 * s_jul) / 15
    s_may, e_may = r["ZQJ22"], s_jun
    k1, p1 = two_point((e_mar - s_mar) / 0.25)
    k2, p2 = two_point((e_may - s_may) / 0.25)
    march = {0.25 * k1: 1 - p1, 0.25 * (k1 + 1): p1}
    may: dict[float, float] = {}
    for lower, q in march.items():
        may[lower + 0.25 * k2] = may.get(lower + 0.25 * k2, 0.0) + q * (1 - p2)
        may[lower + 0.25 * (k2 + 1)] = may.get(lower + 0.25 * (k2 + 1), 0.0) + q * p2

    meetings = calendar.fomc_meetings()
    got_march = meeting_odds_history(strips, target, meetings, MARCH_2022)
    got_may = meeting_odds_history(strips, target, meetings, date(2022, 5, 4))
    assert got_march is not None and got_may is not None
    assert got_march.on(day) == pytest.approx(march, abs=1e-9)
    assert got_may.on(day) == pytest.approx({k: v for k, v in may.items() if v > 0}, abs=1e-9)
    # The numbers themselves: 0.25–0.50 (a hike) 87.2 % on 2022-03-01.
    assert round(got_march.on(day)[0.25] * 100, 1) == 87.2


def test_meeting_odds_history_single_target_june_2004_matches_a_hand_computation(
    shared_data: Path, strips: dict[date, Strip], target: pd.Series
) -> None:
    """Before 2008-12-16 the tree starts at the single target (1.00 % on 2004-06-01). The 2004-06-30
    decision is on June's last day, so S = June's average and E = July's (an anchor month)."""
    day = date(2004, 6, 1)
    closes = raw_closes(shared_data, day)
    s, e = 100 - closes["ZQM04"], 100 - closes["ZQN04"]
    k, p = two_point((e - s) / 0.25)
    expected = {round(1.00 + 0.25 * k, 6): 1 - p, round(1.00 + 0.25 * (k + 1), 6): p}
    history = meeting_odds_history(strips, target, calendar.fomc_meetings(), date(2004, 6, 30))
    assert history is not None and history.single_target
    assert history.lower_bounds.loc[pd.Timestamp(day)] == 1.00
    assert history.on(day) == pytest.approx({k_: v for k_, v in expected.items() if v > 0}, abs=1e-9)
    # The hike to 1.25 % was priced as all but certain by then.
    assert history.on(history.last)[1.25] > 0.99


def test_meeting_odds_history_march_2022_hike_becomes_certain(march_2022: OddsHistory) -> None:
    probs = march_2022.probabilities
    assert march_2022.last == date(2022, 3, 15) and march_2022.first >= date(2020, 3, 16)
    assert (probs.sum(axis=1) - 1).abs().max() < 1e-9
    hike = probs.loc[:, probs.columns > 0.0].sum(axis=1)
    hold = probs[0.0]
    # A year before, holding at 0.00–0.25 was the market's view; on the eve, a hike was certain.
    assert hold.loc["2021-03-01":"2021-03-31"].mean() > 0.8
    assert hike.iloc[-5:].min() > 0.999 and hike.loc["2022-02-01":"2022-02-28"].min() > 0.99
    assert hike.loc["2021-03-01":"2021-03-31"].mean() < 0.2


def test_lower_bounds_on_decision_day_uses_the_range_just_announced(target: pd.Series) -> None:
    meetings = calendar.fomc_meetings()
    # FRED dates the March 2022 hike from 2022-03-17; ZQ settled on the 16th after the announcement.
    assert lower_bounds_on(target, [date(2022, 3, 15), date(2022, 3, 16), date(2022, 3, 17)], meetings) == [
        0.0,
        0.25,
        0.25,
    ]
    assert lower_bounds_on(target, [date(2008, 12, 15), date(2008, 12, 17)], meetings) == [1.0, 0.0]
    assert lower_bounds_on(target, [date(1970, 1, 2)], meetings) == [None]


def test_meeting_odds_history_range_meeting_starts_at_the_first_range_day(
    strips: dict[date, Strip], target: pd.Series
) -> None:
    history = meeting_odds_history(strips, target, calendar.fomc_meetings(), date(2009, 1, 28))
    assert history is not None and not history.single_target and history.first == date(2008, 12, 16)
    december = meeting_odds_history(strips, target, calendar.fomc_meetings(), date(2008, 12, 16))
    assert december is not None and december.single_target and december.last == date(2008, 12, 15)


def test_meeting_odds_history_asof_cuts_the_dates(strips: dict[date, Strip], target: pd.Series) -> None:
    history = meeting_odds_history(
        strips, target, calendar.fomc_meetings(), MARCH_2022, asof=date(2022, 1, 30)
    )
    assert history is not None and history.last == date(2022, 1, 28)


def test_meeting_odds_history_cut_strips_give_the_numbers_of_whole_strips(
    strips: dict[date, Strip], target: pd.Series
) -> None:
    """The per-meeting history drops contract months past the meeting's anchor; the backfill solves
    whole strips. Both must agree on every date (a sample of dates, to keep the test quick)."""
    meetings = calendar.fomc_meetings()
    for meeting, start in (
        (MARCH_2022, date(2020, 3, 16)),
        (date(2019, 7, 31), date(2018, 6, 1)),
        (date(2004, 6, 30), date(2003, 6, 1)),
    ):
        sample = {d: strips[d] for d in sorted(strips)[::7] if start <= d < meeting}
        whole = backfill_odds_history(sample, target, meetings)[meeting]
        cut = meeting_odds_history(sample, target, meetings, meeting)
        assert cut is not None and len(cut.probabilities) == len(whole.probabilities) > 10
        pd.testing.assert_frame_equal(cut.probabilities, whole.probabilities, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("2022-03", "history"), (2022, 3)),
        (("history", "2004-6"), (2004, 6)),
        (("2022-03",), None),
        ((), None),
    ],
)
def test_parse_history_args_by_shape(args: tuple[str, ...], expected: tuple[int, int] | None) -> None:
    assert parse_history_args(args) == expected


# the command ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history_with_zq(
    shared_data: Path, strips: dict[date, Strip], tmp_path_factory: pytest.TempPathFactory
) -> HistoryStore:
    history = import_real_data(shared_data, tmp_path_factory.mktemp("history"))
    history.put_strips([strips[d] for d in sorted(strips)])
    return history


@pytest.fixture
def services(history_with_zq: HistoryStore, tmp_path: Path) -> Services:
    return services_for(history_with_zq, date(2023, 9, 15), tmp_path)


async def test_fedodds_history_march_2022_text_and_chart(services: Services) -> None:
    text, reply = await ask(services, "/fedodds 2022-03 history", asof=date(2023, 9, 15))
    assert "FOMC 2022-03-16: how the futures odds moved" in text
    assert "2020-03-16 → 2022-03-15" in text
    assert "2022-03-15 (target then 0.00–0.25): 0.25–0.50 87.6%, 0.50–0.75 12.4%" in text
    assert "cut 0.0% · hold 0.0% · hike 100.0%" in text
    assert "as of 2022-03-15" in text and "ZQ_contracts_daily_1990_2025_pyfedwatch.csv" in text
    assert (
        reply.chart is not None and reply.chart.png[:4] == b"\x89PNG" and "2022-03-16" in reply.chart.caption
    )


async def test_fedodds_history_in_zh_hant(services: Services) -> None:
    text, reply = await ask(services, "/fedodds 2022-03 history", lang="zh-Hant", asof=date(2023, 9, 15))
    assert "期貨隱含機率的變化" in text and "升息 100.0%" in text and "截至 2022-03-15" in text
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG" and "機率走勢" in reply.chart.caption


async def test_fedodds_history_as_of_ends_at_the_last_strip_before_it(
    history_with_zq: HistoryStore, tmp_path: Path
) -> None:
    services = services_for(history_with_zq, date(2022, 1, 31), tmp_path)
    text, _ = await ask(services, "/fedodds 2022-03 history", asof=date(2022, 1, 31))
    assert "→ 2022-01-31" in text and "as of 2022-01-31" in text


@pytest.mark.parametrize(
    "bad",
    [
        "/fedodds history",
        "/fedodds 2022-13 history",
        "/fedodds 2022-03 history chart",
        "/fedodds 2022-03 2022-05 history",
    ],
)
async def test_fedodds_history_bad_arguments_get_usage(services: Services, bad: str) -> None:
    text, reply = await ask(services, bad, asof=date(2023, 9, 15))
    assert text.startswith("Usage: /fedodds") and "/fedodds 2022-03 history" in text and reply.chart is None
    zh, _ = await ask(services, bad, lang="zh-Hant", asof=date(2023, 9, 15))
    assert zh.startswith("用法：/fedodds")


async def test_fedodds_history_month_without_a_decision_or_with_two(services: Services) -> None:
    none, _ = await ask(services, "/fedodds 2022-02 history", asof=date(2023, 9, 15))
    assert none.startswith("No FOMC decision in 2022-02")
    two, _ = await ask(services, "/fedodds 2020-03 history", asof=date(2023, 9, 15))
    assert "2020-03-15" in two and "two decisions" in two


async def test_e2e_fedodds_history_through_the_bot_in_zh_hant(
    shared_data: Path, strips: dict[date, Strip], tmp_path: Path
) -> None:
    """The real Application polling the Telegram peer: the reply is one photo with the text as caption."""
    from tests.e2e import clock_at_close, running_bot
    from tests.telegram_peer import TelegramPeer

    history = HistoryStore(tmp_path)  # the data dir the bot below opens
    for name, rel in (
        ("DFEDTARL", "fred/DFEDTARL_jonsflow.csv"),
        ("DFEDTAR", "fred/DFEDTAR_hussamalazzawi.csv"),
    ):
        history.write(
            name,
            read_series_csv(shared_data / rel, name).frame,
            source="csv:" + Path(rel).name,
            fetched_at=None,
        )
    history.put_strips([s for d, s in sorted(strips.items()) if date(2020, 1, 1) <= d])
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(date(2023, 9, 15))):
        peer.inject_message(1016, "/fedodds 2022-03 history", language_code="zh-hant")
        photo = await peer.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == 1016, timeout=60)
        assert photo.ok and photo.photo is not None and photo.photo[:4] == b"\x89PNG"
        assert (
            "期貨隱含機率的變化" in photo.text
            and "升息 100.0%" in photo.text
            and "截至 2022-03-15" in photo.text
        )
        peer.inject_message(1016, "/fedodds 2022-03 history now", language_code="en")
        usage = await peer.wait_for(
            lambda c: c.chat_id == 1016 and (c.text or "").startswith("Usage: /fedodds"), timeout=20
        )
        assert usage.ok


def test_target_lower_bound_single_target_only_still_prices_pre_2008_meetings(
    strips: dict[date, Strip], shared_data: Path
) -> None:
    single = read_series_csv(shared_data / "fred/DFEDTAR_hussamalazzawi.csv", "DFEDTAR").frame["value"]
    target = target_lower_bound(None, single)
    assert target.index[-1] == pd.Timestamp("2008-12-15")
    history = meeting_odds_history(strips, target, calendar.fomc_meetings(), date(2004, 6, 30))
    assert history is not None and history.on(history.last)[1.25] > 0.99
    assert meeting_odds_history(strips, target, calendar.fomc_meetings(), MARCH_2022) is None
    assert target_lower_bound(None, None).empty


# then and now: /fedodds against the real strips of the days it compares with --------------------------
THEN_AND_NOW = (date(2022, 3, 1), date(2022, 2, 28), date(2022, 2, 22), date(2022, 2, 1))  # now, 1d, 1w, 1m


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_fedodds_one_meeting_then_and_now_columns_are_the_odds_of_each_dates_real_strip(
    history_with_zq: HistoryStore, march_2022: OddsHistory, tmp_path: Path, lang: str
) -> None:
    now = THEN_AND_NOW[0]
    text, _ = await ask(services_for(history_with_zq, now, tmp_path), "/fedodds 2022-03", lang=lang, asof=now)
    legend = {"en": "2022-03-01 now · 2022-02-28 previous session · 2022-02-22 1 week earlier · 2022-02-01 1 month earlier",
              "zh-Hant": "2022-03-01 目前 · 2022-02-28 前一交易日 · 2022-02-22 1 週前 · 2022-02-01 1 個月前"}[lang]
    assert legend in text
    # Every range at 0.5 % or more on any of the four days, each cell the meeting's odds on its day
    # (the per-meeting history, formatted here by hand).
    odds = [march_2022.on(day) for day in THEN_AND_NOW]
    ranges = sorted({lower for day in odds for lower, p in day.items() if p >= 0.005})
    expected = {f"{lo:.2f}–{lo + 0.25:.2f}": [f"{day.get(lo, 0.0) * 100:.1f}%" for day in odds] for lo in ranges}
    rows = table_rows(text, ["03-01", "02-28", "02-22", "02-01"])
    assert rows == expected and len(rows) >= 2
    assert rows["0.25–0.50"][0] == "87.2%"  # the hand computation of 2022-03-01 above


async def test_fedodds_several_meetings_compare_the_most_likely_range_with_each_earlier_strip(
    history_with_zq: HistoryStore, march_2022: OddsHistory, tmp_path: Path
) -> None:
    now = THEN_AND_NOW[0]
    text, reply = await ask(services_for(history_with_zq, now, tmp_path), "/fedodds 2", asof=now)
    then = " · ".join(f"{day.isoformat()} {march_2022.on(day).get(0.25, 0.0) * 100:.1f}%" for day in THEN_AND_NOW[1:])
    assert f"  0.25–0.50 then: {then}" in text.splitlines()
    assert "<pre>" not in reply.text and len(reply.text) < 4096  # several meetings: lines, one message


# what a snapshot holds, and what a reply reads --------------------------------------------------------------
def test_snapshot_holds_the_recent_strips_and_a_history_reply_reads_just_its_meetings(
    history_with_zq: HistoryStore, strips: dict[date, Strip], tmp_path: Path
) -> None:
    """The snapshot keeps the last RECENT_STRIPS days of strips, not 30 years: /fedodds compares with the
    same strips as over all of them, and /fedodds YYYY-MM history reads the strips that price its meeting."""
    from bot.market import RECENT_STRIPS
    from bot.metrics.odds import odds_view
    from bot.metrics.odds_history import RANGE_START

    asof = date(2023, 9, 15)
    snap = services_for(history_with_zq, asof, tmp_path).market.snapshot
    assert max(snap.strips) == asof and min(snap.strips) >= asof - RECENT_STRIPS and len(snap.strips) < 40
    assert snap.status["ZQ_STRIPS"].first_date == min(strips)
    lower = snap.close("DFEDTARL")
    meetings = calendar.fomc_meetings()
    everything = {d: s for d, s in strips.items() if d <= asof}
    assert odds_view(snap.strips, lower, meetings, asof, calendar.previous_session) == odds_view(
        everything, lower, meetings, asof, calendar.previous_session
    )
    month = date(2022, 3, 1)
    pricing = {d: s for d, s in strips.items() if RANGE_START <= d < MARCH_2022 and max(s.settles) >= month}
    assert snap.strips_between(RANGE_START, MARCH_2022 - pd.Timedelta(days=1), reaching=month) == pricing
    # An earlier close (`--as-of`) holds the recent strips of that day.
    earlier = services_for(history_with_zq, date(2022, 1, 31), tmp_path).market.at(date(2022, 1, 17))
    assert max(earlier.strips) == date(2022, 1, 14) and min(earlier.strips) >= date(2022, 1, 14) - RECENT_STRIPS


def test_record_odds_prices_only_new_strips_and_those_whose_target_changed(
    shared_data: Path, strips: dict[date, Strip], tmp_path: Path
) -> None:
    """A refresh prices the strip it stored, not every stored one; a target FRED revises later re-prices
    the strips priced from the old one; either way the series is what pricing every strip gives."""
    from bot.market import CUT_ODDS_SERIES, record_odds

    lower = read_series_csv(shared_data / "fred/DFEDTARL_jonsflow.csv", "DFEDTARL").frame
    days = [d for d in sorted(strips) if date(2023, 5, 1) <= d <= date(2023, 9, 15)]

    def priced_afresh(name: str, upto: date, target: pd.DataFrame) -> pd.DataFrame | None:
        fresh = HistoryStore(tmp_path / name)
        fresh.put_strips([strips[d] for d in days if d <= upto])
        fresh.write("DFEDTARL", target, source="csv", fetched_at=None)
        record_odds(fresh)
        return fresh.load(CUT_ODDS_SERIES)

    history = HistoryStore(tmp_path / "kept")
    history.put_strips([strips[d] for d in days[:-1]])
    history.write("DFEDTARL", lower, source="csv", fetched_at=None)
    assert record_odds(history) == len(days) - 1
    assert record_odds(history) == 0  # nothing new: nothing priced
    history.put_strip(strips[days[-1]])
    assert record_odds(history, [days[-1]]) == 1
    pd.testing.assert_frame_equal(history.load(CUT_ODDS_SERIES), priced_afresh("a", days[-1], lower))
    # FRED revises the range from 2023-07-27 (the July hike) as if it had been 25 bp higher.
    revised = lower.copy()
    revised.loc[revised.index >= pd.Timestamp("2023-07-27"), "value"] += 0.25
    history.write("DFEDTARL", revised, source="csv", fetched_at=None)
    assert record_odds(history) == sum(1 for d in days if d >= date(2023, 7, 27))
    pd.testing.assert_frame_equal(history.load(CUT_ODDS_SERIES), priced_afresh("b", days[-1], revised))


def test_record_odds_prices_every_strip_again_once_when_the_stored_rows_lack_a_column(
    shared_data: Path, strips: dict[date, Strip], tmp_path: Path
) -> None:
    """An odds history written by an older capgap (no target, no year-end rate) is priced again whole,
    once, so the fed_path_gap alert has its market rate on every stored strip after an upgrade."""
    from bot.market import CUT_ODDS_SERIES, record_odds

    lower = read_series_csv(shared_data / "fred/DFEDTARL_jonsflow.csv", "DFEDTARL").frame
    days = [d for d in sorted(strips) if date(2023, 6, 1) <= d <= date(2023, 6, 30)]
    history = HistoryStore(tmp_path / "old")
    history.put_strips([strips[d] for d in days])
    history.write("DFEDTARL", lower, source="csv", fetched_at=None)
    assert record_odds(history) == len(days)
    full = history.load(CUT_ODDS_SERIES)
    assert full is not None and full["ye_year"].eq(2023).all() and full["ye_rate"].between(4.5, 6.0).all()
    history.write(CUT_ODDS_SERIES, full[["value", "hold", "hike"]], source="cme", fetched_at=None)  # the old layout
    assert record_odds(history) == len(days)
    assert record_odds(history) == 0
    pd.testing.assert_frame_equal(history.load(CUT_ODDS_SERIES), full)
