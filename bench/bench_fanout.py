"""Fan-out: one alert to many chats through the Telegram Bot API peer, which enforces Telegram's limits
(30 messages/s overall, 1/s per chat, 20/min per group) and answers 429 beyond them.

Two runs:
- Loopback, 5,000 chats, scaled to stay short: the peer's clock runs ``SCALE`` times faster (30
  messages per 1/SCALE s, i.e. SCALE × 30/s) and the sender is configured with the same scaled rates and
  window, so the ratio achieved / limit is what it would be at Telegram's real limits. One message in
  flight: this run measures the pacing; on loopback more in flight only lengthens each round trip
  (both ends are Python on two cores), which the pacer pays once per window (0.88 with 4 in flight).
- At Telegram's real limits (30/s, not scaled) with a 50 ms round trip injected by the peer (half before
  the request is counted, half on the way back), ``RTT_CHATS`` chats, side by side with one message in
  flight and with CAPGAP_SEND_CONCURRENCY's default: one in flight sends one message per round trip.

The store is the embedded SQLite file; the sender runs in a process of its own (as the bot does), the
peer in the benchmark's process. The pacer holds each send's slot from its start until a window after
Telegram's answer, less half the shortest recent round trip (bot/delivery.py ``_Pacer``), so at a round
trip r the steady rate tops out near 30 / (1 + r / 2) (without the credit 30 / (1 + r): 0.952 of the
limit at 50 ms, 0.947 measured).

Reported: achieved / limit over the whole run (the sender may send a whole window's 30 messages at
once, so over N messages the ratio can reach 1 + 30/N), the steady rate (from the 31st message on, at
the peer), the 429s received, messages lost and duplicated (both must be 0) and the elapsed time.
``python -m bench.bench_fanout`` prints the table.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Bot
from telegram.request import HTTPXRequest

from bench.common import REPO, row
from bot.clock import SystemClock
from bot.config import Settings
from bot.delivery import Limits, Sender
from bot.store.base import ChatSettings, OutboxItem
from bot.store.sqlite import SqliteStore
from tests.telegram_peer import Limits as PeerLimits
from tests.telegram_peer import TelegramPeer

CHATS = 5000
TELEGRAM_PER_S = 30.0  # Telegram's overall limit, messages/s
SCALE = 5.0  # 150 messages/s at the peer and the sender: 5,000 chats in ~35 s
IN_FLIGHT = int(Settings.model_fields["send_concurrency"].default)  # CAPGAP_SEND_CONCURRENCY's default
RTT_S = 0.05  # a realistic round trip to Telegram's servers
RTT_CHATS = 900  # 30 s at the limit


async def drain(db: Path, base_url: str, token: str, *, scale: float, in_flight: int) -> float:
    """The sender's side, run in its own process: drain the outbox in ``db``; seconds it took."""
    store = SqliteStore(db)
    await store.open()
    limit = TELEGRAM_PER_S * scale
    limits = Limits(
        overall_per_s=limit, per_chat_per_s=scale, per_group_per_min=20 * scale, window_s=1 / scale
    )
    try:
        bot = Bot(token, base_url=base_url, request=HTTPXRequest(connection_pool_size=max(8, 2 * in_flight)))
        async with bot:
            sender = Sender(store, bot, SystemClock(), limits=limits, batch=200, max_in_flight=in_flight)
            started = time.perf_counter()
            while (await store.outbox_counts())["pending"]:
                stats = await sender.drain_once()
                if stats.claimed == 0:  # only after a 429: its item is due when retry_after ends
                    await asyncio.sleep(0.01)
            return time.perf_counter() - started
    finally:
        await store.close()


async def fan_out(
    tmp: Path, *, chats: int = CHATS, scale: float = SCALE, in_flight: int = IN_FLIGHT, round_trip_s: float = 0.0
) -> dict[str, Any]:
    """Deliver one alert to each of ``chats`` chats; the figures of the run.

    The peer (Telegram) serves from this process and the sender runs as a bot does, in a process of
    its own: sharing one event loop, each would count the other's CPU time as its round trip.
    """
    db = tmp / f"fanout-{in_flight}-{round_trip_s}.sqlite3"
    store = SqliteStore(db)
    await store.open()
    try:
        now = datetime.now(UTC)
        for chat_id in range(1, chats + 1):
            await store.put_chat(ChatSettings(chat_id=chat_id))
        added = await store.enqueue(
            [
                OutboxItem(f"alert:bench:{c}", c, {"text": f"<b>R2K</b> new high · chat {c}"}, now, now)
                for c in range(1, chats + 1)
            ]
        )
        assert added == chats
    finally:
        await store.close()
    limit = TELEGRAM_PER_S * scale
    async with TelegramPeer(limits=PeerLimits(scale=scale), round_trip_s=round_trip_s) as peer:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.bench_fanout", "--sender", str(db), peer.base_url, peer.token,
            str(scale), str(in_flight), cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the sender process failed with exit code {child.returncode}")
        elapsed = float(out.decode().strip().splitlines()[-1])
        received = Counter(c.chat_id for c in peer.sent if c.method == "sendMessage" and c.ok)
        times = sorted(c.time for c in peer.sent if c.method == "sendMessage" and c.ok)
        peer_stats = peer.stats()
    store = SqliteStore(db)
    await store.open()
    try:
        counts = await store.outbox_counts()
    finally:
        await store.close()
    return {
        "rate": chats / elapsed,
        "ratio": chats / elapsed / limit,
        "too_many": peer_stats.too_many_requests,
        "lost": sum(1 for c in range(1, chats + 1) if received[c] == 0),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "elapsed": elapsed,
        "sent": counts["sent"],
        # from the 31st message on: the rate once the first window's burst is spent
        "steady": (len(times) - 31) / (times[-1] - times[30]) / limit if len(times) > 60 else float("nan"),
    }


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(fan_out(Path(tmp), in_flight=1))
        slow = {n: asyncio.run(fan_out(Path(tmp), chats=RTT_CHATS, scale=1.0, in_flight=n, round_trip_s=RTT_S))
                for n in (1, IN_FLIGHT)}  # fmt: skip
    limit = TELEGRAM_PER_S * SCALE
    tag = f"fan-out {CHATS:,} chats"
    rows = [
        row(
            f"{tag}: achieved / limit ({r['rate']:.1f} of {limit:g} msg/s), steady {r['steady']:.3f}",
            r["ratio"],
            ">= 0.95",
            r["ratio"] >= 0.95,
        ),
        row(f"{tag}: 429s received", r["too_many"], "0", r["too_many"] == 0),
        row(f"{tag}: messages lost", r["lost"], "0", r["lost"] == 0 and r["sent"] == CHATS),
        row(f"{tag}: duplicates", r["duplicates"], "0", r["duplicates"] == 0),
        row(
            f"{tag}: scale (Telegram's 30/s, 1/s per chat, x{SCALE:g}), 1 in flight",
            SCALE,
            "reported",
        ),
        row(f"{tag}: elapsed s", r["elapsed"], "reference"),
    ]
    for n, s in slow.items():
        tag = f"fan-out {RTT_CHATS} chats at 30/s, {RTT_S * 1000:g} ms round trip, {n} in flight"
        goal = n == IN_FLIGHT
        rows += [
            row(
                f"{tag}: achieved / limit ({s['rate']:.1f} msg/s), steady {s['steady']:.3f}",
                s["ratio"],
                ">= 0.95" if goal else "reported",
                s["ratio"] >= 0.95 if goal else None,
            ),
            row(
                f"{tag}: lost / duplicates / 429s",
                f"{s['lost']} / {s['duplicates']} / {s['too_many']}",
                "0 / 0 / 0",
                s["lost"] == 0 and s["duplicates"] == 0 and s["too_many"] == 0 and s["sent"] == RTT_CHATS,
            ),
        ]
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sender"]:
        db, base_url, token, scale, in_flight = sys.argv[2:7]
        print(asyncio.run(drain(Path(db), base_url, token, scale=float(scale), in_flight=int(in_flight))))
    else:
        from bench.common import print_table

        print_table(run())
