"""The one-time move of a data dir's ``.cgh`` history files (capgap before issue 14) into the store.

Those files were a format of our own (``NAME.cgh`` base, ``NAME.tail.cgh`` tail, ``ZQ_STRIPS.cgh``):
16 bytes (magic ``b"\\x89CGHIST\\n"``, version uint32 = 1, header length uint32), a JSON header
(``kind``, ``keys``, ``columns``, ``rows``, ``source``, ``fetched_at``; a base's generation ``gen``, a
tail's ``base``), then the int64 key arrays (nanosecond midnights) and the float64 values, row-major.
A series was its base overlaid with the tail that names the base's generation. This module keeps
just enough to read them, for the migration only.

``migrate_cgh(directory, history)`` converts every series and strip into the store, then verifies
(every date of a file is stored, and the stored row count and last date are at least the file's),
and only then moves the files into ``directory/migrated-cgh/`` (never deletes them). A series the
store already holds keeps its stored values: only dates the store lacks are added from the file.
A file that cannot be read is left where it is, reported, and blocks nothing else. Two processes
starting at once take turns on a lock file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot.sources.base import Strip

if TYPE_CHECKING:
    from bot.history import HistoryStore

log = logging.getLogger(__name__)

MIGRATED_DIR = "migrated-cgh"
_MAGIC = b"\x89CGHIST\n"
_PREFIX = struct.Struct("<8sII")
_STRIPS = "ZQ_STRIPS"


class CghError(ValueError):
    pass


@dataclass
class MigrationReport:
    series: dict[str, int] = field(default_factory=dict)  # name -> rows in the files
    strips: int = 0  # trade dates
    moved: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file name -> why it stayed


def read_cgh(path: Path) -> tuple[dict[str, Any], list[np.ndarray], np.ndarray]:
    """Header, key arrays and values of one ``.cgh`` file, checked for size and order."""
    data = path.read_bytes()
    if len(data) < _PREFIX.size:
        raise CghError(f"{path.name}: {len(data)} bytes, shorter than the prefix")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != _MAGIC or version != 1:
        raise CghError(f"{path.name}: not a version-1 capgap history file")
    offset = _PREFIX.size + length
    try:
        header = json.loads(data[_PREFIX.size : offset])
        n, nkeys, ncols = int(header["rows"]), len(header["keys"]), len(header["columns"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CghError(f"{path.name}: unreadable header ({exc})") from None
    if len(data) != offset + 8 * n * (nkeys + ncols):
        raise CghError(f"{path.name}: {len(data)} bytes where the header describes {offset + 8 * n * (nkeys + ncols)}")
    keys = [np.frombuffer(data, "<i8", n, offset + 8 * n * k) for k in range(nkeys)]
    values = np.frombuffer(data, "<f8", n * ncols, offset + 8 * n * nkeys).reshape(n, ncols)
    if nkeys == 1 and n > 1 and not bool((keys[0][1:] > keys[0][:-1]).all()):
        raise CghError(f"{path.name}: dates not increasing")
    return header, keys, values


def _frame(keys: list[np.ndarray], values: np.ndarray, columns: list[str]) -> pd.DataFrame:
    index = pd.DatetimeIndex(keys[0].astype("M8[ns]"), name="date")
    return pd.DataFrame(values.copy(), index=index, columns=columns)


def read_series(directory: Path, name: str) -> tuple[pd.DataFrame, str, datetime | None]:
    """The series ``name`` as the old store served it: base overlaid with its tail (when the tail
    applies to this base), with the source and fetch time of the newer of the two."""
    header, keys, values = read_cgh(directory / f"{name}.cgh")
    frame = _frame(keys, values, header["columns"])
    info = header
    tail_path = directory / f"{name}.tail.cgh"
    if tail_path.exists():
        try:
            tail_header, tail_keys, tail_values = read_cgh(tail_path)
        except CghError as exc:
            # The old store did the same: an unreadable tail is left out (its rows are re-fetched).
            log.warning("history migration: %s; %s is its base alone", exc, name)
        else:
            if tail_header.get("base") == header.get("gen"):
                tail = _frame(tail_keys, tail_values, tail_header["columns"])
                frame = pd.concat([frame.loc[~frame.index.isin(tail.index)], tail]).sort_index()
                frame = frame[list(dict.fromkeys([*header["columns"], *tail_header["columns"]]))]
                info = tail_header
    fetched = info.get("fetched_at")
    return frame, str(info.get("source") or "unknown"), datetime.fromisoformat(fetched) if fetched else None


def read_strips(directory: Path) -> list[Strip]:
    header, (trades, months), values = read_cgh(directory / f"{_STRIPS}.cgh")
    out: dict[date, Strip] = {}
    source = str(header.get("source") or "cme")
    for trade, month, settle in zip(
        trades.astype("M8[ns]").astype("M8[D]").tolist(),
        months.astype("M8[ns]").astype("M8[D]").tolist(),
        values[:, 0].tolist(),
        strict=True,
    ):
        out.setdefault(trade, Strip(trade_date=trade, settles={}, source=source)).settles[month] = settle
    return list(out.values())


def _series_names(directory: Path) -> list[str]:
    stems = (p.name[: -len(".cgh")] for p in directory.glob("*.cgh"))
    return sorted(s for s in stems if s and s != _STRIPS and "." not in s)


def _migrate_series(directory: Path, name: str, history: HistoryStore) -> int:
    frame, source, fetched_at = read_series(directory, name)
    stored = history.load(name)
    if stored is None:
        history.write(name, frame, source=source, fetched_at=fetched_at)
    else:
        missing = frame.loc[~frame.index.isin(stored.index)]
        if len(missing):
            history.upsert(name, missing, source=source, fetched_at=fetched_at)
    after = history.load(name)
    meta = history.meta(name)
    if after is None or meta is None or not frame.index.isin(after.index).all():
        raise CghError(f"{name}: the store lacks dates of the file after the conversion")
    if len(frame) and (meta.rows < len(frame) or meta.last is None or meta.last < frame.index[-1].date()):
        raise CghError(f"{name}: stored {meta.rows} rows to {meta.last}, the file {len(frame)} to {frame.index[-1].date()}")
    return len(frame)


def _migrate_strips(directory: Path, history: HistoryStore) -> int:
    strips = read_strips(directory)
    stored = history.strips()
    for strip in strips:
        if strip.trade_date not in stored:
            history.put_strip(strip)
    after = history.strips()
    for strip in strips:
        if strip.trade_date not in after or len(after[strip.trade_date].settles) < len(strip.settles):
            raise CghError(f"{_STRIPS}: the strip of {strip.trade_date} is not stored after the conversion")
    return len(strips)


def _move_aside(path: Path, report: MigrationReport) -> None:
    target = path.parent / MIGRATED_DIR
    target.mkdir(exist_ok=True)
    destination = target / path.name
    os.replace(path, destination)
    report.moved.append(destination)


def migrate_cgh(directory: Path, history: HistoryStore) -> MigrationReport | None:
    """Convert the ``.cgh`` files in ``directory`` into ``history`` (None: there are none)."""
    directory = Path(directory)
    if not directory.is_dir() or not any(directory.glob("*.cgh")):
        return None
    report = MigrationReport()
    with open(directory / ".migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes (also when the process dies)
        for name in _series_names(directory):
            try:
                report.series[name] = _migrate_series(directory, name, history)
            except (CghError, OSError, ValueError) as exc:
                report.failed[f"{name}.cgh"] = str(exc)
                log.error("history migration: %s stays in %s: %s", name, directory, exc)
                continue
            for path in (directory / f"{name}.cgh", directory / f"{name}.tail.cgh"):
                if path.exists():
                    _move_aside(path, report)
        strips = directory / f"{_STRIPS}.cgh"
        if strips.exists():
            try:
                report.strips = _migrate_strips(directory, history)
            except (CghError, OSError, ValueError) as exc:
                report.failed[strips.name] = str(exc)
                log.error("history migration: %s stays in %s: %s", strips.name, directory, exc)
            else:
                _move_aside(strips, report)
        for path in directory.glob("*.tail.cgh"):  # a tail whose base is gone: nothing reads it
            if not (directory / path.name.replace(".tail.cgh", ".cgh")).exists():
                _move_aside(path, report)
    log.info(
        "history migration: %d series and %d strips converted into the store; old files moved to %s",
        len(report.series), report.strips, directory / MIGRATED_DIR,
    )
    return report
