"""Heartbeats: each running bot process touches a file of its own; `capgap health` reads them.

One file per process (``<data_dir>/heartbeats/<hostname>.<pid>``), because several workers may share a
data volume: with one shared file a hung worker would look healthy while another one beats. The health
check (run inside the container, so on the bot's host) looks at this host's files whose process is
still alive: every one of them must have beaten within ``MAX_AGE_S``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

# The bot beats every BEAT_S seconds (jobs/schedule.py); three missed beats make it unhealthy.
BEAT_S = 30.0
MAX_AGE_S = 3 * BEAT_S
# A heartbeat file this old belongs to a worker that is gone, whatever host it ran on.
FORGOTTEN_AFTER_S = 24 * 3600.0


def heartbeat_dir(data_dir: Path) -> Path:
    return data_dir / "heartbeats"


def own_heartbeat(data_dir: Path) -> Path:
    return heartbeat_dir(data_dir) / f"{socket.gethostname()}.{os.getpid()}"


def beat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def sweep(data_dir: Path, now_s: float | None = None) -> int:
    """Remove the heartbeat files of workers that are gone: this host's whose process no longer runs
    (killed before it could clean up; its pid could be another program's by now) and any silent for
    FORGOTTEN_AFTER_S (another host's, which this one cannot ask). Run when a bot starts, so the folder
    holds the live workers, not every worker a volume has seen. ``now_s``: the wall clock by default
    (file times are its). Returns how many went."""
    now_s = time.time() if now_s is None else now_s
    host, gone = socket.gethostname(), 0
    folder = heartbeat_dir(data_dir)
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        name, _, pid = path.name.rpartition(".")
        try:
            dead = name == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))
            if dead or now_s - path.stat().st_mtime > FORGOTTEN_AFTER_S:
                path.unlink()
                gone += 1
        except FileNotFoundError:
            continue  # another worker swept it first
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@dataclass(frozen=True)
class Health:
    healthy: bool
    message: str


def check(data_dir: Path, now_s: float) -> Health:
    """This host's running bot processes and the age of their last beat."""
    host = socket.gethostname()
    ages: dict[int, float] = {}
    folder = heartbeat_dir(data_dir)
    if folder.is_dir():
        for path in folder.iterdir():
            name, _, pid = path.name.rpartition(".")
            if name != host or not pid.isdigit() or not _alive(int(pid)):
                continue  # another host's worker, or a process that is gone (killed before it cleaned up)
            try:
                ages[int(pid)] = now_s - path.stat().st_mtime
            except FileNotFoundError:
                continue
    if not ages:
        return Health(False, f"no heartbeat from a running bot on {host} in {folder} (is the bot running?)")
    late = {pid: age for pid, age in ages.items() if age > MAX_AGE_S}
    if late:
        said = ", ".join(f"pid {pid}: {age:.0f} s ago" for pid, age in sorted(late.items()))
        return Health(False, f"last heartbeat too old ({said}; limit {MAX_AGE_S:.0f} s)")
    said = ", ".join(f"pid {pid}: {age:.0f} s ago" for pid, age in sorted(ages.items()))
    return Health(True, f"heartbeat {said}")
