"""Leadership timed with real processes: two `capgap run` workers (webhook mode, as several workers run
behind a load balancer; each listens on a port of its own) on one store, against the Telegram peer in a
process of its own (bench/peer_process.py), on Redis and on SQLite.

Measured, with the lease of jobs/schedule.py (LEADER_TTL_S, renewed every LEADER_RENEW_S, tried by the
other workers every LEADER_TRY_S):
- `capgap health` true after a healthy start: from launching both workers to the first `capgap health`
  that exits 0 (goal <= 5 s; it includes Python starting the bot and loading its history);
- takeover after SIGKILL of the leader: from the signal until the other worker holds the leader lock
  (goal <= 15 s; the lease must run out first: at most LEADER_TTL_S + LEADER_TRY_S);
- takeover after SIGTERM of the leader (a clean stop releases the lock): from the signal until the
  other worker holds it (goal <= 2 s; the other tries every LEADER_TRY_S).

The lock's holder is read from the store itself (Redis ``capgap:lock:scheduler``, SQLite table
``locks``) every 20 ms. ``python -m bench leadership`` (or ``python -m bench.bench_leadership``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import REPO, row
from bench.peer_process import PeerProcess
from jobs.schedule import LEADER_LOCK, LEADER_RENEW_S, LEADER_TRY_S, LEADER_TTL_S

POLL_S = 0.02
HEALTH_GOAL_S = 5.0
KILL_GOAL_S = 15.0
TERM_GOAL_S = 2.0
WAIT_S = 60.0  # the longest any step may take before the bench gives up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Workers:
    """`capgap run --webhook` processes on one data dir and store, each on its own port."""

    def __init__(self, tmp: Path, peer: PeerProcess, redis_url: str | None) -> None:
        self.data = tmp / "data"
        self.data.mkdir()
        self.logs = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
        self.env.update({
            "CAPGAP_TELEGRAM_TOKEN": peer.token,
            "CAPGAP_TELEGRAM_BASE_URL": peer.base_url,
            "CAPGAP_DATA_DIR": str(self.data),
            "CAPGAP_REFRESH_ENABLED": "false",
            "CAPGAP_WEBHOOK_SECRET": secrets.token_hex(16),
            "CAPGAP_WEBHOOK_LISTEN": "127.0.0.1",
            "PYTHONPATH": str(REPO),
        })  # fmt: skip
        if redis_url is not None:
            self.env["CAPGAP_REDIS_URL"] = redis_url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        port = _free_port()
        env = {**self.env, "CAPGAP_WEBHOOK_PORT": str(port)}
        log = (self.logs / f"worker-{len(self.procs)}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook", f"http://127.0.0.1:{port}/telegram"],
            cwd=self.data, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def healthy(self) -> bool:
        done = subprocess.run([sys.executable, "-m", "bot", "health"], cwd=self.data, env=self.env, capture_output=True)
        return done.returncode == 0

    def beating(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether ``proc`` started: its own heartbeat file exists (written once its jobs are scheduled)."""
        return (self.data / "heartbeats" / f"{socket.gethostname()}.{proc.pid}").exists()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(self.logs.glob("worker-*.log")))


def _owner_reader(redis_url: str | None, data: Path) -> Callable[[], str | None]:
    """The leader lock's current holder ("host:pid"), read from the store."""
    if redis_url is not None:
        import redis

        client = redis.Redis.from_url(redis_url, decode_responses=True)
        return lambda: client.get(f"capgap:lock:{LEADER_LOCK}")  # type: ignore[return-value]

    def sqlite_owner() -> str | None:
        path = data / "capgap.sqlite3"
        if not path.exists():
            return None
        with sqlite3.connect(path, timeout=5) as db:
            try:
                found = db.execute(
                    "SELECT owner FROM locks WHERE name = ? AND expires_at > ?", (LEADER_LOCK, time.time())
                ).fetchone()
            except sqlite3.OperationalError:  # the table is not created yet
                return None
        return None if found is None else str(found[0])

    return sqlite_owner


def _owned_by(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def _until(what: str, check: Callable[[], bool], workers: Workers) -> float:
    """Seconds until ``check()`` holds (polled every POLL_S)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > WAIT_S:
            raise RuntimeError(f"{what}: not within {WAIT_S:.0f} s\n{workers.log_tail()}")
        time.sleep(POLL_S)
    return time.monotonic() - start


async def measure(backend: str, tmp: Path, redis_url: str | None) -> dict[str, float]:
    async with PeerProcess() as peer:
        workers = Workers(tmp, peer, redis_url)
        owner = _owner_reader(redis_url, workers.data)
        try:
            first = [workers.start(), workers.start()]
            health = await asyncio.to_thread(_until, "capgap health", workers.healthy, workers)
            await asyncio.to_thread(_until, "both workers started", lambda: all(map(workers.beating, first)), workers)
            leader = next(p for p in first if owner() == _owned_by(p))
            other = next(p for p in first if p is not leader)
            leader.kill()
            killed = await asyncio.to_thread(_until, "takeover after SIGKILL", lambda: owner() == _owned_by(other), workers)
            leader.wait()
            third = workers.start()
            await asyncio.to_thread(_until, "the new worker started", lambda: workers.beating(third), workers)
            other.terminate()
            termed = await asyncio.to_thread(_until, "takeover after SIGTERM", lambda: owner() == _owned_by(third), workers)
            other.wait(30)
        finally:
            await asyncio.to_thread(workers.stop_all)
    return {"health": health, "kill": killed, "term": termed}


def run() -> list[dict[str, Any]]:
    from tests.redis_server import redis_server_binary, start_redis_server

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="capgap-leadership-") as tmp:
        backends: list[str] = ["sqlite"] + (["redis"] if redis_server_binary() else [])
        for backend in backends:
            server = start_redis_server(Path(tmp) / "redis-server", appendonly=False) if backend == "redis" else None
            try:
                (Path(tmp) / backend).mkdir()
                r = asyncio.run(measure(backend, Path(tmp) / backend, server.url if server else None))
            finally:
                if server is not None:
                    server.stop()
            tag = f"leadership, two `capgap run --webhook` workers on {'Redis' if backend == 'redis' else 'SQLite'}"
            rows += [
                row(f"{tag}: `capgap health` true after start (s)", r["health"], f"<= {HEALTH_GOAL_S:g}",
                    r["health"] <= HEALTH_GOAL_S),
                row(f"{tag}: takeover after SIGKILL of the leader (s; lease {LEADER_TTL_S:g} s, renewed every "
                    f"{LEADER_RENEW_S:g} s, tried every {LEADER_TRY_S:g} s)", r["kill"], f"<= {KILL_GOAL_S:g}",
                    r["kill"] <= KILL_GOAL_S),
                row(f"{tag}: takeover after SIGTERM of the leader (s)", r["term"], f"<= {TERM_GOAL_S:g}",
                    r["term"] <= TERM_GOAL_S),
            ]  # fmt: skip
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    table = run()
    print_table(table)
    sys.exit(0 if all(r.get("pass") is not False for r in table) else 1)
