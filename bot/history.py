"""Market history (bars, FRED series, P/E, odds, ZQ strips), kept in the Store with a revision per series.

``HistoryStore`` is what Market, the CLI and the jobs use; it stores through a backend
(bot/store/history_sqlite.py on the embedded SQLite file, bot/store/history_redis.py on Redis; the
layout is described in bot/store/history_base.py). Rows live in one standard ``.npy`` blob per
series and decade, a structured array with a ``date`` field (``datetime64[D]``) and one
``float64`` field per column: a refresh rewrites the current decade's chunk, an import the decades it
touches.

Every write replaces the series' revision in the same transaction as its data. ``revision()`` (one
query, one HGETALL) tells whether anything changed; ``series(name, rev)`` answers from memory while the
revision is the one held, and otherwise re-reads only the chunks whose revision changed. So a process
that did not write (a second worker, a bot while ``capgap import`` runs) sees new data at its next
check, and a check that finds nothing new costs one small read.

Frames follow bot/sources/base.py: a naive, midnight ``DatetimeIndex`` named ``date`` of exchange
dates at nanosecond resolution, strictly increasing, float64 columns.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.sources.base import PRICE_COLUMNS, Strip
from bot.store.history_base import STRIPS, HistoryBackend, HistoryTxn, SeriesRecord, SeriesWrite, StripRow

__all__ = ["STRIPS", "HistoryCorrupt", "HistoryStore", "SeriesMeta", "UpsertResult", "load_all", "truncate"]

_DAY_NS = 86_400 * 10**9
_PRICE_ORDER = {c: i for i, c in enumerate(PRICE_COLUMNS)}
CHUNK_YEARS = 10
"""Years per chunk (a chunk's key is the first year of its decade). Measured in bench_data on the
2-core machine: yearly chunks (~360 for the 8 series) made a cold load ~1.4x slower for no clear gain
in an upsert (whose cost is the transaction, not the ~150 kB of the current decade's chunk)."""


class HistoryCorrupt(ValueError):
    """A stored chunk or record that is not what the store writes (foreign, damaged)."""

    def __init__(self, name: str, fault: str) -> None:
        super().__init__(f"history of {name} is corrupt: {fault}")
        self.name = name
        self.fault = fault


@dataclass(frozen=True)
class SeriesMeta:
    source: str
    fetched_at: datetime | None
    rows: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class UpsertResult:
    added: int  # rows whose date was not stored before
    revised: int  # stored rows whose values changed
    rows: int  # rows stored after the upsert


@dataclass(frozen=True, slots=True)
class _Rows:
    """Rows as arrays: increasing midnight stamps (int64 ns) and a (rows, columns) float64 array."""

    stamps: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.stamps)


@dataclass(slots=True)
class _Cached:
    record: SeriesRecord
    chunks: dict[int, tuple[str, np.ndarray]]  # chunk key -> (chunk revision, its structured array)
    rows: _Rows
    frame: pd.DataFrame


# rows ------------------------------------------------------------------------------------------
def _normalise(frame: pd.DataFrame) -> _Rows:
    """``frame`` as the store keeps it: naive midnight ns dates, increasing, unique (last row of a
    date wins), float64 values in a fresh C-ordered array."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError("history frames are indexed by a DatetimeIndex")
    columns = tuple(map(str, frame.columns))
    if "date" in columns:
        raise ValueError("a history frame cannot have a column named 'date' (it is the index)")
    if len(set(columns)) != len(columns):
        raise ValueError(f"a history frame cannot repeat a column name: {list(columns)}")
    if index.tz is not None:
        index = index.tz_localize(None)
    if index.hasnans:
        raise ValueError("history frames cannot hold a missing (NaT) date")
    stamps = index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8
    days = stamps - stamps % _DAY_NS  # floor to midnight, also before 1970
    values = np.array(frame.to_numpy(dtype="float64"), dtype=np.float64, order="C")
    if len(days) > 1 and not bool((days[1:] > days[:-1]).all()):
        order = np.argsort(days, kind="stable")
        ordered = days[order]
        last_of_date = np.append(ordered[1:] != ordered[:-1], True)
        keep = order[last_of_date]
        days, values = days[keep], values[keep]
    return _Rows(days, values, columns)


def _union(lower: tuple[str, ...], upper: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of both: ``lower``'s then those only ``upper`` has; bar columns in the order of
    PRICE_COLUMNS (the order an import or a fetch gives), so merged bars look like fetched ones."""
    if lower == upper:
        return lower
    known = set(lower)
    out = lower + tuple(c for c in upper if c not in known)
    if set(out) <= _PRICE_ORDER.keys():
        out = tuple(sorted(out, key=_PRICE_ORDER.__getitem__))
    return out


def _values(rows: _Rows, columns: tuple[str, ...]) -> np.ndarray:
    """``rows``' values laid out in ``columns`` (NaN for columns it lacks)."""
    if rows.columns == columns:
        return rows.values
    where = {c: j for j, c in enumerate(columns)}
    out = np.full((len(rows), len(columns)), np.nan)
    out[:, [where[c] for c in rows.columns]] = rows.values
    return out


def _merge(old: _Rows, new: _Rows) -> tuple[_Rows, int, int]:
    """``new``'s rows over ``old``'s (a date in both takes ``new``'s whole row), with the count of
    dates added and of stored rows whose values changed."""
    columns = _union(old.columns, new.columns)
    old_values, new_values = _values(old, columns), _values(new, columns)
    at = np.minimum(np.searchsorted(old.stamps, new.stamps), max(len(old) - 1, 0))
    present = (old.stamps[at] == new.stamps) if len(old) else np.zeros(len(new), dtype=bool)
    before, after = old_values[at[present]], new_values[present]
    same = ((before == after) | (np.isnan(before) & np.isnan(after))).all(axis=1)
    added, revised = int(np.count_nonzero(~present)), int(np.count_nonzero(~same))
    keep = ~np.isin(old.stamps, new.stamps)
    stamps = np.concatenate([old.stamps[keep], new.stamps])
    values = np.concatenate([old_values[keep], new_values])
    order = np.argsort(stamps, kind="stable")
    return _Rows(stamps[order], values[order], columns), added, revised


def _years(stamps: np.ndarray) -> np.ndarray:
    """The chunk key of each stamp: the first year of its span of CHUNK_YEARS years."""
    years = stamps.view("M8[ns]").astype("M8[Y]").astype(np.int64) + 1970
    return years - years % CHUNK_YEARS


def _by_year(rows: _Rows) -> dict[int, _Rows]:
    years = _years(rows.stamps)
    bounds = [0, *(np.flatnonzero(years[1:] != years[:-1]) + 1).tolist(), len(rows)]
    return {
        int(years[lo]): _Rows(rows.stamps[lo:hi], rows.values[lo:hi], rows.columns)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    }


def _iso(stamp: int) -> str:
    return str(np.datetime64(int(stamp), "ns").astype("M8[D]"))


# chunks: standard .npy ---------------------------------------------------------------------------
def encode_chunk(rows: _Rows) -> bytes:
    """``rows`` as a .npy blob of a structured array: ``date`` (datetime64[D]) and a float64 per column."""
    dtype = np.dtype([("date", "<M8[D]"), *((c, "<f8") for c in rows.columns)])
    out = np.empty(len(rows), dtype=dtype)
    out["date"] = rows.stamps.view("M8[ns]").astype("M8[D]")
    for j, column in enumerate(rows.columns):
        out[column] = rows.values[:, j]
    # np.save's own writer copies a structured array through a buffered nditer (~3 ms for a decade's
    # chunk); the header functions it uses plus one tobytes() write the same .npy, ~20x faster.
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(out))
    buffer.write(out.tobytes())
    return buffer.getvalue()


_NPY_MAGIC = b"\x93NUMPY"
_SHAPE = re.compile(rb"'shape': \((\d+),\)")


@functools.lru_cache(maxsize=256)
def _npy_layout(header: bytes) -> tuple[np.dtype, tuple[str, ...]] | None:
    """The dtype and columns a chunk's .npy header describes, its shape taken out (the cache key).
    numpy's own reader parses every header with ast.literal_eval: 1-4 ms a chunk on the 2-core
    machine, most of a cold load and of a refresh's reload. Chunks of one series share their header
    but for the row count, so each layout is parsed once."""
    try:
        info = ast.literal_eval(header.decode("latin1"))
        dtype = np.lib.format.descr_to_dtype(info["descr"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        return None
    names = dtype.names
    if info.get("fortran_order") or not names or names[0] != "date" or dtype["date"] != np.dtype("M8[D]"):
        return None
    if any(dtype[n] != np.dtype("<f8") for n in names[1:]):
        return None
    return dtype, tuple(names[1:])


def _read_npy(name: str, year: int, blob: bytes) -> tuple[np.ndarray, tuple[str, ...]]:
    """The structured array of a chunk (a view of ``blob``) and its value columns. Reads the .npy
    format (versions 1-3) as numpy documents it; only the layouts ``encode_chunk`` writes are accepted."""
    if blob[:6] != _NPY_MAGIC or blob[6:7] not in (b"\x01", b"\x02", b"\x03"):
        raise HistoryCorrupt(name, f"chunk {year} is not a .npy array")
    size = 2 if blob[6] == 1 else 4
    start = 8 + size
    end = start + int.from_bytes(blob[8:start], "little")
    match = _SHAPE.search(blob, start, end)
    layout = _npy_layout(blob[start : match.start()] + b"'shape': (0,)" + blob[match.end() : end]) if match else None
    if match is None or layout is None:
        raise HistoryCorrupt(name, f"chunk {year} holds no dated float rows")
    dtype, columns = layout
    rows = int(match.group(1))
    if len(blob) != end + rows * dtype.itemsize:
        raise HistoryCorrupt(name, f"chunk {year}: {len(blob)} bytes where its header describes {end + rows * dtype.itemsize}")
    return np.frombuffer(blob, dtype, rows, end), columns


def _rows_of(array: np.ndarray, columns: tuple[str, ...]) -> _Rows:
    """Structured chunk rows as stamps and a (rows, columns) float64 array."""
    values = np.empty((len(array), len(columns)))
    for j, column in enumerate(columns):
        values[:, j] = array[column]
    # days -> ns midnights by integer arithmetic (a datetime64 cast is several times slower)
    return _Rows(array["date"].view(np.int64) * _DAY_NS, values, columns)


def _span_start(keys: np.ndarray) -> np.ndarray:
    """The midnight (int64 ns) of January 1 of each year in ``keys``."""
    return (keys - 1970).astype("M8[Y]").astype("M8[ns]").view(np.int64)


def _assemble(name: str, columns: tuple[str, ...], parts: list[tuple[int, np.ndarray]]) -> _Rows:
    """A series from its chunks in key order, laid out in ``columns``, checked: dates strictly
    increasing and each chunk within its span. Chunks of one layout (the usual case) are joined as
    bytes and converted once: per-chunk work (and numpy's field promotion when it concatenates
    structured arrays) would dominate a load of a few hundred chunks."""
    if not parts:
        return _Rows(np.empty(0, np.int64), np.empty((0, len(columns))), columns)
    arrays = [a for _, a in parts]
    dtype = arrays[0].dtype
    names = dtype.names or ()
    if all(a.dtype == dtype for a in arrays) and names[1:] == columns:
        joined = np.concatenate([a.view(np.uint8) for a in arrays]).view(dtype) if len(arrays) > 1 else arrays[0]
        rows = _rows_of(joined, columns)
    else:  # a column added by a later write: older chunks lack it (NaN there)
        laid = [_rows_of(a, tuple((a.dtype.names or ())[1:])) for a in arrays]
        rows = _Rows(np.concatenate([r.stamps for r in laid]), np.concatenate([_values(r, columns) for r in laid]), columns)
    stamps = rows.stamps
    sizes = np.array([len(a) for a in arrays])
    keys = np.array([k for k, _ in parts], dtype=np.int64)[sizes > 0]
    ends = np.cumsum(sizes)[sizes > 0]
    starts = ends - sizes[sizes > 0]
    inside = (stamps[starts] >= _span_start(keys)) & (stamps[ends - 1] < _span_start(keys + CHUNK_YEARS))
    if not bool((stamps[1:] > stamps[:-1]).all()) or not bool(inside.all()):
        raise HistoryCorrupt(name, "dates out of order or outside their chunk")
    return rows


def _reassemble(
    name: str, columns: tuple[str, ...], chunks: dict[int, tuple[str, np.ndarray]], cached: _Cached | None
) -> _Rows:
    """The series from ``chunks``; when only its last chunks changed since ``cached`` (a refresh),
    the rows of the others are taken from ``cached`` as they are, and only the changed ones are
    converted and checked."""
    keys = sorted(chunks)
    if cached is not None and cached.rows.columns == columns and set(cached.chunks) <= set(chunks):
        same = [k for k in keys if cached.chunks.get(k, ("",))[0] == chunks[k][0]]
        changed = keys[len(same):]
        if same == keys[: len(same)] and changed:
            cut = sum(len(chunks[k][1]) for k in same)
            tail = _assemble(name, columns, [(k, chunks[k][1]) for k in changed])
            old = cached.rows
            if cut and len(tail) and tail.stamps[0] <= old.stamps[cut - 1]:
                raise HistoryCorrupt(name, "dates out of order or outside their chunk")
            return _Rows(
                np.concatenate([old.stamps[:cut], tail.stamps]), np.concatenate([old.values[:cut], tail.values]), columns
            )
    return _assemble(name, columns, [(k, chunks[k][1]) for k in keys])


def decode_chunk(name: str, year: int, blob: bytes) -> _Rows:
    """A chunk written by ``encode_chunk``, checked like a whole series."""
    array, columns = _read_npy(name, year, blob)
    return _assemble(name, columns, [(year, array)])


@functools.lru_cache(maxsize=256)
def _column_index(columns: tuple[str, ...]) -> pd.Index:
    return pd.Index(columns)  # immutable: frames with the same columns can share one


def _frame(rows: _Rows) -> pd.DataFrame:
    index = pd.DatetimeIndex(rows.stamps.view("M8[ns]"), name="date", copy=False)
    return pd.DataFrame(rows.values, index=index, columns=_column_index(rows.columns), copy=False)


def _meta(record: SeriesRecord) -> SeriesMeta:
    return SeriesMeta(
        source=record.source or "unknown",
        fetched_at=datetime.fromisoformat(record.fetched_at) if record.fetched_at else None,
        rows=record.rows,
        first=date.fromisoformat(record.first) if record.first else None,
        last=date.fromisoformat(record.last) if record.last else None,
    )


def _whole(rows: _Rows, *, source: str, fetched_at: str | None) -> SeriesWrite:
    return SeriesWrite(
        source=source,
        fetched_at=fetched_at,
        rows=len(rows),
        first=_iso(rows.stamps[0]) if len(rows) else None,
        last=_iso(rows.stamps[-1]) if len(rows) else None,
        columns=rows.columns,
        put={year: encode_chunk(part) for year, part in _by_year(rows).items()} if len(rows) else {},
        replace=True,
    )


def _check_name(name: str) -> None:
    if not name or name == STRIPS or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"bad series name {name!r}")


class HistoryStore:
    """Market history on a backend: ``HistoryStore(backend)``, or ``HistoryStore(directory)`` for the
    embedded SQLite file ``capgap.sqlite3`` in ``directory`` (the store's file when it is the data dir).

    Thread-safe; frames handed out are shallow copies over arrays no caller should write to."""

    def __init__(self, where: HistoryBackend | Path | str) -> None:
        if isinstance(where, str | Path):
            from bot.store.history_sqlite import SqliteHistory

            where = SqliteHistory(Path(where) / "capgap.sqlite3")
        self.backend: HistoryBackend = where
        self._cache: dict[str, _Cached] = {}
        # the last strips read and the query that read them, and the strips' span: by the strips' revision
        self._strips: tuple[tuple[str, date | None, date | None, date | None], dict[date, Strip]] | None = None
        self._strip_span: tuple[str, tuple[date, date] | None] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.backend.close()

    # reading ---------------------------------------------------------------------------------------
    def revision(self) -> dict[str, str]:
        """Series name (and ``ZQ_STRIPS``) -> revision: equal dicts mean nothing changed in between."""
        return self.backend.revisions()

    def names(self) -> list[str]:
        return sorted(n for n in self.revision() if n != STRIPS)

    def series(self, name: str, rev: str | None = None) -> tuple[pd.DataFrame, SeriesMeta] | None:
        """The stored series and its meta (None: not stored). With ``rev`` (from ``revision()``), a
        series held in memory at that revision is returned without a read."""
        if rev is not None and (held := self.held(name, rev)) is not None:
            return held
        cached = self._cache.get(name)
        have = {y: r for y, (r, _) in cached.chunks.items()} if cached is not None else {}
        read = self.backend.read(name, have)
        if read is None:
            self._cache.pop(name, None)
            return None
        if cached is not None and cached.record.rev == read.record.rev:
            return cached.frame.copy(deep=False), _meta(cached.record)
        chunks: dict[int, tuple[str, np.ndarray]] = {}
        for year, chunk_rev in read.chunk_revs.items():
            blob = read.blobs.get(year)
            if blob is None and cached is not None and cached.chunks.get(year, ("",))[0] == chunk_rev:
                chunks[year] = cached.chunks[year]
            elif blob is None:
                raise HistoryCorrupt(name, f"chunk {year} is missing")
            else:
                chunks[year] = (chunk_rev, _read_npy(name, year, blob)[0])
        record = read.record
        rows = _reassemble(name, record.columns, chunks, cached)
        if len(rows) != record.rows:
            raise HistoryCorrupt(name, f"{len(rows)} rows in its chunks where its record says {record.rows}")
        frame = _frame(rows)
        with self._lock:
            self._cache[name] = _Cached(record, chunks, rows, frame)
        return frame.copy(deep=False), _meta(record)

    def held(self, name: str, rev: str) -> tuple[pd.DataFrame, SeriesMeta] | None:
        """The series and its meta when this store holds it in memory at revision ``rev`` (no read)."""
        cached = self._cache.get(name)
        if cached is None or cached.record.rev != rev:
            return None
        return cached.frame.copy(deep=False), _meta(cached.record)

    def load(self, name: str) -> pd.DataFrame | None:
        got = self.series(name)
        return got[0] if got is not None else None

    def meta(self, name: str) -> SeriesMeta | None:
        if name == STRIPS:
            strips = self.strips()
            if not strips:
                return None
            last = strips[max(strips)]
            return SeriesMeta(last.source, last.fetched_at, sum(len(s.settles) for s in strips.values()),
                              min(strips), max(strips))
        record = self.backend.record(name)
        return _meta(record) if record is not None else None

    def metas(self, names: Sequence[str]) -> dict[str, SeriesMeta]:
        """The meta of those of ``names`` that are stored, in one read."""
        return {name: _meta(record) for name, record in self.backend.records(names).items()}

    def last_date(self, name: str) -> date | None:
        meta = self.meta(name)
        return meta.last if meta else None

    # writing ---------------------------------------------------------------------------------------
    def write(self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: datetime | None) -> None:
        """Replace the whole series."""
        _check_name(name)
        rows = _normalise(frame)
        fetched = fetched_at.isoformat() if fetched_at else None
        write = _whole(rows, source=source, fetched_at=fetched)
        rev = self.backend.update(name, lambda txn: write)
        if rev is not None:  # what was written is the series: remember it as written
            chunks = {key: (rev, _read_npy(name, key, blob)[0]) for key, blob in write.put.items()}
            record = SeriesRecord(rev, source, fetched, write.rows, write.first, write.last, write.columns)
            with self._lock:
                self._cache[name] = _Cached(record, chunks, rows, _frame(rows))

    def upsert(
        self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: datetime | None
    ) -> UpsertResult:
        """Append new dates and overwrite stored dates that ``frame`` also has (revisions); reads and
        rewrites only the years ``frame`` touches."""
        _check_name(name)
        new = _normalise(frame)
        fetched = fetched_at.isoformat() if fetched_at else None
        result = UpsertResult(0, 0, 0)
        applied: tuple[SeriesRecord, SeriesWrite] | None = None  # what the write saw, what it wrote

        def change(txn: HistoryTxn) -> SeriesWrite | None:
            nonlocal result, applied
            record = txn.record()
            if record is None or record.rows == 0:
                result = UpsertResult(added=len(new), revised=0, rows=len(new))
                return _whole(new, source=source, fetched_at=fetched) if len(new) else None
            result = UpsertResult(0, 0, record.rows)
            if not len(new):
                return None
            parts = _by_year(new)
            # The chunks this store holds at the stored revision are what the backend would send back.
            cached = self._cache.get(name)
            held = cached.chunks if cached is not None and cached.record.rev == record.rev else {}
            stored = txn.chunks(y for y in parts if y not in held)
            put: dict[int, bytes] = {}
            added = revised = 0
            for year, part in parts.items():
                blob = stored.get(year)
                if year in held:
                    old = _assemble(name, tuple((held[year][1].dtype.names or ())[1:]), [(year, held[year][1])])
                    merged, more, changed = _merge(old, part)
                elif blob is None:
                    merged, more, changed = part, len(part), 0
                else:
                    merged, more, changed = _merge(decode_chunk(name, year, blob), part)
                if more or changed:
                    put[year] = encode_chunk(merged)
                added, revised = added + more, revised + changed
            result = UpsertResult(added=added, revised=revised, rows=record.rows + added)
            if not put:
                return None
            first, last = _iso(new.stamps[0]), _iso(new.stamps[-1])
            write = SeriesWrite(
                source=source,
                fetched_at=fetched,
                rows=record.rows + added,
                first=min(first, record.first) if record.first else first,
                last=max(last, record.last) if record.last else last,
                columns=_union(record.columns, new.columns),
                put=put,
            )
            applied = (record, write)
            return write

        rev = self.backend.update(name, change)
        if rev is not None and applied is not None:
            self._remember(name, rev, *applied)
        return result

    def _remember(self, name: str, rev: str, before: SeriesRecord, write: SeriesWrite) -> None:
        """Keep what this process just wrote in memory when the series held there is the one the write
        started from: the reload after a refresh then reads nothing back."""
        cached = self._cache.get(name)
        if cached is None or cached.record.rev != before.rev or write.replace:
            return
        chunks = dict(cached.chunks)
        for key, blob in write.put.items():
            chunks[key] = (rev, _read_npy(name, key, blob)[0])
        record = SeriesRecord(rev, write.source, write.fetched_at, write.rows, write.first, write.last, write.columns)
        rows = _reassemble(name, record.columns, chunks, cached)
        with self._lock:
            if len(rows) == record.rows:
                self._cache[name] = _Cached(record, chunks, rows, _frame(rows))
            else:
                self._cache.pop(name, None)

    def delete(self, name: str) -> bool:
        with self._lock:
            self._cache.pop(name, None)
        return self.backend.delete(name)

    # ZQ strips -------------------------------------------------------------------------------------
    def put_strip(self, strip: Strip) -> None:
        self.put_strips([strip])

    def put_strips(self, strips: Sequence[Strip]) -> None:
        """Store each strip, replacing any stored strip of its trade date, in one write (a bulk import
        of 30 years of strips is one transaction, not one per trade date); the last strip of a date
        wins."""
        latest = {s.trade_date: s for s in strips}
        if not latest:
            return
        self.backend.put_strips(
            [
                StripRow(
                    trade_date=strip.trade_date.isoformat(),
                    source=strip.source,
                    fetched_at=strip.fetched_at.isoformat() if strip.fetched_at else None,
                    settles={m.isoformat(): float(s) for m, s in sorted(strip.settles.items())},
                )
                for strip in latest.values()
            ]
        )

    def strips(
        self, rev: str | None = None, *, first: date | None = None, last: date | None = None, reaching: date | None = None
    ) -> dict[date, Strip]:
        """The stored strips dated ``first`` to ``last`` (both included; None: no bound) by trade date; with
        ``reaching``, only those that price that contract month or a later one. The last answer is kept
        in memory while the strips' revision is ``rev``."""
        if rev is None:
            rev = self.revision().get(STRIPS)
        if rev is None:
            return {}
        key = (rev, first, last, reaching)
        held = self._strips
        if held is not None and held[0] == key:
            return held[1]
        out = {}
        rows = self.backend.strips(
            first.isoformat() if first else None,
            last.isoformat() if last else None,
            reaching=reaching.isoformat() if reaching else None,
        )
        for row in rows:
            day = date.fromisoformat(row.trade_date)
            out[day] = Strip(
                trade_date=day,
                settles={date.fromisoformat(m): float(s) for m, s in row.settles.items()},
                source=row.source,
                fetched_at=datetime.fromisoformat(row.fetched_at) if row.fetched_at else None,
            )
        self._strips = (key, out)
        return out

    def strip_dates(self, first: date | None = None, last: date | None = None) -> list[date]:
        """The trade dates of the stored strips dated ``first`` to ``last`` (None: no bound), ascending."""
        return [date.fromisoformat(d) for d in self.backend.strip_dates(
            first.isoformat() if first else None, last.isoformat() if last else None)]

    def strip_span(self, rev: str | None = None) -> tuple[date, date] | None:
        """The first and the last stored trade date (from memory while the strips' revision is ``rev``)."""
        held = self._strip_span
        if rev is not None and held is not None and held[0] == rev:
            return held[1]
        span = self.backend.strip_span()
        got = (date.fromisoformat(span[0]), date.fromisoformat(span[1])) if span else None
        if rev is not None:
            self._strip_span = (rev, got)
        return got


def truncate(frame: pd.DataFrame, asof: date) -> pd.DataFrame:
    """Rows dated on or before ``asof`` (the frame itself when it ends by then). A binary search on the
    sorted index: ``frame.loc[:asof]`` would first build the index's hash table, O(rows), per new frame."""
    index = frame.index
    if not len(index) or index[-1] <= pd.Timestamp(asof):
        return frame
    return frame.iloc[: int(index.searchsorted(pd.Timestamp(asof), side="right"))]


def load_all(store: HistoryStore, names: Mapping[str, object] | None = None) -> dict[str, pd.DataFrame]:
    """Load every stored series (or the named ones that exist)."""
    revs = store.revision()
    wanted = list(names) if names is not None else [n for n in revs if n != STRIPS]
    out: dict[str, pd.DataFrame] = {}
    for name in wanted:
        got = store.series(name, revs.get(name))
        if got is not None:
            out[name] = got[0]
    return out


# imports and exports ---------------------------------------------------------------------------
REVISION_TOLERANCE = 0.02
"""An import may revise stored closes by at most this much (median relative difference over the
dates both hold); beyond it the file is another instrument or another unit, not a vendor revision."""


@dataclass(frozen=True)
class Overlap:
    """How an incoming frame compares with the stored one on the dates both hold."""

    dates: int  # dates both hold
    median_change: float  # median |new / stored - 1| of the close (or value) column; 0.0 without overlap
    column: str

    @property
    def too_large(self) -> bool:
        return self.dates > 0 and self.median_change > REVISION_TOLERANCE


def compare_overlap(stored: pd.DataFrame, new: pd.DataFrame) -> Overlap:
    column = "close" if "close" in stored.columns and "close" in new.columns else "value"
    if column not in stored.columns or column not in new.columns:
        return Overlap(0, 0.0, column)
    old = stored[column].dropna()
    incoming = new[column].dropna()
    common = old.index.intersection(incoming.index)
    if not len(common):
        return Overlap(0, 0.0, column)
    before = old.loc[common].to_numpy()
    after = incoming.loc[common].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(np.where(before != 0, after / before - 1.0, np.where(after == 0, 0.0, np.inf)))
    return Overlap(len(common), float(np.median(change)), column)


_CSV_HEADERS = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "adjclose": "Adj Close",
                "volume": "Volume", "value": "Value"}


def export_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV in the columns ``capgap import`` reads: ``Date`` then ``Open,High,Low,Close,
    Adj Close,Volume`` for bars or ``Value`` for one-value series (other columns keep their names).
    Floats are written in full (repr), so an export imported again gives the same numbers."""
    out = frame.rename(columns=lambda c: _CSV_HEADERS.get(c, c))
    out.index = out.index.strftime("%Y-%m-%d")
    out.index.name = "Date"
    return str(out.to_csv(lineterminator="\n"))
