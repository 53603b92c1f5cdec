"""The pieces every reply shares (bot/render/text.py): series are named as readers know them."""

from __future__ import annotations

from datetime import date

from bot.market import SeriesStatus
from bot.render.text import sources_line, stale_lines

STRIPS = SeriesStatus("ZQ_STRIPS", "cme", date(2026, 9, 10), None, stale=True)
ODDS = SeriesStatus("CUTPROB_NEXT", "cme", date(2026, 9, 10), None, stale=True)
RUT = SeriesStatus("RUT", "yahoo", date(2026, 9, 17), None, stale=False)


def test_sources_line_with_internal_series_names_them_as_readers_know_them() -> None:
    line = sources_line([RUT, STRIPS, ODDS], date(2026, 9, 17), "en")
    assert "Yahoo Finance (RUT)" in line and "CME settlements (ZQ, cut odds history)" in line
    assert "ZQ_STRIPS" not in line and "CUTPROB_NEXT" not in line
    assert "降息機率歷史" in sources_line([ODDS], date(2026, 9, 17), "zh-Hant")


def test_stale_lines_with_internal_series_name_them_as_readers_know_them() -> None:
    lines = stale_lines([STRIPS, ODDS, RUT], "en")
    assert lines == ["⚠️ ZQ data is stale: last close 2026-09-10.", "⚠️ cut odds history data is stale: last close 2026-09-10."]
