"""Memory: peak RSS of a running bot with all real history loaded and 100k subscriptions watched.

The parent process prepares what a bot finds on disk when it starts: the history it keeps (written
from the real CSVs through ``HistoryStore``) and a SQLite store with 100k chats, each subscribed to
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
import resource
import subprocess
import sys
import tempfile
import time
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


async def prepare(tmp: Path) -> None:
    """What the bot finds on disk: the history it keeps and a store with the subscriptions."""
    import numpy as np

    from bench.bench_data import FILES
    from bot.history import HistoryStore
    from bot.sources.csvfile import read_series_csv
    from bot.store.base import ChatSettings, Subscription
    from bot.store.factory import make_store

    data = require_shared_data()
    history = HistoryStore(tmp / "history")
    for name, rel in FILES.items():
        history.write(name, read_series_csv(data / rel, name).frame, source="csv", fetched_at=None)
    store = make_store(data_dir=tmp, redis_url=None)
    await store.open()
    rng = np.random.default_rng(1)
    thresholds = [float(round(t, 1)) for t in rng.uniform(1, 30, SUBSCRIPTIONS)]
    for chat_id, threshold in enumerate(thresholds, start=1):
        await store.put_chat(ChatSettings(chat_id=chat_id))
        await store.put_subscription(
            Subscription(chat_id=chat_id, rule_id="r2k_drawdown", params={"threshold": threshold})
        )
    await store.close()


async def child(tmp: Path) -> dict[str, Any]:
    steps: list[tuple[str, float, float]] = [("start", *_rss_mb())]
    import bot.app  # noqa: F401 - what `capgap run` imports: the application, the jobs, the renderers
    import jobs.digest  # noqa: F401
    import jobs.refresh  # noqa: F401
    import jobs.schedule  # noqa: F401
    import jobs.watch  # noqa: F401
    from bot import calendar
    from bot.alerts.watcher import Watcher
    from bot.clock import FixedClock
    from bot.history import HistoryStore
    from bot.market import Market
    from bot.render.alerts import render_alerts
    from bot.store.factory import make_store

    steps.append(("imports", *_rss_mb()))
    clock = FixedClock(calendar.session_close(ASOF) + timedelta(minutes=30))
    snap = Market(HistoryStore(tmp / "history"), clock).reload()
    steps.append(("history opened, snapshot built", *_rss_mb()))
    store = make_store(data_dir=tmp, redis_url=None)  # as `capgap run` opens it, without CAPGAP_REDIS_URL
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
    require_shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(prepare(Path(tmp)))
        # Linux keeps a process's peak RSS across exec, and a forked child starts from its parent's: a
        # child forked from this process (which just wrote the data) would report this one's peak. So a
        # fresh, small interpreter starts the child.
        command = [sys.executable, "-m", "bench.bench_memory", "--child", tmp]
        out = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [
        row(
            f"peak RSS MB: {result['series']} series ({result['rows']:,} rows)"
            f" + {SUBSCRIPTIONS:,} subscriptions watched",
            result["rss_mb"],
            f"<= {GOAL_MB} MB",
            result["rss_mb"] <= GOAL_MB,
        )
    ]
    for name, peak, current in result["steps"]:
        rows.append(row(f"  RSS MB after {name} (peak {peak:.0f})", current, "reference"))
    first, second = result["ticks"]
    rows.append(
        row(f"  watch tick ms, {SUBSCRIPTIONS:,} subs, first (indexes them)", first * 1000, "reference")
    )
    rows.append(
        row(f"  watch tick ms, {SUBSCRIPTIONS:,} subs, unchanged subscriptions", second * 1000, "reference")
    )
    return rows


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(asyncio.run(child(Path(sys.argv[sys.argv.index("--child") + 1]))), default=str))
    else:
        from bench.common import print_table

        print_table(run())
