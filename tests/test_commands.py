"""Each command on the real data: the numbers, the zh-Hant rendering, and bad arguments."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.history import HistoryStore
from bot.seam import Services
from tests.commands_data import ask, import_real_data, services_for

END_2025 = date(2025, 12, 31)


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    return import_real_data(shared_data, tmp_path_factory.mktemp("history"))


@pytest.fixture
def services(history: HistoryStore, tmp_path: Path) -> Services:
    return services_for(history, END_2025, tmp_path)


async def test_spread_ytd_2025_prints_the_anchor_figures(services: Services) -> None:
    text, reply = await ask(services, "/spread", asof=END_2025)
    assert "Russell 2000 +11.29%" in text and "Nasdaq-100 +20.17%" in text and "R2K − NDX: −8.88 pp" in text
    assert "as of close 2025-12-31" in text
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG"


async def test_spread_2024_prints_the_2024_anchors(history: HistoryStore, tmp_path: Path) -> None:
    services = services_for(history, date(2024, 12, 31), tmp_path)
    text, _ = await ask(services, "/spread ytd", asof=date(2024, 12, 31))
    assert "+10.02%" in text and "+24.88%" in text


async def test_spread_in_zh_hant(services: Services) -> None:
    text, _ = await ask(services, "/spread", lang="zh-Hant", asof=END_2025)
    assert "小型股對比大型股" in text and "+11.29%" in text and "資料來源" in text


async def test_spread_trend_on_2025_09_18_is_little_changed_in_spread_and_digest(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2025, 9, 18)  # YTD gap −5.73 pp, slope −0.033 pp per session: inside the flat band
    services = services_for(history, day, tmp_path)
    spread, _ = await ask(services, "/spread", asof=day)
    digest, _ = await ask(services, "/digest", asof=day)
    assert "the gap is little changed" in spread and "widening" not in spread
    assert "R2K − NDX year to date: −5.73 pp (little changed)" in digest


async def test_spread_widening_word_and_rate_agree_in_sign(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2024, 12, 31)  # gap −14.86 pp moving −0.545 (−0.5449…) pp per session: further from zero
    text, _ = await ask(services_for(history, day, tmp_path), "/spread", asof=day)
    assert "the gap is widening by 0.54 pp per session" in text


@pytest.mark.parametrize("bad", ["/spread banana", "/spread 2y", "/spread ytd 1y", "/spread -3"])
async def test_spread_bad_arguments_get_usage(services: Services, bad: str) -> None:
    text, reply = await ask(services, bad, asof=END_2025)
    assert text.startswith("Usage: /spread") and reply.chart is None


async def test_risk_lists_three_indices_and_the_named_episodes(services: Services) -> None:
    text, _ = await ask(services, "/risk", asof=END_2025)
    for needle in ("Russell 2000", "S&P 500", "Nasdaq-100", "Financial crisis 2007–09", "COVID 2020", "2022 bear market",
                   "32.5% (peak 2021-11-08 → trough 2022-06-16)"):
        assert needle in text


async def test_risk_financial_crisis_runs_to_the_march_2009_trough_with_peak_and_trough_dates(services: Services) -> None:
    text, _ = await ask(services, "/risk", asof=END_2025)
    assert "Russell 2000 59.9% (peak 2007-07-13 → trough 2009-03-09)" in text
    assert "S&P 500 56.8% (peak 2007-10-09 → trough 2009-03-09)" in text
    assert "peak = the last record close before the trough" in text


@pytest.mark.parametrize(
    ("command", "lang", "needles"),
    [
        ("/risk", "en", ("last 20 and the last 252 sessions", "252 sessions ≈ 1 year")),
        ("/risk", "zh-Hant", ("最近 20 個與最近 252 個交易日", "252 個交易日約為 1 年")),
        ("/r2k", "en", ("1M/3M/1Y: calendar windows", "52 weeks = the last 364 days")),
        ("/r2k", "zh-Hant", ("日曆月", "52 週 = 最近 364 天")),
        ("/spread", "en", ("calendar windows", "no dividends")),
        ("/spread", "zh-Hant", ("日曆期間", "不含股息")),
        ("/help risk", "en", ("20 and 252 sessions",)),
        ("/help risk", "zh-Hant", ("20 與 252 個交易日",)),
        ("/help spread", "en", ("calendar windows",)),
        ("/help spread", "zh-Hant", ("日曆期間",)),
    ],
)
async def test_windows_are_defined_where_shown_in_both_languages(services: Services, command: str, lang: str,
                                                                 needles: tuple[str, ...]) -> None:
    text, _ = await ask(services, command, lang=lang, asof=END_2025)
    for needle in needles:
        assert needle in text, (command, lang, needle)


async def test_risk_episode_in_progress_says_lowest_close_so_far(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2022, 3, 31)
    text, _ = await ask(services_for(history, day, tmp_path), "/risk", asof=day)
    assert "Russell 2000 20.9% (peak 2021-11-08 → lowest close so far 2022-01-27; the episode is not over)" in text


async def test_risk_peak_that_is_not_a_record_is_said_so(services: Services) -> None:
    text, _ = await ask(services, "/risk", asof=END_2025)
    assert ("Nasdaq-100 53.7% (peak 2007-10-31 → trough 2008-11-20) — its last record close is older, "
            "so the peak is the highest close since 2007-01-01") in text


async def test_risk_in_zh_hant_and_bad_argument(services: Services) -> None:
    text, _ = await ask(services, "/risk", lang="zh-Hant", asof=END_2025)
    assert "波動率" in text and "羅素 2000" in text and "標普 500" in text
    usage, _ = await ask(services, "/risk now", lang="zh-Hant", asof=END_2025)
    assert usage.startswith("用法：/risk")


async def test_cuts_lists_cycles_with_dates_and_averages(services: Services) -> None:
    text, _ = await ask(services, "/cuts", asof=END_2025)
    for cycle in ("2001-01-03", "2007-09-18", "2019-07-31", "2024-09-18"):
        assert cycle in text
    assert "Average 12M" in text and "18.7%" in text


async def test_cuts_starts_with_the_russell_data_and_says_price_returns(services: Services) -> None:
    text, _ = await ask(services, "/cuts", asof=END_2025)
    assert "since the Russell 2000 data begin (1987-09-10)" in text and "since 1990" not in text
    assert "1989-06-06 9.81% → 9.56%" in text and "1987-11-04" in text
    assert "price returns, no dividends" in text


async def test_cuts_latest_cut_windows_not_ended_are_said_not_omitted(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2026, 2, 20)
    text, _ = await ask(services_for(history, day, tmp_path), "/cuts", asof=day)
    assert "2025-09-17 4.50% → 4.25% — resumed cutting after 8 months without a change" in text
    assert "6M: not ended (ends 2026-03-17) · 12M: not ended (ends 2026-09-17)" in text


async def test_cuts_cites_the_article_by_byline_never_an_internal_document(services: Services) -> None:
    for lang in ("en", "zh-Hant"):
        text, _ = await ask(services, "/cuts", lang=lang, asof=END_2025)
        assert "FoolBull" in text and "2025-09-30" in text
        assert "seed" not in text.lower() and "種子" not in text


async def test_cuts_in_zh_hant_and_bad_argument(services: Services) -> None:
    text, _ = await ask(services, "/cuts", lang="zh-Hant", asof=END_2025)
    assert "首次降息" in text and "2024-09-18" in text
    usage, _ = await ask(services, "/cuts 2001", asof=END_2025)
    assert usage.startswith("Usage: /cuts")


async def test_pe_without_pe_history_says_no_data(services: Services) -> None:
    text, _ = await ask(services, "/pe", asof=END_2025)
    assert text.startswith("No data stored yet for S&P 500 and S&P 600 P/E")
    zh, _ = await ask(services, "/pe", lang="zh-Hant", asof=END_2025)
    assert "本益比" in zh


async def test_pe_with_recorded_proxies_labels_them_trailing(history: HistoryStore, tmp_path: Path) -> None:
    import pandas as pd

    days = pd.bdate_range("2025-12-22", "2025-12-31")
    history.write("PE_SPY", pd.DataFrame({"value": [27.0] * len(days)}, index=days), source="yahoo_pe", fetched_at=None)
    history.write("PE_IJR", pd.DataFrame({"value": [17.5] * len(days)}, index=days), source="yahoo_pe", fetched_at=None)
    try:
        services = services_for(history, END_2025, tmp_path)
        text, _ = await ask(services, "/pe", asof=END_2025)
        assert "S&P 500 trailing P/E (SPY holdings): 27.0 (trailing, 2025-12-31)" in text
        assert "Gap: +9.5 turns" in text and "too short for a percentile" in text
        zh, _ = await ask(services, "/pe", lang="zh-Hant", asof=END_2025)
        assert "標普 500 過去12個月本益比" in zh and "+9.5" in zh
        usage, _ = await ask(services, "/pe 3", asof=END_2025)
        assert usage.startswith("Usage: /pe")
    finally:
        history.delete("PE_SPY")
        history.delete("PE_IJR")


async def test_r2k_record_in_a_run_of_records_is_a_new_all_time_high_not_a_first_since(
    history: HistoryStore, tmp_path: Path
) -> None:
    day = date(2026, 1, 22)
    text, _ = await ask(services_for(history, day, tmp_path), "/r2k", asof=day)
    assert "Record close: a new all-time high, above the previous record of" in text and "on 2026-01-21" in text
    assert "since January 2026" not in text and "first record" not in text


async def test_r2k_first_record_after_a_long_gap_names_the_old_record(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2025, 9, 18)
    text, _ = await ask(services_for(history, day, tmp_path), "/r2k", asof=day)
    assert "Record close: the first record since November 2021 (the 2021-11-08 record of 2,442.74;" in text


async def test_r2k_chart_sends_a_png_and_bad_period_gets_usage(services: Services) -> None:
    text, reply = await ask(services, "/r2k chart 5y", asof=END_2025)
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG" and "2,481.91" in text
    usage, _ = await ask(services, "/r2k chart 10y", asof=END_2025)
    assert usage.startswith("Usage: /r2k")


async def test_fedodds_worked_example_from_files(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2026, 9, 17)
    services = services_for(history, day, tmp_path)
    text, reply = await ask(services, "/fedodds", asof=day)
    assert "FOMC 2026-10-28: most likely 4.00–4.25 (55.4%)" in text
    assert "3.75–4.00 44.6%" in text and "3.75–4.00 11.0%, 4.00–4.25 47.3%, 4.25–4.50 41.7%" in text
    assert "Oct 26 96.1050" in text and "settlements of 2026-09-17" in text
    # The numbers alone, with the chart a button away (the same arguments, plus "chart").
    assert reply.chart is None and [b.data for row in reply.buttons for b in row] == ["fedodds:chart"]
    _, three = await ask(services, "/fedodds 3", asof=day)
    assert [b.data for row in three.buttons for b in row] == ["fedodds:3:chart"]
    charted, with_chart = await ask(services, "/fedodds 3 chart", asof=day)
    assert with_chart.chart is not None and with_chart.chart.png[:4] == b"\x89PNG"
    assert "FOMC 2026-10-28" in charted


@pytest.mark.parametrize(
    ("command", "day"),
    [("/spread", date(2025, 9, 18)), ("/risk", END_2025), ("/cuts", date(2026, 2, 20)), ("/r2k", date(2025, 9, 18)),
     ("/fedodds", date(2026, 9, 17)), ("/digest", date(2025, 9, 18))],
)
async def test_zh_hant_replies_follow_the_wording_rules(history: HistoryStore, tmp_path: Path, command: str, day: date) -> None:
    from tests.test_i18n import zh_wording_problems

    text, _ = await ask(services_for(history, day, tmp_path), command, lang="zh-Hant", asof=day)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("資料來源"))  # file names are not wording
    assert zh_wording_problems(body) == [], body


async def test_fedodds_zh_hant_names_contract_months_through_babel(history: HistoryStore, tmp_path: Path) -> None:
    day = date(2026, 9, 17)
    text, _ = await ask(services_for(history, day, tmp_path), "/fedodds", lang="zh-Hant", asof=day)
    assert "2026年10月 96.1050" in text and "Oct 26" not in text


async def test_spread_zh_hant_says_百分點_not_pp(services: Services) -> None:
    text, _ = await ask(services, "/spread", lang="zh-Hant", asof=END_2025)
    assert "−8.88 百分點" in text and " pp" not in text


@pytest.mark.parametrize("bad", ["/fedodds -3", "/fedodds 0", "/fedodds 13", "/fedodds x", "/fedodds 2026-13"])
async def test_fedodds_bad_arguments_get_usage(history: HistoryStore, tmp_path: Path, bad: str) -> None:
    services = services_for(history, date(2026, 9, 17), tmp_path)
    text, _ = await ask(services, bad, asof=date(2026, 9, 17))
    assert text.startswith("Usage: /fedodds")


async def test_fedodds_month_without_meeting_and_no_strip(history: HistoryStore, tmp_path: Path) -> None:
    services = services_for(history, date(2026, 9, 17), tmp_path)
    text, _ = await ask(services, "/fedodds 1999-01", asof=date(2026, 9, 17))
    assert "No FOMC meeting in 1999-01" in text
    early = services_for(history, date(2025, 1, 2), tmp_path)
    none, _ = await ask(early, "/fedodds", asof=date(2025, 1, 2))
    assert none.startswith("No data stored yet for 30-day Fed funds futures settlements")
    zh, _ = await ask(services, "/fedodds 2026-12", lang="zh-Hant", asof=date(2026, 9, 17))
    assert "最可能區間" in zh and "47.3%" in zh


class LiveRUT:
    """A source answering RUT with one closed session and the session still trading (a live bar)."""

    name = "yahoo"

    def covers(self, series: str) -> bool:
        return series == "RUT"

    async def fetch(self, series: str, *, start: object, end: object, now: object) -> object:
        import pandas as pd

        from bot.sources.base import Fetched

        frame = pd.DataFrame({"close": [2650.0, 2703.0]}, index=pd.DatetimeIndex(["2026-02-23", "2026-02-24"], name="date"))
        return Fetched(series="RUT", source="yahoo", frame=frame, fetched_at=now, partial_last=True)  # type: ignore[arg-type]


async def test_r2k_during_a_session_shows_the_intraday_price_as_not_a_close(history: HistoryStore, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.clock import FixedClock
    from bot.market import Market

    clock = FixedClock(datetime(2026, 2, 24, 16, 0, tzinfo=UTC))  # Tuesday 11:00 New York
    services = services_for(history, END_2025, tmp_path)
    services.market = Market(history, clock, {"yahoo": LiveRUT()})  # type: ignore[dict-item]
    services.clock = clock
    original, meta = history.load("RUT"), history.meta("RUT")
    assert original is not None and meta is not None
    try:
        await services.market.refresh(["RUT"])
        text, _ = await ask(services, "/r2k")
        assert "close 2026-02-23" in text
        assert "⏱ Intraday 2,703.00 (+2.00% on the day) · Yahoo Finance, 2026-02-24 11:00 EST — not a close" in text
        zh, _ = await ask(services, "/r2k", lang="zh-Hant")
        assert "盤中 2,703.00" in zh and "非收盤價" in zh
        clock.advance(minutes=30)  # no fresher quote: the line goes rather than show an old price
        services.market.reload()
        later, _ = await ask(services, "/r2k")
        assert "Intraday" not in later
    finally:  # the history fixture is shared by the module
        history.write("RUT", original, source=meta.source, fetched_at=None)


async def test_fedodds_without_the_target_range_names_it_without_its_fred_id(shared_data: Path, tmp_path: Path) -> None:
    from bot.sources.cme import parse_cme_settlements

    history = HistoryStore(tmp_path / "history")
    history.put_strip(parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
    day = date(2026, 9, 17)
    text, _ = await ask(services_for(history, day, tmp_path), "/fedodds", asof=day)
    assert text.startswith("No data stored yet for the Fed funds target range.") and "DFEDTARL" not in text


@pytest.mark.parametrize("arg", ["9" * 5000, "²", "１２", "٢٠٢٦-١٢", "2026-" + "1" * 5000])
async def test_fedodds_with_huge_or_non_ascii_digits_gets_the_usage_line(services: Services, arg: str) -> None:
    text, reply = await ask(services, f"/fedodds {arg}", asof=END_2025)
    assert text.startswith("Usage: /fedodds") and reply.error
