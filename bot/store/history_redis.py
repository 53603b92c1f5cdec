"""Market history on Redis (CAPGAP_REDIS_URL), shared by every worker on every machine.

Keys under the store's prefix (default ``capgap:``), next to the store's own (see redis.py)::

    hist:revs                  hash     series name (and ZQ_STRIPS) -> revision
    hist:series:{name}         hash     source, fetched_at, rows, first, last, columns (JSON), rev
    hist:chunks:{name}         hash     first year of a decade -> .npy blob of that decade's rows
    hist:chunkrevs:{name}      hash     year -> revision that wrote the chunk
    hist:strips                hash     trade date -> JSON {"source", "fetched_at", "settles": {month: settle}}
    hist:stripdays             zset     every trade date of hist:strips (score 0: in date order), for range reads

A write of a series WATCHes its ``hist:series:{name}`` hash, reads what it needs, and queues chunks,
record and revision in one MULTI/EXEC; a concurrent writer of the same series makes EXEC fail and the
write runs again on what that writer left. A reader takes record and chunk revisions in one MULTI
and the chunks it lacks in a second one that re-reads the revision, retrying when a write came
between the two. The synchronous redis-py client is used: history calls run in worker threads (the
snapshot rebuild) or are a few milliseconds long (an upsert).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from bot.store.history_base import STRIPS, SeriesRead, SeriesRecord, SeriesWrite, StripRow, WriteFn

READ_ATTEMPTS = 50
"""Reads retried while writes keep landing between their two round trips (each write is one EXEC)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(raw: Mapping[bytes | str, bytes | str]) -> SeriesRecord | None:
    if not raw:
        return None
    get = {_text(k): _text(v) for k, v in raw.items()}
    return SeriesRecord(
        rev=get["rev"],
        source=get["source"],
        fetched_at=get.get("fetched_at") or None,
        rows=int(get["rows"]),
        first=get.get("first") or None,
        last=get.get("last") or None,
        columns=tuple(json.loads(get["columns"])),
    )


class _Txn:
    def __init__(self, pipe: Any, history: RedisHistory, name: str) -> None:
        self._pipe = pipe  # WATCHing: commands run at once
        self._history = history
        self._name = name

    def record(self) -> SeriesRecord | None:
        return _record(self._pipe.hgetall(self._history._series_key(self._name)))

    def chunks(self, keys: Iterable[int]) -> dict[int, bytes]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        blobs = self._pipe.hmget(self._history._chunks_key(self._name), wanted)
        return {y: b for y, b in zip(wanted, blobs, strict=True) if b is not None}


class RedisHistory:
    """The history backend on the Redis at ``url``, every key under ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "capgap:", client: redis.Redis | None = None) -> None:
        self.prefix = prefix
        self.client = client if client is not None else redis.Redis.from_url(url, socket_timeout=10.0)
        self._revs = f"{prefix}hist:revs"
        self._strips = f"{prefix}hist:strips"
        self._stripdays = f"{prefix}hist:stripdays"
        self._indexed = False  # hist:stripdays checked against hist:strips (written before it existed?)

    def _series_key(self, name: str) -> str:
        return f"{self.prefix}hist:series:{name}"

    def _chunks_key(self, name: str) -> str:
        return f"{self.prefix}hist:chunks:{name}"

    def _chunkrevs_key(self, name: str) -> str:
        return f"{self.prefix}hist:chunkrevs:{name}"

    # reading ---------------------------------------------------------------------------------------
    def revisions(self) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self.client.hgetall(self._revs).items()}

    def record(self, name: str) -> SeriesRecord | None:
        return _record(self.client.hgetall(self._series_key(name)))

    def records(self, names: Sequence[str]) -> dict[str, SeriesRecord]:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._series_key(name))
        raws = pipe.execute() if names else []
        return {name: record for name, raw in zip(names, raws, strict=True) if (record := _record(raw)) is not None}

    def read(self, name: str, have: Mapping[int, str]) -> SeriesRead | None:
        series, chunks, chunkrevs = self._series_key(name), self._chunks_key(name), self._chunkrevs_key(name)
        for _ in range(READ_ATTEMPTS):
            pipe = self.client.pipeline(transaction=True)
            pipe.hgetall(series)
            pipe.hgetall(chunkrevs)
            if not have:  # a first read: every chunk in the same MULTI
                pipe.hgetall(chunks)
            raw, raw_revs, *everything = pipe.execute()
            record = _record(raw)
            if record is None:
                return None
            revs = {int(y): _text(r) for y, r in raw_revs.items()}
            if everything:
                return SeriesRead(record, revs, {int(y): b for y, b in everything[0].items()})
            changed = sorted(y for y, r in revs.items() if have.get(y) != r)
            if not changed:
                return SeriesRead(record, revs, {})
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(series, "rev")
            pipe.hmget(chunks, changed)
            rev, blobs = pipe.execute()
            if rev is not None and _text(rev) == record.rev:
                return SeriesRead(record, revs, dict(zip(changed, blobs, strict=True)))
        raise RuntimeError(f"history of {name}: still being rewritten after {READ_ATTEMPTS} reads")

    def strips(self, first: str | None = None, last: str | None = None, *, reaching: str | None = None) -> list[StripRow]:
        days = self.strip_dates(first, last)
        out = []
        for day, raw in zip(days, self.client.hmget(self._strips, days) if days else [], strict=True):
            if raw is None:  # removed between the two reads
                continue
            data = json.loads(raw)
            if reaching is None or max(data["settles"], default="") >= reaching:
                out.append(StripRow(day, data["source"], data.get("fetched_at"), data["settles"]))
        return out

    def strip_dates(self, first: str | None = None, last: str | None = None) -> list[str]:
        self._index_strip_days()
        low, high = f"[{first}" if first else "-", f"[{last}" if last else "+"
        return [_text(d) for d in self.client.zrangebylex(self._stripdays, low, high)]

    def strip_span(self) -> tuple[str, str] | None:
        self._index_strip_days()
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self._stripdays, 0, 0)
        pipe.zrange(self._stripdays, -1, -1)
        first, last = pipe.execute()
        return (_text(first[0]), _text(last[0])) if first and last else None

    def _index_strip_days(self) -> None:
        """Strips stored before hist:stripdays existed get it once (what put_strips now writes with them)."""
        if self._indexed:
            return
        if not self.client.exists(self._stripdays):
            days = self.client.hkeys(self._strips)
            if days:
                self.client.zadd(self._stripdays, {_text(d): 0 for d in days})
        self._indexed = True

    # writing ---------------------------------------------------------------------------------------
    def update(self, name: str, change: WriteFn) -> str | None:
        series = self._series_key(name)
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(series)  # type: ignore[no-untyped-call]
                    write = change(_Txn(pipe, self, name))
                    if write is None:
                        pipe.unwatch()
                        return None
                    rev = secrets.token_hex(8)
                    pipe.multi()
                    self._apply(pipe, name, write, rev)
                    _write_revision(pipe, self, name, rev)
                    pipe.execute()
                    return rev
                except WatchError:
                    continue  # another writer of this series committed first: run the change again

    def _apply(self, pipe: Any, name: str, write: SeriesWrite, rev: str) -> None:
        chunks, chunkrevs = self._chunks_key(name), self._chunkrevs_key(name)
        if write.replace:
            pipe.delete(chunks, chunkrevs)
        elif write.drop:
            pipe.hdel(chunks, *write.drop)
            pipe.hdel(chunkrevs, *write.drop)
        if write.put:
            pipe.hset(chunks, mapping=dict(write.put))
            pipe.hset(chunkrevs, mapping=dict.fromkeys(write.put, rev))
        pipe.hset(
            self._series_key(name),
            mapping={
                "source": write.source,
                "fetched_at": write.fetched_at or "",
                "rows": write.rows,
                "first": write.first or "",
                "last": write.last or "",
                "columns": json.dumps(list(write.columns)),
                "rev": rev,
            },
        )

    def delete(self, name: str) -> bool:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._series_key(name), self._chunks_key(name), self._chunkrevs_key(name))
        pipe.hdel(self._revs, name)
        gone, _ = pipe.execute()
        return bool(gone)

    def put_strips(self, strips: Sequence[StripRow]) -> str:
        rev = secrets.token_hex(8)
        mapping: dict[FieldT, EncodableT] = {
            s.trade_date: json.dumps({"source": s.source, "fetched_at": s.fetched_at, "settles": dict(s.settles)}, sort_keys=True)
            for s in strips
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._strips, mapping=mapping)
        pipe.zadd(self._stripdays, dict.fromkeys((s.trade_date for s in strips), 0))
        _write_revision(pipe, self, STRIPS, rev)
        pipe.execute()
        return rev

    def close(self) -> None:
        self.client.close()


def _write_revision(pipe: Any, history: RedisHistory, name: str, rev: str) -> None:
    """The last command queued in every write's MULTI (a seam for the crash test)."""
    pipe.hset(history._revs, name, rev)
