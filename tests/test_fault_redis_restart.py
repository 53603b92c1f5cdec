"""Redis restarts under a running bot: nothing stored is lost, the bot reconnects by itself, and users
get answers (from memory) or a clear "store unavailable" — never a traceback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.store.base import Subscription
from tests.e2e import clock_at_close, running_bot
from tests.redis_server import redis_server_binary, redis_unavailable, start_redis_server
from tests.telegram_peer import TelegramPeer

DAY = date(2026, 2, 20)


@pytest.fixture
def own_redis(tmp_path: Path):  # type: ignore[no-untyped-def]
    if redis_server_binary() is None:
        redis_unavailable("redis-server is not installed")
    server = start_redis_server(tmp_path / "redis", appendonly=True)
    yield server
    server.stop()


async def test_redis_restart_loses_nothing_and_the_bot_keeps_answering(tmp_path: Path, own_redis) -> None:  # type: ignore[no-untyped-def]
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(DAY), redis_url=own_redis.url) as bot:
        store = bot.services.store
        assert store is not None
        peer.inject_message(2001, "/lang zh-Hant")
        await peer.wait_for(lambda c: c.chat_id == 2001 and "繁體中文" in (c.text or ""), timeout=10)
        await store.put_subscription(Subscription(chat_id=2001, rule_id="r2k_high", params={"window": "52w"}))
        await store.put_alert_states("r2k_high", {"2001": {"state": "firing", "since": "2026-02-20"}})

        own_redis.stop()
        # The chat's language is remembered in memory: /help still answers in Chinese.
        peer.inject_message(2001, "/help")
        help_call = await peer.wait_for(lambda c: c.chat_id == 2001 and "capgap 指令" in (c.text or ""), timeout=15)
        assert help_call.ok
        # A command that must write says the store is unavailable, in the chat's language.
        peer.inject_message(2001, "/lang en")
        down = await peer.wait_for(lambda c: c.chat_id == 2001 and "設定資料庫暫時無法連線" in (c.text or ""), timeout=15)
        assert "Traceback" not in down.text

        own_redis.start()
        peer.inject_message(2001, "/lang en")
        await peer.wait_for(lambda c: c.chat_id == 2001 and (c.text or "").startswith("Language set to English"), timeout=15)
        subs = await store.list_subscriptions(chat_id=2001)
        assert [s.rule_id for s in subs] == ["r2k_high"] and subs[0].params == {"window": "52w"}
        assert (await store.get_alert_states("r2k_high"))["2001"]["state"] == "firing"
        chat = await store.get_chat(2001)
        assert chat is not None and chat.lang == "en"
        assert not any("Traceback" in (c.text or "") for c in peer.sent)


async def test_sender_redis_outage_logs_one_line_when_it_goes_and_one_when_it_is_back(
    tmp_path: Path, own_redis, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    """During an outage the sender retries every idle_s; the log says so once, and once more when Redis
    answers again, with no traceback (it logged a 3-level traceback per attempt: 33 in 43 s)."""
    import asyncio
    import logging
    from datetime import UTC, datetime

    from telegram import Bot

    from bot.clock import FixedClock
    from bot.delivery import Sender
    from bot.store.base import ChatSettings, OutboxItem
    from bot.store.redis import RedisStore

    now = datetime(2026, 2, 20, 21, 0, tzinfo=UTC)
    store = RedisStore(own_redis.url, retries=1, backoff_base_s=0.01, backoff_cap_s=0.02, connect_timeout_s=0.2)
    await store.open()
    await store.put_chat(ChatSettings(chat_id=7))
    attempts = 0
    claim = store.claim

    async def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        return await claim(*args, **kwargs)

    store.claim = counted  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="bot.delivery")
    stop = asyncio.Event()
    peer = TelegramPeer()
    async with Bot(peer.token, request=peer.request()) as bot:
        task = asyncio.create_task(Sender(store, bot, FixedClock(now)).run(stop, idle_s=0.05))
        await asyncio.sleep(0.2)
        own_redis.stop()
        before = attempts
        await asyncio.sleep(2.0)
        down_attempts = attempts - before
        own_redis.start()
        await store.enqueue([OutboxItem("alert:test:7", 7, {"text": "back"}, now, now)])
        await peer.wait_for(lambda c: c.chat_id == 7 and c.text == "back", timeout=15)
        stop.set()
        await task
    await store.close()
    lines = [r for r in caplog.records if r.name == "bot.delivery"]
    assert down_attempts >= 5  # it kept trying...
    assert [r.getMessage().split(" (")[0].split(" after")[0] for r in lines] == [  # ...and said so twice
        "outbox store unavailable",
        "outbox store answers again",
    ], [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in lines)
    assert "Connection" in lines[0].getMessage()  # the cause, in one line
