"""Memory: peak RSS of a bot process with all real history loaded and 100k subscriptions evaluated.

Runs in a child process so nothing the benchmark runner loaded counts: the child imports the bot,
builds a snapshot of every real series, stores 100k subscriptions in SQLite, runs one watch over them
(listing, grouping, vectorised evaluation, state writes) and reports its peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import REPO, require_shared_data, row

SUBSCRIPTIONS = 100_000
GOAL_MB = 200


async def child(tmp: Path) -> dict[str, Any]:
    import numpy as np

    from bench.bench_data import FILES
    from bot import calendar
    from bot.alerts.watcher import watch_once
    from bot.clock import FixedClock
    from bot.history import HistoryStore
    from bot.market import Market
    from bot.render.alerts import render_alerts
    from bot.sources.csvfile import read_series_csv
    from bot.store.base import ChatSettings, Subscription
    from bot.store.sqlite import SqliteStore

    data = require_shared_data()
    history = HistoryStore(tmp / "history")
    for name, rel in FILES.items():
        history.write(name, read_series_csv(data / rel, name).frame, source="csv", fetched_at=None)
    clock = FixedClock(calendar.session_close(date(2026, 2, 20)) + timedelta(minutes=30))
    snap = Market(history, clock).reload()
    store = SqliteStore(tmp / "capgap.sqlite3")
    await store.open()
    rng = np.random.default_rng(1)
    for start in range(0, SUBSCRIPTIONS, 10_000):
        for chat_id in range(start, start + 10_000):
            await store.put_chat(ChatSettings(chat_id=chat_id + 1))
            await store.put_subscription(Subscription(chat_id=chat_id + 1, rule_id="r2k_drawdown",
                                                      params={"threshold": float(round(rng.uniform(1, 30), 1))}))
    report = await watch_once(store, snap, clock.now(), render_alerts)
    await store.close()
    return {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "series": len(snap.frames),
            "rows": sum(len(f) for f in snap.frames.values()), "evaluated": report.evaluated}


def run() -> list[dict[str, Any]]:
    require_shared_data()
    out = subprocess.run([sys.executable, "-m", "bench.bench_memory", "--child"], cwd=REPO, capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return [row(f"peak RSS MB: {result['series']} series ({result['rows']:,} rows) + {SUBSCRIPTIONS:,} subscriptions watched",
                result["rss_mb"], f"<= {GOAL_MB} MB", result["rss_mb"] <= GOAL_MB)]


if __name__ == "__main__":
    if "--child" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(asyncio.run(child(Path(tmp))), default=str))
    else:
        from bench.common import print_table

        print_table(run())
