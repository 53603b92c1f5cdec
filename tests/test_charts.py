"""Every chart opens as a PNG and has a title, axis labels and a source line; zh-Hant never draws tofu."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from matplotlib.figure import Figure

from bot.render import charts
from handlers.base import Services
from tests.commands_data import ask, import_real_data, services_for


@pytest.fixture(scope="module")
def services(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    tmp = tmp_path_factory.mktemp("charts")
    return services_for(import_real_data(shared_data, tmp / "history"), date(2026, 9, 17), tmp)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    seen: list[Figure] = []
    real_png = charts._png

    def capture(fig: Figure) -> bytes:
        seen.append(fig)
        return real_png(fig)

    monkeypatch.setattr(charts, "_png", capture)
    return seen


@pytest.mark.parametrize("text", ["/r2k chart ytd", "/r2k chart 5y", "/spread 1y", "/fedodds 3 chart"])
@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
async def test_chart_opens_and_has_title_axis_labels_and_source(services: Services, figures: list[Figure], text: str, lang: str) -> None:
    asof = date(2026, 9, 17) if text.startswith("/fedodds") else date(2025, 12, 31)
    _, reply = await ask(services, text, lang=lang, asof=asof)
    assert reply.chart is not None
    image = mpimg.imread(io.BytesIO(reply.chart.png), format="png")
    assert image.shape[0] > 200 and image.shape[1] > 400
    fig = figures[-1]
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any("2025-12-31" in t.get_text() or "2026-09-17" in t.get_text() for t in fig.texts)


async def test_zh_hant_chart_labels_are_chinese_only_with_a_cjk_font(services: Services, figures: list[Figure]) -> None:
    _, reply = await ask(services, "/spread", lang="zh-Hant", asof=date(2025, 12, 31))
    title = figures[-1].axes[0].get_title()
    if charts.cjk_font() is None:
        assert title.isascii()  # English labels rather than tofu boxes
    else:
        assert "羅素" in title


async def test_fedodds_chart_of_one_meeting_names_it_and_source_clears_the_axis_label(
    services: Services, figures: list[Figure]
) -> None:
    _, reply = await ask(services, "/fedodds 2026-10 chart", lang="en", asof=date(2026, 9, 17))
    assert reply.chart is not None
    fig = figures[-1]
    ax = fig.axes[0]
    assert "2026-10-28" in ax.get_title()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the saved figure was closed: lay it out again
    source = next(t for t in fig.texts if t.get_text().startswith("Source:"))
    below = source.get_window_extent(renderer)
    for label in (ax.xaxis.label, *ax.get_xticklabels()):
        assert not below.overlaps(label.get_window_extent(renderer)), label.get_text()
    assert below.y1 < ax.xaxis.label.get_window_extent(renderer).y0
