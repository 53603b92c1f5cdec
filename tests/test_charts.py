"""Every chart opens as a PNG and has a title, axis labels and a source line; zh-Hant never draws tofu:
its labels are Chinese on every machine, drawn by the CJK font shipped in bot/fonts/."""

from __future__ import annotations

import io
import sys
import warnings
from datetime import date
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import pytest
from fontTools.ttLib import TTFont
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.render import charts
from bot.seam import Services
from tests.commands_data import ask, import_real_data, services_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import font_subset  # noqa: E402

# Every chart the bot draws: /r2k's periods, /spread's periods, /fedodds for several meetings and for one,
# the digest's chart, /risk's and /cuts' (/pe's: tests/test_charts_risk_cuts_pe.py), each with the date its data supports.
ZH_CHARTS = [
    *(("/r2k chart " + period, date(2025, 12, 31)) for period in ("ytd", "1y", "5y")),
    *(("/spread " + period, date(2025, 12, 31)) for period in ("ytd", "1m", "3m", "1y", "5y")),
    ("/fedodds chart", date(2026, 9, 17)),
    ("/fedodds 1 chart", date(2026, 9, 17)),
    ("/digest", date(2025, 12, 31)),
    ("/risk chart", date(2025, 12, 31)),
    ("/cuts chart", date(2025, 12, 31)),
]


@pytest.fixture(scope="module")
def services(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    tmp = tmp_path_factory.mktemp("charts")
    return services_for(import_real_data(shared_data, tmp / "history"), date(2026, 9, 17), tmp)


@pytest.mark.parametrize("text", ["/r2k chart ytd", "/r2k chart 5y", "/spread 1y", "/fedodds 3 chart"])
@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_chart_opens_and_has_title_axis_labels_and_source(services: Services, figures: list[Figure], text: str,
                                                                lang: str) -> None:
    asof = date(2026, 9, 17) if text.startswith("/fedodds") else date(2025, 12, 31)
    _, reply = await ask(services, text, lang=lang, asof=asof)
    assert reply.chart is not None
    image = mpimg.imread(io.BytesIO(reply.chart.png), format="png")
    assert image.shape[0] > 200 and image.shape[1] > 400
    fig = figures[-1]
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any("2025-12-31" in t.get_text() or "2026-09-17" in t.get_text() for t in fig.texts)


async def test_fedodds_chart_of_one_meeting_names_it_and_source_clears_the_axis_label(
    services: Services, figures: list[Figure]
) -> None:
    _, reply = await ask(services, "/fedodds 2026-10 chart", lang="en", asof=date(2026, 9, 17))
    assert reply.chart is not None
    fig = figures[-1]
    ax = fig.axes[0]
    assert "2026-10-28" in ax.get_title()
    renderer = FigureCanvasAgg(fig).get_renderer()  # the saved figure was closed: lay it out again
    source = next(t for t in fig.texts if t.get_text().startswith("Source:"))
    below = source.get_window_extent(renderer)
    for label in (ax.xaxis.label, *ax.get_xticklabels()):
        assert not below.overlaps(label.get_window_extent(renderer)), label.get_text()
    assert below.y1 < ax.xaxis.label.get_window_extent(renderer).y0


def cell_texts(ax: Axes) -> dict[tuple[str, str], str]:
    """A heatmap's cell texts by (row label, column label)."""
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    return {(rows[round(t.get_position()[1])], columns[round(t.get_position()[0])]): t.get_text() for t in ax.texts}


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_fedodds_chart_of_several_meetings_is_a_heatmap_with_the_odds_in_its_cells(
    services: Services, figures: list[Figure], lang: str
) -> None:
    _, reply = await ask(services, "/fedodds 12 chart", lang=lang, asof=date(2026, 9, 17))
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG"
    fig = figures[-1]
    ax, scale = fig.axes  # the table and its colour scale
    assert "2026-09-17" in ax.get_title()  # the strip's trade date
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[:2] == ["2026-10-28", "2026-12-09"] and rows[-1] == "2027-12-08" and len(rows) == 10  # all the strip prices
    cells = cell_texts(ax)
    assert cells[("2026-10-28", "3.75–4.00")] == "44.6" and cells[("2026-10-28", "4.00–4.25")] == "55.4"
    assert [cells.get(("2026-12-09", r)) for r in ("3.75–4.00", "4.00–4.25", "4.25–4.50")] == ["11.0", "47.3", "41.7"]
    assert ("2026-10-28", "3.50–3.75") not in cells and cells[("2027-12-08", "3.50–3.75")] == "0.3"  # blank below 0.05 %
    for row in rows:  # each meeting's cells add up to 100 % (to rounding)
        assert sum(float(v) for (r, _), v in cells.items() if r == row) == pytest.approx(100, abs=0.5)
    assert scale.get_ylabel() == {"en": "Probability (%)", "zh-Hant": "機率（%）"}[lang]
    assert ax.get_xlabel() and ax.get_ylabel() and any("2026-09-17" in t.get_text() for t in fig.texts)


def test_heatmap_of_twelve_meetings_keeps_every_number_inside_its_cell() -> None:
    columns = [f"{lo / 4:.2f}–{lo / 4 + 0.25:.2f}" for lo in range(10, 24)]  # 14 ranges
    rows = [f"2027-{month:02d}-15" for month in range(1, 13)]
    values = [[100.0 if (i + j) % 3 else 5.0 for j in range(len(columns))] for i in range(len(rows))]
    with charts.styled("en"):
        fig = charts.heatmap_figure(rows, columns, values, cells=[[f"{v:.1f}" for v in row] for row in values],
                                    title="t", xlabel="x", ylabel="y", colorbar="%", source="s")
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    cell_w = ax.get_window_extent(renderer).width / len(columns)
    cell_h = ax.get_window_extent(renderer).height / len(rows)
    assert len(ax.texts) == len(rows) * len(columns)
    for text in ax.texts:  # "100.0" fits its cell with room to spare, so no number touches its neighbour
        box = text.get_window_extent(renderer)
        assert box.width < 0.9 * cell_w and box.height < 0.9 * cell_h and text.get_fontsize() >= 7
    labels = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
    assert not any(a.overlaps(b) for a, b in zip(labels, labels[1:], strict=False))
    plt.close(fig)


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_fedodds_chart_of_one_meeting_is_bars_each_carrying_its_percentage(
    services: Services, figures: list[Figure], lang: str
) -> None:
    _, reply = await ask(services, "/fedodds 2026-12 chart", lang=lang, asof=date(2026, 9, 17))
    assert reply.chart is not None and reply.chart.png[:4] == b"\x89PNG"
    ax = figures[-1].axes[0]
    assert "2026-12-09" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3.75–4.00", "4.00–4.25", "4.25–4.50"]
    assert [t.get_text() for t in ax.texts] == ["11.0%", "47.3%", "41.7%"]
    assert [round(bar.get_height(), 1) for bar in ax.patches] == [11.0, 47.3, 41.7]


def missing_from_shipped_font(chars: set[str]) -> list[str]:
    """The CJK characters of ``chars`` that the shipped subset cannot draw, sorted."""
    cmap = TTFont(str(charts.CJK_FONT_FILE), lazy=True).getBestCmap()
    return sorted(c for c in chars if font_subset.is_cjk(c) and ord(c) not in cmap)


def test_shipped_cjk_font_covers_every_cjk_character_of_the_zh_hant_catalog() -> None:
    missing = missing_from_shipped_font(font_subset.catalog_chars())
    assert missing == [], (
        f"zh-Hant translations use {len(missing)} character(s) the chart font lacks: {''.join(missing)}; "
        "regenerate it with `python scripts/font_subset.py` (source: `apt-get install fonts-noto-cjk`) "
        "and commit bot/fonts/"
    )


def test_shipped_cjk_font_check_names_a_character_the_subset_lacks() -> None:
    # U+9F98 is a rare ideograph no capgap string uses: the check above must report it, not pass.
    assert missing_from_shipped_font({"羅", "素", "龘", "A"}) == ["龘"]


def test_cjk_font_is_the_shipped_subset_loaded_from_the_package() -> None:
    assert charts.CJK_FONT_FILE.parent == Path(charts.__file__).resolve().parent.parent / "fonts"
    assert charts.CJK_FONT_FILE.name == font_subset.FONT_FILE
    assert charts.cjk_font() == font_subset.FAMILY
    licence = (charts.CJK_FONT_FILE.parent / "OFL.txt").read_text()
    assert licence.count("SIL OPEN FONT LICENSE Version 1.1") == 1


@pytest.mark.parametrize(("text", "asof"), ZH_CHARTS, ids=[text for text, _ in ZH_CHARTS])
async def test_zh_hant_chart_draws_chinese_labels_with_no_missing_glyph(
    services: Services, figures: list[Figure], text: str, asof: date
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # matplotlib warns once per missing glyph: see them all
        _, reply = await ask(services, text, lang="zh-Hant", asof=asof)
    assert reply.chart is not None
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == [], f"{text}: glyphs fell back to boxes: {missing}"
    fig = figures[-1]
    assert font_subset.FAMILY in fig.axes[0].title.get_fontfamily()
    assert any(font_subset.is_cjk(c) for c in fig.axes[0].get_title()), "the title is not in Chinese"


def test_zh_hant_chart_glyph_check_catches_a_character_no_font_has(figures: list[Figure]) -> None:
    # The same check on a title with a glyph neither font has: the warning the test above relies on.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.draw("zh-Hant", charts.line_figure, {}, title="羅素 龘", xlabel="日", ylabel="%", source="來源")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing and all("CJK UNIFIED IDEOGRAPH-9F98" in m for m in missing), missing
