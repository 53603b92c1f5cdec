"""Fan-out: one alert to 5,000 subscribed chats through the Telegram Bot API peer, which enforces
Telegram's limits (30 messages/s overall, 1/s per chat) and answers 429 beyond them.

The run is scaled to stay short: the peer's clock runs ``SCALE`` times faster (its limits become
SCALE × 30/s) and the sender is configured with the same scaled limit, so the ratio achieved / limit is
what it would be at Telegram's real limits. Reported: that ratio (goal ≥ 0.95), the 429s received,
messages lost and duplicated (both must be 0).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Bot
from telegram.request import HTTPXRequest

from bench.common import row
from bot.clock import SystemClock
from bot.delivery import Limits, Sender
from bot.store.base import ChatSettings, OutboxItem
from bot.store.sqlite import SqliteStore
from tests.telegram_peer import Limits as PeerLimits
from tests.telegram_peer import TelegramPeer

CHATS = 5000
TELEGRAM_LIMIT = 30.0
SCALE = 2.0


async def fan_out(tmp: Path, in_flight: int) -> dict[str, Any]:
    store = SqliteStore(tmp / f"fanout-{in_flight}.sqlite3")
    await store.open()
    now = datetime.now(UTC)
    for chat_id in range(1, CHATS + 1):
        await store.put_chat(ChatSettings(chat_id=chat_id))
    await store.enqueue([OutboxItem(f"alert:bench:{c}", c, {"text": f"<b>R2K</b> new high · chat {c}"}, now, now)
                         for c in range(1, CHATS + 1)])
    limit = TELEGRAM_LIMIT * SCALE
    async with TelegramPeer(limits=PeerLimits(global_per_second=30, per_chat_per_second=1, scale=SCALE)) as peer:
        bot = Bot(peer.token, base_url=peer.base_url, request=HTTPXRequest(connection_pool_size=max(8, in_flight * 2)))
        async with bot:
            sender = Sender(store, bot, SystemClock(), limits=Limits(overall_per_s=limit, per_chat_per_s=SCALE),
                            batch=200, max_in_flight=in_flight)
            started = time.perf_counter()
            while (await store.outbox_counts())["pending"]:
                stats = await sender.drain_once()
                if stats.claimed == 0:
                    await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
        counts = Counter(c.chat_id for c in peer.sent if c.method == "sendMessage" and c.ok)
        too_many = peer.stats().too_many_requests
    await store.close()
    return {
        "rate_ratio": CHATS / elapsed / limit,
        "too_many": too_many,
        "lost": CHATS - len(counts),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "elapsed": elapsed,
    }


def run() -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for in_flight in (1, 4):
            r = asyncio.run(fan_out(Path(tmp), in_flight))
            tag = f"fan-out 5,000 chats, {in_flight} in flight (scale {SCALE:g}: limit {TELEGRAM_LIMIT * SCALE:g}/s, {r['elapsed']:.0f} s)"
            rows += [
                row(f"{tag}: achieved / limit", r["rate_ratio"], ">= 0.95", r["rate_ratio"] >= 0.95),
                row(f"{tag}: 429s received", r["too_many"], "reported"),
                row(f"{tag}: messages lost", r["lost"], "0", r["lost"] == 0),
                row(f"{tag}: duplicates", r["duplicates"], "0", r["duplicates"] == 0),
            ]
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
