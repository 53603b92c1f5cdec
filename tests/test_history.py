"""History in the store: one contract on SQLite (a real file) and on a real Redis."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.clock import FixedClock
from bot.history import (
    STRIPS,
    HistoryCorrupt,
    HistoryStore,
    compare_overlap,
    decode_chunk,
    encode_chunk,
    export_csv,
    load_all,
    truncate,
)
from bot.market import Market
from bot.sources.base import Strip
from bot.sources.csvfile import read_series_csv
from bot.store.history_redis import RedisHistory
from bot.store.history_sqlite import SqliteHistory
from tests.conftest import REPO

Opener = Callable[[], HistoryStore]
FETCHED = datetime(2026, 2, 21, 1, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "redis"])
def backend_spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(kind, where, prefix): a SQLite file path, or a Redis URL and a key prefix of this test alone."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "capgap.sqlite3"), ""
    return "redis", request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")


def open_backend(spec: tuple[str, str, str]) -> SqliteHistory | RedisHistory:
    kind, where, prefix = spec
    return SqliteHistory(Path(where)) if kind == "sqlite" else RedisHistory(where, prefix=prefix)


@pytest.fixture
def opener(backend_spec: tuple[str, str, str]) -> Iterator[Opener]:
    """Opens stores that all see the same history (same file / same prefix), like separate processes."""
    opened: list[HistoryStore] = []

    def make() -> HistoryStore:
        store = HistoryStore(open_backend(backend_spec))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def bars(start: str, periods: int, first: float = 100.0) -> pd.DataFrame:
    days = pd.DatetimeIndex(pd.bdate_range(start, periods=periods).as_unit("ns"), name="date", freq=None)
    close = first + np.arange(periods, dtype=float)
    return pd.DataFrame({"open": close - 1, "high": close + 1, "low": close - 2, "close": close,
                         "volume": np.full(periods, 1e6)}, index=days)


# reading and writing -------------------------------------------------------------------------------
def test_history_write_then_load_in_another_store_equal_frames(opener: Opener, shared_data: Path) -> None:
    frame = read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame
    opener().write("RUT", frame, source="csv:RUT_yahoo_alitalbi.csv", fetched_at=FETCHED)
    other = opener()
    pd.testing.assert_frame_equal(other.load("RUT"), frame)
    meta = other.meta("RUT")
    assert meta is not None
    assert (meta.rows, meta.first, meta.last) == (len(frame), date(1987, 9, 10), frame.index[-1].date())
    assert (meta.source, meta.fetched_at) == ("csv:RUT_yahoo_alitalbi.csv", FETCHED)
    assert other.names() == ["RUT"] and other.last_date("RUT") == frame.index[-1].date()


def test_history_unknown_series_none(opener: Opener) -> None:
    store = opener()
    assert store.load("RUT") is None and store.meta("RUT") is None and store.last_date("RUT") is None
    assert store.names() == [] and store.revision() == {} and store.strips() == {}


def test_history_write_normalises_unsorted_duplicated_tz_aware_dates(opener: Opener) -> None:
    days = pd.DatetimeIndex(["2024-01-03 16:00", "2024-01-02 16:00", "2024-01-03 09:30"], tz="America/New_York")
    store = opener()
    store.write("X", pd.DataFrame({"value": [1.0, 2.0, 3.0]}, index=days), source="t", fetched_at=None)
    got = opener().load("X")
    assert got is not None
    assert list(got.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert got["value"].tolist() == [2.0, 3.0]  # the last row of a date wins
    assert got.index.name == "date" and got.index.tz is None and got.index.dtype == "datetime64[ns]"


def test_history_upsert_counts_added_and_revised_and_keeps_earlier_rows(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2019-12-02", 40), source="csv", fetched_at=None)
    overlap = bars("2019-12-02", 45).iloc[35:].copy()
    overlap.loc[overlap.index[0], "close"] = 999.0  # a vendor revision of a stored close
    result = store.upsert("RUT", overlap, source="yahoo", fetched_at=FETCHED)
    assert (result.added, result.revised, result.rows) == (5, 1, 45)
    got = opener().load("RUT")
    assert got is not None and len(got) == 45 and got["close"].iloc[35] == 999.0
    pd.testing.assert_frame_equal(got.iloc[:35], bars("2019-12-02", 35))
    meta = opener().meta("RUT")
    assert meta is not None and (meta.rows, meta.source, meta.last) == (45, "yahoo", got.index[-1].date())


def test_history_upsert_of_stored_rows_writes_nothing(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2020-01-02", 10), source="csv", fetched_at=None)
    before = store.revision()
    result = store.upsert("RUT", bars("2020-01-02", 10).iloc[-3:], source="yahoo", fetched_at=FETCHED)
    assert (result.added, result.revised, result.rows) == (0, 0, 10)
    assert store.revision() == before
    assert store.meta("RUT").source == "csv"  # type: ignore[union-attr]


def test_history_upsert_new_column_fills_earlier_rows_with_nan(opener: Opener) -> None:
    store = opener()
    store.write("SPY", bars("2020-01-02", 5).drop(columns="volume"), source="csv", fetched_at=None)
    newer = bars("2020-01-02", 7).iloc[5:].assign(adjclose=lambda f: f["close"])
    store.upsert("SPY", newer, source="yahoo", fetched_at=None)
    got = opener().load("SPY")
    assert got is not None
    assert list(got.columns) == ["open", "high", "low", "close", "adjclose", "volume"]
    assert got["adjclose"].isna().sum() == 5 and got["adjclose"].iloc[-1] == got["close"].iloc[-1]


def test_history_upsert_into_empty_series_writes_it(opener: Opener) -> None:
    result = opener().upsert("QQQ", bars("2020-01-02", 3), source="yahoo", fetched_at=None)
    assert (result.added, result.revised, result.rows) == (3, 0, 3)
    pd.testing.assert_frame_equal(opener().load("QQQ"), bars("2020-01-02", 3))


def test_history_bad_series_name_refused(opener: Opener) -> None:
    with pytest.raises(ValueError, match="bad series name"):
        opener().write("../RUT", bars("2020-01-02", 3), source="csv", fetched_at=None)
    with pytest.raises(ValueError, match="bad series name"):
        opener().write(STRIPS, bars("2020-01-02", 3), source="csv", fetched_at=None)


def test_history_delete_removes_series_and_revision(opener: Opener) -> None:
    store = opener()
    store.write("PE_SPY", pd.DataFrame({"value": [27.0]}, index=pd.DatetimeIndex(["2025-12-31"])), source="t", fetched_at=None)
    assert store.delete("PE_SPY") is True
    assert opener().load("PE_SPY") is None and "PE_SPY" not in store.revision()
    assert store.delete("PE_SPY") is False


# revisions and readers that reload ------------------------------------------------------------------
def test_history_revision_changes_with_each_write_of_that_series_only(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    store.write("NDX", bars("2020-01-02", 5), source="csv", fetched_at=None)
    first = opener().revision()
    store.upsert("RUT", bars("2020-01-02", 6).iloc[-1:], source="yahoo", fetched_at=None)
    second = opener().revision()
    assert second["RUT"] != first["RUT"] and second["NDX"] == first["NDX"]


def test_history_reader_reloads_only_chunks_another_store_changed(opener: Opener, shared_data: Path) -> None:
    frame = read_series_csv(shared_data / "indices/SPY_yahoo_alitalbi.csv", "SPY").frame
    writer, reader = opener(), opener()
    writer.write("SPY", frame.iloc[:-1], source="csv", fetched_at=None)
    rev = reader.revision()["SPY"]
    pd.testing.assert_frame_equal(reader.series("SPY", rev)[0], frame.iloc[:-1])  # type: ignore[index]
    writer.upsert("SPY", frame.iloc[-3:], source="yahoo", fetched_at=FETCHED)
    reads: list[int] = []
    read = reader.backend.read
    reader.backend.read = lambda name, have: (lambda r: reads.append(len(r.blobs)) or r)(read(name, have))  # type: ignore[method-assign,func-returns-value]
    got, meta = reader.series("SPY", reader.revision()["SPY"])  # type: ignore[misc]
    pd.testing.assert_frame_equal(got, frame)
    assert meta.last == frame.index[-1].date() and reads == [1]  # the current decade's chunk, not all four


def test_history_series_at_held_revision_reads_nothing(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    rev = store.revision()["RUT"]
    store.series("RUT", rev)
    store.backend.read = None  # type: ignore[assignment,method-assign]  # any read now fails the test
    got = store.series("RUT", rev)
    assert got is not None and got[0]["close"].iloc[-1] == 104.0


def test_history_concurrent_writers_of_one_series_lose_no_row(opener: Opener) -> None:
    """Writers in separate connections (as separate processes would be) append disjoint dates to one
    series at once: every row is stored and the count in the record agrees."""
    opener().write("RUT", bars("2000-01-03", 10), source="csv", fetched_at=None)
    days = bars("2000-01-03", 10 + 4 * 25)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        store = opener()
        try:
            for i in range(25):
                k = 10 + i * 4 + worker
                store.upsert("RUT", days.iloc[k : k + 1], source=f"w{worker}", fetched_at=None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = opener().load("RUT")
    pd.testing.assert_frame_equal(got, days)
    assert opener().meta("RUT").rows == len(days)  # type: ignore[union-attr]


_CRASH = """
import os, sys
import pandas as pd
import bot.store.history_{kind} as backend_module
from bot.history import HistoryStore
from bot.store.history_{kind} import {cls}

def die(*args, **kwargs):
    os._exit(3)  # killed after the data statements of the write and before its revision

backend_module._write_revision = die
store = HistoryStore({cls}(*sys.argv[1:2], **({{"prefix": sys.argv[2]}} if "{kind}" == "redis" else {{}})))
days = pd.bdate_range("2020-01-02", periods=30)
store.upsert("RUT", pd.DataFrame({{"close": [500.0] * 30}}, index=days), source="crash", fetched_at=None)
"""


def test_history_crash_between_data_and_revision_leaves_nothing_visible(
    backend_spec: tuple[str, str, str], opener: Opener
) -> None:
    kind, where, prefix = backend_spec
    store = opener()
    store.write("RUT", bars("2020-01-02", 20), source="csv", fetched_at=None)
    before = store.revision()
    script = _CRASH.format(kind=kind, cls="SqliteHistory" if kind == "sqlite" else "RedisHistory")
    proc = subprocess.run([sys.executable, "-c", script, where, prefix], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 3, proc.stderr.decode()
    after = opener()
    assert after.revision() == before
    pd.testing.assert_frame_equal(after.load("RUT"), bars("2020-01-02", 20))
    assert after.meta("RUT").source == "csv"  # type: ignore[union-attr]
    assert after.upsert("RUT", bars("2020-01-02", 21).iloc[-1:], source="y", fetched_at=None).rows == 21


def test_history_damaged_chunk_raises_corrupt_and_market_keeps_other_series(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    store.write("NDX", bars("2020-01-02", 5), source="csv", fetched_at=None)
    store.backend._conn.execute("UPDATE history_chunks SET data = ? WHERE name = 'NDX'", (b"\x93NUMPY garbage",))  # type: ignore[attr-defined]
    with pytest.raises(HistoryCorrupt, match="history of NDX is corrupt"):
        HistoryStore(tmp_path).load("NDX")
    snap = Market(HistoryStore(tmp_path), FixedClock(datetime(2020, 1, 9, 1, 0, tzinfo=UTC))).reload()
    assert snap.close("RUT").iloc[-1] == 104.0 and "NDX" not in snap.frames
    assert "history of NDX is corrupt" in (snap.status["NDX"].last_error or "")


def test_history_chunk_is_a_standard_npy_structured_array(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars("2020-01-02", 3), source="csv", fetched_at=None)
    import io
    import sqlite3

    with sqlite3.connect(tmp_path / "capgap.sqlite3") as conn:
        year, blob = conn.execute("SELECT year, data FROM history_chunks WHERE name = 'RUT'").fetchone()
    array = np.load(io.BytesIO(blob), allow_pickle=False)
    assert year == 2020 and array.dtype.names == ("date", "open", "high", "low", "close", "volume")
    assert array["date"].tolist() == [date(2020, 1, 2), date(2020, 1, 3), date(2020, 1, 6)]
    assert array["close"].tolist() == [100.0, 101.0, 102.0]
    saved = io.BytesIO()
    np.save(saved, array, allow_pickle=False)
    assert saved.getvalue() == bytes(blob)  # byte for byte what numpy itself writes


def test_history_chunk_outside_its_decade_is_corrupt() -> None:
    rows = decode_chunk("RUT", 2020, encode_chunk(decode_chunk("RUT", 2020, _blob(bars("2021-01-04", 3)))))
    assert len(rows) == 3
    with pytest.raises(HistoryCorrupt, match="outside their chunk"):
        decode_chunk("RUT", 2010, _blob(bars("2021-01-04", 3)))


def test_history_chunks_of_an_older_layout_load_with_nan_in_the_new_column(opener: Opener) -> None:
    store = opener()
    store.write("SPY", bars("2019-12-02", 30), source="csv", fetched_at=None)
    store.upsert("SPY", bars("2020-02-03", 2).assign(adjclose=7.0), source="yahoo", fetched_at=None)
    got = opener().load("SPY")
    assert got is not None and len(got) == 32 and got["adjclose"].notna().sum() == 2


def _blob(frame: pd.DataFrame) -> bytes:
    from bot.history import _normalise

    return encode_chunk(_normalise(frame))


# strips ---------------------------------------------------------------------------------------------
def test_history_strips_replaced_per_trade_date_with_their_source(opener: Opener) -> None:
    store = opener()
    may, jun = date(2026, 5, 1), date(2026, 6, 1)
    store.put_strip(Strip(date(2026, 4, 1), {may: 96.1, jun: 96.2}, source="cme"))
    store.put_strip(Strip(date(2026, 4, 2), {may: 96.3}, source="csv:zq.csv", fetched_at=FETCHED))
    store.put_strip(Strip(date(2026, 4, 1), {jun: 96.25}, source="yahoo"))
    strips = opener().strips()
    assert list(strips) == [date(2026, 4, 1), date(2026, 4, 2)]
    assert strips[date(2026, 4, 1)] == Strip(date(2026, 4, 1), {jun: 96.25}, source="yahoo")
    assert strips[date(2026, 4, 2)] == Strip(date(2026, 4, 2), {may: 96.3}, source="csv:zq.csv", fetched_at=FETCHED)
    meta = opener().meta(STRIPS)
    assert meta is not None and (meta.rows, meta.first, meta.last) == (2, date(2026, 4, 1), date(2026, 4, 2))
    assert STRIPS in store.revision() and store.names() == []


# market: reload when another process wrote -----------------------------------------------------------
def test_market_reload_if_changed_sees_another_writer_and_rebuilds_only_then(opener: Opener) -> None:
    opener().write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    market = Market(opener(), FixedClock(datetime(2020, 1, 9, 23, 0, tzinfo=UTC)))
    assert market.snapshot.close("RUT").iloc[-1] == 104.0
    assert market.reload_if_changed() is False
    opener().upsert("RUT", bars("2020-01-02", 6).iloc[-1:].assign(close=2500.0), source="csv", fetched_at=None)
    assert market.reload_if_changed() is True
    assert market.snapshot.close("RUT").iloc[-1] == 2500.0
    assert market.reload_if_changed() is False
    opener().put_strip(Strip(date(2020, 1, 9), {date(2020, 2, 1): 98.4}, source="cme"))
    assert market.reload_if_changed() is True and list(market.snapshot.strips) == [date(2020, 1, 9)]


def test_market_reload_if_changed_rebuilds_when_a_session_passed(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    clock = FixedClock(datetime(2020, 1, 8, 23, 0, tzinfo=UTC))
    market = Market(store, clock)
    assert market.snapshot.asof == date(2020, 1, 8)
    clock.advance(days=1)
    assert market.reload_if_changed() is True and market.snapshot.asof == date(2020, 1, 9)


# helpers used by the CLI ----------------------------------------------------------------------------
def test_compare_overlap_etf_for_index_far_beyond_tolerance(shared_data: Path) -> None:
    rut = read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame
    iwm = read_series_csv(shared_data / "indices/IWM_yahoo_alitalbi.csv", "RUT").frame
    other_vendor = read_series_csv(shared_data / "indices/RUT_yahoo_hjyssg.csv", "RUT").frame
    wrong = compare_overlap(rut, iwm)
    assert wrong.too_large and wrong.dates == 6472 and wrong.median_change > 0.5
    right = compare_overlap(rut, other_vendor)
    assert not right.too_large and right.dates > 9000 and right.median_change < 0.001
    assert compare_overlap(rut.iloc[:10], rut.iloc[20:]).dates == 0


def test_export_csv_reads_back_as_the_same_frame(tmp_path: Path, shared_data: Path) -> None:
    for name, rel in (("RUT", "indices/RUT_yahoo_hjyssg.csv"), ("DGS10", "fred/DGS10_jonsflow.csv")):
        frame = read_series_csv(shared_data / rel, name).frame
        path = tmp_path / f"{name}.csv"
        path.write_text(export_csv(frame))
        pd.testing.assert_frame_equal(read_series_csv(path, name).frame, frame, check_freq=False)


def test_load_all_and_truncate(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    store.write("DGS10", pd.DataFrame({"value": [1.9]}, index=pd.DatetimeIndex(["2020-01-02"])), source="fred", fetched_at=None)
    frames = load_all(opener())
    assert sorted(frames) == ["DGS10", "RUT"]
    assert truncate(frames["RUT"], date(2020, 1, 6))["close"].tolist() == [100.0, 101.0, 102.0]
    assert truncate(frames["RUT"], date(2030, 1, 1)) is frames["RUT"]


def test_history_writer_keeps_what_it_wrote_and_reads_nothing_back(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2019-12-02", 30), source="csv", fetched_at=None)
    store.upsert("RUT", bars("2019-12-02", 33).iloc[-4:], source="yahoo", fetched_at=FETCHED)
    store.backend.read = None  # type: ignore[assignment,method-assign]  # any read now fails the test
    got = store.series("RUT", store.revision()["RUT"])
    assert got is not None
    pd.testing.assert_frame_equal(got[0], bars("2019-12-02", 33))
    assert (got[1].rows, got[1].source, got[1].fetched_at) == (33, "yahoo", FETCHED)
    pd.testing.assert_frame_equal(opener().load("RUT"), bars("2019-12-02", 33))


def test_history_strips_read_by_range_of_dates_and_reaching_a_month(opener: Opener) -> None:
    store = opener()
    months = [date(2026, m, 1) for m in range(4, 9)]
    for day, last in ((date(2026, 4, 1), 2), (date(2026, 4, 2), 5), (date(2026, 4, 6), 3), (date(2026, 4, 7), 1)):
        store.put_strip(Strip(day, {m: 96.0 for m in months[:last]}, source="cme"))
    other = opener()
    assert other.strip_span() == (date(2026, 4, 1), date(2026, 4, 7))
    assert other.strip_dates(first=date(2026, 4, 2), last=date(2026, 4, 6)) == [date(2026, 4, 2), date(2026, 4, 6)]
    assert list(other.strips(first=date(2026, 4, 2))) == [date(2026, 4, 2), date(2026, 4, 6), date(2026, 4, 7)]
    assert list(other.strips(last=date(2026, 4, 5), reaching=date(2026, 6, 1))) == [date(2026, 4, 2)]
    assert list(other.strips(reaching=date(2026, 6, 1))) == [date(2026, 4, 2), date(2026, 4, 6)]


def test_history_redis_strips_stored_before_the_date_index_are_indexed_once(redis_url: str, redis_prefix: str) -> None:
    store = HistoryStore(RedisHistory(redis_url, prefix=redis_prefix))
    store.put_strips([Strip(date(2026, 4, d), {date(2026, 5, 1): 96.0}, source="cme") for d in (1, 2, 6)])
    store.backend.client.delete(f"{redis_prefix}hist:stripdays")  # type: ignore[attr-defined]
    later = HistoryStore(RedisHistory(redis_url, prefix=redis_prefix))
    assert later.strip_span() == (date(2026, 4, 1), date(2026, 4, 6))
    assert list(later.strips(first=date(2026, 4, 2))) == [date(2026, 4, 2), date(2026, 4, 6)]
    store.close()
    later.close()


def test_history_metas_of_several_series_in_one_read_equal_each_meta(opener: Opener) -> None:
    store = opener()
    store.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=FETCHED)
    store.write("NDX", bars("2021-03-01", 3), source="yahoo", fetched_at=None)
    other = opener()
    assert other.metas(["NDX", "GONE", "RUT"]) == {"NDX": other.meta("NDX"), "RUT": other.meta("RUT")}
    assert other.metas([]) == {}


def test_history_upsert_merges_onto_what_another_writer_stored_after_this_store_read_it(opener: Opener) -> None:
    """An upsert merges onto the chunk it holds in memory only while that is the stored revision: after
    another process's write it merges onto what that write left."""
    mine, theirs = opener(), opener()
    mine.write("RUT", bars("2020-01-02", 5), source="csv", fetched_at=None)
    mine.upsert("RUT", bars("2020-01-02", 6).iloc[-1:], source="yahoo", fetched_at=None)  # onto its own write
    theirs.upsert("RUT", bars("2020-01-02", 7).iloc[-1:].assign(close=777.0), source="yahoo", fetched_at=None)
    result = mine.upsert("RUT", bars("2020-01-02", 8).iloc[-1:], source="yahoo", fetched_at=None)
    assert (result.added, result.rows) == (1, 8)
    stored = opener().load("RUT")
    assert stored is not None and stored["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 777.0, 107.0]
    pd.testing.assert_frame_equal(mine.load("RUT"), stored)  # type: ignore[arg-type]
