"""RedisStore across a Redis restart: a clear StoreUnavailableError while down, nothing lost after."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreUnavailableError
from bot.store.base import ChatSettings, OutboxItem, Subscription
from bot.store.redis import RedisStore
from tests.redis_server import RedisProc, redis_server_binary, redis_unavailable, start_redis_server

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

T0 = datetime(2025, 9, 18, 20, 5, tzinfo=UTC)


@pytest.fixture
def aof_server(tmp_path: Path) -> Iterator[RedisProc]:
    """A redis-server of this test's own, with every write fsynced to its AOF."""
    if redis_server_binary() is None:
        redis_unavailable("the restart test needs the redis-server binary (apt-get install redis-server)")
    server = start_redis_server(tmp_path / "redis", appendonly=True)
    yield server
    server.stop()


def _item(key: str, *, created_s: int, due_s: int = 0) -> OutboxItem:
    return OutboxItem(
        key=key,
        chat_id=-100,
        payload={"text": f"<b>{key}</b>"},
        created_at=T0 + timedelta(seconds=created_s),
        not_before=T0 + timedelta(seconds=due_s),
    )


async def test_redis_store_server_restart_unavailable_then_recovers_without_loss(
    aof_server: RedisProc,
) -> None:
    # few, short retries: "down" is decided in a few hundredths of a second instead of ~0.7 s
    store = RedisStore(aof_server.url, prefix="capgap:", retries=2, backoff_base_s=0.01, backoff_cap_s=0.05)
    await store.open()
    try:
        chat = ChatSettings(-100, lang="zh-Hant", tz="Asia/Taipei", kind="supergroup")
        subs = [
            Subscription(-100, "r2k_high", {"window": "52w"}, created_at=T0),
            Subscription(7, "cut_odds", {}),
        ]
        await store.put_chat(chat)
        for sub in subs:
            await store.put_subscription(sub)
        await store.put_alert_states("r2k_high", {"-100": {"state": "firing", "since": "2025-09-18"}})
        assert (
            await store.enqueue(
                [
                    _item("sent", created_s=0),
                    _item("leased", created_s=1),
                    _item("waiting", created_s=2, due_s=60),
                ]
            )
            == 3
        )
        assert [i.key for i in await store.claim("s1", now=T0, limit=1, lease_s=30)] == ["sent"]
        await store.mark_sent("sent", now=T0)
        assert [i.key for i in await store.claim("s1", now=T0, limit=1, lease_s=30)] == ["leased"]
        assert await store.acquire_lock("scheduler", "proc-a", 60) is True

        aof_server.stop()

        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as raised:
            await store.list_subscriptions(rule_id="r2k_high")
        assert time.monotonic() - started < 5.0
        assert raised.value.msgid == StoreUnavailableError.msgid
        with pytest.raises(StoreUnavailableError):
            await store.claim("s2", now=T0 + timedelta(minutes=5), limit=5, lease_s=30)
        assert await store.ping() is False

        aof_server.start()

        # the same object, never reopened
        assert await store.ping() is True
        assert await store.get_chat(-100) == chat
        assert await store.list_subscriptions() == subs
        assert await store.get_alert_states("r2k_high") == {
            "-100": {"state": "firing", "since": "2025-09-18"}
        }
        assert await store.outbox_counts() == {"pending": 2, "sent": 1, "dead": 0}
        assert await store.was_sent("sent") is True
        assert await store.enqueue([_item("sent", created_s=0)]) == 0
        # the lease taken before the restart still holds, and expires on time
        assert await store.claim("s2", now=T0 + timedelta(seconds=29), limit=5, lease_s=30) == []
        after = await store.claim("s2", now=T0 + timedelta(seconds=60), limit=5, lease_s=30)
        assert [i.key for i in after] == ["leased", "waiting"]
        assert await store.acquire_lock("scheduler", "proc-b", 60) is False
    finally:
        await store.close()


async def test_redis_store_open_server_down_unavailable(tmp_path: Path) -> None:
    if redis_server_binary() is None:
        redis_unavailable("the restart test needs the redis-server binary (apt-get install redis-server)")
    server = start_redis_server(tmp_path / "redis", appendonly=False)
    server.stop()
    store = RedisStore(server.url, retries=1, backoff_base_s=0.01, backoff_cap_s=0.02)
    with pytest.raises(StoreUnavailableError):
        await store.open()
    assert await store.ping() is False


def test_redis_server_helper_restart_same_port_and_dir(tmp_path: Path) -> None:
    if redis_server_binary() is None:
        redis_unavailable("the restart test needs the redis-server binary (apt-get install redis-server)")
    server = start_redis_server(tmp_path / "redis", appendonly=True)
    try:
        port = server.port
        server.stop()
        assert server.running is False
        server.start()
        assert (server.port, server.running) == (port, True)
        assert os.path.isdir(tmp_path / "redis" / "appendonlydir")
    finally:
        server.stop()
