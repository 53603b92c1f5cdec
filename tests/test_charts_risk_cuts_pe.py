"""The /risk, /cuts and /pe charts on the real closes, in both languages: what each figure draws (lines,
bars, shaded episodes, the mean and percentile band), its title dated by the as-of close, the source line,
the button that asks for it, and /pe saying why there is no chart while its history is short."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bot.history import HistoryStore
from bot.metrics.pe import MIN_CHART_POINTS, MIN_HISTORY_DAYS
from bot.seam import Services
from tests.commands_data import ask, import_real_data, services_for

END_2025 = date(2025, 12, 31)
# No S&P 600 P/E history ships with the shared data (only Shiller's S&P 500 file), so /pe's chart is
# drawn from two trailing-proxy series written here: two years of sessions with a known shape.
PE_DAYS = pd.bdate_range("2024-01-02", "2025-12-31")


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    history = import_real_data(shared_data, tmp_path_factory.mktemp("history"), with_strip=False)
    t = np.arange(len(PE_DAYS))
    for name, values in (("PE_SPY", 25 + 2 * np.sin(t / 60)), ("PE_IJR", 17 + np.cos(t / 45))):
        history.write(name, pd.DataFrame({"value": values}, index=PE_DAYS), source="yahoo_pe", fetched_at=None)
    return history


@pytest.fixture
def services(history: HistoryStore, tmp_path: Path) -> Services:
    return services_for(history, END_2025, tmp_path)


def data_lines(fig: Figure) -> list[object]:
    """The plotted series (a zero or mean line is a two-point Line2D)."""
    return [line for line in fig.axes[0].lines if len(line.get_xdata()) > 2]


def source_texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


# /risk ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "words"),
                         [("en", ("Drawdown", "Financial crisis 2007–09")), ("zh-Hant", ("回檔", "2022 年熊市"))])
async def test_risk_chart_draws_r2k_and_sp500_underwater_with_the_three_episodes_shaded(
    services: Services, figures: list[Figure], lang: str, words: tuple[str, str]
) -> None:
    text, reply = await ask(services, "/risk chart", lang=lang, asof=END_2025)
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG" and "2025-12-31" in reply.chart.caption
    fig = figures[-1]
    ax = fig.axes[0]
    lines = data_lines(fig)
    assert len(lines) == 2 and {ln.get_label() for ln in lines} == (  # type: ignore[attr-defined]
        {"Russell 2000", "S&P 500"} if lang == "en" else {"羅素 2000", "標普 500"})
    assert min(float(np.min(ln.get_ydata())) for ln in lines) == pytest.approx(-59.9, abs=0.1)  # type: ignore[attr-defined]
    assert max(float(np.max(ln.get_ydata())) for ln in lines) == 0.0  # type: ignore[attr-defined]
    assert len(ax.patches) == 3  # one shaded span per named episode
    labels = " ".join(t.get_text() for t in ax.texts)
    assert words[1] in labels and "−60%" in labels and len(ax.texts) == 3
    assert words[0] in ax.get_title() and "2025-12-31" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any("2025-12-31" in s and "SPX" in s for s in source_texts(fig))
    assert "Nasdaq-100" in text or "那斯達克 100" in text  # the text still covers all three indices


async def test_risk_offers_its_chart_as_a_button_and_a_wrong_argument_gets_usage(services: Services) -> None:
    _, reply = await ask(services, "/risk", asof=END_2025)
    assert reply.chart is None and [b.data for row in reply.buttons for b in row] == ["risk:chart"]
    usage, _ = await ask(services, "/risk chart 5y", asof=END_2025)
    assert usage.startswith("Usage: /risk [chart]")


# /cuts ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_cuts_chart_draws_r2k_and_sp500_bars_per_cycle_and_the_average(
    services: Services, figures: list[Figure], lang: str
) -> None:
    _, reply = await ask(services, "/cuts chart", lang=lang, asof=END_2025)
    assert reply.chart is not None and "2025-12-31" in reply.chart.caption
    ax = figures[-1].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    # 8 first cuts and 3 resumed ones with an ended 12-month window (2025-09-17's has not ended), the average.
    assert len(ticks) == 12 and len(ax.patches) == 2 * 12
    assert ticks[0] == "1987-11-04" and "2025-09-17" not in " ".join(ticks)
    assert ticks[-1] == ("Average (8 cycles)" if lang == "en" else "平均（8 個循環）")
    assert any("2002-11-06" in t and ("resumed" in t or "恢復降息" in t) for t in ticks)
    heights = {t: (ax.patches[i].get_height(), ax.patches[12 + i].get_height()) for i, t in enumerate(ticks)}
    assert heights["2024-09-18"][0] == pytest.approx(11.8, abs=0.1)  # R2K +11.8 % in the 12 months to 2025-09-18
    assert "2025-12-31" in ax.get_title() and "12" in ax.get_title()
    assert any("2025-12-31" in s for s in source_texts(figures[-1]))


async def test_cuts_chart_window_is_chosen_and_a_wrong_one_gets_usage(services: Services, figures: list[Figure]) -> None:
    _, reply = await ask(services, "/cuts chart 3m", asof=END_2025)
    assert reply.chart is not None and "3 months" in figures[-1].axes[0].get_title()
    _, plain = await ask(services, "/cuts", asof=END_2025)
    assert [b.data for row in plain.buttons for b in row] == ["cuts:chart:12m"]
    usage, _ = await ask(services, "/cuts chart 2y", asof=END_2025)
    assert usage.startswith("Usage: /cuts [chart")


# /pe --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_pe_chart_draws_the_gap_its_mean_and_the_percentile_band(
    services: Services, figures: list[Figure], lang: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # matplotlib warns once per glyph no font has (tests/test_charts.py)
        text, reply = await ask(services, "/pe chart", lang=lang, asof=END_2025)
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    assert reply.chart is not None and "2025-12-31" in reply.chart.caption
    ax = figures[-1].axes[0]
    (gap,) = data_lines(figures[-1])
    t = np.arange(len(PE_DAYS))
    expected = (25 + 2 * np.sin(t / 60)) - (17 + np.cos(t / 45))
    assert np.allclose(np.asarray(gap.get_ydata(), dtype=float), expected)  # type: ignore[attr-defined]
    mean = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(mean) == 1 and mean[0].get_ydata()[0] == pytest.approx(expected.mean())  # type: ignore[index]
    (band,) = ax.patches
    low, high = np.percentile(expected, [10, 90])
    bottom = band.get_y()  # type: ignore[attr-defined]  # axhspan draws a Rectangle, in data units vertically
    assert bottom == pytest.approx(low) and bottom + band.get_height() == pytest.approx(high)  # type: ignore[attr-defined]
    assert "2025-12-31" in ax.get_title() and ("trailing" in ax.get_title() or "過去12個月" in ax.get_title())
    assert "No chart yet" not in text


async def test_pe_with_less_than_a_year_of_gap_history_says_why_there_is_no_chart(
    history: HistoryStore, tmp_path: Path
) -> None:
    asof = date(2024, 9, 30)  # the proxies start on 2024-01-02: 272 days held
    services = services_for(history, asof, tmp_path)
    text, reply = await ask(services, "/pe chart", asof=asof)
    assert reply.chart is None and reply.buttons == ()
    assert (f"No chart yet: the gap's chart needs at least {MIN_HISTORY_DAYS} days and {MIN_CHART_POINTS} dates of "
            "history; 272 days and 195 dates are held.") in text
    zh, _ = await ask(services, "/pe chart", lang="zh-Hant", asof=asof)
    assert "尚無圖表" in zh and "272 天" in zh
    plain, reply = await ask(services, "/pe", asof=asof)
    assert "No chart yet" not in plain and reply.buttons == ()  # no button for a chart that cannot be drawn
    _, full = await ask(services_for(history, END_2025, tmp_path), "/pe", asof=END_2025)
    assert [b.data for row in full.buttons for b in row] == ["pe:chart"]
