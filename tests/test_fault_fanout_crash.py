"""Crash in the middle of a fan-out: the bot runs as a real process draining 2,000 alerts to the
Telegram peer, is killed with SIGKILL three times at different points, and restarted. Every chat ends
with its alert; each kill duplicates at most the one message that was in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.base import ChatSettings, OutboxItem
from bot.store.sqlite import SqliteStore
from tests.telegram_peer import Limits, TelegramPeer

REPO = Path(__file__).resolve().parent.parent
CHATS = 2000
KILL_AT = (0.1, 0.5, 0.9)  # fractions of the chats served when each kill lands


async def prepare(data_dir: Path) -> None:
    store = SqliteStore(data_dir / "capgap.sqlite3")
    await store.open()
    now = datetime.now(UTC)
    for chat_id in range(1, CHATS + 1):
        await store.put_chat(ChatSettings(chat_id=chat_id))
    items = [OutboxItem(key=f"alert:test:{c}", chat_id=c, payload={"text": f"<b>alert</b> for chat {c}"}, created_at=now, not_before=now)
             for c in range(1, CHATS + 1)]
    assert await store.enqueue(items) == CHATS
    await store.close()


def start_bot(peer: TelegramPeer, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGAP_")}
    env.update({
        "CAPGAP_TELEGRAM_TOKEN": peer.token,
        "CAPGAP_TELEGRAM_BASE_URL": peer.base_url,
        "CAPGAP_DATA_DIR": str(data_dir),
        "CAPGAP_REFRESH_ENABLED": "false",
        "CAPGAP_RATE_LIMIT_PER_SECOND": "2000",
        "CAPGAP_RATE_LIMIT_PER_CHAT": "50",
        "PYTHONPATH": str(REPO),
    })
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=data_dir, env=env, stdout=handle, stderr=subprocess.STDOUT)


def delivered(peer: TelegramPeer) -> Counter[int]:
    return Counter(c.chat_id for c in peer.sent if c.method == "sendMessage" and c.ok and c.chat_id is not None)


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_fanout_loses_nothing_and_duplicates_at_most_one_per_kill(tmp_path: Path) -> None:
    asyncio.run(prepare(tmp_path))
    log = tmp_path / "bot.log"
    peer = TelegramPeer.start_in_thread(limits=Limits(global_per_second=2000, per_chat_per_second=50, scale=1.0))
    try:
        for fraction in KILL_AT:
            proc = start_bot(peer, tmp_path, log)
            target = int(CHATS * fraction)
            wait_until(lambda: len(delivered(peer)) >= target or proc.poll() is not None, 120, f"{target} chats served")
            assert proc.poll() is None, log.read_text()[-3000:]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc = start_bot(peer, tmp_path, log)
        try:
            wait_until(lambda: len(delivered(peer)) >= CHATS, 180, "every chat served")
            time.sleep(0.5)  # anything still to come would be a duplicate
        finally:
            proc.terminate()
            proc.wait(20)
        counts = delivered(peer)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        print(f"\nfan-out crash test: {CHATS} chats, {len(KILL_AT)} kills, {sum(counts.values())} messages, "
              f"{len(counts)} chats served, {duplicates} duplicates")
        assert set(counts) == set(range(1, CHATS + 1))
        assert duplicates <= len(KILL_AT)
        assert "Traceback" not in log.read_text()
    finally:
        peer.stop()
