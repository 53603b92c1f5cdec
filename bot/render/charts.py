"""Charts: matplotlib with the Agg backend, rendered off the event loop, PNG bytes out.

zh-Hant labels are drawn with the CJK font shipped in bot/fonts/: a subset of Noto Sans CJK TC (SIL OFL
1.1) holding the glyphs of the zh-Hant catalog, made by scripts/font_subset.py. It is registered with
matplotlib from the package on first use, so every machine (a fresh clone, CI, the image) draws the same
Chinese labels without a system font. DejaVu Sans (bundled with matplotlib) follows it in the family list
for the few symbols the subset lacks. Every chart has a title, axis labels and a source line.

A renderer builds a Figure (``line_figure`` and the others here, or its own) and gets its PNG with
``draw(lang, figure, ...)``, or makes it inside ``styled(lang)`` and ends with ``png(fig)``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
CJK_FONT_FILE = FONT_DIR / "capgap-NotoSansCJKtc-Regular-subset.otf"
T = TypeVar("T")
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of the shipped CJK font, registered with matplotlib; None if the file is missing."""
    if not CJK_FONT_FILE.is_file():  # only a broken install: the font is package data
        log.warning("CJK chart font %s is missing: zh-Hant charts fall back to English labels", CJK_FONT_FILE)
        return None
    font_manager.fontManager.addfont(str(CJK_FONT_FILE))
    return font_manager.FontProperties(fname=str(CJK_FONT_FILE)).get_name()


def chart_lang(lang: str) -> str:
    """The language chart labels can be drawn in: zh-Hant only when its font loaded."""
    return lang if lang != "zh-Hant" or cjk_font() else "en"


def _style(lang: str) -> Any:  # rc parameters; matplotlib types their keys as literals
    family = ["DejaVu Sans"]
    if lang == "zh-Hant" and cjk_font():
        family = [cjk_font(), "DejaVu Sans"]  # type: ignore[list-item]
    return {"font.family": family, "axes.unicode_minus": False, "figure.dpi": 110}


@contextmanager
def styled(lang: str) -> Iterator[None]:
    """Figures made inside use the chart style of ``lang`` (its fonts: the CJK subset for zh-Hant)."""
    with plt.rc_context(_style(lang)):
        yield


def draw(lang: str, figure: Callable[..., Figure], /, *args: Any, **kwargs: Any) -> bytes:
    """``figure(*args, **kwargs)`` drawn in the chart style of ``lang``, as PNG bytes."""
    with styled(lang):
        return png(figure(*args, **kwargs))


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


# Space between the lowest thing the axes draw (tick labels, the x-axis label) and the source line.
SOURCE_GAP_PX = 6


def _decorate(fig: Figure, ax: Any, *, title: str, xlabel: str, ylabel: str, source: str) -> Any:
    """Title, axis labels, grid and the source line; returns the source line's Text.

    The source line goes under everything the axes draw, measured after layout: rotated tick labels
    and the x-axis label reach a different depth on every chart, so a fixed position overlaps them.
    """
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()  # type: ignore[no-untyped-call]  # Agg draws charts
    bottom = ax.get_tightbbox(renderer).y0 - SOURCE_GAP_PX  # display pixels
    y = fig.transFigure.inverted().transform((0, bottom))[1]
    return fig.text(0.01, y, source, fontsize=7, color="#555555", ha="left", va="top")


def line_figure(
    series: Mapping[str, pd.Series], *, title: str, xlabel: str, ylabel: str, source: str, zero_line: bool = False
) -> Figure:
    """One line per labelled series over a date index (draw it with ``draw``)."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for label, values in series.items():
        ax.plot(values.index, values.to_numpy(), label=label, linewidth=1.4)
    if zero_line:
        ax.axhline(0, color="#888888", linewidth=0.8)
    if len(series) > 1:
        ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    _decorate(fig, ax, title=title, xlabel=xlabel, ylabel=ylabel, source=source)
    return fig


def grouped_bar_figure(
    groups: Sequence[tuple[str, Mapping[str, float]]], *, title: str, xlabel: str, ylabel: str, source: str,
    value_format: str | None = None,
) -> Figure:
    """Bars per category inside each group (e.g. probability by target range for each meeting); with
    ``value_format`` (e.g. "{:.1f}%") each bar carries its value."""
    categories: list[str] = []
    for _, values in groups:
        for key in values:
            if key not in categories:
                categories.append(key)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / max(1, len(groups))
    for index, (label, values) in enumerate(groups):
        xs = [c + index * width for c in range(len(categories))]
        bars = ax.bar(xs, [values.get(c, 0.0) for c in categories], width=width, label=label)
        if value_format is not None:
            ax.bar_label(bars, fmt=value_format, fontsize=8, padding=2)
            ax.margins(y=0.1)  # room above the tallest bar for its value
    ax.set_xticks([c + width * (len(groups) - 1) / 2 for c in range(len(categories))])
    ax.set_xticklabels(categories, rotation=30, ha="right", fontsize=8)
    if len(groups) > 1:
        ax.legend(loc="best", fontsize=8)
    _decorate(fig, ax, title=title, xlabel=xlabel, ylabel=ylabel, source=source)
    return fig


def heatmap_figure(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    cells: Sequence[Sequence[str]],
    title: str,
    xlabel: str,
    ylabel: str,
    colorbar: str,
    source: str,
    limits: tuple[float, float] = (0.0, 100.0),
) -> Figure:
    """A table in colour: one row per ``rows`` label, one column per ``columns`` label, each cell shaded
    by its value (None: left blank) and carrying its text from ``cells``; a colour scale beside it. Sized
    by the table, so a dozen rows and columns keep their numbers readable."""
    grid = np.ma.masked_invalid(np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float))
    fig, ax = plt.subplots(figsize=(min(14.0, max(8.0, 2.5 + 0.75 * len(columns))), max(3.2, 1.8 + 0.42 * len(rows))))
    low, high = limits
    image = ax.imshow(grid, cmap="Blues", vmin=low, vmax=high, aspect="auto")
    fontsize = 8 if len(columns) <= 10 else 7
    for i, row in enumerate(cells):
        for j, text in enumerate(row):
            if text:
                dark = grid[i, j] is not np.ma.masked and grid[i, j] > low + 0.6 * (high - low)
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color="white" if dark else "#222222")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    fig.colorbar(image, ax=ax, label=colorbar, fraction=0.03, pad=0.02)
    _decorate(fig, ax, title=title, xlabel=xlabel, ylabel=ylabel, source=source)
    ax.grid(False)  # cell borders would cut through the numbers
    return fig


async def render(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Render in a worker thread: matplotlib is slow and must not block the event loop."""

    def locked() -> T:
        with _RENDER_LOCK:  # pyplot's state is process-global: one chart at a time
            return fn(*args, **kwargs)

    return await asyncio.to_thread(locked)


_RENDER_LOCK = threading.Lock()
