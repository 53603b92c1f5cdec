"""/rates and /compare end to end on the real data: figures, both languages, bad arguments, charts, CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from matplotlib.figure import Figure

from bot.history import HistoryStore
from bot.render import charts
from bot.seam import Services
from bot.sources.csvfile import read_series_csv
from handlers.registry import COMMANDS
from tests.commands_data import ask, import_real_data, services_for

REPO = Path(__file__).resolve().parent.parent
LAST_FILE_DAY = date(2026, 2, 27)
RATE_FILES = {"EFFR": "fred/EFFR_jonsflow.csv", "DGS10": "fred/DGS10_jonsflow.csv"}


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    """The indices and the target range as tests/commands_data imports them, plus EFFR and DGS10."""
    history = import_real_data(shared_data, tmp_path_factory.mktemp("history"), with_strip=False)
    for name, rel in RATE_FILES.items():
        history.write(name, read_series_csv(shared_data / rel, name).frame, source="fred", fetched_at=None)
    return history


@pytest.fixture
def at(history: HistoryStore, tmp_path: Path):  # type: ignore[no-untyped-def]
    def services(asof: date) -> Services:
        return services_for(history, asof, tmp_path)

    return services


# /rates ----------------------------------------------------------------------------------------------

async def test_rates_2025_09_18_shows_the_cut_in_every_rate(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2025, 9, 18)
    text, reply = await ask(at(asof), "/rates", asof=asof)
    assert "Last FOMC decision: 2025-09-17" in text
    assert "Fed funds target range: 4.00–4.25% (2025-09-18; in effect since 2025-09-18)" in text
    assert "−25 bp since the 2025-09-17 decision (was 4.25–4.50%)" in text
    assert ("Effective fed funds rate (EFFR): 4.08% (2025-09-18) · −25 bp since the 2025-09-17 decision "
            "(from 4.33% on 2025-09-16)") in text
    assert "10-year Treasury yield: 4.11% (2025-09-18) · +7 bp" in text
    assert "stale" not in text and "⏳" not in text
    assert text.rstrip().endswith("as of close 2025-09-18") and "FRED (EFFR, DGS10)" in text
    assert reply.chart is None


async def test_rates_on_the_announcement_day_says_the_range_moves_tomorrow(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2025, 9, 17)
    text, _ = await ask(at(asof), "/rates", asof=asof)
    assert "4.25–4.50%" in text and "0 bp since the 2025-09-17 decision" in text
    assert "⏳ Fed funds target range (2025-09-17) does not show the 2025-09-17 decision yet" in text
    assert "dated 2025-09-18" in text and "stale" not in text


async def test_rates_2026_02_20_names_the_january_decision(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2026, 2, 20)
    text, _ = await ask(at(asof), "/rates", asof=asof)
    assert "Last FOMC decision: 2026-01-28" in text and "3.50–3.75% (2026-02-20; in effect since 2025-12-11)" in text
    assert "4.08% (2026-02-20) · −16 bp since the 2026-01-28 decision (from 4.24% on 2026-01-27)" in text
    assert "as of close 2026-02-20" in text


async def test_rates_past_the_data_calls_every_input_stale(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2026, 4, 20)  # the FRED files stop on 2026-03-26/27
    text, _ = await ask(at(asof), "/rates", asof=asof)
    assert text.count("is stale") == 3
    assert "⚠️ 10-year Treasury yield is stale: its last observation (2026-03-26) is more than 7 days before 2026-04-20." in text
    # The last observation of each series used, not the date asked.
    assert "as of close 2026-03-26 (EFFR, DGS10), 2026-03-27 (DFEDTARL, DFEDTARU)" in text and "2026-04-20 (" not in text


async def test_rates_in_zh_hant(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2025, 9, 18)
    text, _ = await ask(at(asof), "/rates", lang="zh-Hant", asof=asof)
    assert "美國利率" in text and "聯邦基金目標利率區間：4.00–4.25%" in text
    assert "自 2025-09-17 決議以來 −25 基點" in text and "資料來源" in text


async def test_rates_without_effr_and_dgs10_says_so_and_shows_the_range(shared_data: Path, tmp_path: Path) -> None:
    asof = date(2026, 2, 20)
    services = services_for(import_real_data(shared_data, tmp_path / "h", with_strip=False), asof, tmp_path)
    text, _ = await ask(services, "/rates", asof=asof)
    assert "3.50–3.75%" in text
    assert "Effective fed funds rate (EFFR): no data stored for this date." in text
    assert "10-year Treasury yield: no data stored for this date." in text


@pytest.mark.parametrize("bad", ["/rates now", "/rates 2025-09-18", "/rates " + "9" * 5000])
@pytest.mark.parametrize(("lang", "prefix"), [("en", "Usage: /rates"), ("zh-Hant", "用法：/rates")])
async def test_rates_bad_arguments_get_usage(at, bad: str, lang: str, prefix: str) -> None:  # type: ignore[no-untyped-def]
    text, reply = await ask(at(LAST_FILE_DAY), bad, lang=lang, asof=LAST_FILE_DAY)
    assert text.startswith(prefix) and reply.chart is None


# /compare --------------------------------------------------------------------------------------------

async def test_compare_2009_03_09_5y_prints_the_figures_and_offers_the_chart(at) -> None:  # type: ignore[no-untyped-def]
    text, reply = await ask(at(LAST_FILE_DAY), "/compare 2009-03-09 5y", asof=LAST_FILE_DAY)
    assert "Window asked: 2009-03-09 → 2014-03-09 (5 years)" in text
    assert "Russell 2000: 343.26 (2009-03-09) → 1,203.32 (2014-03-07): +250.56%" in text
    assert "S&P 500: 676.53 (2009-03-09) → 1,878.04 (2014-03-07): +177.60%" in text
    assert "Nasdaq-100: 1,043.87 (2009-03-09) → 3,703.40 (2014-03-07): +254.78%" in text
    assert "R2K − S&P 500: +72.96 pp (the Russell 2000 did better)" in text
    assert "R2K − NDX: −4.22 pp (the Russell 2000 did worse)" in text
    assert "dividends are not included" in text
    assert text.rstrip().endswith("as of close 2014-03-07")
    assert "stale" not in text  # a window in the past is not made stale by RUT's file ending early
    assert reply.chart is None
    assert [[b.data for b in row] for row in reply.buttons] == [["compare:2009-03-09:5y:chart"]]


async def test_compare_button_data_runs_the_chart(at) -> None:  # type: ignore[no-untyped-def]
    _, reply = await ask(at(LAST_FILE_DAY), "/compare 2000-03-10 2003-03-10", asof=LAST_FILE_DAY)
    data = reply.buttons[0][0].data
    assert len(data.encode()) <= 64
    command, *args = data.split(":")  # as bot.app.callback_router splits it
    text, charted = await ask(at(LAST_FILE_DAY), "/" + command + " " + " ".join(args), asof=LAST_FILE_DAY)
    assert charted.chart is not None and charted.chart.png[:4] == b"\x89PNG"
    assert "−42.36%" in text and "−78.98%" in text and "2000-03-10 → 2003-03-10" in charted.chart.caption


async def test_compare_to_the_last_close_and_beyond_it(at) -> None:  # type: ignore[no-untyped-def]
    text, _ = await ask(at(LAST_FILE_DAY), "/compare 2025-01-01", asof=LAST_FILE_DAY)
    assert "Window asked: from 2025-01-01 to the last close" in text and "2025-01-02 → 2026-02-20" in text
    assert "⚠️ RUT data is stale: last close 2026-02-20." in text  # NDX and SPX reach 2026-02-27
    cut, _ = await ask(at(LAST_FILE_DAY), "/compare 2025-01-01 2030-01-01", asof=LAST_FILE_DAY)
    assert "✂️ 2030-01-01 is after the last close: the window is cut at the 2026-02-20 close." in cut


async def test_compare_in_zh_hant(at) -> None:  # type: ignore[no-untyped-def]
    text, reply = await ask(at(LAST_FILE_DAY), "/compare 2009-03-09 5y", lang="zh-Hant", asof=LAST_FILE_DAY)
    assert "羅素 2000：343.26（2009-03-09）→ 1,203.32（2014-03-07）：+250.56%" in text
    assert "R2K − 標普 500：+72.96 百分點（羅素 2000 表現較佳）" in text and "不含股息" in text and "資料來源" in text
    assert reply.buttons[0][0].label.startswith("📈 圖表")


@pytest.mark.parametrize(
    "bad",
    [
        "/compare",
        "/compare banana",
        "/compare chart",
        "/compare 2009-03-09 2y",
        "/compare 2009-03-09 5y 1y",
        "/compare 2009-3-9",
        "/compare 2009-03-09 5y chart chart",
        "/compare ２００９-03-09",  # full-width digits are not a date here
        "/compare " + "9" * 5000,
        "/compare 2009-03-09 " + "1" * 5000,
    ],
)
async def test_compare_bad_arguments_get_usage(at, bad: str) -> None:  # type: ignore[no-untyped-def]
    text, reply = await ask(at(LAST_FILE_DAY), bad, asof=LAST_FILE_DAY)
    assert text.startswith("Usage: /compare FROM") and reply.chart is None and not reply.buttons


async def test_compare_usage_in_zh_hant(at) -> None:  # type: ignore[no-untyped-def]
    text, _ = await ask(at(LAST_FILE_DAY), "/compare soon", lang="zh-Hant", asof=LAST_FILE_DAY)
    assert text.startswith("用法：/compare")


@pytest.mark.parametrize(
    ("text", "en", "zh"),
    [
        ("/compare 2025-02-30", "2025-02-30 is not a calendar date.", "2025-02-30 不是有效的日期"),
        ("/compare 2020-01-01 2019-01-01", "The window must run forwards: 2019-01-01 is not after 2020-01-01.",
         "區間必須由前往後"),
        ("/compare 1980-01-01 5y", "The data begins on 1987-09-10", "資料始於 1987-09-10"),
        ("/compare 2027-01-01", "2027-01-01 is in the future: this answer is as of 2026-02-27.", "2027-01-01 尚未到來"),
        ("/compare 2026-02-23", "no close of all three indices on or after 2026-02-23 yet: the last one is on 2026-02-20",
         "最後一個是 2026-02-20"),
        ("/compare 2025-01-04 2025-01-05", "fewer than two sessions", "少於兩個"),
    ],
)
async def test_compare_impossible_window_is_explained_in_both_languages(at, text: str, en: str, zh: str) -> None:  # type: ignore[no-untyped-def]
    answer, reply = await ask(at(LAST_FILE_DAY), text, asof=LAST_FILE_DAY)
    assert en in answer and reply.chart is None
    answer_zh, _ = await ask(at(LAST_FILE_DAY), text, lang="zh-Hant", asof=LAST_FILE_DAY)
    assert zh in answer_zh


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_compare_chart_opens_and_has_title_axis_labels_legend_and_source(at, figures: list[Figure], lang: str) -> None:  # type: ignore[no-untyped-def]
    _, reply = await ask(at(LAST_FILE_DAY), "/compare 2009-03-09 5y chart", lang=lang, asof=LAST_FILE_DAY)
    assert reply.chart is not None
    image = mpimg.imread(io.BytesIO(reply.chart.png), format="png")
    assert image.shape[0] > 200 and image.shape[1] > 400
    ax = figures[-1].axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and len(ax.get_lines()) == 3
    assert all(line.get_ydata()[0] == pytest.approx(100.0) for line in ax.get_lines())
    assert any("2014-03-07" in t.get_text() for t in figures[-1].texts)
    if lang == "zh-Hant" and charts.cjk_font() is not None:
        assert "羅素" in ax.get_title()
    else:
        # English, or English labels rather than tofu boxes where no CJK font is installed.
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in ax.get_title()) and "Russell 2000" in ax.get_title()


def test_registry_lists_rates_and_compare_as_cacheable() -> None:
    assert COMMANDS["rates"].cacheable and COMMANDS["compare"].cacheable


# `capgap ask` ----------------------------------------------------------------------------------------

def test_cli_ask_rates_as_of_after_importing_fred_csvs(shared_data: Path, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
    environ.update({"CAPGAP_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)})

    def capgap(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environ,
                              cwd=tmp_path, timeout=120)

    for name in ("DFEDTARL", "DFEDTARU", "EFFR", "DGS10"):
        imported = capgap("import", str(shared_data / "fred" / f"{name}_jonsflow.csv"), "--series", name)
        assert imported.returncode == 0, imported.stderr
    result = capgap("ask", "--as-of", "2025-09-18", "/rates")
    assert result.returncode == 0, result.stderr
    assert "4.00–4.25%" in result.stdout and "−25 bp since the 2025-09-17 decision" in result.stdout


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Fed funds 3.50–3.75% · EFFR 3.64% · 10-year 4.08% (−16 bp since the 2026-01-28 decision)"),
        ("zh-Hant", "聯邦基金利率 3.50–3.75% · EFFR 3.64% · 10 年期 4.08%（自 2026-01-28 決議以來 −16 基點）"),
    ],
)
def test_rates_summary_is_one_line_for_a_digest(history: HistoryStore, lang: str, expected: str) -> None:
    from bot import calendar
    from bot.metrics.rates import compute_rates
    from bot.render.rates import rates_summary

    values = {n: history.load(n)["value"] for n in ("DFEDTARL", "DFEDTARU", "EFFR", "DGS10")}  # type: ignore[index]
    r = compute_rates(values["DFEDTARL"], values["DFEDTARU"], values["EFFR"], values["DGS10"],
                      calendar.fomc_meetings(), date(2026, 2, 20))
    assert rates_summary(r, lang) == expected


# the digest's /rates line -------------------------------------------------------------------------------

async def test_digest_carries_the_rates_line_with_its_date_and_fred_in_the_footer(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2025, 9, 18)
    text, _ = await ask(at(asof), "/digest", asof=asof)
    assert ("Rates (2025-09-18): Fed funds 4.00–4.25% · EFFR 4.08% · 10-year 4.11% (+7 bp since the 2025-09-17 "
            "decision)") in text.splitlines()
    assert "FRED (EFFR, DGS10)" in text and "(DFEDTARL)" in text and "stale" not in text
    zh, _ = await ask(at(asof), "/digest", lang="zh-Hant", asof=asof)
    assert "利率（2025-09-18）：聯邦基金利率 4.00–4.25% · EFFR 4.08% · 10 年期 4.11%" in zh


async def test_digest_rates_line_marks_stale_rates_and_says_why(at) -> None:  # type: ignore[no-untyped-def]
    asof = date(2026, 4, 10)  # the FRED files end on 2026-03-26/27: more than 7 days before
    text, _ = await ask(at(asof), "/digest", asof=asof)
    line = next(ln for ln in text.splitlines() if ln.startswith("Rates ("))
    assert line.startswith("Rates (2026-03-27): Fed funds 3.50–3.75% ⚠️ · EFFR 3.64% ⚠️ · 10-year 4.42%")
    assert line.endswith("⚠️")
    for series in ("EFFR", "DGS10"):
        assert f"⚠️ {series} data is stale: last value 2026-03-26, more than 7 days old." in text
