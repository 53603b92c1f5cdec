"""The local time-series store: per series a large immutable Parquet *base* and a small Parquet *tail*.

Files under ``<data_dir>/history``:

- ``NAME.parquet``, the base: every row as of the last ``write()`` or compaction. A file written
  before tails existed is read as a base as it is (it migrates on its first compaction or write).
- ``NAME.tail.parquet``, the tail: the rows upserted since. A daily refresh re-fetches a few sessions
  and appends one, so it rewrites this file of a few dozen rows, never the 40-year base. Past
  ``TAIL_MAX`` rows the tail is compacted into the base, keeping the last ``TAIL_KEEP`` rows in the
  tail so the next refresh's overlap again touches only the tail.
- ``ZQ_STRIPS.parquet``: ZQ settlement strips in one long table (trade_date, month, settle), replaced
  per trade date.

A series is its base overlaid with its tail by date, the tail's row winning. Every file is replaced
atomically (temporary file in the same directory, fsync, ``os.replace``, fsync of the directory), so
a killed process leaves no torn file. The tail names the generation of the base it applies to (a
random token in the base's metadata) and is ignored under any other base. Hence every kill point
leaves either the series before or the series after, never a mix and never a duplicated date:

- upsert: one tail write;
- compaction: first a new base holding every row (a new generation), then the new tail; killed in
  between, the old tail no longer matches and the new base alone is complete;
- write: first the new base (a new generation), then the tail is removed; killed in between, the
  stale tail is ignored.

Provenance (source, fetch time) and the series' row count and date range live in the files' own
metadata (the tail's when it applies, else the base's), so ``meta()`` and ``last_date()`` read two
Parquet footers and no rows. The base's row groups split off its last ``TAIL_KEEP`` rows, and an
upsert reads only the base row groups whose date statistics cover incoming dates that the tail
lacks, so the first refresh after a full write reads a few dozen rows, not the base.

A store keeps what it has decoded in memory, keyed by each file's identity (inode, size, mtime): a
reload after a refresh decodes only what changed, and what this process writes is remembered as
written, never read back. Series must be written by one process at a time (readers may be many).

Frames follow bot/sources/base.py: a naive, midnight ``DatetimeIndex`` named ``date`` of exchange
dates at nanosecond resolution, strictly increasing, float64 columns.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bot.sources.base import Strip

log = logging.getLogger(__name__)

# Arrow's default allocator (mimalloc) keeps freed pages for reuse: ~40 MB more resident memory for a
# bot that reads a few files a day. The system allocator gives them back.
pa.set_memory_pool(pa.system_memory_pool())

STRIPS = "ZQ_STRIPS"
# A tail past this many rows is compacted into the base: about a year of daily refreshes.
TAIL_MAX = 250
# Rows left in the tail by a compaction, and rows in the base's last row group: far more than the
# sessions a refresh re-fetches (bot.market.OVERLAP_SESSIONS), so its overlap never needs the base.
TAIL_KEEP = 40

_META_KEY = b"capgap"
_SUFFIX = ".parquet"
_TAIL_SUFFIX = ".tail.parquet"
_DAY_NS = 86_400 * 10**9
_NS_PER = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

_Ident = tuple[int, int, int]  # inode, size, mtime (ns): a file replaced by os.replace gets a new one


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


@dataclass(frozen=True)
class _Part:
    """One Parquet file as its footer describes it (and, for tails and strips, its decoded rows)."""

    ident: _Ident
    info: dict[str, Any]  # the capgap metadata
    rows: int
    columns: tuple[str, ...]  # value columns, in file order ("date" excluded)
    groups: tuple[tuple[int, int, int], ...]  # per non-empty row group: index, first and last date (ns)
    frame: pd.DataFrame | None = None

    @property
    def generation(self) -> str:
        # Files written before generations existed carry none: "" is their generation.
        return str(self.info.get("gen", ""))

    @property
    def first(self) -> int | None:
        return min(g[1] for g in self.groups) if self.groups else None

    @property
    def last(self) -> int | None:
        return max(g[2] for g in self.groups) if self.groups else None


# frames ------------------------------------------------------------------------------------------
def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the store keeps it: naive midnight ns dates, increasing, unique (last row of a
    date wins), float64 values in a fresh array the caller cannot mutate."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError("history frames are indexed by a DatetimeIndex")
    if "date" in frame.columns:
        raise ValueError("a history frame cannot have a column named 'date' (it is the index)")
    if index.tz is not None:
        index = index.tz_localize(None)
    if index.hasnans:
        raise ValueError("history frames cannot hold a missing (NaT) date")
    stamps = index.as_unit("ns").asi8
    days = stamps - stamps % _DAY_NS  # floor to midnight, also before 1970
    values = frame.to_numpy(dtype="float64", copy=True)
    if len(days) > 1 and not bool((days[1:] > days[:-1]).all()):
        order = np.argsort(days, kind="stable")
        ordered = days[order]
        last_of_date = np.append(ordered[1:] != ordered[:-1], True)
        keep = order[last_of_date]
        days, values = days[keep], values[keep]
    return _frame(days, values, frame.columns)


def _frame(stamps: np.ndarray, values: np.ndarray, columns: Sequence[Any]) -> pd.DataFrame:
    index = pd.DatetimeIndex(stamps.view("M8[ns]"), name="date")
    return pd.DataFrame(values, index=index, columns=pd.Index(columns), copy=False)


def _values(frame: pd.DataFrame, columns: pd.Index) -> np.ndarray:
    """``frame``'s values laid out in ``columns`` (NaN for columns it lacks)."""
    if frame.columns.equals(columns):
        return frame.to_numpy(dtype="float64")
    out = np.full((len(frame), len(columns)), np.nan)
    out[:, columns.get_indexer(frame.columns)] = frame.to_numpy(dtype="float64")
    return out


def _overlay(lower: pd.DataFrame, upper: pd.DataFrame) -> pd.DataFrame:
    """The rows of both by date, ``upper``'s whole row winning on a date both hold; the columns of
    ``lower`` followed by those only ``upper`` has."""
    if upper.empty:
        return lower
    columns = lower.columns.union(upper.columns, sort=False)
    low, up = lower.index.asi8, upper.index.asi8
    low_values, up_values = _values(lower, columns), _values(upper, columns)
    if not len(low) or low[-1] < up[0]:
        # The usual refresh: every upper date is new.
        return _frame(np.concatenate([low, up]), np.concatenate([low_values, up_values]), columns)
    # Rows of ``lower`` before upper's first date stay in place; only the rest is merged and sorted.
    cut = int(np.searchsorted(low, up[0]))
    rest = ~np.isin(low[cut:], up)
    if not rest.any():
        # A refresh's overlap: upper re-sends lower's last rows and adds new ones after them.
        return _frame(np.concatenate([low[:cut], up]), np.concatenate([low_values[:cut], up_values]), columns)
    stamps = np.concatenate([low[cut:][rest], up])
    values = np.concatenate([low_values[cut:][rest], up_values])
    order = np.argsort(stamps, kind="stable")
    return _frame(
        np.concatenate([low[:cut], stamps[order]]), np.concatenate([low_values[:cut], values[order]]), columns
    )


def _pick(frame: pd.DataFrame, stamps: np.ndarray, columns: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """``frame``'s rows at ``stamps`` as a (len(stamps), len(columns)) array, NaN where it has no row
    or column, and which dates it has."""
    out = np.full((len(stamps), len(columns)), np.nan)
    index = frame.index.asi8
    if not len(index) or not len(stamps):
        return out, np.zeros(len(stamps), dtype=bool)
    at = np.minimum(np.searchsorted(index, stamps), len(index) - 1)
    present = index[at] == stamps
    rows = frame.to_numpy(dtype="float64")[at[present]]
    out[np.ix_(np.flatnonzero(present), columns.get_indexer(frame.columns))] = rows
    return out, present


def _series_frame(table: pa.Table) -> pd.DataFrame:
    """A series file's rows as a frame (files from before carry pandas metadata, which is not needed)."""
    if "date" not in table.column_names:
        raise ValueError("a history file without a 'date' column")
    names = [n for n in table.column_names if n != "date"]
    stamps = table.column("date").cast(pa.timestamp("ns")).to_numpy().view("int64")
    if names:
        values = np.empty((table.num_rows, len(names)))
        for j, name in enumerate(names):
            values[:, j] = table.column(name).to_numpy()  # a null (files from before) reads as NaN
    else:
        values = np.empty((table.num_rows, 0))
    return _frame(stamps, values, names)


def _info(
    *, source: str, fetched_at: str | None, rows: int, first: int | None, last: int | None
) -> dict[str, Any]:
    return {
        "source": source,
        "fetched_at": fetched_at,
        "rows": rows,
        "first": _iso(first),
        "last": _iso(last),
    }


def _iso(stamp: int | None) -> str | None:
    return pd.Timestamp(stamp).date().isoformat() if stamp is not None else None


def _stamp(day: str | None) -> int | None:
    return pd.Timestamp(day).value if day else None


def _table(frame: pd.DataFrame, info: Mapping[str, Any]) -> pa.Table:
    values = frame.to_numpy(dtype="float64")
    arrays = [pa.array(frame.index.to_numpy(dtype="M8[ns]"))]
    arrays += [pa.array(np.ascontiguousarray(values[:, j])) for j in range(values.shape[1])]
    table = pa.Table.from_arrays(arrays, names=["date", *map(str, frame.columns)])
    return table.replace_schema_metadata({_META_KEY: json.dumps(info).encode()})


# files -------------------------------------------------------------------------------------------
def _ident(stat: os.stat_result) -> _Ident:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _describe(parquet: pq.ParquetFile, ident: _Ident) -> _Part:
    schema = parquet.schema_arrow
    try:
        info = json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))
    except ValueError:
        info = {}
    meta = parquet.metadata
    groups: list[tuple[int, int, int]] = []
    if "date" in schema.names:
        column = schema.names.index("date")
        kind = schema.field(column).type
        scale = _NS_PER[kind.unit] if pa.types.is_timestamp(kind) else 1
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            if group.num_rows == 0:
                continue
            stats = group.column(column).statistics
            if stats is not None and stats.has_min_max and isinstance(stats.min_raw, int):
                groups.append((g, stats.min_raw * scale, stats.max_raw * scale))
            else:  # a writer that kept no statistics: read the dates themselves
                dates = parquet.read_row_group(g, columns=["date"]).column("date")
                stamps = dates.cast(pa.timestamp("ns")).to_numpy().view("int64")
                groups.append((g, int(stamps.min()), int(stamps.max())))
    return _Part(
        ident=ident,
        info=info if isinstance(info, dict) else {},
        rows=meta.num_rows,
        columns=tuple(n for n in schema.names if n != "date"),
        groups=tuple(groups),
    )


def _write_parquet(handle: IO[bytes], table: pa.Table, groups: Sequence[int], compression: str) -> None:
    """``table`` as Parquet into ``handle``, one row group per entry of ``groups`` (row counts).

    Prices hardly repeat, so no dictionaries. Byte-stream-split floats with LZ4 keep the 8 real series
    of bench/bench_data.py in 1.7 MB (2.7 MB as zstd with dictionaries) and decode them 2-3 times
    faster."""
    with pq.ParquetWriter(
        handle,
        table.schema,
        compression=compression,
        use_dictionary=False,
        use_byte_stream_split=compression != "none",
    ) as writer:
        start = 0
        for size in groups:
            writer.write_table(table.slice(start, size), row_group_size=max(size, 1))
            start += size


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HistoryStore:
    """Reads and writes series files. Thread-safe for writers within one process."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._parts: dict[Path, _Part] = {}
        # name -> ((base ident, tail ident or None), the series those two files make)
        self._frames: dict[str, tuple[tuple[_Ident, _Ident | None], pd.DataFrame]] = {}

    def _path(self, name: str) -> Path:
        if not name or any(ch in name for ch in "/\\.") or name.startswith("_"):
            raise ValueError(f"bad series name {name!r}")
        return self.directory / f"{name}{_SUFFIX}"

    def _tail_path(self, name: str) -> Path:
        return self.directory / f"{name}{_TAIL_SUFFIX}"

    # files -----------------------------------------------------------------------------------------
    def _known(self, path: Path) -> tuple[_Ident | None, _Part | None]:
        """The identity of the file at ``path`` (None: no file) and what memory holds for it, if current."""
        try:
            ident = _ident(os.stat(path))
        except FileNotFoundError:
            return None, None
        cached = self._parts.get(path)
        return ident, cached if cached is not None and cached.ident == ident else None

    def _part(self, path: Path, decode: Callable[[pa.Table], pd.DataFrame] | None = None) -> _Part | None:
        """The file at ``path`` (with its rows decoded when ``decode`` is given), from memory while the
        file is the one remembered."""
        ident, cached = self._known(path)
        if ident is None:
            return None
        if cached is not None and (decode is None or cached.frame is not None):
            return cached
        read = self._read(path, all_rows=decode is not None)
        if read is None:
            return None
        part, table = read
        if decode is not None and table is not None:
            part = _Part(part.ident, part.info, part.rows, part.columns, part.groups, decode(table))
        self._parts[path] = part
        return part

    def _read(
        self, path: Path, groups: Sequence[int] = (), *, all_rows: bool = False
    ) -> tuple[_Part, pa.Table | None] | None:
        """The footer of ``path`` and, from the same open file, all its rows or the row groups named
        (None when neither is asked for)."""
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return None
        with handle:
            parquet = pq.ParquetFile(handle, pre_buffer=False)
            part = _describe(parquet, _ident(os.fstat(handle.fileno())))
            table = None
            if all_rows:
                table = parquet.read(use_threads=False)
            elif groups:
                table = parquet.read_row_groups(list(groups), use_threads=False)
        return part, table

    def _tail(self, name: str, base: _Part, *, rows: bool) -> _Part | None:
        """The tail of ``name`` when it applies to ``base``."""
        tail = self._part(self._tail_path(name), _series_frame if rows else None)
        if tail is None or tail.info.get("base") != base.generation:
            return None
        return tail

    def _atomic_write(self, path: Path, table: pa.Table, groups: Sequence[int], compression: str) -> _Ident:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                _write_parquet(handle, table, groups, compression)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return _ident(os.stat(path))

    def _write_base(self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: str | None) -> _Part:
        stamps = frame.index.asi8
        n = len(frame)
        info = _info(
            source=source,
            fetched_at=fetched_at,
            rows=n,
            first=int(stamps[0]) if n else None,
            last=int(stamps[-1]) if n else None,
        )
        info["gen"] = secrets.token_hex(8)
        # The last rows in a row group of their own: the first upsert after a write reads only them.
        sizes = [n - TAIL_KEEP, TAIL_KEEP] if n > TAIL_KEEP else [n]
        path = self._path(name)
        ident = self._atomic_write(path, _table(frame, info), sizes, "lz4")
        groups, start = [], 0
        for g, size in enumerate(sizes):
            if size:
                groups.append((g, int(stamps[start]), int(stamps[start + size - 1])))
            start += size
        part = _Part(ident, info, n, tuple(map(str, frame.columns)), tuple(groups))
        self._parts[path] = part
        return part

    def _write_tail(self, name: str, frame: pd.DataFrame, info: dict[str, Any]) -> _Part:
        path = self._tail_path(name)
        ident = self._atomic_write(path, _table(frame, info), [len(frame)], "none")
        stamps = frame.index.asi8
        part = _Part(
            ident,
            info,
            len(frame),
            tuple(map(str, frame.columns)),
            ((0, int(stamps[0]), int(stamps[-1])),),
            frame,
        )
        self._parts[path] = part
        return part

    def _drop_tail(self, name: str) -> None:
        path = self._tail_path(name)
        self._parts.pop(path, None)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_directory(path.parent)

    # reading ---------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        stems = (p.name[: -len(_SUFFIX)] for p in self.directory.glob(f"*{_SUFFIX}"))
        # Tails (NAME.tail) and files no series name can have are not series.
        return sorted(s for s in stems if s and s != STRIPS and "." not in s and not s.startswith("_"))

    def load(self, name: str) -> pd.DataFrame | None:
        """The stored series (base overlaid with tail), or None when there is none."""
        path = self._path(name)
        ident, base = self._known(path)
        if ident is None:
            return None
        cached = self._frames.get(name)
        if base is not None and cached is not None:
            tail = self._tail(name, base, rows=False)
            if cached[0] != (base.ident, tail.ident if tail is not None else None):
                cached = None
        if base is None or cached is None:
            read = self._read(path, all_rows=True)
            if read is None:
                return None
            base, table = read
            assert table is not None
            self._parts[path] = base
            tail = self._tail(name, base, rows=True)
            frame = _series_frame(table)
            if tail is not None and tail.frame is not None:
                frame = _overlay(frame, tail.frame)
            cached = ((base.ident, tail.ident if tail is not None else None), frame)
            self._frames[name] = cached
        # A new frame object over the same arrays: copy-on-write keeps a caller's edits out of memory.
        return cached[1].copy(deep=False)

    def meta(self, name: str) -> SeriesMeta | None:
        path = self._path(name)
        base = self._part(path)
        if base is None:
            return None
        tail = self._tail(name, base, rows=False) if name != STRIPS else None
        if tail is not None:
            info = tail.info
            rows, first, last = int(info.get("rows", 0)), info.get("first"), info.get("last")
        else:
            info = base.info
            rows, first, last = base.rows, _iso(base.first), _iso(base.last)
            if not base.groups:  # strips: no date column, its own range in the metadata
                first, last = info.get("first"), info.get("last")
        fetched = info.get("fetched_at")
        return SeriesMeta(
            source=info.get("source", "unknown"),
            fetched_at=datetime.fromisoformat(fetched) if fetched else None,
            rows=rows,
            first=date.fromisoformat(first) if first else None,
            last=date.fromisoformat(last) if last else None,
        )

    def last_date(self, name: str) -> date | None:
        meta = self.meta(name)
        return meta.last if meta else None

    # writing ---------------------------------------------------------------------------------------
    def write(self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: datetime | None) -> None:
        """Replace the whole series."""
        frame = _normalise(frame)
        with self._lock:
            self._replace(
                name, frame, source=source, fetched_at=fetched_at.isoformat() if fetched_at else None
            )

    def _replace(self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: str | None) -> None:
        base = self._write_base(name, frame, source=source, fetched_at=fetched_at)
        self._drop_tail(name)
        self._frames[name] = ((base.ident, None), frame)

    def upsert(
        self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: datetime | None
    ) -> UpsertResult:
        """Append new dates and overwrite stored dates that the incoming frame also has (revisions).

        Writes only the tail (and, once it outgrows ``TAIL_MAX``, compacts it into the base); reads
        from the base only the row groups holding incoming dates that the tail lacks."""
        new = _normalise(frame)
        fetched = fetched_at.isoformat() if fetched_at else None
        with self._lock:
            base = self._part(self._path(name))
            if base is None or base.rows == 0:
                self._replace(name, new, source=source, fetched_at=fetched)
                return UpsertResult(added=len(new), revised=0, rows=len(new))
            tail = self._tail(name, base, rows=True)
            cached = self._frames.get(name)
            key = (base.ident, tail.ident if tail is not None else None)
            merged = cached[1] if cached is not None and cached[0] == key else None

            columns, before, present = self._stored_at(name, base, tail, merged, new)
            after = _values(new, columns)
            same = ((before == after) | (np.isnan(before) & np.isnan(after))).all(axis=1)
            added = int((~present).sum())
            revised = int((present & ~same).sum())
            if tail is not None:
                info = tail.info
                rows, first, last = int(info["rows"]), _stamp(info["first"]), _stamp(info["last"])
            else:
                rows, first, last = base.rows, base.first, base.last
            if added == 0 and revised == 0:
                return UpsertResult(added=0, revised=0, rows=rows)

            stamps = new.index.asi8
            rows += added
            first = int(stamps[0]) if first is None else min(first, int(stamps[0]))
            last = int(stamps[-1]) if last is None else max(last, int(stamps[-1]))
            info = _info(source=source, fetched_at=fetched, rows=rows, first=first, last=last)
            info["base"] = base.generation
            tail_frame = _overlay(tail.frame, new) if tail is not None and tail.frame is not None else new
            tail = self._write_tail(name, tail_frame, info)
            if merged is not None:
                merged = _overlay(merged, new)
                self._frames[name] = ((base.ident, tail.ident), merged)
            if len(tail_frame) > TAIL_MAX:
                try:
                    self._compact(name, base, tail, merged)
                except OSError as exc:
                    # The upsert itself is stored (in the tail): the next one tries again.
                    log.warning("history: compaction of %s failed: %s", name, exc)
            return UpsertResult(added=added, revised=revised, rows=rows)

    def _stored_at(
        self, name: str, base: _Part, tail: _Part | None, merged: pd.DataFrame | None, new: pd.DataFrame
    ) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """The columns of the stored series and ``new``, the stored rows at ``new``'s dates in them
        (NaN where none), and which dates are stored: from the series in memory when it is current,
        else from the tail and then the base row groups that can hold the dates the tail lacks."""
        stamps = new.index.asi8
        if merged is not None:
            columns = merged.columns.union(new.columns, sort=False)
            before, present = _pick(merged, stamps, columns)
            return columns, before, present
        tail_frame = tail.frame if tail is not None else None
        stored = pd.Index(base.columns)
        if tail_frame is not None:
            stored = stored.union(tail_frame.columns, sort=False)
        columns = stored.union(new.columns, sort=False)
        if tail_frame is not None:
            before, present = _pick(tail_frame, stamps, columns)
        else:
            before, present = np.full((len(new), len(columns)), np.nan), np.zeros(len(new), dtype=bool)
        probe = stamps[~present]
        groups = [
            g for g, lo, hi in base.groups if np.searchsorted(probe, lo) < np.searchsorted(probe, hi, "right")
        ]
        if groups:
            read = self._read(self._path(name), groups)
            if read is None or read[0].ident != base.ident or read[1] is None:
                raise RuntimeError(f"history of {name} was replaced by another writer during an upsert")
            from_base, in_base = _pick(_series_frame(read[1]), stamps, columns)
            use = in_base & ~present
            before[use] = from_base[use]
            present |= use
        return columns, before, present

    def _compact(self, name: str, base: _Part, tail: _Part, merged: pd.DataFrame | None) -> None:
        """Fold the tail into a new base, then leave the last ``TAIL_KEEP`` rows in a new tail."""
        if merged is None:
            read = self._read(self._path(name), all_rows=True)
            if read is None or read[0].ident != base.ident or read[1] is None or tail.frame is None:
                raise RuntimeError(f"history of {name} was replaced by another writer during a compaction")
            merged = _overlay(_series_frame(read[1]), tail.frame)
        info = tail.info
        if len(merged) != int(info["rows"]):
            raise RuntimeError(f"history of {name}: {len(merged)} rows where the tail counts {info['rows']}")
        new_base = self._write_base(name, merged, source=info["source"], fetched_at=info["fetched_at"])
        self._frames[name] = ((new_base.ident, None), merged)
        kept = merged.iloc[-TAIL_KEEP:]
        new_tail = self._write_tail(name, kept, {**info, "base": new_base.generation})
        self._frames[name] = ((new_base.ident, new_tail.ident), merged)

    # ZQ strips -------------------------------------------------------------------------------------
    def put_strip(self, strip: Strip) -> None:
        rows = pd.DataFrame(
            {
                "trade_date": pd.Timestamp(strip.trade_date),
                "month": pd.to_datetime(list(strip.settles.keys())),
                "settle": list(strip.settles.values()),
            }
        )
        with self._lock:
            old = self._load_strips_frame()
            if old is not None:
                old = old[old["trade_date"] != pd.Timestamp(strip.trade_date)]
                rows = pd.concat([old, rows], ignore_index=True)
            rows = rows.sort_values(["trade_date", "month"], ignore_index=True)
            info = {
                "source": strip.source,
                "fetched_at": strip.fetched_at.isoformat() if strip.fetched_at else None,
                "rows": len(rows),
                "first": rows["trade_date"].min().date().isoformat(),
                "last": rows["trade_date"].max().date().isoformat(),
            }
            table = pa.Table.from_pandas(rows, preserve_index=False)
            table = table.replace_schema_metadata({_META_KEY: json.dumps(info).encode()})
            path = self._path(STRIPS)
            ident = self._atomic_write(path, table, [len(rows)], "lz4")
            self._parts[path] = _Part(ident, info, len(rows), tuple(rows.columns), (), rows)

    def _load_strips_frame(self) -> pd.DataFrame | None:
        part = self._part(self._path(STRIPS), pa.Table.to_pandas)
        return part.frame if part is not None else None

    def strips(self) -> dict[date, Strip]:
        """Every stored strip by trade date."""
        frame = self._load_strips_frame()
        if frame is None or frame.empty:
            return {}
        meta = self.meta(STRIPS)
        out: dict[date, Strip] = {}
        for trade_date, group in frame.groupby("trade_date", sort=True):
            settles = {m.date(): float(s) for m, s in zip(group["month"], group["settle"], strict=True)}
            out[pd.Timestamp(trade_date).date()] = Strip(
                trade_date=pd.Timestamp(trade_date).date(),
                settles=settles,
                source=meta.source if meta else "unknown",
            )
        return out


def truncate(frame: pd.DataFrame, asof: date) -> pd.DataFrame:
    """Rows dated on or before ``asof``."""
    return frame.loc[: pd.Timestamp(asof)]


def load_all(store: HistoryStore, names: Mapping[str, object] | None = None) -> dict[str, pd.DataFrame]:
    """Load every stored series (or the named ones that exist)."""
    wanted = list(names) if names is not None else store.names()
    out: dict[str, pd.DataFrame] = {}
    for name in wanted:
        frame = store.load(name)
        if frame is not None:
            out[name] = frame
    return out
