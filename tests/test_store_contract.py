"""One contract for every Store backend: SQLite on a real file, Redis on a real server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.store.base import ChatSettings, OutboxItem, Store, Subscription
from bot.store.factory import make_store
from bot.store.redis import RedisStore
from bot.store.sqlite import SCHEMA_VERSION, SqliteStore

T0 = datetime(2025, 9, 18, 20, 5, 0, 123456, tzinfo=UTC)  # the close that set the R2K record, + µs

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", "redis"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes unopened stores of one backend that all see the same data (same file / same prefix)."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite3"
        return lambda: SqliteStore(path)
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return lambda: RedisStore(url, prefix=prefix)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    s = store_factory()
    await s.open()
    yield s
    await s.close()


def item(
    key: str, chat_id: int = 100, *, created: timedelta = timedelta(0), due: timedelta = timedelta(0)
) -> OutboxItem:
    return OutboxItem(
        key=key,
        chat_id=chat_id,
        payload={"text": f"<b>{key}</b>"},
        created_at=T0 + created,
        not_before=T0 + due,
    )


# lifecycle -----------------------------------------------------------------------------------------


async def test_store_open_backend_satisfies_protocol_and_pings(store: Store) -> None:
    assert isinstance(store, Store)
    assert await store.ping() is True


async def test_store_closed_ping_false(store_factory: StoreFactory) -> None:
    s = store_factory()
    await s.open()
    await s.close()
    assert await s.ping() is False


async def test_store_open_records_schema_version(store: SqliteStore | RedisStore) -> None:
    assert await store.schema_version() == SCHEMA_VERSION == 1


async def test_store_naive_datetime_refused(store: Store) -> None:
    naive = datetime(2025, 9, 18, 20, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive datetime"):
        await store.enqueue([OutboxItem("k", 1, {}, created_at=naive, not_before=T0)])
    assert await store.outbox_counts() == {"pending": 0, "sent": 0, "dead": 0}


# chats ---------------------------------------------------------------------------------------------


async def test_chat_full_settings_round_trip_equal(store: Store) -> None:
    chat = ChatSettings(
        chat_id=-1001234567890,
        lang="zh-Hant",
        tz="Asia/Taipei",
        digest_time="08:30",
        kind="supergroup",
        active=True,
        inactive_reason=None,
        muted_until=T0 + timedelta(hours=6),
    )
    await store.put_chat(chat)
    assert await store.get_chat(-1001234567890) == chat


async def test_chat_put_again_replaces_every_field(store: Store) -> None:
    await store.put_chat(
        ChatSettings(7, lang="en", tz="America/New_York", digest_time="07:00", muted_until=T0)
    )
    await store.put_chat(ChatSettings(7, kind="group"))
    assert await store.get_chat(7) == ChatSettings(7, kind="group")


async def test_chat_unknown_id_none(store: Store) -> None:
    assert await store.get_chat(424242) is None


async def test_chat_deactivate_known_inactive_with_reason(store: Store) -> None:
    await store.put_chat(ChatSettings(5, lang="en"))
    await store.deactivate_chat(5, "403 Forbidden: bot was blocked by the user")
    assert await store.get_chat(5) == ChatSettings(
        5, lang="en", active=False, inactive_reason="403 Forbidden: bot was blocked by the user"
    )


async def test_chat_deactivate_unknown_stays_unknown(store: Store) -> None:
    await store.deactivate_chat(6, "chat not found")
    assert await store.get_chat(6) is None
    assert await store.list_chats(active_only=False) == []


async def test_chat_list_active_only_by_default_sorted_by_id(store: Store) -> None:
    for chat_id in (30, -10, 20):
        await store.put_chat(ChatSettings(chat_id))
    await store.deactivate_chat(20, "chat not found")
    assert [c.chat_id for c in await store.list_chats()] == [-10, 30]
    assert [(c.chat_id, c.active) for c in await store.list_chats(active_only=False)] == [
        (-10, True),
        (20, False),
        (30, True),
    ]


# migrate_chat ----------------------------------------------------------------------------------------


async def test_migrate_chat_moves_settings_subscriptions_state_and_pending_outbox(store: Store) -> None:
    old, new, other = -4001, -1004001, 55
    await store.put_chat(
        ChatSettings(old, lang="zh-Hant", tz="Asia/Taipei", digest_time="09:00", kind="group")
    )
    await store.put_subscription(Subscription(old, "r2k_high", {"window": "52w"}, created_at=T0))
    await store.put_subscription(Subscription(old, "cut_odds", {"threshold": 70}))
    await store.put_subscription(Subscription(other, "cut_odds", {"threshold": 60}))
    await store.put_alert_states(
        "r2k_high", {str(old): {"state": "firing"}, str(other): {"state": "inactive"}}
    )
    await store.put_alert_states("pe_gap", {"gap>=8": {"state": "pending", "sessions": 2}})
    await store.enqueue(
        [
            item("sent-before", old),
            item("leased", old, created=timedelta(seconds=1)),
            item("waiting", old, created=timedelta(seconds=2), due=timedelta(minutes=5)),
        ]
    )
    assert [i.key for i in await store.claim("s1", now=T0, limit=1, lease_s=60)] == ["sent-before"]
    await store.mark_sent("sent-before", now=T0)
    assert [i.key for i in await store.claim("s1", now=T0, limit=1, lease_s=60)] == ["leased"]

    await store.migrate_chat(old, new)

    assert await store.get_chat(old) is None
    assert await store.get_chat(new) == ChatSettings(
        new, lang="zh-Hant", tz="Asia/Taipei", digest_time="09:00", kind="group"
    )
    assert [c.chat_id for c in await store.list_chats()] == [
        new,
    ]
    assert await store.list_subscriptions(chat_id=old) == []
    assert await store.list_subscriptions(chat_id=new) == [
        Subscription(new, "cut_odds", {"threshold": 70}),
        Subscription(new, "r2k_high", {"window": "52w"}, created_at=T0),
    ]
    assert await store.list_subscriptions(rule_id="cut_odds") == [
        Subscription(new, "cut_odds", {"threshold": 70}),
        Subscription(other, "cut_odds", {"threshold": 60}),
    ]
    assert await store.get_alert_states("r2k_high") == {
        str(new): {"state": "firing"},
        str(other): {"state": "inactive"},
    }
    assert await store.get_alert_states("pe_gap") == {"gap>=8": {"state": "pending", "sessions": 2}}
    # the in-flight item keeps its lease; both pending items now go to the new id
    later = await store.claim("s2", now=T0 + timedelta(minutes=5), limit=10, lease_s=60)
    assert [(i.key, i.chat_id) for i in later] == [("leased", new), ("waiting", new)]
    assert await store.was_sent("sent-before") is True
    assert await store.outbox_counts() == {"pending": 2, "sent": 1, "dead": 0}


async def test_migrate_chat_new_id_has_records_old_ones_win(store: Store) -> None:
    await store.put_chat(ChatSettings(1, lang="zh-Hant", kind="group"))
    await store.put_chat(ChatSettings(2, lang="en", kind="supergroup", digest_time="07:00"))
    await store.put_subscription(Subscription(1, "r2k_high", {"window": "all"}))
    await store.put_subscription(Subscription(2, "r2k_high", {"window": "52w"}))
    await store.put_subscription(Subscription(2, "fed_decision", {}))
    await store.put_alert_states("r2k_high", {"1": {"state": "firing"}, "2": {"state": "inactive"}})

    await store.migrate_chat(1, 2)

    assert await store.get_chat(2) == ChatSettings(2, lang="zh-Hant", kind="group")
    assert await store.list_chats(active_only=False) == [ChatSettings(2, lang="zh-Hant", kind="group")]
    assert await store.list_subscriptions() == [
        Subscription(2, "fed_decision", {}),
        Subscription(2, "r2k_high", {"window": "all"}),
    ]
    assert await store.get_alert_states("r2k_high") == {"2": {"state": "firing"}}


async def test_migrate_chat_same_id_changes_nothing(store: Store) -> None:
    await store.put_chat(ChatSettings(3))
    await store.put_subscription(Subscription(3, "r2k_high"))
    await store.put_alert_states("r2k_high", {"3": {"state": "firing"}})
    await store.migrate_chat(3, 3)
    assert await store.get_chat(3) == ChatSettings(3)
    assert await store.list_subscriptions() == [Subscription(3, "r2k_high")]
    assert await store.get_alert_states("r2k_high") == {"3": {"state": "firing"}}


# subscriptions ---------------------------------------------------------------------------------------


async def test_subscription_put_same_pair_replaces(store: Store) -> None:
    await store.put_subscription(Subscription(9, "pe_gap", {"threshold": 8.0, "sessions": 3}, created_at=T0))
    replacement = Subscription(
        9, "pe_gap", {"threshold": 7.5}, created_at=T0, muted_until=T0 + timedelta(days=1)
    )
    await store.put_subscription(replacement)
    assert await store.list_subscriptions(chat_id=9) == [replacement]


async def test_subscription_lists_by_chat_by_rule_by_both_and_all(store: Store) -> None:
    subs = [
        Subscription(2, "r2k_high", {"window": "52w"}),
        Subscription(1, "r2k_high", {"window": "all", "note": "歷史新高"}),
        Subscription(1, "cut_odds", {"threshold": 70, "side": "cut"}),
        Subscription(-3, "cut_odds", {}),
    ]
    for sub in subs:
        await store.put_subscription(sub)
    assert await store.list_subscriptions(chat_id=1) == [subs[2], subs[1]]
    assert await store.list_subscriptions(rule_id="r2k_high") == [subs[1], subs[0]]
    assert await store.list_subscriptions(chat_id=1, rule_id="cut_odds") == [subs[2]]
    assert await store.list_subscriptions(chat_id=2, rule_id="cut_odds") == []
    assert await store.list_subscriptions(rule_id="fed_decision") == []
    assert await store.list_subscriptions() == [subs[3], subs[2], subs[1], subs[0]]


async def test_subscription_delete_existing_true_then_false(store: Store) -> None:
    await store.put_subscription(Subscription(4, "r2k_high"))
    await store.put_subscription(Subscription(4, "cut_odds"))
    assert await store.delete_subscription(4, "r2k_high") is True
    assert await store.delete_subscription(4, "r2k_high") is False
    assert await store.delete_subscription(5, "cut_odds") is False
    assert await store.list_subscriptions(chat_id=4) == [Subscription(4, "cut_odds")]
    assert await store.list_subscriptions(rule_id="r2k_high") == []
    assert await store.list_subscriptions() == [Subscription(4, "cut_odds")]


async def _pages(store: Store, rule_id: str, page_size: int) -> list[list[Subscription]]:
    return [page async for page in store.iter_subscriptions(rule_id, page_size=page_size)]


async def test_subscription_pages_return_every_subscriber_of_the_rule_exactly_once(store: Store) -> None:
    # 600 subscribers: past the size up to which Redis keeps a hash compact (512 by default), where
    # HSCAN returns it whole
    wanted = [
        Subscription(
            chat,
            "cut_odds",
            {"threshold": float(chat % 97)},
            created_at=T0,
            muted_until=T0 + timedelta(days=1) if chat % 5 == 0 else None,
        )
        for chat in range(-300, 300)
    ]
    for sub in wanted:
        await store.put_subscription(sub)
    await store.put_subscription(Subscription(7, "r2k_high"))  # another rule's: never in these pages
    pages = await _pages(store, "cut_odds", 50)
    got = [sub for page in pages for sub in page]
    assert len(pages) > 1 and all(pages)
    assert len(got) == len(wanted)  # no repeats
    assert (
        sorted(got, key=lambda s: s.chat_id) == wanted == await store.list_subscriptions(rule_id="cut_odds")
    )


async def test_subscription_pages_of_a_small_or_missing_rule(store: Store) -> None:
    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 70}))
    await store.put_subscription(Subscription(2, "cut_odds", {"threshold": 60}))
    assert sorted(sub.chat_id for page in await _pages(store, "cut_odds", 1) for sub in page) == [1, 2]
    assert [sub.chat_id for page in await _pages(store, "cut_odds", 2000) for sub in page] == [1, 2]
    assert await _pages(store, "fed_decision", 10) == []
    with pytest.raises(ValueError, match="page size"):
        await _pages(store, "cut_odds", 0)


async def test_subscriptions_version_changes_on_every_subscription_write(store: Store) -> None:
    seen = [await store.subscriptions_version()]

    async def changed() -> None:
        version = await store.subscriptions_version()
        assert version not in seen
        seen.append(version)

    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 70}))
    await changed()  # created
    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 65}))
    await changed()  # replaced
    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 65}, muted_until=T0))
    await changed()  # muted
    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 65}))
    await changed()  # unmuted: back to an earlier content, still a new version
    await store.put_subscription(Subscription(2, "r2k_high"))
    await changed()
    await store.delete_subscription(2, "r2k_high")
    await changed()  # deleted
    await store.migrate_chat(1, -1001)
    await changed()  # moved
    assert [s.chat_id for s in await store.list_subscriptions()] == [-1001]


async def test_subscriptions_version_unchanged_by_reads_and_other_writes(store: Store) -> None:
    await store.put_subscription(Subscription(1, "cut_odds", {"threshold": 70}))
    version = await store.subscriptions_version()
    assert await store.subscriptions_version() == version
    await store.list_subscriptions()
    await store.list_subscriptions(rule_id="cut_odds")
    await _pages(store, "cut_odds", 1)
    await store.put_chat(ChatSettings(1, muted_until=T0))  # muting a whole chat is a chat setting
    await store.deactivate_chat(1, "chat not found")
    await store.put_alert_states("cut_odds", {"group:x": {"status": "inactive"}})
    await store.enqueue([item("k", 1)])
    await store.set_meta("watch:cut_odds:last_bar", "2025-09-18")
    await store.acquire_lock("scheduler", "me", 60)
    assert await store.delete_subscription(1, "r2k_high") is False  # nothing deleted
    await store.migrate_chat(5, 6)  # a chat without subscriptions
    assert await store.subscriptions_version() == version


async def test_subscriptions_version_shared_by_every_client_of_one_store(store_factory: StoreFactory) -> None:
    """Another process on the same file / Redis sees the same version, and a write of either changes it."""
    first, second = store_factory(), store_factory()
    await first.open()
    await second.open()
    try:
        assert await first.subscriptions_version() == await second.subscriptions_version()
        before = await second.subscriptions_version()
        await first.put_subscription(Subscription(1, "cut_odds"))
        assert await second.subscriptions_version() != before
        assert await first.subscriptions_version() == await second.subscriptions_version()
    finally:
        await first.close()
        await second.close()


async def test_subscriptions_version_differs_between_two_fresh_stores(tmp_path: Path, store: Store) -> None:
    if isinstance(store, SqliteStore):
        other: Store = SqliteStore(tmp_path / "other.sqlite3")
    else:
        assert isinstance(store, RedisStore)
        other = RedisStore(store.url, prefix=store.prefix + "other:")  # under the test's prefix: cleaned up
    await other.open()
    try:
        assert await other.subscriptions_version() != await store.subscriptions_version()
        await store.put_subscription(Subscription(1, "cut_odds"))
        await other.put_subscription(Subscription(1, "cut_odds"))  # the same writes: still two stores
        assert await other.subscriptions_version() != await store.subscriptions_version()
    finally:
        await other.close()


# alert state -------------------------------------------------------------------------------------------


async def test_alert_states_bulk_put_get_upserts_per_scope(store: Store) -> None:
    await store.put_alert_states(
        "pe_gap",
        {"100": {"state": "pending", "since": "2025-09-15", "sessions": 1}, "gap>=8": {"state": "inactive"}},
    )
    await store.put_alert_states(
        "pe_gap", {"100": {"state": "firing", "since": "2025-09-17"}, "200": {"state": "x"}}
    )
    await store.put_alert_states("pe_gap", {})
    assert await store.get_alert_states("pe_gap") == {
        "100": {"state": "firing", "since": "2025-09-17"},
        "gap>=8": {"state": "inactive"},
        "200": {"state": "x"},
    }
    assert await store.get_alert_states("cut_odds") == {}


async def test_alert_states_put_drops_scopes_in_the_same_write(store: Store) -> None:
    await store.put_alert_states("pe_gap", {"a": {"state": "x"}, "b": {"state": "y"}, "c": {"state": "z"}})
    await store.put_alert_states("pe_gap", {"a": {"state": "x2"}}, drop=["b", "missing"])
    await store.put_alert_states("pe_gap", {}, drop=["c"])
    assert await store.get_alert_states("pe_gap") == {"a": {"state": "x2"}}


# outbox ------------------------------------------------------------------------------------------------


async def test_outbox_enqueue_same_key_twice_adds_once(store: Store) -> None:
    assert (
        await store.enqueue([item("alert:r2k_high:2025-09-18:100"), item("alert:r2k_high:2025-09-18:100")])
        == 1
    )
    assert await store.enqueue([item("alert:r2k_high:2025-09-18:100"), item("digest:100:2025-09-19")]) == 1
    assert await store.outbox_counts() == {"pending": 2, "sent": 0, "dead": 0}


async def test_outbox_enqueue_after_sent_or_dead_adds_nothing(store: Store) -> None:
    await store.enqueue([item("a"), item("b")])
    await store.mark_sent("a", now=T0)
    await store.mark_dead("b", error="403 Forbidden")
    assert await store.enqueue([item("a"), item("b")]) == 0
    assert await store.claim("s", now=T0 + timedelta(days=1), limit=10, lease_s=30) == []
    assert await store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 1}


async def test_outbox_enqueue_empty_list_zero(store: Store) -> None:
    assert await store.enqueue([]) == 0


async def test_outbox_claim_returns_items_as_enqueued(store: Store) -> None:
    original = OutboxItem(
        key="digest:-100:2025-09-19",
        chat_id=-100,
        payload={"text": "<b>羅素2000</b> & NDX", "photo": None, "parts": [1, 2]},
        created_at=T0,
        not_before=T0,
        attempts=2,
        last_error="timed out",
    )
    await store.enqueue([original])
    assert await store.claim("s", now=T0, limit=1, lease_s=30) == [original]


async def test_outbox_two_consumers_never_share_an_item(store: Store) -> None:
    await store.enqueue([item(f"k{i}", created=timedelta(seconds=i)) for i in range(3)])
    first = await store.claim("a", now=T0, limit=2, lease_s=60)
    second = await store.claim("b", now=T0, limit=2, lease_s=60)
    assert [i.key for i in first] == ["k0", "k1"]
    assert [i.key for i in second] == ["k2"]
    assert await store.claim("b", now=T0 + timedelta(seconds=59), limit=5, lease_s=60) == []


async def test_outbox_expired_lease_claimable_again(store: Store) -> None:
    await store.enqueue([item("k")])
    assert [i.key for i in await store.claim("dead-sender", now=T0, limit=1, lease_s=30)] == ["k"]
    assert (
        await store.claim("b", now=T0 + timedelta(seconds=29, microseconds=999999), limit=1, lease_s=30) == []
    )
    retaken = await store.claim("b", now=T0 + timedelta(seconds=30), limit=1, lease_s=30)
    assert [(i.key, i.attempts) for i in retaken] == [("k", 0)]
    assert await store.claim("c", now=T0 + timedelta(seconds=59), limit=1, lease_s=30) == []


async def test_outbox_not_before_in_future_not_claimed_until_then(store: Store) -> None:
    await store.enqueue([item("later", due=timedelta(minutes=1))])
    assert await store.claim("s", now=T0, limit=1, lease_s=30) == []
    assert await store.claim("s", now=T0 + timedelta(seconds=59), limit=1, lease_s=30) == []
    assert [i.key for i in await store.claim("s", now=T0 + timedelta(minutes=1), limit=1, lease_s=30)] == [
        "later"
    ]


async def test_outbox_claim_ordered_by_not_before_then_created_at(store: Store) -> None:
    await store.enqueue(
        [
            item("z-late-due", created=timedelta(seconds=0), due=timedelta(seconds=20)),
            item("y-second-created", created=timedelta(seconds=2), due=timedelta(seconds=10)),
            item("x-first-created", created=timedelta(seconds=1), due=timedelta(seconds=10)),
            item("w-earliest-due", created=timedelta(seconds=9), due=timedelta(seconds=5)),
            item("b-tie", created=timedelta(seconds=3), due=timedelta(seconds=10)),
            item("a-tie", created=timedelta(seconds=3), due=timedelta(seconds=10)),
        ]
    )
    claimed = await store.claim("s", now=T0 + timedelta(minutes=1), limit=10, lease_s=30)
    assert [i.key for i in claimed] == [
        "w-earliest-due",
        "x-first-created",
        "y-second-created",
        "a-tie",
        "b-tie",
        "z-late-due",
    ]


async def test_outbox_expired_lease_returns_in_not_before_order(store: Store) -> None:
    await store.enqueue(
        [item("first", created=timedelta(seconds=1)), item("second", created=timedelta(seconds=2))]
    )
    await store.claim("a", now=T0, limit=1, lease_s=30)  # leases "first"
    again = await store.claim("b", now=T0 + timedelta(seconds=30), limit=2, lease_s=30)
    assert [i.key for i in again] == ["first", "second"]


async def test_outbox_claim_bad_limit_or_lease_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.claim("s", now=T0, limit=0, lease_s=30)
    with pytest.raises(ValueError, match="lease"):
        await store.claim("s", now=T0, limit=1, lease_s=0)


async def test_outbox_reschedule_bumps_attempts_and_delays(store: Store) -> None:
    await store.enqueue([item("k")])
    await store.claim("s", now=T0, limit=1, lease_s=30)
    await store.reschedule(
        "k", not_before=T0 + timedelta(seconds=42), error="429 Too Many Requests: retry after 42"
    )
    assert await store.claim("s", now=T0 + timedelta(seconds=41), limit=1, lease_s=30) == []
    [again] = await store.claim("s", now=T0 + timedelta(seconds=42), limit=1, lease_s=30)
    assert (again.attempts, again.last_error, again.not_before) == (
        1,
        "429 Too Many Requests: retry after 42",
        T0 + timedelta(seconds=42),
    )
    await store.reschedule("k", not_before=T0 + timedelta(seconds=50), error="timed out")
    [third] = await store.claim("s", now=T0 + timedelta(seconds=50), limit=1, lease_s=30)
    assert (third.attempts, third.last_error) == (2, "timed out")
    assert await store.outbox_counts() == {"pending": 1, "sent": 0, "dead": 0}


async def test_outbox_reschedule_without_attempt_puts_back_unsent_and_counts_nothing(store: Store) -> None:
    await store.enqueue([item("k")])
    await store.claim("s", now=T0, limit=1, lease_s=30)
    await store.reschedule("k", not_before=T0 + timedelta(seconds=3), error="deferred by the group limit", attempt=False)
    [back] = await store.claim("s", now=T0 + timedelta(seconds=3), limit=1, lease_s=30)
    assert (back.attempts, back.last_error, back.not_before) == (0, "deferred by the group limit", T0 + timedelta(seconds=3))


async def test_outbox_parts_sent_recorded_kept_through_retries_a_lost_lease_and_a_migration(store: Store) -> None:
    await store.enqueue([item("multi", 7)])
    [first] = await store.claim("s", now=T0, limit=1, lease_s=30)
    assert first.parts_sent == 0  # also what an item stored before the field reads as
    await store.reschedule("multi", not_before=T0, error="part 1 of 3 sent", attempt=False, parts_sent=1)
    [second] = await store.claim("s", now=T0, limit=1, lease_s=30)
    assert (second.parts_sent, second.attempts) == (1, 0)
    await store.reschedule("multi", not_before=T0, error="TimedOut: timed out")  # a failed part keeps the count
    await store.migrate_chat(7, 8)
    [third] = await store.claim("s", now=T0, limit=1, lease_s=30)
    assert (third.chat_id, third.parts_sent, third.attempts, third.last_error) == (8, 1, 1, "TimedOut: timed out")
    await store.reschedule("multi", not_before=T0, error="part 2 of 3 sent", attempt=False, parts_sent=2)
    await store.claim("crashed", now=T0, limit=1, lease_s=30)  # its holder dies: the lease runs out
    [resumed] = await store.claim("s", now=T0 + timedelta(seconds=30), limit=1, lease_s=30)
    assert resumed.parts_sent == 2


async def test_sqlite_store_file_from_before_parts_sent_gets_the_column_and_keeps_its_items(tmp_path: Path) -> None:
    path = tmp_path / "capgap.sqlite3"
    old = SqliteStore(path)
    await old.open()
    await old.enqueue([item("pending-before", 7)])
    await old.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("ALTER TABLE outbox DROP COLUMN parts_sent")  # the layout an older capgap wrote
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        [before] = await store.claim("s", now=T0, limit=1, lease_s=30)
        assert (before.key, before.parts_sent) == ("pending-before", 0)
        await store.reschedule("pending-before", not_before=T0, error="part 1 of 2 sent", attempt=False, parts_sent=1)
        assert [i.parts_sent for i in await store.claim("s", now=T0, limit=1, lease_s=30)] == [1]
    finally:
        await store.close()


async def test_outbox_reschedule_unleased_item_moves_its_due_time(store: Store) -> None:
    await store.enqueue([item("k")])
    await store.reschedule("k", not_before=T0 + timedelta(seconds=5), error="chat busy")
    assert await store.claim("s", now=T0, limit=1, lease_s=30) == []
    assert [
        i.attempts for i in await store.claim("s", now=T0 + timedelta(seconds=5), limit=1, lease_s=30)
    ] == [1]


async def test_outbox_mark_dead_never_claimed_again(store: Store) -> None:
    await store.enqueue([item("k"), item("other", created=timedelta(seconds=1))])
    await store.claim("s", now=T0, limit=1, lease_s=30)
    await store.mark_dead("k", error="403 Forbidden: bot was kicked")
    await store.reschedule("k", not_before=T0, error="ignored: dead is final")
    assert [i.key for i in await store.claim("s", now=T0 + timedelta(hours=1), limit=5, lease_s=30)] == [
        "other"
    ]
    assert await store.was_sent("k") is False
    assert await store.outbox_counts() == {"pending": 1, "sent": 0, "dead": 1}


async def test_outbox_mark_sent_final_and_counted(store: Store) -> None:
    await store.enqueue([item("k"), item("j", created=timedelta(seconds=1))])
    await store.claim("s", now=T0, limit=1, lease_s=30)
    assert await store.was_sent("k") is False
    await store.mark_sent("k", now=T0 + timedelta(seconds=1))
    await store.mark_sent("k", now=T0 + timedelta(seconds=2))
    await store.mark_dead("k", error="ignored: sent is final")
    await store.reschedule("k", not_before=T0, error="ignored: sent is final")
    assert await store.was_sent("k") is True
    assert await store.was_sent("j") is False
    assert await store.was_sent("never-enqueued") is False
    assert [i.key for i in await store.claim("s", now=T0 + timedelta(hours=1), limit=5, lease_s=30)] == ["j"]
    assert await store.outbox_counts() == {"pending": 1, "sent": 1, "dead": 0}


async def test_outbox_dead_item_later_marked_sent_counts_as_sent(store: Store) -> None:
    await store.enqueue([item("k")])
    await store.mark_dead("k", error="400 Bad Request")
    await store.mark_sent("k", now=T0)
    assert await store.was_sent("k") is True
    assert await store.outbox_counts() == {"pending": 0, "sent": 1, "dead": 0}


async def test_outbox_unknown_key_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError, match="nope"):
        await store.mark_sent("nope", now=T0)
    with pytest.raises(KeyError, match="nope"):
        await store.reschedule("nope", not_before=T0, error="x")
    with pytest.raises(KeyError, match="nope"):
        await store.mark_dead("nope", error="x")


async def test_outbox_counts_empty_all_zero(store: Store) -> None:
    assert await store.outbox_counts() == {"pending": 0, "sent": 0, "dead": 0}


@pytest.mark.timeout(30)  # a claim that re-leases held items would drain forever
async def test_outbox_four_concurrent_claimers_each_item_once(store_factory: StoreFactory) -> None:
    keys = [f"alert:r2k_high:2025-09-18:{n}" for n in range(500)]
    seed = store_factory()
    await seed.open()
    assert await seed.enqueue([item(k, created=timedelta(microseconds=n)) for n, k in enumerate(keys)]) == 500
    claimers = [store_factory() for _ in range(4)]  # separate connections, as separate processes have
    for claimer in claimers:
        await claimer.open()

    async def drain(claimer: Store, name: str) -> list[str]:
        got: list[str] = []
        while batch := await claimer.claim(name, now=T0, limit=7, lease_s=300):
            got += [i.key for i in batch]
            await asyncio.sleep(0)
        return got

    try:
        results = await asyncio.gather(*(drain(c, f"sender-{n}") for n, c in enumerate(claimers)))
    finally:
        for claimer in claimers:
            await claimer.close()
    claimed = [key for result in results for key in result]
    assert len(claimed) == 500
    assert sorted(claimed) == sorted(keys)
    assert sum(1 for result in results if result) >= 2  # the claimers really did interleave
    assert await seed.outbox_counts() == {"pending": 500, "sent": 0, "dead": 0}
    await seed.close()


# retention -------------------------------------------------------------------------------------------


def chart(seed: int, size: int = 30_000) -> bytes:
    """Bytes that stand for a chart: incompressible, so no store can keep them for less than their size."""
    import random

    return b"\x89PNG\r\n\x1a\n" + random.Random(seed).randbytes(size)


def broadcast(tag: str, chats: range, png: bytes, at: datetime) -> list[OutboxItem]:
    from bot.i18n import Safe
    from bot.seam import Chart, Reply
    from bot.telegram_edge import planned

    payload = planned(Reply(Safe(f"<b>{tag}</b>"), Chart(png, Safe(tag))))  # one payload for every chat, as jobs make
    return [OutboxItem(f"{tag}:{c}", c, payload, at, at) for c in chats]


async def finish_all(store: Store, at: datetime, *, dead_every: int = 0) -> None:
    """Claim every due item and mark it sent (every ``dead_every``-th one dead)."""
    n = 0
    while batch := await store.claim("t", now=at, limit=500, lease_s=60):
        for it in batch:
            n += 1
            if dead_every and n % dead_every == 0:
                await store.mark_dead(it.key, error="forbidden: bot was blocked by the user", now=at)
            else:
                await store.mark_sent(it.key, now=at)


async def test_outbox_finished_item_deduplicates_for_the_window_then_purged(store: Store) -> None:
    await store.enqueue([item("a"), item("b")])
    await finish_all(store, T0, dead_every=2)  # a sent, b dead
    assert await store.enqueue([item("a"), item("b")]) == 0  # within the window: still deduplicated
    assert await store.purge_outbox(before=T0) == 0  # finished at T0, not before it
    assert await store.purge_outbox(before=T0 + timedelta(microseconds=1), limit=1) == 1
    assert await store.purge_outbox(before=T0 + timedelta(days=7)) == 1
    assert await store.outbox_counts() == {"pending": 0, "sent": 0, "dead": 0}
    assert await store.was_sent("a") is False
    assert await store.enqueue([item("a")]) == 1  # past the window the key is forgotten


async def test_outbox_purge_leaves_pending_items(store: Store) -> None:
    await store.enqueue([item("old-pending"), item("sent", created=timedelta(seconds=1))])
    [first, second] = await store.claim("t", now=T0, limit=2, lease_s=60)
    await store.mark_sent(second.key, now=T0)
    await store.reschedule(first.key, not_before=T0, error="timeout")
    assert await store.purge_outbox(before=T0 + timedelta(days=30)) == 1
    assert await store.outbox_counts() == {"pending": 1, "sent": 0, "dead": 0}
    assert [i.key for i in await store.claim("t", now=T0, limit=5, lease_s=60)] == ["old-pending"]


async def test_outbox_chart_of_a_broadcast_stored_once_until_its_last_item_finishes(store: Store) -> None:
    import hashlib

    png = chart(1)
    sha = hashlib.sha256(png).hexdigest()
    empty = await store.size_bytes()
    assert await store.enqueue(broadcast("digest", range(1, 51), png, T0)) == 50
    assert await store.enqueue(broadcast("digest", range(1, 51), png, T0)) == 0  # a rerun adds no reference
    # one chart (1.5 MB if stored per chat) and under 2 kB for each pending item
    assert await store.size_bytes() - empty < len(png) * 1.4 + 50 * 2048
    assert await store.get_blob(sha) == png
    items = await store.claim("t", now=T0, limit=100, lease_s=60)
    assert {i.payload["photo_blob"] for i in items} == {sha} and not any("photo_b64" in i.payload for i in items)
    for it in items[:-1]:
        await store.mark_sent(it.key, now=T0)
    assert await store.get_blob(sha) == png  # one item still needs it
    await store.mark_dead(items[-1].key, error="chat not found", now=T0)
    assert await store.get_blob(sha) is None


async def test_outbox_store_size_flat_after_the_retention_window(store: Store) -> None:
    """30 days of a digest with its own 30 kB chart to 100 chats plus one alert each, purged daily with
    a 7-day window: the store's size at day 30 is that of day 10, a few hundred bytes per chat per day."""
    from bot.store.base import OUTBOX_RETENTION

    chats = range(1, 101)
    for c in chats:
        await store.put_chat(ChatSettings(chat_id=c))
    base = await store.size_bytes()
    sizes: dict[int, int] = {}
    for day in range(1, 31):
        at = T0 + timedelta(days=day)
        await store.enqueue(broadcast(f"digest:{day}", chats, chart(day), at))
        await store.enqueue([OutboxItem(f"alert:{day}:{c}", c, {"text": "<b>R2K</b> " * 40}, at, at) for c in chats])
        await finish_all(store, at, dead_every=50)
        await store.purge_outbox(before=at - OUTBOX_RETENTION)
        sizes[day] = await store.size_bytes() - base
    per_chat_day = sizes[30] / (len(chats) * OUTBOX_RETENTION.days)
    print(f"\n{type(store).__name__}: retained {sizes[10]:,} B at day 10, {sizes[20]:,} at 20, {sizes[30]:,} at 30:"
          f" {per_chat_day:,.0f} B per chat per day")
    assert sizes[30] <= sizes[10] * 1.1 and sizes[20] <= sizes[10] * 1.1
    assert per_chat_day <= 2048
    assert await store.outbox_counts() == {"pending": 0, "sent": 1568, "dead": 32}  # 8 days x 200


# digest schedule ---------------------------------------------------------------------------------------


def digest_chat(chat_id: int, at: str | None = "08:00", **changes: object) -> ChatSettings:
    return ChatSettings(chat_id=chat_id, lang="en", tz="America/New_York", digest_time=at, **changes)  # type: ignore[arg-type]


async def test_digest_schedule_new_chat_due_at_once_then_where_the_job_puts_it(store: Store) -> None:
    await store.put_chat(digest_chat(1))
    await store.put_chat(digest_chat(2, None))
    [(chat, was)] = await store.due_digests(now=T0, limit=10)
    assert chat == digest_chat(1) and was == datetime(1970, 1, 1, tzinfo=UTC)
    await store.set_digest_due([(1, was, T0 + timedelta(hours=12))])
    assert await store.due_digests(now=T0 + timedelta(hours=12) - timedelta(microseconds=1), limit=10) == []
    assert await store.due_digests(now=T0 + timedelta(hours=12), limit=10) == [(chat, T0 + timedelta(hours=12))]


async def test_digest_schedule_due_in_order_and_limited(store: Store) -> None:
    for c in (3, 1, 2):
        await store.put_chat(digest_chat(c))
        [(_, was)] = [d for d in await store.due_digests(now=T0, limit=10) if d[0].chat_id == c]
        await store.set_digest_due([(c, was, T0 + timedelta(minutes=c))])
    due = await store.due_digests(now=T0 + timedelta(minutes=5), limit=2)
    assert [(chat.chat_id, when) for chat, when in due] == [(1, T0 + timedelta(minutes=1)), (2, T0 + timedelta(minutes=2))]


async def test_digest_schedule_changed_settings_due_again_unchanged_keep_their_instant(store: Store) -> None:
    for c in (1, 2, 3):
        await store.put_chat(digest_chat(c))
    await store.set_digest_due([(c, datetime(1970, 1, 1, tzinfo=UTC), T0) for c in (1, 2, 3)])
    await store.put_chat(digest_chat(1, muted_until=T0))  # a mute does not move the digest
    await store.put_chat(digest_chat(2, "07:30"))  # a new time does
    await store.put_chat(ChatSettings(3, lang="zh-Hant", tz="America/New_York", digest_time="08:00"))  # a language too
    due = await store.due_digests(now=T0 - timedelta(seconds=1), limit=10)
    assert sorted(chat.chat_id for chat, _ in due) == [2, 3]


async def test_digest_schedule_off_or_inactive_chat_leaves_it(store: Store) -> None:
    for c in (1, 2, 3):
        await store.put_chat(digest_chat(c))
    await store.put_chat(digest_chat(1, None))
    await store.deactivate_chat(2, "forbidden")
    await store.put_chat(digest_chat(3, active=False))
    assert await store.due_digests(now=T0, limit=10) == []
    await store.put_chat(digest_chat(2))  # back (e.g. /start after unblocking): scheduled again
    assert [chat.chat_id for chat, _ in await store.due_digests(now=T0, limit=10)] == [2]


async def test_digest_schedule_stale_update_ignored(store: Store) -> None:
    """The job read the chat due at ``was``; meanwhile the chat set a new time: the job's update, made
    from the old time, must not overwrite the new schedule."""
    await store.put_chat(digest_chat(1))
    [(_, was)] = await store.due_digests(now=T0, limit=10)
    await store.set_digest_due([(1, was, T0)])
    await store.put_chat(digest_chat(1, "09:15"))  # back to the front
    await store.set_digest_due([(1, T0, T0 + timedelta(days=1))])  # computed from 08:00: stale
    assert [chat.digest_time for chat, _ in await store.due_digests(now=T0 - timedelta(days=1), limit=10)] == ["09:15"]


async def test_digest_schedule_migrated_chat_keeps_its_due_instant(store: Store) -> None:
    await store.put_chat(digest_chat(-100))
    [(_, was)] = await store.due_digests(now=T0, limit=10)
    await store.set_digest_due([(-100, was, T0)])
    await store.migrate_chat(-100, -1001234567890)
    assert [(chat.chat_id, when) for chat, when in await store.due_digests(now=T0, limit=10)] == [(-1001234567890, T0)]


# meta --------------------------------------------------------------------------------------------------


async def test_meta_set_get_overwrite(store: Store) -> None:
    assert await store.get_meta("last_digest:100") is None
    await store.set_meta("last_digest:100", "2025-09-18")
    await store.set_meta("last_digest:100", "2025-09-19")
    await store.set_meta("watch_asof", "2025-09-18T20:00:00+00:00")
    assert await store.get_meta("last_digest:100") == "2025-09-19"
    assert await store.get_meta("watch_asof") == "2025-09-18T20:00:00+00:00"


# locks -------------------------------------------------------------------------------------------------


async def test_lock_second_owner_refused_owner_renews(store: Store) -> None:
    assert await store.acquire_lock("scheduler", "proc-a", 30) is True
    assert await store.acquire_lock("scheduler", "proc-b", 30) is False
    assert await store.acquire_lock("scheduler", "proc-a", 30) is True
    assert await store.acquire_lock("other-job", "proc-b", 30) is True


async def test_lock_release_by_non_owner_ignored(store: Store) -> None:
    await store.acquire_lock("scheduler", "proc-a", 30)
    await store.release_lock("scheduler", "proc-b")
    assert await store.acquire_lock("scheduler", "proc-b", 30) is False
    await store.release_lock("scheduler", "proc-a")
    assert await store.acquire_lock("scheduler", "proc-b", 30) is True


async def test_lock_expiry_frees_it_and_renewal_extends_it(store: Store) -> None:
    # Redis expires locks on its own clock, so this test waits in real time (0.5 s in all)
    assert await store.acquire_lock("scheduler", "proc-a", 0.3) is True
    await asyncio.sleep(0.2)
    assert await store.acquire_lock("scheduler", "proc-a", 0.3) is True  # renewed: now ~0.3 s from here
    await asyncio.sleep(0.2)
    assert await store.acquire_lock("scheduler", "proc-b", 0.3) is False  # would be free without the renewal
    await asyncio.sleep(0.15)
    assert await store.acquire_lock("scheduler", "proc-b", 0.3) is True
    assert await store.acquire_lock("scheduler", "proc-a", 0.3) is False


# persistence -------------------------------------------------------------------------------------------


async def test_store_reopened_keeps_everything(store_factory: StoreFactory) -> None:
    first = store_factory()
    await first.open()
    chat = ChatSettings(100, lang="zh-Hant", tz="Asia/Taipei", digest_time="08:00", muted_until=T0)
    sub = Subscription(100, "cut_odds", {"threshold": 70}, created_at=T0)
    await first.put_chat(chat)
    await first.put_subscription(sub)
    await first.put_alert_states("cut_odds", {"100": {"state": "firing", "value": 71.5}})
    await first.enqueue(
        [
            item("sent"),
            item("leased", created=timedelta(seconds=1)),
            item("later", created=timedelta(seconds=2), due=timedelta(hours=1)),
        ]
    )
    await first.claim("s", now=T0, limit=1, lease_s=30)
    await first.mark_sent("sent", now=T0)
    await first.claim("s", now=T0, limit=1, lease_s=30)
    await first.set_meta("watch_asof", "2025-09-18")
    await first.close()

    second = store_factory()
    await second.open()
    try:
        assert await second.get_chat(100) == chat
        assert await second.list_subscriptions() == [sub]
        assert await second.get_alert_states("cut_odds") == {"100": {"state": "firing", "value": 71.5}}
        assert await second.outbox_counts() == {"pending": 2, "sent": 1, "dead": 0}
        assert await second.was_sent("sent") is True
        assert await second.enqueue([item("sent")]) == 0
        assert await second.claim("s2", now=T0 + timedelta(seconds=29), limit=5, lease_s=30) == []
        reclaimed = await second.claim("s2", now=T0 + timedelta(hours=1), limit=5, lease_s=30)
        assert [i.key for i in reclaimed] == ["leased", "later"]
        assert await second.get_meta("watch_asof") == "2025-09-18"
    finally:
        await second.close()


# factory -----------------------------------------------------------------------------------------------


def test_make_store_without_url_sqlite_in_data_dir(tmp_path: Path) -> None:
    store = make_store(data_dir=tmp_path, redis_url=None)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "capgap.sqlite3"
    assert not store.path.exists()  # nothing touched before open()


def test_make_store_with_url_redis() -> None:
    store = make_store(data_dir=Path("unused"), redis_url="redis://127.0.0.1:6399/2")
    assert isinstance(store, RedisStore)
    assert (store.url, store.prefix) == ("redis://127.0.0.1:6399/2", "capgap:")


async def test_sqlite_store_open_creates_folder_and_wal_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sub" / "capgap.sqlite3")
    await store.open()
    try:
        await store.set_meta("k", "v")
        assert (tmp_path / "sub" / "capgap.sqlite3-wal").exists()
        conn = sqlite3.connect(tmp_path / "sub" / "capgap.sqlite3")
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            conn.close()
    finally:
        await store.close()


async def test_sqlite_store_newer_schema_refused_with_config_error(tmp_path: Path) -> None:
    path = tmp_path / "capgap.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE schema_version SET version = 2")
    conn.close()
    with pytest.raises(ConfigError, match="schema version 2, newer than this capgap"):
        await SqliteStore(path).open()
