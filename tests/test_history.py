"""The Parquet history store: base/tail round trips, upserts and revisions, compaction, crash safety,
the single-file layout from before, strips."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.history as history
from bot.history import HistoryStore, UpsertResult
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
    assert files(tmp_path) == ["RUT.parquet", "RUT.tail.parquet"]
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
    base = (tmp_path / "RUT.parquet").stat()
    for k in range(1, 4):  # three daily refreshes, each re-fetching 5 sessions and one new one
        store.upsert("RUT", series(100 + k).iloc[-6:], source="yahoo", fetched_at=NOW)
    after = (tmp_path / "RUT.parquet").stat()
    assert (after.st_ino, after.st_mtime_ns) == (base.st_ino, base.st_mtime_ns)
    tail = pq.read_table(tmp_path / "RUT.tail.parquet")
    assert tail.num_rows == 8  # the first refresh's 6 rows, then one new date each
    assert closes(HistoryStore(tmp_path)) == [float(v) for v in range(1, 104)]


def test_history_upsert_after_a_write_reads_only_the_base_last_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    HistoryStore(tmp_path).write("RUT", series(1000), source="csv", fetched_at=None)
    groups_read: list[list[int]] = []
    real_groups = pq.ParquetFile.read_row_groups

    def whole_read(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> pa.Table:
        raise AssertionError("the whole base was read")

    def groups(self: pq.ParquetFile, row_groups: list[int], *args: Any, **kwargs: Any) -> pa.Table:
        groups_read.append(list(row_groups))
        return real_groups(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", whole_read)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", groups)
    store = HistoryStore(tmp_path)  # a restart: nothing in memory
    result = store.upsert("RUT", series(1001).iloc[-6:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=1001)
    assert groups_read == [[1]]  # the last TAIL_KEEP rows, not the 960 before them
    result = store.upsert("RUT", series(1002).iloc[-6:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=1002)
    assert groups_read == [[1]]  # the overlap is all in the tail now


def test_history_upsert_through_the_store_that_wrote_opens_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(100), source="csv", fetched_at=None)
    store.upsert("RUT", series(102).iloc[-2:], source="yahoo", fetched_at=NOW)

    def opened(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was read back")

    monkeypatch.setattr(pq, "ParquetFile", opened)
    result = store.upsert("RUT", series(103).iloc[-3:], source="yahoo", fetched_at=NOW)
    assert result == UpsertResult(added=1, revised=0, rows=103)
    assert closes(store)[-3:] == [101.0, 102.0, 103.0]
    assert store.last_date("RUT") == date(2020, 5, 22)


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
    # 2020-01-07 is the 5th row: in the base's first row group, far before the tail.
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
    before = (tmp_path / "RUT.parquet").stat().st_mtime_ns
    result = store.upsert("RUT", bars(["2026-02-19"], [2.0]), source="yahoo", fetched_at=NOW)
    assert (result.added, result.revised, result.rows) == (0, 0, 1)
    assert (tmp_path / "RUT.parquet").stat().st_mtime_ns == before
    assert files(tmp_path) == ["RUT.parquet"]


def test_history_upsert_into_nothing_writes_a_base(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    assert store.upsert("RUT", series(2), source="yahoo", fetched_at=NOW) == UpsertResult(
        added=2, revised=0, rows=2
    )
    assert files(tmp_path) == ["RUT.parquet"]
    assert closes(HistoryStore(tmp_path)) == [1.0, 2.0]


def test_history_write_after_upserts_replaces_the_series_and_drops_the_tail(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", series(50), source="csv", fetched_at=None)
    store.upsert("RUT", series(2, "2020-03-10", first=50.0), source="yahoo", fetched_at=NOW)
    store.write("RUT", series(2, first=7.0), source="csv", fetched_at=None)
    assert files(tmp_path) == ["RUT.parquet"]
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
    old_base = pq.read_schema(tmp_path / "RUT.parquet").metadata[b"capgap"]
    results = grow(store, 9)  # the 9th refresh takes the tail to 11 rows > TAIL_MAX
    assert [r.rows for r in results] == list(range(101, 110))
    base = pq.ParquetFile(tmp_path / "RUT.parquet")
    tail = pq.read_table(tmp_path / "RUT.tail.parquet")
    assert base.metadata.num_rows == 109 and tail.num_rows == 4
    assert [base.metadata.row_group(g).num_rows for g in range(base.num_row_groups)] == [105, 4]
    new_base = json.loads(base.schema_arrow.metadata[b"capgap"])
    assert new_base["gen"] != json.loads(old_base)["gen"]
    assert json.loads(tail.schema.metadata[b"capgap"])["base"] == new_base["gen"]
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
    assert [p.name for p in calls] == ["RUT.tail.parquet", "RUT.parquet", "RUT.tail.parquet"][:dies_on]
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
    assert pq.read_table(tmp_path / "RUT.tail.parquet").num_rows == 11  # not compacted
    grow(store, 1, start_row=109)
    assert pq.read_table(tmp_path / "RUT.tail.parquet").num_rows == 4
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
    assert files(tmp_path) == ["RUT.parquet", "RUT.tail.parquet"]
    restarted = HistoryStore(tmp_path)
    assert closes(restarted) == [7.0, 8.0, 9.0]
    meta = restarted.meta("RUT")
    assert meta is not None and (meta.rows, meta.source, meta.fetched_at) == (3, "csv", LATER)


def test_history_write_killed_halfway_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.write("RUT", bars(["2026-02-19"], [2.0]), source="csv", fetched_at=None)
    real = history._write_parquet

    def dies(handle: Any, table: pa.Table, groups: Any, compression: str) -> None:
        real(handle, table.slice(0, 1), [1], compression)  # some bytes reach the temporary file
        raise Killed("killed mid-write")

    monkeypatch.setattr(history, "_write_parquet", dies)
    with pytest.raises(Killed):
        store.write("RUT", bars(["2026-02-19", "2026-02-20"], [2.0, 3.0]), source="csv", fetched_at=None)
    with pytest.raises(Killed):
        store.upsert("RUT", bars(["2026-02-20"], [3.0]), source="csv", fetched_at=None)
    monkeypatch.undo()
    assert closes(HistoryStore(tmp_path)) == [2.0]
    assert files(tmp_path) == ["RUT.parquet"]  # no temporary file left behind


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


# the single-file layout from before ----------------------------------------------------------------
def write_old_layout(path: Path, frame: pd.DataFrame) -> None:
    """A series file as the store wrote it before tails: pandas metadata, zstd, no generation."""
    info = {
        "source": "csv:RUT",
        "fetched_at": None,
        "rows": len(frame),
        "first": "2026-02-18",
        "last": "2026-02-20",
    }
    table = pa.Table.from_pandas(frame.reset_index(), preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"capgap": json.dumps(info).encode()}
    )
    pq.write_table(table, path, compression="zstd")


def test_history_reads_the_single_file_layout_from_before_and_migrates_on_write(tmp_path: Path) -> None:
    frame = bars(["2026-02-18", "2026-02-19", "2026-02-20"], [1.0, float("nan"), 3.0])
    assert frame.index.dtype == "datetime64[us]"  # pandas 3 parses to microseconds: stored as such
    write_old_layout(tmp_path / "RUT.parquet", frame)
    store = HistoryStore(tmp_path)
    loaded = store.load("RUT")
    assert loaded is not None and loaded.index.dtype == "datetime64[ns]"
    assert loaded.index.tolist() == frame.index.tolist()
    assert loaded["close"].fillna(-1.0).tolist() == [1.0, -1.0, 3.0]
    meta = store.meta("RUT")
    assert meta is not None and (meta.source, meta.rows, meta.first, meta.last) == (
        "csv:RUT",
        3,
        date(2026, 2, 18),
        date(2026, 2, 20),
    )
    # An upsert leaves the old file alone and adds a tail over it.
    result = store.upsert(
        "RUT", bars(["2026-02-20", "2026-02-23"], [3.0, 4.0]), source="yahoo", fetched_at=NOW
    )
    assert result == UpsertResult(added=1, revised=0, rows=4)
    assert files(tmp_path) == ["RUT.parquet", "RUT.tail.parquet"]
    assert HistoryStore(tmp_path).load("RUT")["close"].fillna(-1.0).tolist() == [1.0, -1.0, 3.0, 4.0]  # type: ignore[index]
    # A write replaces it with the new layout.
    store.write("RUT", bars(["2026-02-23"], [4.0]), source="yahoo", fetched_at=NOW)
    assert files(tmp_path) == ["RUT.parquet"]
    assert json.loads(pq.read_schema(tmp_path / "RUT.parquet").metadata[b"capgap"])["gen"]


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
    (tmp_path / ".RUT.parquet.x1y2.tmp").write_bytes(b"torn")
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
