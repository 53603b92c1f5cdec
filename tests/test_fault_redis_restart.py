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
    async with TelegramPeer() as peer, running_bot(peer, tmp_path, clock=clock_at_close(DAY), redis_url=own_redis.url) as bot:
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
