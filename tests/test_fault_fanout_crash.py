"""Crash in the middle of a fan-out: `capgap run` (python -m bot run) drains 2,000 enqueued alerts to the
Telegram peer as a real process, is killed with SIGKILL at three points of the delivery and restarted
each time; then it runs until the outbox is empty. Every chat ends with its alert, and each kill
duplicates at most the messages that were in flight: the sender pipelines CAPGAP_SEND_CONCURRENCY
sends (its default, ``IN_FLIGHT``), and the peer adds a round trip so that several are on the wire
when the kill lands.

Both stores: the SQLite file in the data dir, and a real Redis. The bot has no setting for a Redis key
prefix (bot/config.py, bot/store/factory.py use RedisStore's default ``capgap:``), so the Redis case runs
on a redis-server of its own rather than on the shared ``redis_url``, whose other keys it must not touch.

A killed sender's claimed batch stays leased for 60 s (Sender.lease_s). Rather than wait that out after
every kill, the test does what the expiry would: it claims the pending items at an instant past the
lease and releases them (bot/store/base.py ``claim`` / ``reschedule``), while no bot is running.

The bot must not reach the network: refresh is off, Telegram is the peer, and a sitecustomize in the
subprocess refuses (and records) any connection to a host other than loopback.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.store.base import ChatSettings, OutboxItem, Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.redis_server import redis_server_binary, redis_unavailable, start_redis_server
from tests.telegram_peer import Limits, SentCall, TelegramPeer

REPO = Path(__file__).resolve().parent.parent
CHATS = 2000
KILLS = ((1, 0.1), (2, 0.5), (3, 0.9))  # (seed, fraction of the messages delivered when the kill lands)
JITTER = 0.04  # each seed moves its kill up to 4% of the messages either way
RATE_PER_S = 1000  # Telegram's 30/s scaled up at the peer and the bot alike, so the run is short
LEASE_S = 60.0  # Sender.lease_s, the wait the test skips after each kill
IN_FLIGHT = int(Settings.model_fields["send_concurrency"].default)  # what a kill may duplicate
ROUND_TRIP_S = 0.01  # the peer's injected round trip: sends overlap, as they do at Telegram's distance

NET_GUARD = '''
"""Installed by tests/test_fault_fanout_crash.py: refuse and record connections to anything but loopback."""
import os
import socket

_LOG = os.environ["CAPGAP_TEST_NETWORK_LOG"]
_LOOPBACK = ("127.", "::1", "localhost")


def _allowed(address):
    if not isinstance(address, tuple):
        return True  # AF_UNIX
    return str(address[0]).startswith(_LOOPBACK)


def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(f"{what}\\n")
    raise OSError(f"network blocked by the fan-out crash test: {what}")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _guarded_connect(self, address):
    if not _allowed(address):
        _refuse(f"connect {address!r}")
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if not _allowed(address):
        _refuse(f"connect {address!r}")
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not str(host).startswith(_LOOPBACK):
        _refuse(f"resolve {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
'''


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    open_store: Callable[[], Store]  # the store the bot uses, as the test opens it


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "sqlite":
        yield Backend("sqlite", {}, lambda: SqliteStore(data_dir / "capgap.sqlite3"))
        return
    if redis_server_binary() is None:
        redis_unavailable("redis-server is not installed")
    server = start_redis_server(tmp_path / "redis", appendonly=False)
    try:
        yield Backend("redis", {"CAPGAP_REDIS_URL": server.url}, lambda: RedisStore(server.url))
    finally:
        server.stop()


async def prepare(store: Store) -> None:
    now = datetime.now(UTC)
    for chat_id in range(1, CHATS + 1):
        await store.put_chat(ChatSettings(chat_id=chat_id))
    items = [
        OutboxItem(
            key=f"alert:test:{c}",
            chat_id=c,
            payload={"text": f"<b>alert</b> for chat {c}"},
            created_at=now,
            not_before=now,
        )
        for c in range(1, CHATS + 1)
    ]
    assert await store.enqueue(items) == CHATS


async def expire_leases(store: Store) -> int:
    """Release every pending item as if the killed bot's lease had run out; returns how many are pending."""
    past_lease = datetime.now(UTC) + timedelta(seconds=LEASE_S + 1)
    held = await store.claim("lease-expiry", now=past_lease, limit=CHATS, lease_s=1.0)
    for item in held:
        await store.reschedule(item.key, not_before=item.not_before, error="lease of a killed sender expired")
    return len(held)


def start_bot(peer: TelegramPeer, tmp_path: Path, backend: Backend) -> subprocess.Popen[bytes]:
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(NET_GUARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
    env.update({
        "CAPGAP_TELEGRAM_TOKEN": peer.token,
        "CAPGAP_TELEGRAM_BASE_URL": peer.base_url,
        "CAPGAP_DATA_DIR": str(tmp_path / "data"),
        "CAPGAP_REFRESH_ENABLED": "false",
        "CAPGAP_RATE_LIMIT_PER_SECOND": str(RATE_PER_S),
        "CAPGAP_RATE_LIMIT_PER_CHAT": "1",
        "CAPGAP_TEST_NETWORK_LOG": str(tmp_path / "network.log"),
        "PYTHONPATH": os.pathsep.join([str(guard), str(REPO)]),
        **backend.env,
    })  # fmt: skip
    log = (tmp_path / "bot.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path / "data",
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@dataclass
class Run:
    """A fan-out prepared in the store, the peer serving, and the bot process the test starts."""

    store: Store
    peer: TelegramPeer
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@pytest.fixture
async def run(backend: Backend, tmp_path: Path) -> AsyncIterator[Run]:
    store = backend.open_store()
    await store.open()
    peer = TelegramPeer(limits=Limits(global_per_second=RATE_PER_S, per_chat_per_second=1, scale=1.0))
    await peer.start()  # serving HTTP on the test's loop: the bot is another process
    state = Run(store, peer, tmp_path / "bot.log")
    try:
        await prepare(store)
        yield state
    finally:
        if state.proc is not None and state.proc.poll() is None:
            state.proc.kill()
            state.proc.wait(10)
        await peer.aclose()
        await store.close()


def served(calls: list[SentCall]) -> list[int]:
    return [int(c.chat_id) for c in calls if c.method == "sendMessage" and c.ok and c.chat_id is not None]


async def settled(peer: TelegramPeer) -> int:
    """len(peer.sent) once the peer has finished any request the killed bot had on the wire."""
    count = -1
    while count != len(peer.sent):
        count = len(peer.sent)
        await asyncio.sleep(0.1)
    return count


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def wait_for_messages(peer: TelegramPeer, count: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the peer has delivered ``count`` messages; fails if the bot exits or 60 s pass first."""
    deadline = time.monotonic() + 60
    while len(served(peer.sent)) < count:
        assert proc.poll() is None, f"the bot exited ({proc.returncode}) before {count} messages: {tail(log)}"
        assert time.monotonic() < deadline, f"timed out waiting for {count} messages: {tail(log)}"
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_fanout_sigkill_three_times_loses_nothing_and_duplicates_at_most_the_messages_in_flight(
    backend: Backend, tmp_path: Path, run: Run
) -> None:
    store, peer, log = run.store, run.peer, run.log
    peer.round_trip_s = ROUND_TRIP_S
    marks: list[int] = []  # len(peer.sent) when each kill had settled
    pending_at_kill: list[int] = []
    for seed, fraction in KILLS:
        target = round(CHATS * (fraction + random.Random(seed).uniform(-JITTER, JITTER)))
        proc = run.proc = start_bot(peer, tmp_path, backend)
        await wait_for_messages(peer, target, proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        marks.append(await settled(peer))
        pending_at_kill.append(await expire_leases(store))

    proc = run.proc = start_bot(peer, tmp_path, backend)

    deadline = time.monotonic() + 60
    while (await store.outbox_counts())["pending"]:
        assert proc.poll() is None and time.monotonic() < deadline, tail(log)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # anything still to come would be a duplicate
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, 20)

    calls = peer.sent
    phases = [
        served(calls[start:end]) for start, end in zip([0, *marks], [*marks, len(calls)], strict=True)
    ]
    seen: set[int] = set()
    per_kill: list[int] = []
    within_phase = 0
    for number, phase in enumerate(phases):
        if number:
            per_kill.append(sum(1 for chat in phase if chat in seen))
        within_phase += sum(n - 1 for n in Counter(phase).values())
        seen.update(phase)
    counts = Counter(chat for phase in phases for chat in phase)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\nfan-out crash ({backend.name}): {CHATS} chats, runs killed after "
        f"{[len(p) for p in phases[:-1]]} messages, {sum(counts.values())} messages sent, "
        f"{duplicates} duplicates (per kill {per_kill}), pending after each kill {pending_at_kill}, "
        f"429s {peer.stats().too_many_requests}"
    )
    assert set(counts) == set(range(1, CHATS + 1))
    assert within_phase == 0
    assert all(n <= IN_FLIGHT for n in per_kill)
    assert duplicates == sum(per_kill)
    assert await store.outbox_counts() == {"pending": 0, "sent": CHATS, "dead": 0}
    assert "Traceback" not in log.read_text(), tail(log)  # noqa: ASYNC240 -- a small file, once
    network = tmp_path / "network.log"
    assert not network.exists(), tail(network)


@pytest.mark.slow
async def test_sigterm_mid_fanout_stops_cleanly_and_the_restart_resends_nothing_and_waits_for_no_lease(
    backend: Backend, tmp_path: Path, run: Run
) -> None:
    store, peer, log = run.store, run.peer, run.log
    proc = run.proc = start_bot(peer, tmp_path, backend)
    await wait_for_messages(peer, CHATS // 3, proc, log)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 15) == 0, tail(log)
    first = len(served(await asyncio.to_thread(lambda: peer.sent)))
    await settled(peer)
    assert "outbox sender stopped" in log.read_text(), tail(log)  # noqa: ASYNC240 -- a small file

    # No lease to wait out: what the stopped sender had claimed and not started was handed back.
    proc = run.proc = start_bot(peer, tmp_path, backend)
    # Well inside the 60 s lease the restart would otherwise wait out, with room for a busy machine.
    deadline = time.monotonic() + LEASE_S * 0.75
    while (await store.outbox_counts())["pending"]:
        assert proc.poll() is None, tail(log)
        assert time.monotonic() < deadline, f"pending items held past {LEASE_S * 0.75:.0f} s: {tail(log)}"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 15) == 0, tail(log)

    counts = Counter(served(peer.sent))
    print(f"\nSIGTERM mid fan-out ({backend.name}): {first} sent before the stop, "
          f"{sum(counts.values())} in all, {sum(n - 1 for n in counts.values())} duplicates")
    assert set(counts) == set(range(1, CHATS + 1))
    assert all(n == 1 for n in counts.values())
    assert await store.outbox_counts() == {"pending": 0, "sent": CHATS, "dead": 0}
    assert "Traceback" not in log.read_text(), tail(log)  # noqa: ASYNC240 -- a small file, once
