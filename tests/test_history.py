"""The Parquet history store: round trips, upserts, atomic replacement, strips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot.history import HistoryStore
from bot.sources.base import Strip

NOW = datetime(2026, 2, 24, 22, 0, tzinfo=UTC)


def bars(days: list[str], closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"close": closes}, index=pd.DatetimeIndex(pd.to_datetime(days), name="date"))


def test_history_write_then_load_round_trips_values_and_meta(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19", "2026-02-20"], [2650.0, 2663.78]), source="yahoo", fetched_at=NOW)
    frame = store.load("RUT")
    assert frame is not None and frame["close"].tolist() == [2650.0, 2663.78]
    meta = store.meta("RUT")
    assert meta is not None and meta.source == "yahoo" and meta.last == date(2026, 2, 20) and meta.fetched_at == NOW


def test_history_upsert_appends_new_dates_and_revises_overlap(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-18", "2026-02-19"], [1.0, 2.0]), source="csv", fetched_at=NOW)
    result = store.upsert("RUT", bars(["2026-02-19", "2026-02-20"], [2.5, 3.0]), source="yahoo", fetched_at=NOW)
    assert (result.added, result.revised, result.rows) == (1, 1, 3)
    frame = store.load("RUT")
    assert frame is not None and frame["close"].tolist() == [1.0, 2.5, 3.0]
    assert not frame.index.has_duplicates


def test_history_upsert_of_identical_rows_does_not_rewrite_the_file(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19"], [2.0]), source="csv", fetched_at=NOW)
    before = (tmp_path / "RUT.parquet").stat().st_mtime_ns
    result = store.upsert("RUT", bars(["2026-02-19"], [2.0]), source="yahoo", fetched_at=NOW)
    assert (result.added, result.revised) == (0, 0)
    assert (tmp_path / "RUT.parquet").stat().st_mtime_ns == before


def test_history_write_killed_halfway_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19"], [2.0]), source="csv", fetched_at=NOW)

    import pyarrow.parquet as pq

    def dies(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(pq, "write_table", dies)
    with pytest.raises(KeyboardInterrupt):
        store.write("RUT", bars(["2026-02-19", "2026-02-20"], [2.0, 3.0]), source="csv", fetched_at=NOW)
    frame = store.load("RUT")
    assert frame is not None and frame["close"].tolist() == [2.0]
    assert [p.name for p in tmp_path.iterdir()] == ["RUT.parquet"]  # no temporary file left behind


def test_history_rejects_path_like_series_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        HistoryStore(tmp_path).load("../etc/passwd")


def test_history_put_strip_replaces_the_same_trade_date(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.put_strip(Strip(date(2026, 9, 17), {date(2026, 9, 1): 96.25, date(2026, 10, 1): 96.1}, "cme"))
    store.put_strip(Strip(date(2026, 9, 17), {date(2026, 9, 1): 96.2525}, "cme"))
    store.put_strip(Strip(date(2026, 9, 16), {date(2026, 9, 1): 96.2}, "cme"))
    strips = store.strips()
    assert list(strips) == [date(2026, 9, 16), date(2026, 9, 17)]
    assert strips[date(2026, 9, 17)].settles == {date(2026, 9, 1): 96.2525}
    assert "ZQ_STRIPS" not in store.names()
