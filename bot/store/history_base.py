"""The history backend protocol: how market history is kept in a Store (SQLite file or Redis).

bot/history.py (``HistoryStore``) does everything that is the same on both backends (frames, merging,
caching); a backend only stores and reads, atomically:

- a **series** is a record (source, fetch time, row count, first and last date, columns, revision)
  and its rows in **chunks**, one per decade (keyed by its first year): a standard ``.npy`` blob (``np.save`` of a
  structured array with a ``date`` field, ``datetime64[D]``, and one ``float64`` field per column).
  A refresh rewrites the chunk of the current decade, never the ones before it.
- a **revision** per series (and one for the ZQ strips under the name ``ZQ_STRIPS``): a random token
  replaced in the same transaction (SQLite) or MULTI/EXEC (Redis) as the data it describes. Each
  chunk also carries the revision that last wrote it, so a reader re-reads only the chunks that
  changed. ``revisions()`` is one cheap read (one query, one HGETALL) that tells any process whether
  anything changed since it last looked.
- **strips**: ZQ settlement strips as plain rows (SQLite) or JSON (Redis), replaced per trade date, and read
  by range of trade dates (a reply reads the strips it needs, not the ~8,600 of 30 years).

Dates cross this boundary as ISO strings (``YYYY-MM-DD``); instants as ISO 8601 text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

STRIPS = "ZQ_STRIPS"
"""The revision name of the ZQ strips (never a series name)."""


@dataclass(frozen=True)
class SeriesRecord:
    """What is stored about a series besides its rows."""

    rev: str
    source: str
    fetched_at: str | None
    rows: int
    first: str | None
    last: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class SeriesWrite:
    """A change of one series: its new record fields and the chunks to put or drop.

    ``replace``: every chunk not in ``put`` goes (a whole-series write)."""

    source: str
    fetched_at: str | None
    rows: int
    first: str | None
    last: str | None
    columns: tuple[str, ...]
    put: Mapping[int, bytes] = field(default_factory=dict)
    drop: Collection[int] = ()
    replace: bool = False


@dataclass(frozen=True)
class SeriesRead:
    """A consistent read of a series: its record, the revision of every chunk, and the blobs of the
    chunks the reader did not already hold at that revision."""

    record: SeriesRecord
    chunk_revs: Mapping[int, str]
    blobs: Mapping[int, bytes]


@dataclass(frozen=True)
class StripRow:
    trade_date: str
    source: str
    fetched_at: str | None
    settles: Mapping[str, float]  # contract month (ISO first day) -> settlement price


class HistoryTxn(Protocol):
    """Reads inside a write: what ``update``'s change function sees."""

    def record(self) -> SeriesRecord | None: ...
    def chunks(self, keys: Iterable[int]) -> dict[int, bytes]: ...


@runtime_checkable
class HistoryBackend(Protocol):
    def revisions(self) -> dict[str, str]:
        """Name -> revision of every stored series and of the strips (``ZQ_STRIPS``) when any."""
        ...

    def record(self, name: str) -> SeriesRecord | None: ...

    def records(self, names: Sequence[str]) -> dict[str, SeriesRecord]:
        """The records of those of ``names`` that are stored, in one read."""
        ...

    def read(self, name: str, have: Mapping[int, str]) -> SeriesRead | None:
        """The series (None when not stored), with the blobs of chunks whose revision differs from
        ``have`` (chunk -> revision the caller holds)."""
        ...

    def update(self, name: str, change: Callable[[HistoryTxn], SeriesWrite | None]) -> str | None:
        """Run ``change`` against the stored series and apply what it returns, with a new revision,
        atomically: concurrent writers of one series are serialised (SQLite's write lock) or retried
        (Redis WATCH), and no reader sees the data without the revision or the reverse. Returns the new
        revision, or None when ``change`` returned None (nothing written)."""
        ...

    def delete(self, name: str) -> bool: ...

    def put_strips(self, strips: Sequence[StripRow]) -> str:
        """Replace the strip of each trade date given, in one write; returns the strips' new revision."""
        ...

    def strips(self, first: str | None = None, last: str | None = None, *, reaching: str | None = None) -> list[StripRow]:
        """The stored strips dated ``first`` to ``last`` (both included; None: no bound), by trade date;
        with ``reaching`` (a contract month), only those that price that month or a later one."""
        ...

    def strip_dates(self, first: str | None = None, last: str | None = None) -> list[str]:
        """The trade dates of the stored strips dated ``first`` to ``last`` (None: no bound), ascending."""
        ...

    def strip_span(self) -> tuple[str, str] | None:
        """The first and the last stored trade date (None: no strip)."""
        ...

    def close(self) -> None: ...


WriteFn = Callable[[HistoryTxn], SeriesWrite | None]
