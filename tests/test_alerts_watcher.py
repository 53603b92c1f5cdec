"""The watcher's subscription index: a Watcher keeps it while its store's subscriptions version holds,
and drops it, so the next tick lists again, as soon as anything about a subscription changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot import calendar
from bot.alerts.rules import RULES
from bot.alerts.watcher import Watcher, watch_once
from bot.clock import FixedClock
from bot.history import HistoryStore
from bot.market import Market, Snapshot
from bot.render.alerts import render_alerts
from bot.store.base import ChatSettings, Store, Subscription
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

BEFORE, FIRING = date(2025, 9, 17), date(2025, 9, 18)  # RUT flat at 2000 up to BEFORE, 2500 on FIRING


def _after_close(day: date) -> datetime:
    return calendar.session_close(day) + timedelta(minutes=30)


class Rut:
    """A Russell 2000 history that makes a new record close on FIRING, and snapshots of it."""

    def __init__(self, tmp: Path) -> None:
        sessions = [date(2021, 1, 4)]
        while sessions[-1] < BEFORE:
            sessions.append(calendar.next_session(sessions[-1]))
        self.history = HistoryStore(tmp / "history")
        self.history.write("RUT", self._frame(sessions, 2000.0), source="csv", fetched_at=None)
        self.clock = FixedClock(_after_close(BEFORE))
        self.market = Market(self.history, self.clock)

    @staticmethod
    def _frame(days: list[date], close: float) -> pd.DataFrame:
        return pd.DataFrame({"close": [close] * len(days)}, index=pd.DatetimeIndex(days, name="date"))

    def before(self) -> Snapshot:
        return self.market.reload()

    def firing(self) -> Snapshot:
        self.history.upsert("RUT", self._frame([FIRING], 2500.0), source="csv", fetched_at=None)
        self.clock.instant = _after_close(FIRING)
        return self.market.reload()


class CountingStore:
    """A store that counts how often subscriptions are listed."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.listings = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def iter_subscriptions(self, rule_id: str, **kwargs: Any) -> AsyncIterator[list[Subscription]]:
        self.listings += 1
        return self.inner.iter_subscriptions(rule_id, **kwargs)

    async def list_subscriptions(self, **kwargs: Any) -> list[Subscription]:
        self.listings += 1
        return await self.inner.list_subscriptions(**kwargs)


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Store]:
    """Makes unopened stores of one backend; each name is a store of its own (file / key prefix)."""
    if request.param == "sqlite":
        return lambda name: SqliteStore(tmp_path / f"{name}.sqlite3")
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return lambda name: RedisStore(url, prefix=f"{prefix}{name}:")


@pytest.fixture
async def store(make_store: Callable[[str], Store]) -> AsyncIterator[Store]:
    s = make_store("main")
    await s.open()
    yield s
    await s.close()


async def _subscribe(store: Store, *chats: int, **fields: Any) -> None:
    for chat_id in chats:
        await store.put_chat(ChatSettings(chat_id))
        await store.put_subscription(Subscription(chat_id, "r2k_high", **fields))


async def _alerted(store: Store) -> list[int]:
    """Chats with an alert in the outbox."""
    items = await store.claim("test", now=datetime(2100, 1, 1, tzinfo=UTC), limit=100, lease_s=60)
    return sorted(i.chat_id for i in items)


async def test_watch_unchanged_subscriptions_are_not_listed_again(store: Store, tmp_path: Path) -> None:
    rut, counting = Rut(tmp_path), CountingStore(store)
    watcher = Watcher(counting)  # type: ignore[arg-type]
    await _subscribe(store, 1, 2)
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    assert counting.listings == len(RULES)  # the first tick lists each rule once
    snap = rut.firing()
    report = await watcher.watch(snap, rut.clock.now(), render_alerts)
    assert counting.listings == len(RULES) and report.messages == 2  # evaluated from the kept index
    await store.put_chat(ChatSettings(1, lang="zh-Hant"))  # not a subscription
    await store.set_meta("anything", "1")
    await watcher.watch(snap, rut.clock.now(), render_alerts)
    assert counting.listings == len(RULES)
    await _subscribe(store, 3)
    await watcher.watch(snap, rut.clock.now(), render_alerts)
    assert counting.listings == 2 * len(RULES)


async def test_watch_once_keeps_nothing_between_calls(store: Store, tmp_path: Path) -> None:
    rut, counting = Rut(tmp_path), CountingStore(store)
    await _subscribe(store, 1)
    await watch_once(counting, rut.before(), rut.clock.now(), render_alerts)  # type: ignore[arg-type]
    await watch_once(counting, rut.before(), rut.clock.now(), render_alerts)  # type: ignore[arg-type]
    assert counting.listings == 2 * len(RULES)


async def test_watch_subscription_added_between_ticks_gets_the_next_alert(
    store: Store, tmp_path: Path
) -> None:
    rut = Rut(tmp_path)
    watcher = Watcher(store)  # one index kept across the ticks, as in the running bot
    await _subscribe(store, 1)
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    await _subscribe(store, 2)
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)
    assert report.events == 2 and await _alerted(store) == [1, 2]


async def test_watch_subscription_removed_between_ticks_gets_nothing(store: Store, tmp_path: Path) -> None:
    rut = Rut(tmp_path)
    watcher = Watcher(store)  # one index kept across the ticks, as in the running bot
    await _subscribe(store, 1, 2)
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    assert await store.delete_subscription(2, "r2k_high")
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)
    assert report.events == 1 and await _alerted(store) == [1]


async def test_watch_subscription_muted_between_ticks_gets_nothing(store: Store, tmp_path: Path) -> None:
    rut = Rut(tmp_path)
    watcher = Watcher(store)  # one index kept across the ticks, as in the running bot
    await _subscribe(store, 1, 2, 3)
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    until = rut.clock.now() + timedelta(days=3)
    await store.put_subscription(Subscription(2, "r2k_high", muted_until=until))  # /mute of one alert
    await store.put_chat(ChatSettings(3, muted_until=until))  # /mute of the whole chat
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)
    assert report.events == 3 and report.messages == 1 and await _alerted(store) == [1]


async def test_watch_mute_that_ran_out_between_ticks_lets_the_alert_through(
    store: Store, tmp_path: Path
) -> None:
    rut = Rut(tmp_path)
    watcher = Watcher(store)  # one index kept across the ticks, as in the running bot
    await _subscribe(store, 1, muted_until=_after_close(BEFORE) + timedelta(hours=1))
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)  # a day later
    assert report.messages == 1 and await _alerted(store) == [1]


async def test_watch_chat_migrated_between_ticks_alerts_the_new_id(store: Store, tmp_path: Path) -> None:
    rut = Rut(tmp_path)
    watcher = Watcher(store)  # one index kept across the ticks, as in the running bot
    await _subscribe(store, -4001, 2)
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    await store.migrate_chat(-4001, -1004001)
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)
    assert report.events == 2 and await _alerted(store) == [-1004001, 2]


async def test_watch_drops_the_state_of_params_nobody_subscribes_to_any_more(store: Store, tmp_path: Path) -> None:
    """Months of chats changing their minds must not grow what each tick reads: the states of params no
    subscription holds go at the next tick, and subscribing to them again starts afresh from the history
    (RUT was flat, so always at its 52-week high: the record close is news to the "all" window only)."""
    rut = Rut(tmp_path)
    watcher = Watcher(store)
    await _subscribe(store, 1, params={"window": "all"})
    await _subscribe(store, 2, params={"window": "52w"})
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    both = set(await store.get_alert_states("r2k_high"))
    assert len(both) == 4  # a group record and a params state for each window
    assert await store.delete_subscription(2, "r2k_high")
    await watcher.watch(rut.before(), rut.clock.now(), render_alerts)
    kept = set(await store.get_alert_states("r2k_high"))
    assert len(kept) == 2 and kept < both
    await _subscribe(store, 2, params={"window": "52w"})
    report = await watcher.watch(rut.firing(), rut.clock.now(), render_alerts)
    assert report.events == 1 and await _alerted(store) == [1]
    assert set(await store.get_alert_states("r2k_high")) == both
