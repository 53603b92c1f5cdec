"""Market path vs the Fed's path (/fedodds path, the fed_path_gap alert) on the real 2026-09-17 strip and the
real FEDTARMD sample: SEP filing by release, staleness, the metric against hand-computed numbers, the reply
and chart in both languages, bad arguments, the import, the alert rule."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
import respx
from matplotlib.figure import Figure

from bot import calendar
from bot.alerts.evaluator import evaluate
from bot.alerts.rules import RULES, RuleParamError, parse_params
from bot.alerts.series import METRICS
from bot.alerts.watcher import watch_once
from bot.errors import SourceError
from bot.history import HistoryStore
from bot.market import CUT_ODDS_SERIES, Market, SeriesStatus, Snapshot
from bot.metrics.fedpath import fed_path, path_gap_series, sep_in_use
from bot.metrics.odds import OddsView, odds_history, odds_view
from bot.render.alerts import render_alerts, render_event
from bot.render.fedpath import fedpath_chart, render_fedpath
from bot.render.text import as_terminal_text
from bot.series import SERIES, stale_after
from bot.sources.base import Strip
from bot.sources.cme import parse_cme_settlements
from bot.sources.csvfile import read_series_csv
from bot.sources.fred import FREDGRAPH_URL, FredSource, parse_fredgraph_csv, sep_frame, sep_median, sep_release
from bot.store.base import ChatSettings, Subscription
from bot.store.sqlite import SqliteStore
from tests.commands_data import ask, import_real_data, services_for

NY = ZoneInfo("America/New_York")
TRADE_DATE = date(2026, 9, 17)
MARCH_SEP = date(2026, 3, 18)
SEPTEMBER_SEP = date(2026, 9, 16)
# By hand from the settlements (SPEC.md): E(Dec 2026) = S(Jan 2027) = (31·r(Jan) − 4·r(Feb)) / 27 with r = 100 −
# price (JAN 27 95.7800, FEB 27 95.7000); E(Dec 2027) by the forward pass, S(Dec 2027) = r(Nov 2027) (anchor,
# NOV 27 95.3900) and E = (31·r(Dec) − 8·S) / 23 (DEC 27 95.4150, decision on the 8th).
END_2026 = (31 * 4.22 - 4 * 4.30) / 27  # 4.208148
END_2027 = (31 * (100 - 95.415) - 8 * (100 - 95.39)) / 23  # 4.576304
GAP_2026_BP = (END_2026 - 3.4) * 100  # +80.81 (the sample's 2026 median is 3.4)
GAP_2027_BP = (END_2027 - 3.1) * 100  # +147.63


def sample_by_year(shared_data: Path) -> pd.DataFrame:
    """FEDTARMD as FRED dates it: one value per projection year (2026-01-01 = the end of 2026)."""
    return read_series_csv(shared_data / "fred" / "FEDTARMD_jonsflow.csv", "FEDTARMD").frame


def real_strip(shared_data: Path) -> Strip:
    return parse_cme_settlements((shared_data / "fixtures" / "cme" / "settlements_ZQ_20260917.json").read_bytes())


def target_lower(shared_data: Path) -> pd.Series:
    bundle = json.loads((shared_data / "fixtures" / "cme" / "fred_target_range_202609.json").read_text())
    return parse_fredgraph_csv(bundle["DFEDTARL"], "DFEDTARL")["value"]


def view_on(shared_data: Path) -> OddsView:
    strip = real_strip(shared_data)
    view = odds_view({strip.trade_date: strip}, target_lower(shared_data), calendar.fomc_meetings(), TRADE_DATE)
    assert view is not None
    return view


# FEDTARMD: what a row means, which SEP it is, when it is stale ------------------------------------------

def test_sample_is_filed_under_its_release_with_years_by_offset(shared_data: Path) -> None:
    row = sep_frame(sample_by_year(shared_data), MARCH_SEP)
    assert list(row.index) == [pd.Timestamp(MARCH_SEP)]
    assert row.iloc[0][["y0", "y1", "y2"]].tolist() == [3.4, 3.1, 3.1] and pd.isna(row.iloc[0]["y3"])
    stored = row.iloc[0]
    assert (sep_median(stored, 2026), sep_median(stored, 2028), sep_median(stored, 2029), sep_median(stored, 2025)) == (
        3.4, 3.1, None, None)


def test_sep_release_is_the_last_sep_out_by_then_whose_years_fit() -> None:
    years = [2026, 2027, 2028]  # a March or June SEP of 2026 (September and December add 2029)
    assert sep_release(years, datetime(2026, 12, 4, tzinfo=UTC)) == date(2026, 6, 17)
    assert sep_release(years, datetime(2026, 5, 1, tzinfo=UTC)) == MARCH_SEP
    # The projections come out with the statement at 14:00 New York: before it the 2026 SEP is not out.
    assert sep_release(years, datetime(2026, 3, 18, 14, 0, tzinfo=NY)) == MARCH_SEP
    with pytest.raises(SourceError, match="fit no SEP"):
        sep_release(years, datetime(2026, 3, 18, 13, 59, tzinfo=NY))
    assert sep_release([2026, 2027, 2028, 2029], datetime(2026, 12, 4, tzinfo=UTC)) == SEPTEMBER_SEP
    assert sep_release([2025, 2026, 2027, 2028], datetime(2026, 2, 1, tzinfo=UTC)) == date(2025, 12, 10)


def test_fedtarmd_goes_stale_at_the_next_sep_meeting_only() -> None:
    info = SERIES["FEDTARMD"]
    assert stale_after(info, MARCH_SEP, date(2026, 6, 16)) == (False, None)
    assert stale_after(info, MARCH_SEP, date(2026, 6, 17)) == (True, date(2026, 6, 17))
    assert stale_after(info, MARCH_SEP, TRADE_DATE) == (True, SEPTEMBER_SEP)  # the latest SEP it predates
    # A meeting without projections (April, July) does not make it stale.
    assert stale_after(info, date(2026, 6, 17), date(2026, 9, 15)) == (False, None)


@respx.mock
async def test_fred_fetch_takes_the_whole_vintage_and_files_it_under_its_sep(shared_data: Path) -> None:
    # fredgraph.csv's new header (as in the recorded DFEDTARL/U bodies) carrying the sample's values.
    body = "observation_date,FEDTARMD\n" + "".join(
        f"{stamp.date()},{value}\n" for stamp, value in sample_by_year(shared_data)["value"].items())
    route = respx.get(FREDGRAPH_URL).mock(return_value=httpx.Response(200, text=body))
    now = datetime(2026, 5, 1, 21, 0, tzinfo=UTC)
    async with httpx.AsyncClient() as client:
        fetched = await FredSource(client).fetch("FEDTARMD", start=date(2026, 3, 9), end=None, now=now)
    assert dict(route.calls.last.request.url.params) == {"id": "FEDTARMD"}  # cosd would filter projection years
    assert list(fetched.frame.index) == [pd.Timestamp(MARCH_SEP)] and fetched.frame.iloc[0]["y0"] == 3.4
    assert fetched.meta["sep_release"] == "2026-03-18"


# The metric ------------------------------------------------------------------------------------------------

def test_path_and_year_ends_match_the_hand_computed_rates_and_gaps(shared_data: Path) -> None:
    path = fed_path(view_on(shared_data), sep_frame(sample_by_year(shared_data), MARCH_SEP))
    assert path.sep_release == MARCH_SEP and path.lower_bound == 3.75
    assert [(e.year, e.meeting) for e in path.year_ends] == [(2026, date(2026, 12, 9)), (2027, date(2027, 12, 8))]
    end26, end27 = path.year_ends
    assert end26.market == pytest.approx(END_2026, abs=1e-9) and end26.sep == 3.4
    assert end26.gap_bp == pytest.approx(GAP_2026_BP, abs=1e-6) and round(GAP_2026_BP, 2) == 80.81
    assert end27.market == pytest.approx(END_2027, abs=1e-9) and end27.gap_bp == pytest.approx(GAP_2027_BP, abs=1e-6)
    # After each meeting: October's E is the November anchor (SPEC: 4.0200); the path ends at December 2027.
    assert path.path[0] == (date(2026, 10, 28), pytest.approx(4.02))
    assert path.path[1][1] == pytest.approx(END_2026) and path.path[-1] == (date(2027, 12, 8), pytest.approx(END_2027))
    assert path.start_rate == pytest.approx((31 * 3.895 - 3 * 4.02) / 28)  # S(Oct), SPEC step 4


def test_without_a_sep_the_path_is_the_market_alone(shared_data: Path) -> None:
    path = fed_path(view_on(shared_data), None)
    assert path.sep_release is None and all(e.sep is None and e.gap_bp is None for e in path.year_ends)
    # --as-of on history: the SEP in use is the last released by then, never a later one.
    sep = pd.concat([sep_frame(sample_by_year(shared_data), MARCH_SEP),
                     sep_frame(sample_by_year(shared_data), date(2026, 6, 17))])
    assert sep_in_use(sep, date(2026, 3, 17)) is None
    assert [sep_in_use(sep, day).name for day in (MARCH_SEP, date(2026, 6, 16), date(2026, 6, 17), TRADE_DATE)] == [
        pd.Timestamp(MARCH_SEP), pd.Timestamp(MARCH_SEP), pd.Timestamp(2026, 6, 17), pd.Timestamp(2026, 6, 17)]


def test_gap_series_is_the_absolute_gap_at_the_first_year_end_ahead(shared_data: Path) -> None:
    strip = real_strip(shared_data)
    sep = sep_frame(sample_by_year(shared_data), MARCH_SEP)
    # From the odds history record_odds keeps (the strip priced once, its first year end recorded with it).
    odds = odds_history({strip.trade_date: strip}, target_lower(shared_data), calendar.fomc_meetings())
    assert odds["ye_year"].tolist() == [2026.0]
    series = path_gap_series(odds, sep)
    assert list(series.index) == [pd.Timestamp(TRADE_DATE)] and series.iloc[0] == pytest.approx(GAP_2026_BP)
    # Strips before the first SEP stored have nothing to compare with.
    early = sep_frame(sample_by_year(shared_data), MARCH_SEP).set_axis([pd.Timestamp(2026, 9, 18)])
    assert path_gap_series(odds, early).empty
    # Odds rows written by an older capgap (no year-end columns) give nothing rather than a wrong gap.
    assert path_gap_series(odds.drop(columns=["ye_year", "ye_rate"]), sep).empty


# The reply and the chart ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    """The real indices, target range and 2026-09-17 strip, and the FEDTARMD sample filed under March 2026."""
    history = import_real_data(shared_data, tmp_path_factory.mktemp("history"))
    history.write("FEDTARMD", sep_frame(sample_by_year(shared_data), MARCH_SEP), source="csv:FEDTARMD_jonsflow.csv",
                  fetched_at=None)
    return history


@pytest.mark.parametrize(("lang", "alone", "stale"), [
    ("en", "the market path alone", "FEDTARMD data is stale: last value 2026-03-18, before the FOMC decision of 2026-09-16"),
    ("zh-Hant", "僅顯示市場路徑", "FEDTARMD 資料已過時：最後數值為 2026-03-18，早於 2026-09-16 的 FOMC 決議"),
])
async def test_reply_with_a_stale_sep_says_so_and_shows_the_market_path_alone(
    history: HistoryStore, tmp_path: Path, lang: str, alone: str, stale: str
) -> None:
    text, reply = await ask(services_for(history, TRADE_DATE, tmp_path), "/fedodds path", lang=lang, asof=TRADE_DATE)
    assert alone in text and stale in text
    assert "4.208%" in text and "4.576%" in text and "2026-10-28 4.020%" in text
    assert "3.4%" not in text and "bp" not in text and "基點" not in text  # no gap against a superseded SEP
    assert "2026-09-17" in text and "FEDTARMD_jonsflow.csv" in text
    assert [[b.data for b in row] for row in reply.buttons] == [["fedodds:path:chart"]] and reply.chart is None


async def test_reply_without_fedtarmd_says_none_is_stored(shared_data: Path, tmp_path: Path) -> None:
    services = services_for(import_real_data(shared_data, tmp_path / "h"), TRADE_DATE, tmp_path)
    text, _ = await ask(services, "/fedodds path", asof=TRADE_DATE)
    assert "No Fed SEP median is stored (FRED FEDTARMD): the market path alone." in text and "4.208%" in text


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["2026 (FOMC 2026-12-09): 4.208% · 3.4% · +81 bp", "2027 (FOMC 2027-12-08): 4.576% · 3.1% · +148 bp",
            "Summary of Economic Projections released 2026-03-18", "gap = market − Fed"]),
    ("zh-Hant", ["2026 年（FOMC 2026-12-09）：4.208% · 3.4% · +81 基點", "2027 年（FOMC 2027-12-08）：4.576% · 3.1% · +148 基點",
                 "2026-03-18 公布的經濟預測摘要", "差距 = 市場 − 聯準會"]),
])
def test_reply_with_a_sep_in_use_gives_each_year_end_and_its_gap(shared_data: Path, lang: str, expected: list[str]) -> None:
    path = fed_path(view_on(shared_data), sep_frame(sample_by_year(shared_data), MARCH_SEP))
    status = SeriesStatus("FEDTARMD", "csv:FEDTARMD_jonsflow.csv", MARCH_SEP, None, stale=False)
    text = as_terminal_text(render_fedpath(path, "cme", [status], lang))
    for line in expected:
        assert line in text
    assert "CSV FEDTARMD_jonsflow.csv (FEDTARMD)" in text and "2026-09-17" in text



@pytest.mark.parametrize(("lang", "title", "gap"), [
    ("en", "Fed funds rate: market path vs the Fed's SEP median", "gap +81 bp"),
    ("zh-Hant", "聯邦基金利率：市場路徑與聯準會 SEP 中位數", "差距 +81 基點"),
])
def test_chart_draws_both_paths_with_the_gap_in_each_language(shared_data: Path, figures: list[Figure], lang: str,
                                                              title: str, gap: str) -> None:
    path = fed_path(view_on(shared_data), sep_frame(sample_by_year(shared_data), MARCH_SEP))
    png = fedpath_chart(path, "cme", lang)
    assert png.startswith(b"\x89PNG")
    (fig,) = figures
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert ax.get_title() == title and ax.get_xlabel() and ax.get_ylabel()
    assert gap in texts and any("2026-09-17" in t and "FEDTARMD" in t for t in texts)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 2 and any("2026-03-18" in t for t in legend)


async def test_chart_with_a_stale_sep_is_the_market_path_alone(history: HistoryStore, tmp_path: Path,
                                                                 figures: list[Figure]) -> None:
    _, reply = await ask(services_for(history, TRADE_DATE, tmp_path), "/fedodds path chart", asof=TRADE_DATE)
    assert reply.chart is not None and reply.chart.png.startswith(b"\x89PNG") and "2026-09-17" in reply.chart.caption
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_title() == "Fed funds rate: the market's path (no current Fed SEP median)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Market (ZQ futures, after each meeting)"]
    assert not any("FEDTARMD" in t.get_text() for t in fig.texts)


@pytest.mark.parametrize("bad", ["/fedodds path 2026", "/fedodds path chart now", "/fedodds chart path x",
                                 "/fedodds paths", "/fedodds path " + "9" * 5000])
@pytest.mark.parametrize(("lang", "prefix"), [("en", "Usage: /fedodds"), ("zh-Hant", "用法：/fedodds")])
async def test_fedodds_path_bad_arguments_get_the_usage_line(history: HistoryStore, tmp_path: Path, bad: str,
                                                             lang: str, prefix: str) -> None:
    text, reply = await ask(services_for(history, TRADE_DATE, tmp_path), bad, lang=lang, asof=TRADE_DATE)
    assert text.startswith(prefix) and "path [chart]" in text and reply.chart is None


# The import --------------------------------------------------------------------------------------------------

def test_import_files_the_sample_under_the_sep_named_or_refuses_one_that_does_not_fit(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("CAPGAP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CAPGAP_REDIS_URL", raising=False)
    sample = str(shared_data / "fred" / "FEDTARMD_jonsflow.csv")
    assert main(["import", sample, "--series", "FEDTARMD", "--released", "2026-09-16"]) == 1
    assert "does not project the file's years 2026–2028" in capsys.readouterr().err
    assert main(["import", sample, "--series", "FEDTARMD", "--released", "2026-03-19"]) == 1
    assert "not an FOMC meeting with projections" in capsys.readouterr().err
    assert main(["import", sample, "--series", "RUT", "--released", "2026-03-18"]) == 2
    capsys.readouterr()
    assert main(["import", sample, "--series", "FEDTARMD", "--released", "2026-03-18"]) == 0
    assert "filed under the SEP of 2026-03-18" in capsys.readouterr().out
    assert main(["export", "FEDTARMD"]) == 0
    exported = capsys.readouterr().out
    assert exported.splitlines() == ["Date,y0,y1,y2,y3", "2026-03-18,3.4,3.1,3.1,"]
    # The export imports back as it is into an empty store (its rows already name their SEPs).
    (tmp_path / "export.csv").write_text(exported)
    monkeypatch.setenv("CAPGAP_DATA_DIR", str(tmp_path / "other"))
    assert main(["import", str(tmp_path / "export.csv"), "--series", "FEDTARMD"]) == 0
    assert main(["export", "FEDTARMD"]) == 0 and capsys.readouterr().out.endswith(exported)
    (tmp_path / "odd.csv").write_text("Date,y0,y1,y2,y3\n2026-03-19,3.4,3.1,3.1,\n")
    assert main(["import", str(tmp_path / "odd.csv"), "--series", "FEDTARMD"]) == 1
    assert "2026-03-19 is not an FOMC meeting with projections" in capsys.readouterr().err


# The alert rule ---------------------------------------------------------------------------------------------

def test_rule_fed_path_gap_is_data_with_a_bp_level() -> None:
    rule = RULES["fed_path_gap"]
    assert (rule.metric, rule.kind, rule.threshold, rule.recovery) == ("fed_path_gap", "above", 50.0, 10.0)
    assert METRICS["fed_path_gap"].unit == "bp"
    assert parse_params("fed_path_gap", ["75"]) == {"threshold": 75.0}
    with pytest.raises(RuleParamError):
        parse_params("fed_path_gap", ["1000"])


def test_rule_fires_over_the_level_and_resolves_10_bp_under_it() -> None:
    days = pd.bdate_range("2026-09-14", periods=5, name="date")
    gaps = pd.Series([30.0, 60.0, 45.0, 39.0, 41.0], index=days)  # |market − SEP| in bp
    state, kinds = None, []
    for day in days:
        state, events = evaluate(RULES["fed_path_gap"], {"notify_resolved": True}, gaps.loc[:day], state, day.date())
        kinds += [(e.bar, e.kind) for e in events]
    assert kinds == [(date(2026, 9, 15), "firing"), (date(2026, 9, 17), "resolved")]


def test_alert_message_names_the_gap_in_bp_in_both_languages() -> None:
    from bot.alerts.evaluator import AlertEvent

    event = AlertEvent(rule_id="fed_path_gap", kind="firing", bar=TRADE_DATE, value=80.8, threshold=50.0,
                       reference=None, params={}, params_key="x@50")
    en = render_event(event, "en")
    assert "81 bp away from the Fed's SEP median" in en and "your level 50 bp" in en
    assert "81 基點" in render_event(event, "zh-Hant")


def snapshot(shared_data: Path, *, stale: bool) -> Snapshot:
    """The real strip, range and sample (filed under March) as of 2026-09-17, the SEP's freshness as given."""
    strip = real_strip(shared_data)
    # The odds history record_odds keeps (its year-end market rate is what the alert compares).
    odds = odds_history({strip.trade_date: strip}, target_lower(shared_data), calendar.fomc_meetings())
    frames = {"DFEDTARL": target_lower(shared_data).to_frame(), "FEDTARMD": sep_frame(sample_by_year(shared_data), MARCH_SEP),
              CUT_ODDS_SERIES: odds.rename(columns={"cut": "value"})}
    status = {n: SeriesStatus(n, "csv", f.index[-1].date(), None, stale=stale and n == "FEDTARMD") for n, f in frames.items()}
    status["ZQ_STRIPS"] = SeriesStatus("ZQ_STRIPS", "cme", TRADE_DATE, None, stale=False)
    return Snapshot(asof=TRADE_DATE, built_at=datetime(2026, 9, 18, tzinfo=UTC), frames=frames, status=status,
                    strips={strip.trade_date: strip})


async def test_watch_evaluates_the_real_gap_and_holds_while_the_sep_is_stale(shared_data: Path, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "capgap.sqlite3")
    await store.open()
    await store.put_chat(ChatSettings(chat_id=1))
    await store.put_subscription(Subscription(chat_id=1, rule_id="fed_path_gap", params={"threshold": 50.0}))
    now = datetime(2026, 9, 18, tzinfo=UTC)
    held = await watch_once(store, snapshot(shared_data, stale=True), now, render_alerts)
    assert held.held == {"fed_path_gap": "stale: FEDTARMD"} and held.events == 0
    fresh = await watch_once(store, snapshot(shared_data, stale=False), now, render_alerts)
    assert fresh.held == {} and fresh.evaluated == {"fed_path_gap": 1}
    await store.close()


async def test_market_calls_the_march_sep_stale_on_2026_09_17(history: HistoryStore) -> None:
    from bot.clock import FixedClock

    market = Market(history, FixedClock(calendar.session_close(TRADE_DATE)), fixed_asof=TRADE_DATE)
    status = market.snapshot.status["FEDTARMD"]
    assert status.stale and status.stale_decision == SEPTEMBER_SEP and status.last_date == MARCH_SEP
    assert "FEDTARMD" in METRICS["fed_path_gap"].inputs(market.snapshot)
