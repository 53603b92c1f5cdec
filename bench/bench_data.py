"""Data: history in the store (SQLite file and Redis), loaded, refreshed and reloaded, side by side.

Every figure is measured on both backends: the embedded SQLite file and a real Redis (CAPGAP_REDIS_URL,
else a redis-server started here on a loopback port; without either the Redis rows say why they are
missing).

- load of all history: the 8 real series (~88k rows) read by a new store (a process that just started;
  SQLite's pages come from the OS page cache, Redis's over the loopback socket).
- reload when nothing changed: ``Market.reload_if_changed()`` on a built snapshot: one read of the
  revisions, what a worker does every few seconds.
- incremental refresh vs full rebuild: both go through the real path (Market.refresh -> YahooSource over
  httpx -> parse_chart -> HistoryStore.upsert -> Market.reload) for the six bar series the refresh job
  fetches from Yahoo (RUT, NDX, SPX, IWM, SPY, QQQ), one after another as the job does, with the wire
  answered in-process by a transport that serves Yahoo v8 chart bodies built from the real histories,
  in the recorded fixture's format, for exactly the range requested; one event loop and one long-lived
  HTTP client, the timer covers ``await market.refresh(...)`` only. Full: an empty store; incremental:
  history one session behind (in the columns a Yahoo refresh stores), refreshed through the store that
  wrote it ("warm", a running bot) or a new one ("cold", just after a restart). SQLite's log of the
  untimed bulk write is checkpointed before the timer starts (see SqliteHistory.checkpoint).
- a worker's reload after that refresh by another process: ``reload_if_changed()`` in a Market that
  did not write (it re-reads only the chunks the refresh rewrote).

Figures are medians over repeated runs in one process, interleaved, with garbage collected before each
(untimed). Afterwards one more series of incremental refreshes runs with the stages timed per call (the
timers wrap the stages, so those runs are not the headline).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import pandas as pd

import bot.sources.yahoo as yahoo
from bench.common import median_time, require_shared_data, row
from bot.clock import FixedClock
from bot.history import HistoryStore, load_all
from bot.market import Market
from bot.sources.csvfile import read_series_csv
from bot.sources.yahoo import YahooSource
from tests.fake_vendors import chart_response
from tests.shared_files import SHARED_FILES

# Real files for 8 daily series (SP600/IJR have no public history: their places are taken by the
# FRED rates the bot also keeps).
FILES = {name: SHARED_FILES[name] for name in ("RUT", "NDX", "SPX", "IWM", "SPY", "QQQ", "DFEDTARU", "DGS10")}
TEMPLATE = "fixtures/yahoo/nyf2_chart-QQQ-2020-01-01-to-2020-01-03.json"
GOAL_RATIO = 0.05
GOAL_LOAD_S = 0.1
GOAL_NOOP_RELOAD_S = 0.001
REPEAT = 9


def chart_transport(
    frames: dict[str, pd.DataFrame], template: dict[str, Any]
) -> tuple[httpx.MockTransport, list[int]]:
    """Serve chart bodies of each Yahoo symbol in ``frames`` for the requested period; record how many
    bars each answer carried.

    It stands in for Yahoo, whose time is not capgap's: the columns are prepared once, so an answer
    costs a slice and a JSON encoding of the bars asked for.
    """
    prepared = {}
    for symbol, frame in frames.items():
        opens = frame.index.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
        stamps = (opens.tz_convert("UTC").asi8 // 1_000_000_000).astype("int64")
        columns = {c: frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}
        prepared[symbol] = (stamps, columns)
    meta_text = json.dumps(template["chart"]["result"][0]["meta"])
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        symbol = unquote(request.url.path.rsplit("/", 1)[-1])
        stamps, columns = prepared[symbol]
        p1 = int(request.url.params.get("period1", 0))
        p2 = int(request.url.params.get("period2", 2**31))
        lo, hi = (int(i) for i in np.searchsorted(stamps, [p1, p2]))
        served.append(hi - lo)
        return chart_response(meta_text, symbol, stamps, columns, lo, hi)

    return httpx.MockTransport(handler), served


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def stage_timers(stages: dict[str, list[float]]) -> Iterator[None]:
    """Time the stages of a refresh by wrapping them; the originals are restored on exit."""
    patches: list[tuple[object, str, Any]] = []

    def wrap(owner: object, attr: str, stage: str) -> None:
        original = getattr(owner, attr)
        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    stages.setdefault(stage, []).append(time.perf_counter() - started)

            replacement: Callable[..., Any] = timed_async
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    stages.setdefault(stage, []).append(time.perf_counter() - started)

            replacement = timed
        patches.append((owner, attr, original))
        setattr(owner, attr, replacement)

    wrap(YahooSource, "fetch", "yahoo: fetch (request + answer + parse)")
    wrap(yahoo, "parse_chart", "yahoo: parse_chart")
    wrap(HistoryStore, "last_date", "history: last_date")
    wrap(HistoryStore, "upsert", "history: upsert")
    wrap(Market, "reload", "market: reload (names, load, meta, strips, status)")
    wrap(HistoryStore, "series", "history: series (within reload)")
    try:
        yield
    finally:
        for owner, attr, original in reversed(patches):
            setattr(owner, attr, original)


class Places:
    """Fresh, empty history places of one backend (a SQLite file in a new folder, or a new Redis key
    prefix), opened as stores; everything is removed by ``cleanup``."""

    def __init__(self, kind: str, root: Path, redis_url: str | None = None) -> None:
        self.kind, self.root, self.redis_url = kind, root, redis_url
        self.prefixes: list[str] = []

    def new(self) -> str:
        if self.kind == "sqlite":
            return tempfile.mkdtemp(dir=self.root)
        prefix = f"capgap-bench:{uuid.uuid4().hex}:"
        self.prefixes.append(prefix)
        return prefix

    def open(self, place: str) -> HistoryStore:
        if self.kind == "sqlite":
            from bot.store.history_sqlite import SqliteHistory

            return HistoryStore(SqliteHistory(Path(place) / "capgap.sqlite3"))
        from bot.store.history_redis import RedisHistory

        assert self.redis_url is not None
        return HistoryStore(RedisHistory(self.redis_url, prefix=place))

    def cleanup(self) -> None:
        if self.kind != "redis" or not self.prefixes:
            return
        import redis

        client = redis.Redis.from_url(self.redis_url or "")
        for prefix in self.prefixes:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.unlink(*keys)
        client.close()


@contextmanager
def bench_redis() -> Iterator[str | None]:
    """CAPGAP_REDIS_URL, else a redis-server of our own on a free loopback port, else None."""
    configured = os.environ.get("CAPGAP_REDIS_URL")
    if configured:
        yield configured
        return
    if shutil.which("redis-server") is None:
        yield None
        return
    from tests.redis_server import start_redis_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis_server(Path(tmp), appendonly=False)
        try:
            yield server.url
        finally:
            server.stop()


def run() -> list[dict[str, Any]]:
    data = require_shared_data()
    frames = {name: read_series_csv(data / rel, name).frame for name, rel in FILES.items()}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, bench_redis() as redis_url:
        rows += run_backend(Places("sqlite", Path(tmp)), data, frames)
        rows += run_odds(Places("sqlite", Path(tmp)), data)
        if redis_url is None:
            rows.append(row("[redis] not measured: no CAPGAP_REDIS_URL and no redis-server", "-", "runs", False))
        else:
            places = Places("redis", Path(tmp), redis_url)
            try:
                rows += run_backend(places, data, frames)
                rows += run_odds(places, data)
            finally:
                places.cleanup()
    # Linux reports kilobytes.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(row("peak RSS of this process MB", rss_mb, "reference"))
    return rows


def run_backend(places: Places, data: Path, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    tag = f"[{places.kind}]"
    rows: list[dict[str, Any]] = []
    loaded = places.new()
    history = places.open(loaded)
    for name, frame in frames.items():
        history.write(name, frame, source="csv", fetched_at=None)
    total_rows = sum(len(f) for f in frames.values())
    # Cold: a new store (new connection, empty memory) each time, so every chunk is read and decoded.
    opened: list[HistoryStore] = []

    def cold_load() -> None:
        store = places.open(loaded)
        opened.append(store)
        load_all(store)

    load_s = median_time(cold_load, repeat=15)
    load_warm_s = median_time(lambda: load_all(history), repeat=15)
    for store in opened:
        store.close()
    rows.append(
        row(
            f"{tag} load all history ({len(FILES)} series, {total_rows:,} rows), cold store ms",
            load_s * 1000,
            f"milliseconds (<= {GOAL_LOAD_S * 1000:.0f})",
            load_s <= GOAL_LOAD_S,
        )
    )
    rows.append(row(f"{tag} load all history again, same store ms", load_warm_s * 1000, "reference"))

    # A worker's check every few seconds when nothing changed: one read of the revisions.
    last_bar = min(f.index[-1] for f in frames.values() if "close" in f.columns)
    clock = FixedClock(datetime(last_bar.year, last_bar.month, last_bar.day, 23, 0, tzinfo=UTC))
    market = Market(history, clock)
    market.reload()
    noop = [0.0] * 2000
    for i in range(len(noop)):
        started = time.perf_counter()
        market.reload_if_changed()
        noop[i] = time.perf_counter() - started
    noop_s = statistics.median(noop)
    rows.append(
        row(f"{tag} reload when nothing changed (reload_if_changed) ms", noop_s * 1000,
            f"<= {GOAL_NOOP_RELOAD_S * 1000:g} ms", noop_s <= GOAL_NOOP_RELOAD_S)
    )
    history.close()

    # The bar series the refresh job fetches from Yahoo, each refreshed in turn as the job does.
    bars = {name: frame for name, frame in frames.items() if "close" in frame.columns}
    template = json.loads((data / TEMPLATE).read_text())["response"]["bodyJson"]
    transport, served = chart_transport({yahoo.yahoo_symbol(n): f for n, f in bars.items()}, template)
    last = min(f.index[-1] for f in bars.values())
    bars = {name: frame.loc[:last] for name, frame in bars.items()}
    now = datetime(last.year, last.month, last.day, 23, 0, tzinfo=UTC)
    names = list(bars)

    async def timed_refresh(client: httpx.AsyncClient, place: str, store: HistoryStore) -> float:
        # What the scheduled job does in a running bot: one refresh on its long-lived Market and
        # HTTP client, inside the running event loop (neither is created per refresh).
        market = Market(store, FixedClock(now), {"yahoo": YahooSource(client)})
        # The garbage of the previous sample (a full rebuild leaves ~10^6 objects) is collected
        # here, untimed, not inside whichever sample happens to cross the collector's threshold.
        gc.collect()
        started = time.perf_counter()
        await market.refresh(names)
        elapsed = time.perf_counter() - started
        # Untimed: the refresh must have stored every session of every series, the newest included.
        check = places.open(place)
        for name, frame in bars.items():
            meta = check.meta(name)
            if meta is None or (meta.rows, meta.last) != (len(frame), last.date()):
                raise RuntimeError(f"the refresh left {name} {meta}, not {len(frame)} rows up to {last.date()}")
        check.close()
        return elapsed

    async def full(client: httpx.AsyncClient) -> float:
        place = places.new()
        store = places.open(place)
        try:
            return await timed_refresh(client, place, store)
        finally:
            store.close()

    # One session behind, in the columns a Yahoo refresh stores (the transport serves adjclose =
    # close): the overlap then comes back unchanged, as on a real day. From the CSV's columns every
    # refresh would instead add an adjclose column to every stored row.
    behind = {
        name: frame.iloc[:-1].assign(adjclose=frame["close"].iloc[:-1])[
            ["open", "high", "low", "close", "adjclose", "volume"]
        ]
        for name, frame in bars.items()
    }
    incremental_place = places.new()
    worker_reloads: list[float] = []

    async def incremental(client: httpx.AsyncClient, *, warm: bool) -> float:
        store = places.open(incremental_place)
        for name, frame in behind.items():
            store.write(name, frame, source="yahoo", fetched_at=None)
        # That bulk write happened long before a real refresh: SQLite folds its ~5 MB of log into the
        # file (a checkpoint) now, untimed, not inside the first timed upsert. The refresh's own log
        # pages (~1 MB) are folded by a later commit, every fourth refresh or so.
        checkpoint = getattr(store.backend, "checkpoint", None)
        if checkpoint is not None:
            checkpoint()
        # A worker that holds the snapshot of the history one session behind and did not write.
        worker = Market(places.open(incremental_place), FixedClock(now))
        worker.reload()
        refresher = store if warm else places.open(incremental_place)
        try:
            elapsed = await timed_refresh(client, incremental_place, refresher)
            gc.collect()
            started = time.perf_counter()
            changed = worker.reload_if_changed()
            worker_reloads.append(time.perf_counter() - started)
            if not changed or worker.snapshot.frames["RUT"].index[-1] != last:
                raise RuntimeError("the worker did not see the refresh")
            return elapsed
        finally:
            worker.history.close()
            store.close()
            if refresher is not store:
                refresher.close()

    async def measure() -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
        async with httpx.AsyncClient(transport=transport) as client:
            # Interleaved, after one warm-up of each, so drift in the machine hits all three alike.
            await full(client)
            await incremental(client, warm=True)
            await incremental(client, warm=False)
            samples: dict[str, list[float]] = {"full": [], "warm": [], "cold": []}
            for _ in range(REPEAT):
                samples["full"].append(await full(client))
                samples["warm"].append(await incremental(client, warm=True))
                samples["cold"].append(await incremental(client, warm=False))
            # Where the incremental (warm) refresh spends its time.
            stages: dict[str, list[float]] = {}
            totals: list[float] = []
            with stage_timers(stages):
                for _ in range(REPEAT):
                    totals.append(await incremental(client, warm=True))
            return samples, stages, totals

    samples, stages, totals = asyncio.run(measure())
    full_bars = sum(served[: len(names)])
    incr_bars = sum(served[-len(names) :])
    label = f"{len(names)} series ({', '.join(names)})"
    full_ms, warm_ms, cold_ms = (median_ms(samples[k]) for k in ("full", "warm", "cold"))
    rows.append(row(f"{tag} full rebuild of {label}: {full_bars:,} bars fetched, ms", full_ms, "reference"))
    rows.append(row(f"{tag} incremental refresh of the {len(names)}: {incr_bars} bars fetched, warm store ms", warm_ms,
                    "reference"))
    rows.append(row(f"{tag} incremental refresh of the {len(names)}: {incr_bars} bars fetched, cold store ms", cold_ms,
                    "reference"))
    rows.append(
        row(f"{tag} incremental (warm) / full rebuild", warm_ms / full_ms, f"<= {GOAL_RATIO}", warm_ms / full_ms <= GOAL_RATIO)
    )
    rows.append(
        row(f"{tag} incremental (cold) / full rebuild", cold_ms / full_ms, f"<= {GOAL_RATIO}", cold_ms / full_ms <= GOAL_RATIO)
    )
    rows.append(row(f"{tag} another worker's reload after the refresh ms", median_ms(worker_reloads), "reference"))
    for stage, times in stages.items():
        rows.append(row(f"{tag}   incremental, {stage} ms (per call)", median_ms(times), "reference"))
    rows.append(row(f"{tag}   incremental, whole refresh while timed ms", median_ms(totals), "reference"))
    return rows


ZQ_FILE = "zq/ZQ_contracts_daily_1990_2025_pyfedwatch.csv"
ODDS_REPEAT = 3


def run_odds(places: Places, data: Path) -> list[dict[str, Any]]:
    """The FedWatch odds history after the shared ZQ file is imported (8,572 strips and the target range):
    what a strip refresh costs (``put_strip`` and ``record_odds``, as ``Market._refresh_strip`` does them
    for the strip of one new trade date), and another worker's reload of its snapshot after it."""
    from bot.market import record_odds
    from bot.sources.zq_daily import parse_zq_daily

    tag = f"[{places.kind}]"
    place = places.new()
    history = places.open(place)
    parsed = parse_zq_daily((data / ZQ_FILE).read_bytes(), origin="zq.csv")
    history.put_strips(parsed.strips)
    history.write("DFEDTARL", read_series_csv(data / SHARED_FILES["DFEDTARL"], "DFEDTARL").frame, source="csv",
                  fetched_at=None)
    record_odds(history)
    last = parsed.strips[-1]
    clock = FixedClock(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))
    worker = Market(places.open(place), clock)
    worker.reload()
    refresh_s, reload_s = [], []
    for day in pd.bdate_range(last.trade_date + pd.Timedelta(days=1), periods=ODDS_REPEAT + 1):
        strip = replace(last, trade_date=day.date())
        gc.collect()
        started = time.perf_counter()
        history.put_strip(strip)
        record_odds(history, [strip.trade_date])
        refresh_s.append(time.perf_counter() - started)
        gc.collect()
        started = time.perf_counter()
        worker.reload_if_changed()
        reload_s.append(time.perf_counter() - started)
        if max(worker.snapshot.strips) != strip.trade_date:
            raise RuntimeError("the worker did not see the new strip")
    worker.history.close()
    history.close()
    label = f"after importing {len(parsed.strips):,} ZQ strips"
    return [
        row(f"{tag} strip refresh (put_strip + record_odds) {label} ms", median_ms(refresh_s[1:]), "reference"),
        row(f"{tag} another worker's reload after that strip refresh ms", median_ms(reload_s[1:]), "reference"),
    ]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
