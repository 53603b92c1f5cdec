"""Memory: peak RSS of a running bot with all real history loaded and 100k subscriptions watched.

Measured on both backends. The parent process prepares what a bot finds when it starts: the store
(the SQLite file in the data dir, or a Redis under a key prefix of its own) holding the history it
keeps (written from the real CSVs through ``HistoryStore``) and 100k chats, each subscribed to
r2k_drawdown with its own threshold. A child process then does what ``capgap run`` does, and nothing
a bot never does at runtime (no CSV parsing, no bulk writes): it imports the bot (``bot.app``,
``bot.app``, the jobs), opens the history and the store, builds the snapshot, and runs the watch twice
(the first tick indexes the subscriptions, the second finds them unchanged). Its peak RSS
(``getrusage`` maxrss) is the headline; the RSS after each step and the two watch tick times are
reference rows, so the next person sees where memory and time go.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import REPO, require_shared_data, row

SUBSCRIPTIONS = 100_000
GOAL_MB = 200
ASOF = date(2026, 2, 20)
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def _rss_mb() -> tuple[float, float]:
    """(peak, current) resident set size of this process in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = peak
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    except OSError:  # no procfs: the peak stands in
        pass
    return peak, current


def _stores(tmp: Path, redis_url: str, prefix: str):  # type: ignore[no-untyped-def]
    """History and store as `capgap run` opens them: make_history/make_store on the data dir without
    CAPGAP_REDIS_URL, or on Redis (under ``prefix``, so the benchmark's keys are its own)."""
    if not redis_url:
        from bot.store.factory import make_history, make_store

        return make_history(data_dir=tmp, redis_url=None), make_store(data_dir=tmp, redis_url=None)
    from bot.history import HistoryStore
    from bot.store.history_redis import RedisHistory
    from bot.store.redis import RedisStore

    return HistoryStore(RedisHistory(redis_url, prefix=prefix)), RedisStore(redis_url, prefix=prefix)


async def prepare(tmp: Path, redis_url: str = "", prefix: str = "") -> None:
    """What the bot finds when it starts: the history it keeps and a store with the subscriptions."""
    import numpy as np

    from bench.bench_data import FILES
    from bot.sources.csvfile import read_series_csv
    from bot.store.base import ChatSettings, Subscription

    data = require_shared_data()
    history, store = _stores(tmp, redis_url, prefix)
    for name, rel in FILES.items():
        history.write(name, read_series_csv(data / rel, name).frame, source="csv", fetched_at=None)
    history.close()
    await store.open()
    rng = np.random.default_rng(1)
    thresholds = [float(round(t, 1)) for t in rng.uniform(1, 30, SUBSCRIPTIONS)]

    async def add(chat_id: int, threshold: float) -> None:
        await store.put_chat(ChatSettings(chat_id=chat_id))
        await store.put_subscription(
            Subscription(chat_id=chat_id, rule_id="r2k_drawdown", params={"threshold": threshold})
        )

    batch = 16 if redis_url else 1  # Redis: round trips overlap (within its connection pool); SQLite: one writer thread
    for start in range(0, SUBSCRIPTIONS, batch):
        await asyncio.gather(*(add(start + i + 1, t) for i, t in enumerate(thresholds[start : start + batch])))
    await store.close()


async def child(tmp: Path, redis_url: str = "", prefix: str = "") -> dict[str, Any]:
    steps: list[tuple[str, float, float]] = [("start", *_rss_mb())]
    import bot.app  # noqa: F401 - what `capgap run` imports: the application, the jobs, the renderers
    import jobs.digest  # noqa: F401
    import jobs.refresh  # noqa: F401
    import jobs.schedule  # noqa: F401
    import jobs.watch  # noqa: F401
    from bot import calendar
    from bot.alerts.watcher import Watcher
    from bot.clock import FixedClock
    from bot.market import Market
    from bot.render.alerts import render_alerts

    steps.append(("imports", *_rss_mb()))
    clock = FixedClock(calendar.session_close(ASOF) + timedelta(minutes=30))
    history, store = _stores(tmp, redis_url, prefix)
    snap = Market(history, clock).reload()
    steps.append(("history opened, snapshot built", *_rss_mb()))
    await store.open()
    steps.append(("store opened", *_rss_mb()))
    ticks = []
    watcher = Watcher(store)  # as the running bot keeps one (bot/seam.py Services)
    for label in ("watch tick 1 (indexes the subscriptions)", "watch tick 2 (subscriptions unchanged)"):
        started = time.perf_counter()
        report = await watcher.watch(snap, clock.now(), render_alerts)
        ticks.append(time.perf_counter() - started)
        steps.append((label, *_rss_mb()))
    await store.close()
    return {
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "series": len(snap.frames),
        "rows": sum(len(f) for f in snap.frames.values()),
        "evaluated": report.evaluated,
        "steps": steps,
        "ticks": ticks,
    }


def run() -> list[dict[str, Any]]:
    from bench.bench_data import bench_redis

    require_shared_data()
    rows: list[dict[str, Any]] = []
    with bench_redis() as redis_url:
        rows += run_backend("sqlite", "")
        if redis_url is None:
            rows.append(row("[redis] not measured: no CAPGAP_REDIS_URL and no redis-server", "-", "runs", False))
        else:
            rows += run_backend("redis", redis_url)
    return rows


def run_backend(kind: str, redis_url: str) -> list[dict[str, Any]]:
    prefix = f"capgap-bench:{uuid.uuid4().hex}:" if redis_url else ""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(prepare(Path(tmp), redis_url, prefix))
            # Linux keeps a process's peak RSS across exec, and a forked child starts from its parent's: a
            # child forked from this process (which just wrote the data) would report this one's peak. So a
            # fresh, small interpreter starts the child.
            command = [sys.executable, "-m", "bench.bench_memory", "--child", tmp, redis_url, prefix]
            out = subprocess.run(
                [sys.executable, "-c", _LAUNCHER, *command],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=1200,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                client.unlink(*keys[start : start + 1000])
            client.close()
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    tag = f"[{kind}]"
    rows = [
        row(
            f"{tag} peak RSS MB: {result['series']} series ({result['rows']:,} rows)"
            f" + {SUBSCRIPTIONS:,} subscriptions watched",
            result["rss_mb"],
            f"<= {GOAL_MB} MB",
            result["rss_mb"] <= GOAL_MB,
        )
    ]
    for name, peak, current in result["steps"]:
        rows.append(row(f"{tag}   RSS MB after {name} (peak {peak:.0f})", current, "reference"))
    first, second = result["ticks"]
    rows.append(
        row(f"{tag}   watch tick ms, {SUBSCRIPTIONS:,} subs, first (indexes them)", first * 1000, "reference")
    )
    rows.append(
        row(f"{tag}   watch tick ms, {SUBSCRIPTIONS:,} subs, unchanged subscriptions", second * 1000, "reference")
    )
    return rows


if __name__ == "__main__":
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        tmp, redis_url, prefix = sys.argv[at + 1 : at + 4]
        print(json.dumps(asyncio.run(child(Path(tmp), redis_url, prefix)), default=str))
    else:
        from bench.common import print_table

        print_table(run())
