"""The history store: base/tail round trips, upserts and revisions, compaction, crash safety, the
binary file format and its checks (a damaged file raises HistoryCorrupt), strips."""

from __future__ import annotations

import json
import struct
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.history as history
from bot.history import HistoryCorrupt, HistoryStore, UpsertResult
from bot.sources.base import Strip

NOW = datetime(2026, 2, 24, 22, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 25, 22, 0, tzinfo=UTC)


class Killed(BaseException):
    """The process dying at this point (not an error anything may catch)."""


def bars(days: list[str], closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"close": closes}, index=pd.DatetimeIndex(pd.to_datetime(days), name="date"))


def series(n: int, start: str = "2020-01-01", first: float = 1.0) -> pd.DataFrame:
    """``n`` business days of closes first, first + 1, ..."""
    days = pd.bdate_range(start, periods=n)
    return pd.DataFrame(
        {"close": first + np.arange(n, dtype="float64")}, index=pd.DatetimeIndex(days, name="date")
    )


def closes(store: HistoryStore, name: str = "RUT") -> list[float]:
    frame = store.load(name)
    assert frame is not None
    return frame["close"].tolist()


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def header(path: Path) -> dict[str, Any]:
    """The JSON header of a history file, decoded here from the documented layout."""
    magic, version, length = struct.unpack_from("<8sII", path.read_bytes())
    assert (magic, version) == (b"\x89CGHIST\n", 1)
    return json.loads(path.read_bytes()[16 : 16 + length])


def failing_write(monkeypatch: pytest.MonkeyPatch, on_call: int, error: BaseException) -> list[Path]:
    """Make the ``on_call``-th file write of the store raise ``error``; returns the paths written."""
    original = HistoryStore._atomic_write
    calls: list[Path] = []

    def write(self: HistoryStore, path: Path, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        if len(calls) == on_call:
            raise error
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(HistoryStore, "_atomic_write", write)
    return calls


# round trips -------------------------------------------------------------------------------------
def test_history_write_then_load_round_trips_values_and_meta(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19", "2026-02-20"], [2650.0, 2663.78]), source="yahoo", fetched_at=NOW)
    frame = store.load("RUT")
    assert frame is not None and frame["close"].tolist() == [2650.0, 2663.78]
    meta = store.meta("RUT")
    assert (
        meta is not None
        and meta.source == "yahoo"
        and meta.last == date(2026, 2, 20)
        and meta.fetched_at == NOW
    )


def test_history_write_normalises_dates_and_keeps_the_last_row_of_a_duplicated_date(tmp_path: Path) -> None:
    index = pd.DatetimeIndex(
        ["2026-02-20 15:30", "2026-02-19 10:00", "2026-02-20 09:00"], tz="America/New_York"
    )
    store = HistoryStore(tmp_path)
    store.write("RUT", pd.DataFrame({"close": [1, 2, 3]}, index=index), source="csv", fetched_at=None)
    frame = store.load("RUT")
    assert frame is not None
    assert frame.index.tolist() == [pd.Timestamp("2026-02-19"), pd.Timestamp("2026-02-20")]
    assert frame.index.dtype == "datetime64[ns]" and frame.index.name == "date"
    assert frame["close"].tolist() == [2.0, 3.0] and frame["close"].dtype == "float64"


def test_history_tail_and_base_round_trip_through_a_restart(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    result = store.upsert("RUT", series(101).iloc[-3:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=101)
    assert files(tmp_path) == ["RUT.cgh", "RUT.tail.cgh"]
    restarted = HistoryStore(tmp_path)
    assert closes(restarted) == [float(v) for v in range(1, 102)]
    meta = restarted.meta("RUT")
    assert meta is not None
    assert (meta.source, meta.fetched_at, meta.rows) == ("yahoo", NOW, 101)
    assert (meta.first, meta.last) == (date(2020, 1, 1), date(2020, 5, 20))
    assert restarted.last_date("RUT") == date(2020, 5, 20)
    assert restarted.names() == ["RUT"]


def test_history_upsert_rewrites_only_the_tail_never_the_base(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    base = (tmp_path / "RUT.cgh").stat()
    for k in range(1, 4):  # three daily refreshes, each re-fetching 5 sessions and one new one
        store.upsert("RUT", series(100 + k).iloc[-6:], source="yahoo", fetched_at=NOW)
    after = (tmp_path / "RUT.cgh").stat()
    assert (after.st_ino, after.st_mtime_ns) == (base.st_ino, base.st_mtime_ns)
    # The first refresh's 6 rows, then one new date each.
    assert header(tmp_path / "RUT.tail.cgh")["rows"] == 8
    assert closes(HistoryStore(tmp_path)) == [float(v) for v in range(1, 104)]


def test_history_upsert_after_a_write_reads_only_the_base_last_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    HistoryStore(tmp_path).write("RUT", series(1000), source="csv", fetched_at=None)
    blocks_read: list[list[tuple[int, int]]] = []
    real_file, real_blocks = history._read_file, history._read_blocks

    def whole_read(path: Path, kind: str) -> Any:
        if kind == "base":
            raise AssertionError("the whole base was read")
        return real_file(path, kind)

    def blocks(path: Path, part: Any, chosen: Any) -> Any:
        blocks_read.append([(lo, hi) for lo, hi, _, _ in chosen])
        return real_blocks(path, part, chosen)

    monkeypatch.setattr(history, "_read_file", whole_read)
    monkeypatch.setattr(history, "_read_blocks", blocks)
    store = HistoryStore(tmp_path)  # a restart: nothing in memory
    result = store.upsert("RUT", series(1001).iloc[-6:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=1001)
    assert blocks_read == [[(960, 1000)]]  # the last TAIL_KEEP rows, not the 960 before them
    result = store.upsert("RUT", series(1002).iloc[-6:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=1002)
    assert blocks_read == [[(960, 1000)]]  # the overlap is all in the tail now
    monkeypatch.undo()
    assert closes(HistoryStore(tmp_path)) == [float(v) for v in range(1, 1003)]


def test_history_upsert_through_the_store_that_wrote_opens_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(102).iloc[-2:], source="yahoo", fetched_at=NOW)

    def opened(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was read back")

    monkeypatch.setattr(history, "_open", opened)
    result = store.upsert("RUT", series(103).iloc[-3:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=103)
    assert closes(store)[-3:] == [101.0, 102.0, 103.0]
    assert store.last_date("RUT") == date(2020, 5, 22)


def test_history_reload_reads_only_the_series_whose_files_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = HistoryStore(tmp_path)
    writer.write("RUT", series(100), source="csv", fetched_at=None)
    writer.write("NDX", series(100), source="csv", fetched_at=None)
    reader = HistoryStore(tmp_path)
    history.load_all(reader)
    reads: list[str] = []
    real = history._read_file

    def counted(path: Path, kind: str) -> Any:
        reads.append(path.name)
        return real(path, kind)

    monkeypatch.setattr(history, "_read_file", counted)
    history.load_all(reader)
    assert reads == []  # nothing changed: every file is known by its identity
    writer.upsert("RUT", series(101).iloc[-2:], source="yahoo", fetched_at=NOW)
    frames = history.load_all(reader)
    assert sorted(reads) == ["RUT.cgh", "RUT.tail.cgh"]  # NDX is not read again
    assert frames["RUT"]["close"].iloc[-1] == 101.0 and len(frames["NDX"]) == 100


def test_history_store_sees_a_series_replaced_by_another_store(tmp_path: Path) -> None:
    reader = HistoryStore(tmp_path)
    writer = HistoryStore(tmp_path)
    writer.write("RUT", series(3), source="csv", fetched_at=None)
    assert closes(reader) == [1.0, 2.0, 3.0]
    writer.upsert("RUT", series(1, "2020-01-06", first=4.0), source="yahoo", fetched_at=NOW)
    assert closes(reader) == [1.0, 2.0, 3.0, 4.0]
    writer.write("RUT", series(2, first=10.0), source="csv", fetched_at=None)
    assert closes(reader) == [10.0, 11.0]
    assert reader.meta("RUT") is not None and reader.meta("RUT").rows == 2  # type: ignore[union-attr]


def test_history_load_returns_a_frame_whose_edits_do_not_reach_the_store(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(3), source="csv", fetched_at=None)
    frame = store.load("RUT")
    assert frame is not None
    frame.iloc[0, 0] = -1.0
    frame["extra"] = 0.0
    again = store.load("RUT")
    assert (
        again is not None
        and again.columns.tolist() == ["close"]
        and again["close"].tolist() == [1.0, 2.0, 3.0]
    )


# upserts and revisions ---------------------------------------------------------------------------
def test_history_upsert_appends_new_dates_and_revises_overlap(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-18", "2026-02-19"], [1.0, 2.0]), source="csv", fetched_at=NOW)
    result = store.upsert(
        "RUT", bars(["2026-02-19", "2026-02-20"], [2.5, 3.0]), source="yahoo", fetched_at=NOW
    )
    assert (result.added, result.revised, result.rows) == (1, 1, 3)
    frame = store.load("RUT")
    assert frame is not None and frame["close"].tolist() == [1.0, 2.5, 3.0]
    assert not frame.index.has_duplicates


def test_history_upsert_revision_of_a_row_in_the_tail_replaces_it(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(101).iloc[-1:], source="yahoo", fetched_at=NOW)
    result = store.upsert("RUT", series(1, "2020-05-20", first=101.5), source="yahoo", fetched_at=LATER)
    assert result == UpsertResult(added=0, revised=1, rows=101)
    for reader in (store, HistoryStore(tmp_path)):
        assert closes(reader)[-2:] == [100.0, 101.5]
        assert reader.meta("RUT").fetched_at == LATER  # type: ignore[union-attr]


@pytest.mark.parametrize("warm", [True, False], ids=["same-store", "after-restart"])
def test_history_upsert_revision_of_a_row_deep_in_the_base_replaces_it(tmp_path: Path, warm: bool) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(101).iloc[-1:], source="yahoo", fetched_at=NOW)
    store = store if warm else HistoryStore(tmp_path)
    # 2020-01-07 is the 5th row: in the base's first block, far before the tail.
    result = store.upsert("RUT", bars(["2020-01-07"], [5.25]), source="csv", fetched_at=NOW)
    assert result == UpsertResult(added=0, revised=1, rows=101)
    expected = [float(v) for v in range(1, 102)]
    expected[4] = 5.25
    assert closes(store) == expected
    assert closes(HistoryStore(tmp_path)) == expected


def test_history_upsert_of_a_date_before_the_first_adds_it_in_order(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(3, "2020-01-02", first=2.0), source="csv", fetched_at=None)
    result = store.upsert("RUT", bars(["2020-01-01"], [1.0]), source="csv", fetched_at=None)
    assert result == UpsertResult(added=1, revised=0, rows=4)
    assert closes(HistoryStore(tmp_path)) == [1.0, 2.0, 3.0, 4.0]
    assert HistoryStore(tmp_path).meta("RUT").first == date(2020, 1, 1)  # type: ignore[union-attr]


def test_history_upsert_with_a_new_column_leaves_it_empty_on_older_rows(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-18", "2026-02-19"], [1.0, 2.0]), source="csv", fetched_at=None)
    incoming = pd.DataFrame(
        {"close": [2.0, 3.0], "adjclose": [2.0, 3.0]},
        index=pd.DatetimeIndex(pd.to_datetime(["2026-02-19", "2026-02-20"]), name="date"),
    )
    # The stored 02-19 row had no adjclose: gaining one is a revision, as it always was.
    assert store.upsert("RUT", incoming, source="yahoo", fetched_at=NOW) == UpsertResult(
        added=1, revised=1, rows=3
    )
    frame = HistoryStore(tmp_path).load("RUT")
    assert frame is not None and frame.columns.tolist() == ["close", "adjclose"]
    assert frame["close"].tolist() == [1.0, 2.0, 3.0]
    assert frame["adjclose"].isna().tolist() == [True, False, False]


def test_history_upsert_of_identical_rows_does_not_rewrite_any_file(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19"], [2.0]), source="csv", fetched_at=NOW)
    before = (tmp_path / "RUT.cgh").stat().st_mtime_ns
    result = store.upsert("RUT", bars(["2026-02-19"], [2.0]), source="yahoo", fetched_at=NOW)
    assert (result.added, result.revised, result.rows) == (0, 0, 1)
    assert (tmp_path / "RUT.cgh").stat().st_mtime_ns == before
    assert files(tmp_path) == ["RUT.cgh"]


def test_history_upsert_into_nothing_writes_a_base(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    assert store.upsert("RUT", series(2), source="yahoo", fetched_at=NOW) == UpsertResult(
        added=2, revised=0, rows=2
    )
    assert files(tmp_path) == ["RUT.cgh"]
    assert closes(HistoryStore(tmp_path)) == [1.0, 2.0]


def test_history_write_after_upserts_replaces_the_series_and_drops_the_tail(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(50), source="csv", fetched_at=None)
    store.upsert("RUT", series(2, "2020-03-10", first=50.0), source="yahoo", fetched_at=NOW)
    store.write("RUT", series(2, first=7.0), source="csv", fetched_at=None)
    assert files(tmp_path) == ["RUT.cgh"]
    assert closes(store) == [7.0, 8.0] and closes(HistoryStore(tmp_path)) == [7.0, 8.0]


# compaction --------------------------------------------------------------------------------------
@pytest.fixture
def small_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "TAIL_MAX", 10)
    monkeypatch.setattr(history, "TAIL_KEEP", 4)


def grow(store: HistoryStore, days: int, *, start_row: int = 100) -> list[UpsertResult]:
    """``days`` daily refreshes of a series(start_row): each re-sends 2 stored sessions and one new."""
    dates = pd.bdate_range("2020-01-01", periods=start_row + days)
    out = []
    for k in range(days):
        window = dates[start_row + k - 2 : start_row + k + 1]
        frame = pd.DataFrame(
            {"close": [float(start_row + k - 1), float(start_row + k), float(start_row + k + 1)]},
            index=pd.DatetimeIndex(window, name="date"),
        )
        out.append(store.upsert("RUT", frame, source="yahoo", fetched_at=NOW))
    return out


def test_history_compaction_folds_the_tail_into_the_base_and_keeps_the_last_rows(
    tmp_path: Path, small_tail: None
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    old_base = header(tmp_path / "RUT.cgh")
    results = grow(store, 9)  # the 9th refresh takes the tail to 11 rows > TAIL_MAX
    assert [r.rows for r in results] == list(range(101, 110))
    base, tail = header(tmp_path / "RUT.cgh"), header(tmp_path / "RUT.tail.cgh")
    assert base["rows"] == 109 and tail["rows"] == 4
    assert [hi - lo for lo, hi, _, _ in base["blocks"]] == [105, 4]
    assert base["gen"] != old_base["gen"]
    assert tail["base"] == base["gen"]
    assert tail["series"] == {"rows": 109, "first": "2020-01-01", "last": "2020-06-01"}
    expected = [float(v) for v in range(1, 110)]
    assert closes(store) == expected and closes(HistoryStore(tmp_path)) == expected
    meta = HistoryStore(tmp_path).meta("RUT")
    assert meta is not None and (meta.rows, meta.source, meta.last) == (109, "yahoo", date(2020, 6, 1))


@pytest.mark.parametrize(
    ("dies_on", "expected_last"),
    [(1, 108.0), (2, 109.0), (3, 109.0)],
    ids=["tail-write", "compaction-base-write", "compaction-tail-write"],
)
def test_history_compaction_killed_at_any_write_loses_and_duplicates_nothing(
    tmp_path: Path, small_tail: None, monkeypatch: pytest.MonkeyPatch, dies_on: int, expected_last: float
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    grow(store, 8)
    with monkeypatch.context() as patch:
        calls = failing_write(patch, dies_on, Killed())
        with pytest.raises(Killed):
            grow(store, 1, start_row=108)
    assert [p.name for p in calls] == ["RUT.tail.cgh", "RUT.cgh", "RUT.tail.cgh"][:dies_on]
    restarted = HistoryStore(tmp_path)
    frame = restarted.load("RUT")
    assert frame is not None and not frame.index.has_duplicates and frame.index.is_monotonic_increasing
    assert frame["close"].tolist() == [float(v) for v in range(1, int(expected_last) + 1)]
    assert restarted.meta("RUT").rows == int(expected_last)  # type: ignore[union-attr]
    assert not [n for n in files(tmp_path) if n.endswith(".tmp")]
    # The next refresh carries on from there and compacts.
    grow(restarted, 2, start_row=int(expected_last))
    assert closes(HistoryStore(tmp_path)) == [float(v) for v in range(1, int(expected_last) + 3)]


def test_history_compaction_failing_with_an_os_error_keeps_the_upsert_and_retries(
    tmp_path: Path, small_tail: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    grow(store, 8)
    with monkeypatch.context() as patch:
        failing_write(patch, 2, OSError(28, "No space left on device"))
        assert grow(store, 1, start_row=108) == [UpsertResult(added=1, revised=0, rows=109)]
    assert header(tmp_path / "RUT.tail.cgh")["rows"] == 11  # not compacted
    grow(store, 1, start_row=109)
    assert header(tmp_path / "RUT.tail.cgh")["rows"] == 4
    assert closes(HistoryStore(tmp_path)) == [float(v) for v in range(1, 111)]


def test_history_write_killed_before_the_old_tail_is_removed_ignores_that_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(50), source="csv", fetched_at=None)
    store.upsert("RUT", series(2, "2020-03-10", first=50.5), source="yahoo", fetched_at=NOW)

    def dies(self: HistoryStore, name: str) -> None:
        raise Killed()

    monkeypatch.setattr(HistoryStore, "_drop_tail", dies)
    with pytest.raises(Killed):
        store.write("RUT", series(3, first=7.0), source="csv", fetched_at=LATER)
    monkeypatch.undo()
    assert files(tmp_path) == ["RUT.cgh", "RUT.tail.cgh"]
    restarted = HistoryStore(tmp_path)
    assert closes(restarted) == [7.0, 8.0, 9.0]
    meta = restarted.meta("RUT")
    assert meta is not None and (meta.rows, meta.source, meta.fetched_at) == (3, "csv", LATER)


def test_history_write_killed_halfway_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19"], [2.0]), source="csv", fetched_at=None)
    real = history._write_chunks

    def dies(handle: Any, chunks: list[Any]) -> None:
        real(handle, chunks[:2])  # the prefix and header reach the temporary file, no rows
        raise Killed("killed mid-write")

    monkeypatch.setattr(history, "_write_chunks", dies)
    with pytest.raises(Killed):
        store.write("RUT", bars(["2026-02-19", "2026-02-20"], [2.0, 3.0]), source="csv", fetched_at=None)
    with pytest.raises(Killed):
        store.upsert("RUT", bars(["2026-02-20"], [3.0]), source="csv", fetched_at=None)
    monkeypatch.undo()
    assert closes(HistoryStore(tmp_path)) == [2.0]
    assert files(tmp_path) == ["RUT.cgh"]  # no temporary file left behind


UNIVERSE = pd.bdate_range("2020-01-01", periods=40)
operation = st.tuples(
    st.sampled_from(["upsert", "upsert", "upsert", "write"]),
    st.integers(0, 39),
    st.lists(st.sampled_from([1.0, 2.0, 3.0, float("nan")]), min_size=1, max_size=12),
    st.booleans(),  # restart before the operation: a new store, nothing in memory
)


@settings(max_examples=80, deadline=None)
@given(st.lists(operation, min_size=1, max_size=25))
def test_history_any_sequence_of_writes_upserts_and_restarts_matches_a_plain_dict(
    operations: list[tuple[str, int, list[float], bool]],
) -> None:
    """Against a model (date -> close; an upsert counts new dates and changed values, NaN equal to
    NaN), with a tail so small that compactions happen all the time."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(history, "TAIL_MAX", 5)
        patch.setattr(history, "TAIL_KEEP", 2)
        store = HistoryStore(Path(tmp))
        model: dict[pd.Timestamp, float] = {}
        for kind, start, values, restart in operations:
            if restart:
                store = HistoryStore(Path(tmp))
            days = UNIVERSE[start : start + len(values)]
            frame = pd.DataFrame({"close": values[: len(days)]}, index=pd.DatetimeIndex(days, name="date"))
            if kind == "write":
                store.write("RUT", frame, source="csv", fetched_at=None)
                model = dict(zip(days, frame["close"], strict=True))
            else:
                result = store.upsert("RUT", frame, source="yahoo", fetched_at=NOW)
                added = sum(d not in model for d in days)
                revised = sum(
                    d in model and not (model[d] == v or (np.isnan(model[d]) and np.isnan(v)))
                    for d, v in zip(days, frame["close"], strict=True)
                )
                model.update(zip(days, frame["close"], strict=True))
                assert result == UpsertResult(added=added, revised=revised, rows=len(model))
            for reader in (store, HistoryStore(Path(tmp))):
                loaded = reader.load("RUT")
                assert loaded is not None
                assert loaded.index.tolist() == sorted(model)
                assert loaded["close"].fillna(-1.0).tolist() == [
                    -1.0 if np.isnan(model[d]) else model[d] for d in sorted(model)
                ]
                meta = reader.meta("RUT")
                assert meta is not None and meta.rows == len(model)
                assert meta.last == (max(model).date() if model else None)


# the file format and its checks -------------------------------------------------------------------
def test_history_file_is_prefix_header_dates_then_row_major_values(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"close": [1.0, 2.0, 3.0], "volume": [10.0, float("nan"), 30.0]},
        index=pd.DatetimeIndex(pd.to_datetime(["2026-02-18", "2026-02-19", "2026-02-20"]), name="date"),
    )
    HistoryStore(tmp_path).write("RUT", frame, source="yahoo", fetched_at=NOW)
    raw = (tmp_path / "RUT.cgh").read_bytes()
    magic, version, length = struct.unpack_from("<8sII", raw)
    assert (magic, version) == (b"\x89CGHIST\n", 1)
    offset = 16 + length
    assert offset % 8 == 0  # the arrays are aligned
    head = json.loads(raw[16:offset])
    assert head["kind"] == "base" and head["keys"] == ["date"] and head["columns"] == ["close", "volume"]
    assert (head["rows"], head["first"], head["last"]) == (3, "2026-02-18", "2026-02-20")
    assert (head["source"], head["fetched_at"]) == ("yahoo", NOW.isoformat()) and head["gen"]
    assert len(raw) == offset + 8 * 3 + 8 * 3 * 2
    stamps = np.frombuffer(raw, "<i8", 3, offset)
    assert stamps.tolist() == frame.index.as_unit("ns").asi8.tolist()
    values = np.frombuffer(raw, "<f8", 6, offset + 24).reshape(3, 2)
    np.testing.assert_array_equal(values, frame.to_numpy())


def damage(path: Path, how: str) -> None:
    """Damage a history file in one of the ways a disk, a copy or a hand could."""
    raw = bytearray(path.read_bytes())
    length = struct.unpack_from("<I", raw, 12)[0]
    offset = 16 + length
    head = json.loads(raw[16:offset])
    if how == "empty":
        raw = bytearray()
    elif how == "truncated-prefix":
        raw = raw[:10]
    elif how == "truncated-header":
        raw = raw[: 16 + length // 2]
    elif how == "truncated-rows":
        raw = raw[:-8]
    elif how == "extra-bytes":
        raw += b"\0" * 8
    elif how == "bad-magic":
        raw[:8] = b"PAR1\0\0\0\0"
    elif how == "future-version":
        struct.pack_into("<I", raw, 8, 2)
    elif how == "header-garbage":
        raw[16:offset] = b"{" + b" " * (length - 1)
    elif how in ("header-more-rows", "header-more-columns"):
        if how == "header-more-rows":
            head["rows"] += 1
        else:
            head["columns"].append("extra")
        text = json.dumps(head).encode()
        text += b" " * (-(16 + len(text)) % 8)
        raw = raw[:12] + struct.pack("<I", len(text)) + text + raw[offset:]
    elif how == "unordered-dates":
        rows = head["rows"]
        stamps = np.frombuffer(raw, "<i8", rows, offset).copy()
        stamps[[1, 2]] = stamps[[2, 1]]
        raw[offset : offset + 8 * rows] = stamps.tobytes()
    elif how == "dates-not-the-header-dates":
        stamps = np.frombuffer(raw, "<i8", head["rows"], offset).copy()
        raw[offset : offset + 8] = (stamps[0] - 86_400 * 10**9).tobytes()
    else:
        raise AssertionError(how)
    path.write_bytes(bytes(raw))


# Damage the header alone shows (meta reads no rows) and damage only the rows show.
HEADER_FAULTS = [
    "empty",
    "truncated-prefix",
    "truncated-header",
    "truncated-rows",
    "extra-bytes",
    "bad-magic",
    "future-version",
    "header-garbage",
    "header-more-rows",
    "header-more-columns",
]
ROW_FAULTS = ["unordered-dates", "dates-not-the-header-dates"]


@pytest.mark.parametrize("how", HEADER_FAULTS + ROW_FAULTS)
def test_history_damaged_base_raises_history_corrupt_and_is_left_for_inspection(
    tmp_path: Path, how: str
) -> None:
    HistoryStore(tmp_path).write("RUT", series(5), source="csv", fetched_at=None)
    damage(tmp_path / "RUT.cgh", how)
    damaged = (tmp_path / "RUT.cgh").read_bytes()
    store = HistoryStore(tmp_path)
    assert issubclass(HistoryCorrupt, ValueError)  # as an unreadable Parquet file raised before
    with pytest.raises(HistoryCorrupt, match="RUT.cgh is corrupt"):
        store.load("RUT")
    if how in HEADER_FAULTS:
        with pytest.raises(HistoryCorrupt):
            store.meta("RUT")
        with pytest.raises(HistoryCorrupt):
            store.upsert("RUT", series(6).iloc[-1:], source="yahoo", fetched_at=NOW)
    assert (tmp_path / "RUT.cgh").read_bytes() == damaged and store.names() == ["RUT"]
    # A write replaces it.
    store.write("RUT", series(2), source="csv", fetched_at=None)
    assert closes(HistoryStore(tmp_path)) == [1.0, 2.0]


@pytest.mark.parametrize("how", ["empty", "truncated-rows", "bad-magic", "header-more-rows", "unordered-dates"])
def test_history_damaged_tail_is_left_out_and_the_next_upsert_restores_the_rows(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Tails are not fsynced (their rows are fetched again): after a power loss one may be unreadable.
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(103).iloc[-5:], source="yahoo", fetched_at=NOW)
    damage(tmp_path / "RUT.tail.cgh", how)
    reopened = HistoryStore(tmp_path)
    assert closes(reopened) == series(100)["close"].tolist()  # the base alone: an earlier, whole series
    assert reopened.last_date("RUT") == series(100).index[-1].date()
    assert "RUT.tail.cgh is corrupt" in caplog.text
    # A refresh fetches from the base's last date and the series is whole again.
    reopened.upsert("RUT", series(104).iloc[-6:], source="yahoo", fetched_at=NOW)
    assert closes(HistoryStore(tmp_path)) == series(104)["close"].tolist()


def test_history_upsert_after_a_restart_checks_the_base_block_it_reads(tmp_path: Path) -> None:
    HistoryStore(tmp_path).write("RUT", series(100), source="csv", fetched_at=None)
    damage(tmp_path / "RUT.cgh", "dates-not-the-header-dates")  # the first block's first date
    with pytest.raises(HistoryCorrupt):
        HistoryStore(tmp_path).upsert("RUT", bars(["2020-01-01"], [5.0]), source="csv", fetched_at=None)


def test_history_damaged_strips_raise_history_corrupt(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    for day in (15, 16, 17):
        store.put_strip(Strip(date(2026, 9, day), {date(2026, 9, 1): 96.25, date(2026, 10, 1): 96.1}, "cme"))
    damage(tmp_path / "ZQ_STRIPS.cgh", "truncated-rows")
    with pytest.raises(HistoryCorrupt, match="ZQ_STRIPS.cgh is corrupt"):
        HistoryStore(tmp_path).strips()


def test_history_a_tail_in_the_place_of_a_base_is_corrupt(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(101).iloc[-1:], source="yahoo", fetched_at=NOW)
    (tmp_path / "RUT.tail.cgh").replace(tmp_path / "RUT.cgh")
    with pytest.raises(HistoryCorrupt, match="a 'tail' file where a base file belongs"):
        HistoryStore(tmp_path).meta("RUT")


def test_history_ignores_parquet_files_from_before(tmp_path: Path) -> None:
    # Earlier versions stored Parquet (through pyarrow, no longer a dependency): not read, left alone.
    old = b"PAR1" + b"\0" * 64 + b"PAR1"
    (tmp_path / "RUT.parquet").write_bytes(old)
    (tmp_path / "RUT.tail.parquet").write_bytes(old)
    store = HistoryStore(tmp_path)
    assert store.names() == [] and store.load("RUT") is None and store.meta("RUT") is None
    assert store.upsert("RUT", series(2), source="yahoo", fetched_at=NOW) == UpsertResult(
        added=2, revised=0, rows=2
    )
    assert files(tmp_path) == ["RUT.cgh", "RUT.parquet", "RUT.tail.parquet"]
    assert closes(HistoryStore(tmp_path)) == [1.0, 2.0]


# names, strips -----------------------------------------------------------------------------------
def test_history_rejects_path_like_series_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        HistoryStore(tmp_path).load("../etc/passwd")


def test_history_names_lists_series_not_tails_strips_or_temporary_files(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(50), source="csv", fetched_at=None)
    store.upsert("RUT", series(1, "2020-03-11", first=51.0), source="yahoo", fetched_at=NOW)
    store.write("NDX", series(2), source="csv", fetched_at=None)
    store.put_strip(Strip(date(2026, 9, 17), {date(2026, 9, 1): 96.25}, "cme"))
    (tmp_path / ".RUT.cgh.x1y2.tmp").write_bytes(b"torn")
    assert store.names() == ["NDX", "RUT"]
    assert store.load("NDX") is not None and store.load("SPX") is None and store.meta("SPX") is None


def test_history_put_strip_replaces_the_same_trade_date(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.put_strip(Strip(date(2026, 9, 17), {date(2026, 9, 1): 96.25, date(2026, 10, 1): 96.1}, "cme"))
    store.put_strip(Strip(date(2026, 9, 17), {date(2026, 9, 1): 96.2525}, "cme"))
    store.put_strip(Strip(date(2026, 9, 16), {date(2026, 9, 1): 96.2}, "cme"))
    for reader in (store, HistoryStore(tmp_path)):
        strips = reader.strips()
        assert list(strips) == [date(2026, 9, 16), date(2026, 9, 17)]
        assert strips[date(2026, 9, 17)].settles == {date(2026, 9, 1): 96.2525}
        assert reader.meta("ZQ_STRIPS").last == date(2026, 9, 17)  # type: ignore[union-attr]
    assert "ZQ_STRIPS" not in store.names()


def test_history_strips_round_trip_many_months_and_order(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    months = [date(2026 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(9, 33)]
    settles = {m: 96.0 + i / 100 for i, m in enumerate(reversed(months))}
    later = Strip(date(2026, 9, 18), settles, "cme", LATER)
    store.put_strip(later)
    store.put_strip(Strip(date(2026, 9, 17), {months[0]: 96.3}, "yahoo"))
    strips = HistoryStore(tmp_path).strips()
    assert list(strips) == [date(2026, 9, 17), date(2026, 9, 18)]
    assert strips[date(2026, 9, 18)].settles == later.settles
    assert list(strips[date(2026, 9, 18)].settles) == months  # by contract month
    meta = HistoryStore(tmp_path).meta("ZQ_STRIPS")
    assert meta is not None and (meta.rows, meta.source, meta.first) == (25, "yahoo", date(2026, 9, 17))
