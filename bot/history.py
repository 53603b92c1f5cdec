"""The local time-series store: per series a large immutable *base* file and a small *tail* file.

Files under ``<data_dir>/history`` (``.cgh``: the binary format described below):

- ``NAME.cgh``, the base: every row as of the last ``write()`` or compaction.
- ``NAME.tail.cgh``, the tail: the rows upserted since. A daily refresh re-fetches a few sessions and
  appends one, so it rewrites this file of a few dozen rows, never the 40-year base. Past ``TAIL_MAX``
  rows the tail is compacted into the base, keeping the last ``TAIL_KEEP`` rows in the tail so the next
  refresh's overlap again touches only the tail.
- ``ZQ_STRIPS.cgh``: ZQ settlement strips in one long table (trade_date, month, settle), replaced per
  trade date.

``.parquet`` files left by earlier versions (which used pyarrow) are not read: no install had data
worth keeping, and pyarrow is no longer a dependency (``import pandas`` loads it whenever it is
installed, ~65 MB of resident memory). A ``capgap refresh`` downloads the history again.

A series is its base overlaid with its tail by date, the tail's row winning. Every file is replaced
atomically (temporary file in the same directory, ``os.replace``), so a killed process leaves no torn
file. Bases and strips are also made durable (fsync of the file before the rename, of the directory
after). Tails are not: they hold only rows that a refresh fetches again, and the two fsyncs would be
most of an incremental refresh's cost. After a power loss a tail may be the previous one, or
unreadable, in which case it is left out (logged) and the series is its base until the next refresh
fetches from the base's last date. The tail names the generation of the base it applies to (a
random token in the base's header) and is ignored under any other base. Hence every kill point
leaves either the series before or the series after, never a mix and never a duplicated date:

- upsert: one tail write;
- compaction: first a new base holding every row (a new generation), then the new tail; killed in
  between, the old tail no longer matches and the new base alone is complete;
- write: first the new base (a new generation), then the tail is removed; killed in between, the
  stale tail is ignored.

The file format (little-endian), numpy and the standard library only:

- 16 bytes: the magic ``b"\\x89CGHIST\\n"``, the format version (uint32, 1), the header's length H
  (uint32);
- H bytes: a JSON object padded with spaces so the arrays start 8-byte aligned: ``kind`` (base, tail,
  strips), ``keys`` (names of the int64 key arrays: ``["date"]``, or ``["trade_date", "month"]`` for
  the strips), ``columns`` (names of the float64 value columns), ``rows``, ``first``/``last`` (ISO
  dates of the file's first and last row), ``source``, ``fetched_at``; a base adds its generation
  ``gen`` and ``blocks`` (row ranges with their date ranges), a tail the generation ``base`` it
  applies to and the whole series' ``series`` {rows, first, last};
- each key array in turn: ``rows`` int64 nanosecond stamps of midnights;
- the values: ``rows`` x ``len(columns)`` float64, row-major.

A file is read with one ``read()`` into one buffer and its arrays are views of that buffer
(``np.frombuffer``, no copy). Reading checks the magic, the version, that the size is exactly what
the header describes, and that the keys are strictly increasing (lexicographically, for the strips)
and agree with the header's dates and blocks; a file that fails raises ``HistoryCorrupt`` (a
``ValueError``) naming the file and the fault. It is left in place for inspection: a ``write()``
replaces it.

Provenance (source, fetch time) and the series' row count and date range live in the headers (the
tail's when it applies, else the base's), so ``meta()`` and ``last_date()`` read two headers and no
rows. The base's last ``TAIL_KEEP`` rows form a block of their own, and an upsert reads only the base
blocks whose date range covers incoming dates that the tail lacks, so the first refresh after a full
write reads a few dozen rows, not the base.

A store keeps what it has decoded in memory, keyed by each file's identity (inode, size, mtime): a
reload after a refresh decodes only what changed, and what this process writes is remembered as
written, never read back. Series must be written by one process at a time (readers may be many).

Frames follow bot/sources/base.py: a naive, midnight ``DatetimeIndex`` named ``date`` of exchange
dates at nanosecond resolution, strictly increasing, float64 columns.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import struct
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from bot.sources.base import Strip

log = logging.getLogger(__name__)

STRIPS = "ZQ_STRIPS"
# A tail past this many rows is compacted into the base: about a year of daily refreshes.
TAIL_MAX = 250
# Rows left in the tail by a compaction, and rows in the base's last block: far more than the
# sessions a refresh re-fetches (bot.market.OVERLAP_SESSIONS), so its overlap never needs the base.
TAIL_KEEP = 40

_SUFFIX = ".cgh"
_TAIL_SUFFIX = ".tail.cgh"
_MAGIC = b"\x89CGHIST\n"  # 8 bytes; the high byte and the newline catch text-mode mangling
_VERSION = 1
_PREFIX = struct.Struct("<8sII")  # magic, version, header length
_HEAD_READ = 4096  # bytes read for a header: the prefix and the header of any series fit
_DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1).toordinal()
_SERIES_KEYS = ["date"]
_STRIP_KEYS = ["trade_date", "month"]

_Ident = tuple[int, int, int]  # inode, size, mtime (ns): a file replaced by os.replace gets a new one


class HistoryCorrupt(ValueError):
    """A history file that is not what the store writes (truncated, foreign, damaged)."""

    def __init__(self, path: Path, fault: str) -> None:
        super().__init__(f"history file {path} is corrupt: {fault}")
        self.path = path
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
    """A series as arrays: increasing midnight stamps (int64 ns) and a (rows, columns) float64 array."""

    stamps: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.stamps)


@dataclass(frozen=True, slots=True)
class _Part:
    """One file as its header describes it (and, for tails and strips, its decoded rows)."""

    ident: _Ident
    header: dict[str, Any]
    offset: int  # where the arrays start
    blocks: tuple[tuple[int, int, int, int], ...] = ()  # start row, stop row, first and last stamp
    rows: Any = None  # _Rows of a tail, the strip arrays of the strips file

    @property
    def generation(self) -> str:
        return str(self.header.get("gen", ""))

    @property
    def count(self) -> int:
        return int(self.header["rows"])

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.header["columns"])


@dataclass(slots=True)
class _Series:
    """A series in memory: the files it was made of, its rows, and the frame once one was asked for.

    ``state`` holds the rows and, from upserts since, the rows to overlay on them: an upsert costs
    what it adds, and the whole series is laid out again once, when it is next loaded."""

    key: tuple[_Ident, _Ident | None]  # base and tail identities
    state: tuple[_Rows, _Rows | None]
    frame: pd.DataFrame | None = None

    def rows(self) -> _Rows:
        lower, upper = self.state
        if upper is None:
            return lower
        merged = _overlay(lower, upper)
        self.state = (merged, None)  # one assignment: a concurrent reader sees either state
        return merged


# rows ------------------------------------------------------------------------------------------
def _normalise(frame: pd.DataFrame) -> _Rows:
    """``frame`` as the store keeps it: naive midnight ns dates, increasing, unique (last row of a
    date wins), float64 values in a fresh C-ordered array the caller cannot mutate."""
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


@functools.lru_cache(maxsize=256)
def _column_index(columns: tuple[str, ...]) -> pd.Index:
    # An Index is immutable: frames with the same columns can share one.
    return pd.Index(columns)


def _frame(rows: _Rows) -> pd.DataFrame:
    """``rows`` as a frame over the same arrays (no copy)."""
    index = pd.DatetimeIndex(rows.stamps.view("M8[ns]"), name="date", copy=False)
    return pd.DataFrame(rows.values, index=index, columns=_column_index(rows.columns), copy=False)


def _union(lower: tuple[str, ...], upper: tuple[str, ...]) -> tuple[str, ...]:
    if lower == upper:
        return lower
    known = set(lower)
    return lower + tuple(c for c in upper if c not in known)


def _positions(columns: tuple[str, ...], of: tuple[str, ...]) -> list[int]:
    where = {c: j for j, c in enumerate(columns)}
    return [where[c] for c in of]


def _values(rows: _Rows, columns: tuple[str, ...]) -> np.ndarray:
    """``rows``' values laid out in ``columns`` (NaN for columns it lacks)."""
    if rows.columns == columns:
        return rows.values
    out = np.full((len(rows), len(columns)), np.nan)
    out[:, _positions(columns, rows.columns)] = rows.values
    return out


def _overlay(lower: _Rows, upper: _Rows) -> _Rows:
    """The rows of both by date, ``upper``'s whole row winning on a date both hold; the columns of
    ``lower`` followed by those only ``upper`` has."""
    if not len(upper):
        return lower
    columns = _union(lower.columns, upper.columns)
    low, up = lower.stamps, upper.stamps
    low_values, up_values = _values(lower, columns), _values(upper, columns)
    if not len(low) or low[-1] < up[0]:
        # The usual refresh: every upper date is new.
        return _Rows(np.concatenate([low, up]), np.concatenate([low_values, up_values]), columns)
    # Rows of ``lower`` before upper's first date stay in place; only the rest is merged and sorted.
    cut = int(np.searchsorted(low, up[0]))
    later = low[cut:]
    rest = up[np.minimum(np.searchsorted(up, later), len(up) - 1)] != later  # dates upper lacks
    if not rest.any():
        # A refresh's overlap: upper re-sends lower's last rows and adds new ones after them.
        return _Rows(np.concatenate([low[:cut], up]), np.concatenate([low_values[:cut], up_values]), columns)
    stamps = np.concatenate([low[cut:][rest], up])
    values = np.concatenate([low_values[cut:][rest], up_values])
    order = np.argsort(stamps, kind="stable")
    return _Rows(
        np.concatenate([low[:cut], stamps[order]]), np.concatenate([low_values[:cut], values[order]]), columns
    )


def _pick(rows: _Rows, stamps: np.ndarray, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` at ``stamps`` as a (len(stamps), len(columns)) array, NaN where there is no row or
    column, and which dates it has."""
    out = np.full((len(stamps), len(columns)), np.nan)
    index = rows.stamps
    if not len(index) or not len(stamps):
        return out, np.zeros(len(stamps), dtype=bool)
    at = np.minimum(np.searchsorted(index, stamps), len(index) - 1)
    present = index[at] == stamps
    picked = rows.values[at[present]]
    if rows.columns == columns:
        out[present] = picked
    else:
        out[np.ix_(np.flatnonzero(present), _positions(columns, rows.columns))] = picked
    return out, present


def _fill(before: np.ndarray, present: np.ndarray, lower: np.ndarray, in_lower: np.ndarray) -> None:
    """Complete the rows ``before`` found in an upper layer (``present``) from a lower one, in place."""
    use = in_lower & ~present
    before[use] = lower[use]
    present |= use


def _iso(stamp: int | None) -> str | None:
    return date.fromordinal(int(stamp) // _DAY_NS + _EPOCH).isoformat() if stamp is not None else None


def _stamp(day: str | None) -> int | None:
    return (date.fromisoformat(day).toordinal() - _EPOCH) * _DAY_NS if day else None


def _day_stamps(days: Iterable[date]) -> np.ndarray:
    return np.array(list(days), dtype="M8[D]").astype("M8[ns]").view(np.int64)


def _blocks(stamps: np.ndarray, sizes: Sequence[int]) -> list[list[Any]]:
    out: list[list[Any]] = []
    start = 0
    for size in sizes:
        if size:
            out.append([start, start + size, _iso(int(stamps[start])), _iso(int(stamps[start + size - 1]))])
        start += size
    return out


# the file format -------------------------------------------------------------------------------
def _encode(header: Mapping[str, Any], keys: Sequence[np.ndarray], values: np.ndarray) -> list[Any]:
    """A file as the chunks to write: prefix, padded header, key arrays, values."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-(_PREFIX.size + len(text)) % 8)
    chunks: list[Any] = [_PREFIX.pack(_MAGIC, _VERSION, len(text)), text]
    for key in keys:
        chunks.append(np.ascontiguousarray(key, dtype="<i8").view(np.uint8))
    if values.size:
        chunks.append(np.ascontiguousarray(values, dtype="<f8").reshape(-1).view(np.uint8))
    return chunks


def _write_chunks(handle: IO[bytes], chunks: Sequence[Any]) -> None:
    for chunk in chunks:
        handle.write(chunk)


def _offset(path: Path, head: bytes | bytearray | memoryview, size: int) -> int:
    """Where the arrays of the file start, from its first bytes ``head`` (the header may end past
    them); checks the magic, the version and that the header fits in the file's ``size``."""
    if len(head) < _PREFIX.size:
        raise HistoryCorrupt(path, f"{len(head)} bytes, shorter than the {_PREFIX.size}-byte prefix")
    magic, version, length = _PREFIX.unpack_from(head)
    if magic != _MAGIC:
        raise HistoryCorrupt(path, "not a capgap history file (bad magic)")
    if version != _VERSION:
        raise HistoryCorrupt(path, f"format version {version}, this build reads {_VERSION}")
    if _PREFIX.size + length > size:
        raise HistoryCorrupt(path, f"{size} bytes, shorter than its {length}-byte header (truncated?)")
    return _PREFIX.size + length


def _check_header(path: Path, raw: bytes | bytearray | memoryview, size: int, offset: int) -> dict[str, Any]:
    """The header parsed from ``raw`` and checked against the file's ``size``."""
    try:
        header = json.loads(bytes(raw))
    except ValueError as exc:
        raise HistoryCorrupt(path, f"unreadable header ({exc})") from None
    if not isinstance(header, dict):
        raise HistoryCorrupt(path, "the header is not an object")
    rows, keys, columns = header.get("rows"), header.get("keys"), header.get("columns")
    if not isinstance(rows, int) or rows < 0:
        raise HistoryCorrupt(path, f"bad row count {rows!r}")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise HistoryCorrupt(path, f"bad keys {keys!r}")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise HistoryCorrupt(path, f"bad columns {columns!r}")
    expected = offset + 8 * rows * (len(keys) + len(columns))
    if size != expected:
        raise HistoryCorrupt(path, f"{size} bytes where the header describes {expected} (truncated?)")
    return header


def _check_blocks(path: Path, header: Mapping[str, Any]) -> tuple[tuple[int, int, int, int], ...]:
    raw = header.get("blocks", [])
    try:
        blocks = tuple((int(b[0]), int(b[1]), _stamp(b[2]), _stamp(b[3])) for b in raw)
    except (TypeError, ValueError, IndexError):
        raise HistoryCorrupt(path, f"bad blocks {raw!r}") from None
    start = 0
    for lo, hi, first, last in blocks:
        if lo != start or hi <= lo or first is None or last is None:
            raise HistoryCorrupt(path, f"bad blocks {raw!r}")
        start = hi
    if blocks and start != header["rows"]:
        raise HistoryCorrupt(path, f"blocks cover {start} of {header['rows']} rows")
    return blocks  # type: ignore[return-value]


def _is_day(value: Any) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def _check_kind(path: Path, header: Mapping[str, Any], kind: str) -> None:
    """The fields the store relies on, for a file of ``kind``."""
    if header.get("kind") != kind:
        raise HistoryCorrupt(path, f"a {header.get('kind')!r} file where a {kind} file belongs")
    want = _STRIP_KEYS if kind == "strips" else _SERIES_KEYS
    if header["keys"] != want:
        raise HistoryCorrupt(path, f"keys {header['keys']} where {want} belong")
    if kind == "strips" and header["columns"] != ["settle"]:
        raise HistoryCorrupt(path, f"columns {header['columns']} where ['settle'] belongs")
    if len(set(header["columns"])) != len(header["columns"]) or "date" in header["columns"]:
        raise HistoryCorrupt(path, f"bad columns {header['columns']}")
    days = [header.get("first"), header.get("last")]
    if kind == "tail":
        series = header.get("series")
        if not isinstance(header.get("base"), str) or not isinstance(series, dict):
            raise HistoryCorrupt(path, "a tail without the base it applies to")
        if not isinstance(series.get("rows"), int) or series["rows"] < header["rows"]:
            raise HistoryCorrupt(path, f"bad series row count {series.get('rows')!r}")
        days += [series.get("first"), series.get("last")]
    if not all(_is_day(d) for d in days) or (header["rows"] > 0) != (days[0] is not None):
        raise HistoryCorrupt(path, f"bad dates {days}")
    if not isinstance(header.get("source", ""), str):
        raise HistoryCorrupt(path, "bad source")
    fetched = header.get("fetched_at")
    try:
        if fetched is not None:
            datetime.fromisoformat(fetched)
    except (TypeError, ValueError):
        raise HistoryCorrupt(path, f"bad fetched_at {fetched!r}") from None
    if kind == "base" and header["rows"] and not header.get("blocks"):
        raise HistoryCorrupt(path, "a base without blocks")


def _open(path: Path) -> int | None:
    """A descriptor of ``path`` for reading (None: no file). Every read of the store goes here."""
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def _read_header(path: Path, kind: str) -> _Part | None:
    """The header of ``path`` (None: no file), checked against the file's size; no rows are read."""
    fd = _open(path)
    if fd is None:
        return None
    try:
        stat = os.fstat(fd)
        head = os.pread(fd, _HEAD_READ, 0)
        offset = _offset(path, head, stat.st_size)
        if offset > len(head):
            head += os.pread(fd, offset - len(head), len(head))
    finally:
        os.close(fd)
    header = _check_header(path, memoryview(head)[_PREFIX.size : offset], stat.st_size, offset)
    _check_kind(path, header, kind)
    return _Part(_ident(stat), header, offset, _check_blocks(path, header))


def _read_file(path: Path, kind: str) -> tuple[_Part, list[np.ndarray], np.ndarray] | None:
    """The whole of ``path`` (None: no file) with one read: its header, key arrays and values (views
    of the one buffer), all checked."""
    fd = _open(path)
    if fd is None:
        return None
    try:
        stat = os.fstat(fd)
        size = stat.st_size
        # Writable (unlike bytes) and not zero-filled first (unlike bytearray): the read fills it.
        buf = np.empty(size, dtype=np.uint8)
        done = 0
        while done < size:
            got = os.readv(fd, [buf[done:]])
            if got == 0:
                break
            done += got
    finally:
        os.close(fd)
    if done != size:
        raise HistoryCorrupt(path, f"{done} bytes read of {size}")
    offset = _offset(path, buf[: _PREFIX.size].tobytes(), size)
    header = _check_header(path, buf[_PREFIX.size : offset].tobytes(), size, offset)
    _check_kind(path, header, kind)
    blocks = _check_blocks(path, header)
    n, nkeys, ncols = header["rows"], len(header["keys"]), len(header["columns"])
    # Views of the one buffer; the offsets are multiples of 8, so they are aligned.
    keys = [buf[offset + 8 * n * k : offset + 8 * n * (k + 1)].view("<i8") for k in range(nkeys)]
    start = offset + 8 * n * nkeys
    values = buf[start : start + 8 * n * ncols].view("<f8").reshape(n, ncols)
    _check_keys(path, header, keys, blocks)
    return _Part(_ident(stat), header, offset, blocks), keys, values


def _check_keys(
    path: Path, header: Mapping[str, Any], keys: list[np.ndarray], blocks: Sequence[tuple[int, int, int, int]]
) -> None:
    first = keys[0]
    if len(first) > 1:
        if len(keys) == 1:
            ordered = bool((first[1:] > first[:-1]).all())
        else:  # (trade_date, month) pairs
            step, inner = first[1:] - first[:-1], keys[1][1:] - keys[1][:-1]
            ordered = bool(((step > 0) | ((step == 0) & (inner > 0))).all())
        if not ordered:
            raise HistoryCorrupt(path, "rows not in strictly increasing order")
    if len(first):
        if (_iso(int(first[0])), _iso(int(first[-1]))) != (header.get("first"), header.get("last")):
            raise HistoryCorrupt(path, "the dates disagree with the header")
        if (first % _DAY_NS).any():
            raise HistoryCorrupt(path, "a date that is not a midnight")
    for lo, hi, lo_stamp, hi_stamp in blocks:
        if (first[lo], first[hi - 1]) != (lo_stamp, hi_stamp):
            raise HistoryCorrupt(path, "the dates disagree with the header's blocks")


def _read_blocks(path: Path, part: _Part, blocks: Sequence[tuple[int, int, int, int]]) -> _Rows:
    """The rows of ``blocks`` of the base ``part`` (only those bytes are read)."""
    fd = _open(path)
    if fd is None:
        raise FileNotFoundError(path)
    n, columns = part.count, part.columns
    stamps, values = [], []
    try:
        if _ident(os.fstat(fd)) != part.ident:
            raise RuntimeError(f"history file {path} was replaced by another writer during an upsert")
        for lo, hi, lo_stamp, hi_stamp in blocks:
            raw = os.pread(fd, 8 * (hi - lo), part.offset + 8 * lo)
            data = os.pread(fd, 8 * (hi - lo) * len(columns), part.offset + 8 * (n + lo * len(columns)))
            if len(raw) != 8 * (hi - lo) or len(data) != 8 * (hi - lo) * len(columns):
                raise HistoryCorrupt(path, "short read of a block")
            block = np.frombuffer(raw, dtype="<i8")
            if (block[0], block[-1]) != (lo_stamp, hi_stamp) or not bool((block[1:] > block[:-1]).all()):
                raise HistoryCorrupt(path, "the dates disagree with the header's blocks")
            stamps.append(block)
            values.append(np.frombuffer(data, dtype="<f8").reshape(hi - lo, len(columns)))
    finally:
        os.close(fd)
    return _Rows(np.concatenate(stamps), np.concatenate(values), columns)


def _ident(stat: os.stat_result) -> _Ident:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


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
        self._series: dict[str, _Series] = {}
        self._known_paths: dict[str, tuple[Path, Path]] = {}

    def _paths(self, name: str) -> tuple[Path, Path]:
        """The base and tail paths of ``name``."""
        paths = self._known_paths.get(name)
        if paths is None:
            if not name or any(ch in name for ch in "/\\.") or name.startswith("_"):
                raise ValueError(f"bad series name {name!r}")
            paths = (self.directory / f"{name}{_SUFFIX}", self.directory / f"{name}{_TAIL_SUFFIX}")
            self._known_paths[name] = paths
        return paths

    def _path(self, name: str) -> Path:
        return self._paths(name)[0]

    def _tail_path(self, name: str) -> Path:
        return self._paths(name)[1]

    # files -----------------------------------------------------------------------------------------
    def _part(self, path: Path, kind: str, *, rows: bool = False) -> _Part | None:
        """The file at ``path`` (with its rows decoded when ``rows``; tails and strips only), from
        memory while the file is the one remembered."""
        try:
            ident = _ident(os.stat(path))
        except FileNotFoundError:
            return None
        cached = self._parts.get(path)
        if cached is not None and cached.ident == ident and (not rows or cached.rows is not None):
            return cached
        if rows:
            read = _read_file(path, kind)
            if read is None:
                return None
            part, keys, values = read
            if kind == "strips":
                decoded: Any = (keys[0], keys[1], values[:, 0])
            else:
                decoded = _Rows(keys[0], values, part.columns)
            part = _Part(part.ident, part.header, part.offset, part.blocks, decoded)
        else:
            part = _read_header(path, kind)  # type: ignore[assignment]
            if part is None:
                return None
        self._parts[path] = part
        return part

    def _tail(self, name: str, base: _Part) -> _Part | None:
        """The tail of ``name`` when it applies to ``base``. A tail (at most TAIL_MAX rows) is always
        read whole, so damage to its rows is seen by ``meta()`` and ``last_date()`` too. An unreadable
        tail is left out (logged): the base alone is the series as of its last compaction, and the
        next refresh fetches again from the base's last date."""
        try:
            tail = self._part(self._tail_path(name), "tail", rows=True)
        except HistoryCorrupt as exc:
            log.warning("history: %s; reading %s without it", exc, name)
            return None
        if tail is None or tail.header.get("base") != base.generation:
            return None
        return tail

    def _atomic_write(self, path: Path, chunks: Sequence[Any], *, durable: bool = True) -> _Ident:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                _write_chunks(handle, chunks)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
                # os.replace keeps the inode, size and mtime: the identity the file will have.
                ident = _ident(os.fstat(handle.fileno()))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if durable:
            _fsync_directory(path.parent)
        return ident

    def _write_base(self, name: str, rows: _Rows, *, source: str, fetched_at: str | None) -> _Part:
        n = len(rows)
        # The last rows in a block of their own: the first upsert after a write reads only them.
        sizes = [n - TAIL_KEEP, TAIL_KEEP] if n > TAIL_KEEP else [n]
        header = {
            "kind": "base",
            "keys": _SERIES_KEYS,
            "columns": list(rows.columns),
            "rows": n,
            "first": _iso(int(rows.stamps[0])) if n else None,
            "last": _iso(int(rows.stamps[-1])) if n else None,
            "blocks": _blocks(rows.stamps, sizes),
            "source": source,
            "fetched_at": fetched_at,
            "gen": secrets.token_hex(8),
        }
        chunks = _encode(header, [rows.stamps], rows.values)
        path = self._path(name)
        ident = self._atomic_write(path, chunks)
        part = _Part(ident, header, len(chunks[0]) + len(chunks[1]), _check_blocks(path, header))
        self._parts[path] = part
        return part

    def _write_tail(self, name: str, rows: _Rows, info: Mapping[str, Any]) -> _Part:
        header = {
            "kind": "tail",
            "keys": _SERIES_KEYS,
            "columns": list(rows.columns),
            "rows": len(rows),
            "first": _iso(int(rows.stamps[0])),
            "last": _iso(int(rows.stamps[-1])),
            **info,
        }
        chunks = _encode(header, [rows.stamps], rows.values)
        path = self._tail_path(name)
        ident = self._atomic_write(path, chunks, durable=False)
        part = _Part(ident, header, len(chunks[0]) + len(chunks[1]), (), rows)
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
    def revision(self) -> object:
        """A value that changes whenever any process writes any series or strip: the identities of the
        files (every write replaces a file, which gives it a new inode, size or mtime)."""
        try:
            with os.scandir(self.directory) as entries:
                return tuple(sorted((e.name, _ident(e.stat())) for e in entries if e.name.endswith(_SUFFIX)))
        except FileNotFoundError:
            return ()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        stems = (p.name[: -len(_SUFFIX)] for p in self.directory.glob(f"*{_SUFFIX}"))
        # Tails (NAME.tail) and files no series name can have are not series.
        return sorted(s for s in stems if s and s != STRIPS and "." not in s and not s.startswith("_"))

    def _rows(self, name: str) -> _Series | None:
        """The series ``name`` in memory, read again only when one of its files changed."""
        path = self._path(name)
        cached = self._series.get(name)
        if cached is not None:
            base = self._part(path, "base")
            if base is None:
                return None
            if base.ident == cached.key[0]:
                tail = self._tail(name, base)
                if cached.key[1] == (tail.ident if tail is not None else None):
                    return cached
        read = _read_file(path, "base")
        if read is None:
            return None
        part, keys, values = read
        self._parts[path] = part
        tail = self._tail(name, part)
        cached = _Series(
            (part.ident, tail.ident if tail is not None else None),
            (_Rows(keys[0], values, part.columns), tail.rows if tail is not None else None),
        )
        self._series[name] = cached
        return cached

    def load(self, name: str) -> pd.DataFrame | None:
        """The stored series (base overlaid with tail), or None when there is none."""
        series = self._rows(name)
        if series is None:
            return None
        frame = series.frame
        if frame is None:
            frame = series.frame = _frame(series.rows())
        # A new frame object over the same arrays: copy-on-write keeps a caller's edits out of memory.
        return frame.copy(deep=False)

    def meta(self, name: str) -> SeriesMeta | None:
        path = self._path(name)
        if name == STRIPS:
            base = self._part(path, "strips")
            tail = None
        else:
            base = self._part(path, "base")
            tail = self._tail(name, base) if base is not None else None
        if base is None:
            return None
        if tail is not None:
            info = tail.header
            series = info.get("series") or {}
            rows, first, last = int(series.get("rows", 0)), series.get("first"), series.get("last")
        else:
            info = base.header
            rows, first, last = base.count, info.get("first"), info.get("last")
        fetched = info.get("fetched_at")
        return SeriesMeta(
            source=info.get("source") or "unknown",
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
        rows = _normalise(frame)
        with self._lock:
            fetched = fetched_at.isoformat() if fetched_at else None
            self._replace(name, rows, source=source, fetched_at=fetched)

    def _replace(self, name: str, rows: _Rows, *, source: str, fetched_at: str | None) -> None:
        base = self._write_base(name, rows, source=source, fetched_at=fetched_at)
        self._drop_tail(name)
        self._series[name] = _Series((base.ident, None), (rows, None))

    def upsert(
        self, name: str, frame: pd.DataFrame, *, source: str, fetched_at: datetime | None
    ) -> UpsertResult:
        """Append new dates and overwrite stored dates that the incoming frame also has (revisions).

        Writes only the tail (and, once it outgrows ``TAIL_MAX``, compacts it into the base); reads
        from the base only the blocks holding incoming dates that the tail lacks."""
        new = _normalise(frame)
        fetched = fetched_at.isoformat() if fetched_at else None
        with self._lock:
            base = self._part(self._path(name), "base")
            if base is None or base.count == 0:
                self._replace(name, new, source=source, fetched_at=fetched)
                return UpsertResult(added=len(new), revised=0, rows=len(new))
            if not len(new):
                return UpsertResult(added=0, revised=0, rows=self._count(name, base))
            tail = self._tail(name, base)
            cached = self._series.get(name)
            key = (base.ident, tail.ident if tail is not None else None)
            state = cached.state if cached is not None and cached.key == key else None

            columns, before, present = self._stored_at(name, base, tail, state, new)
            after = _values(new, columns)
            same = ((before == after) | (np.isnan(before) & np.isnan(after))).all(axis=1)
            added = int(len(present) - np.count_nonzero(present))
            revised = int(np.count_nonzero(present & ~same))
            if tail is not None:
                series = tail.header["series"]
                rows, first, last = int(series["rows"]), _stamp(series["first"]), _stamp(series["last"])
            else:
                rows, first, last = base.count, _stamp(base.header["first"]), _stamp(base.header["last"])
            if added == 0 and revised == 0:
                return UpsertResult(added=0, revised=0, rows=rows)

            stamps = new.stamps
            rows += added
            first = int(stamps[0]) if first is None else min(first, int(stamps[0]))
            last = int(stamps[-1]) if last is None else max(last, int(stamps[-1]))
            info = {
                "source": source,
                "fetched_at": fetched,
                "base": base.generation,
                "series": {"rows": rows, "first": _iso(first), "last": _iso(last)},
            }
            tail_rows = _overlay(tail.rows, new) if tail is not None else new
            tail = self._write_tail(name, tail_rows, info)
            if state is not None:
                lower, upper = state
                upper = _overlay(upper, new) if upper is not None else new
                self._series[name] = _Series((base.ident, tail.ident), (lower, upper))
            else:
                self._series.pop(name, None)  # rows of files that are gone
            if len(tail_rows) > TAIL_MAX:
                try:
                    self._compact(name, base, tail)
                except OSError as exc:
                    # The upsert itself is stored (in the tail): the next one tries again.
                    log.warning("history: compaction of %s failed: %s", name, exc)
            return UpsertResult(added=added, revised=revised, rows=rows)

    def _count(self, name: str, base: _Part) -> int:
        tail = self._tail(name, base)
        return int(tail.header["series"]["rows"]) if tail is not None else base.count

    def _stored_at(
        self,
        name: str,
        base: _Part,
        tail: _Part | None,
        state: tuple[_Rows, _Rows | None] | None,
        new: _Rows,
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """The columns of the stored series and ``new``, the stored rows at ``new``'s dates in them
        (NaN where none), and which dates are stored: from the series in memory when it is current,
        else from the tail and then the base blocks that can hold the dates the tail lacks."""
        stamps = new.stamps
        if state is not None:
            lower, upper = state
            stored = _union(lower.columns, upper.columns) if upper is not None else lower.columns
            columns = _union(stored, new.columns)
            if upper is None:
                return (columns, *_pick(lower, stamps, columns))
            before, present = _pick(upper, stamps, columns)
            if not present.all():
                _fill(before, present, *_pick(lower, stamps, columns))
            return columns, before, present
        stored = base.columns
        if tail is not None:
            stored = _union(stored, tail.rows.columns)
        columns = _union(stored, new.columns)
        if tail is not None:
            before, present = _pick(tail.rows, stamps, columns)
        else:
            before, present = np.full((len(new), len(columns)), np.nan), np.zeros(len(new), dtype=bool)
        probe = stamps[~present]
        blocks = [
            b for b in base.blocks if np.searchsorted(probe, b[2]) < np.searchsorted(probe, b[3], "right")
        ]
        if blocks:
            _fill(before, present, *_pick(_read_blocks(self._path(name), base, blocks), stamps, columns))
        return columns, before, present

    def _compact(self, name: str, base: _Part, tail: _Part) -> None:
        """Fold the tail into a new base, then leave the last ``TAIL_KEEP`` rows in a new tail."""
        series = self._series.get(name)
        if series is not None and series.key == (base.ident, tail.ident):
            merged = series.rows()
        else:
            read = _read_file(self._path(name), "base")
            if read is None or read[0].ident != base.ident:
                raise RuntimeError(f"history of {name} was replaced by another writer during a compaction")
            part, keys, values = read
            merged = _overlay(_Rows(keys[0], values, part.columns), tail.rows)
        info = tail.header
        if len(merged) != int(info["series"]["rows"]):
            raise RuntimeError(
                f"history of {name}: {len(merged)} rows where the tail counts {info['series']['rows']}"
            )
        new_base = self._write_base(name, merged, source=info["source"], fetched_at=info["fetched_at"])
        self._series[name] = _Series((new_base.ident, None), (merged, None))
        kept = _Rows(merged.stamps[-TAIL_KEEP:], merged.values[-TAIL_KEEP:], merged.columns)
        new_tail = self._write_tail(
            name,
            kept,
            {
                "source": info["source"],
                "fetched_at": info["fetched_at"],
                "base": new_base.generation,
                "series": info["series"],
            },
        )
        self._series[name] = _Series((new_base.ident, new_tail.ident), (merged, None))

    # ZQ strips -------------------------------------------------------------------------------------
    def put_strip(self, strip: Strip) -> None:
        self.put_strips([strip])

    def put_strips(self, strips: Sequence[Strip]) -> None:
        """Store each strip, replacing any stored strip of its trade date, in one write (a bulk
        import of 30 years of strips would otherwise rewrite the file once per trade date)."""
        if not strips:
            return
        strip = strips[-1]  # its source and fetch time label the file
        strips = list({s.trade_date: s for s in strips}.values())  # the last strip of a date replaces the rest
        trades = _day_stamps([s.trade_date for s in strips for _ in s.settles])
        months = _day_stamps([m for s in strips for m in s.settles])
        settles = np.array([p for s in strips for p in s.settles.values()], dtype=np.float64)
        with self._lock:
            old = self._strip_arrays()
            if old is not None:
                keep = ~np.isin(old[0], _day_stamps([s.trade_date for s in strips]))
                trades = np.concatenate([old[0][keep], trades])
                months = np.concatenate([old[1][keep], months])
                settles = np.concatenate([old[2][keep], settles])
            order = np.lexsort((months, trades))
            trades, months, settles = trades[order], months[order], settles[order]
            if len(trades) > 1:
                # A strip repeating a month keeps its last settle, as a dict would.
                last = np.append((trades[1:] != trades[:-1]) | (months[1:] != months[:-1]), True)
                trades, months, settles = trades[last], months[last], settles[last]
            n = len(trades)
            header = {
                "kind": "strips",
                "keys": _STRIP_KEYS,
                "columns": ["settle"],
                "rows": n,
                "first": _iso(int(trades[0])) if n else None,
                "last": _iso(int(trades[-1])) if n else None,
                "source": strip.source,
                "fetched_at": strip.fetched_at.isoformat() if strip.fetched_at else None,
            }
            chunks = _encode(header, [trades, months], settles.reshape(n, 1))
            path = self._path(STRIPS)
            ident = self._atomic_write(path, chunks)
            offset = len(chunks[0]) + len(chunks[1])
            self._parts[path] = _Part(ident, header, offset, (), (trades, months, settles))

    def _strip_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        part = self._part(self._path(STRIPS), "strips", rows=True)
        return part.rows if part is not None else None

    def strips(self) -> dict[date, Strip]:
        """Every stored strip by trade date."""
        arrays = self._strip_arrays()
        if arrays is None or not len(arrays[0]):
            return {}
        trades, months, settles = arrays
        meta = self.meta(STRIPS)
        source = meta.source if meta else "unknown"
        trade_days = trades.view("M8[ns]").astype("M8[D]").tolist()
        month_days = months.view("M8[ns]").astype("M8[D]").tolist()
        values = settles.tolist()
        bounds = [0, *(np.flatnonzero(trades[1:] != trades[:-1]) + 1).tolist(), len(trades)]
        out: dict[date, Strip] = {}
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            day = trade_days[lo]
            settles = dict(zip(month_days[lo:hi], values[lo:hi], strict=True))
            out[day] = Strip(trade_date=day, settles=settles, source=source)
        return out


def truncate(frame: pd.DataFrame, asof: date) -> pd.DataFrame:
    """Rows dated on or before ``asof`` (the frame itself when it ends by then). A binary search on the
    sorted index: ``frame.loc[:asof]`` would first build the index's hash table, O(rows), per new frame."""
    index = frame.index
    if not len(index) or index[-1] <= pd.Timestamp(asof):
        return frame
    return frame.iloc[: int(index.searchsorted(pd.Timestamp(asof), side="right"))]


def load_all(store: HistoryStore, names: Mapping[str, object] | None = None) -> dict[str, pd.DataFrame]:
    """Load every stored series (or the named ones that exist)."""
    wanted = list(names) if names is not None else store.names()
    out: dict[str, pd.DataFrame] = {}
    for name in wanted:
        frame = store.load(name)
        if frame is not None:
            out[name] = frame
    return out
