"""RedisStore: the Store on Redis (CAPGAP_REDIS_URL), for several bot processes sharing one state.

Layout, every key under ``prefix`` (default ``capgap:``):

    schema_version               string   layout version (see SCHEMA_VERSION)
    chats                        set      ids of all stored chats
    chat:{chat_id}               hash     one chat's settings (absent fields = None)
    subs:rules                   set      rule ids that have (or had) subscribers
    subs:rule:{rule_id}          hash     chat_id -> JSON [params, created_at µs, muted_until µs]
    subs:chat:{chat_id}          set      rule ids the chat subscribes to
    subs:version                 string   random, replaced by every write to subscriptions (in the
                                          same MULTI/EXEC or script); see subscriptions_version
    alert:rules                  set      rule ids that have stored alert state
    alert:state:{rule_id}        hash     scope -> JSON state
    outbox:item:{key}            hash     one outbox item, its status, lease and parts sent
    outbox:due                   zset     pending unleased items, score = not_before (µs since epoch)
    outbox:leased                zset     leased items, score = lease expiry (µs since epoch)
    outbox:chat:{chat_id}        set      keys of the chat's pending items (for migrate_chat)
    outbox:sent / outbox:dead    set      keys in each final state (within the retention window)
    outbox:finished              zset     sent and dead keys, score = when they finished (µs); the
                                          purge deletes their hashes (payload already dropped) after
                                          OUTBOX_RETENTION, so a key is deduplicated for that window
    outbox:blob:{sha256}         hash     ``data`` (a chart, base64) and ``refs`` (pending items naming
                                          it in their ``blob`` field); deleted with the last reference
    digest:due                   zset     chats with an active digest, score = due instant (µs; 0 =
                                          changed, to be computed by the digest job)
    upgraded:retention           string   set once open() has brought older keys to this layout
    meta                         hash     job bookkeeping
    lock:{name}                  string   lock owner, with a PX expiry

Members of the two outbox zsets are ``{created_at µs, 20 digits}|{key}``: Redis orders equal scores by
member, so the due set is ordered by not_before, then created_at, then key, as SQLite's index is.
Instants are integer microseconds since the Unix epoch, exact in a zset score (< 2**53) and written by
the scripts only as the strings Python sent, never re-formatted by Lua.

``subs:version`` is only as good as its writers: every process writing subscriptions to one Redis must
be a capgap that replaces it (one that predates it would change subscriptions unseen by the watchers'
caches; SQLite's triggers have no such gap).

Multi-key changes run as Lua scripts or MULTI/EXEC, so every method is atomic against other processes.
The scripts touch keys they compute from the prefix, which standalone Redis allows and Redis Cluster
does not: this store is for one Redis (or a primary with replicas), not a cluster.

Connection faults are retried with jittered exponential backoff by redis-py, which reconnects after a
server restart by itself; when the server stays unreachable for a call, the call raises
StoreUnavailableError.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from bot.errors import ConfigError, StoreUnavailableError
from bot.store.base import (
    EPOCH,
    OUTBOX_STATUSES,
    SUBSCRIPTION_PAGE,
    BlobSplitter,
    ChatSettings,
    OutboxItem,
    Subscription,
    check_claim,
)
from bot.store.base import dumps as _dumps
from bot.store.base import from_us as _from_us
from bot.store.base import opt_to_us as _opt_to_us
from bot.store.base import to_us as _to_us

SCHEMA_VERSION = 1
"""Version of the key layout above; a Redis with a higher version was written by a newer capgap."""

_MEMBER_DIGITS = 20  # width of the created_at prefix of a zset member; the key starts after "|"

# Lua -----------------------------------------------------------------------------------------------

# A batch of items in one call (a digest minute's or an alert's chats: one script, not one per item).
# KEYS: due. ARGV: item key prefix, chat's pending set prefix, blob key prefix, then 10 per item: key,
# chat_id, payload, created_at, not_before, attempts, has_error ("1"/"0"), error, member, blob sha
# ("" = none). Returns per item 1 if added, 0 if the key was seen within the retention window, -1
# (nothing added) if its chart is not stored yet: the caller stores the chart and enqueues it again.
_ENQUEUE = """
local out = {}
for i = 4, #ARGV, 10 do
  local item, sha = ARGV[1] .. ARGV[i], ARGV[i + 9]
  local blob = ARGV[3] .. sha
  if redis.call('EXISTS', item) == 1 then
    out[#out + 1] = 0
  elseif sha ~= '' and redis.call('HEXISTS', blob, 'data') == 0 then
    out[#out + 1] = -1
  else
    redis.call('HSET', item, 'key', ARGV[i], 'chat_id', ARGV[i + 1], 'payload', ARGV[i + 2],
               'created_at', ARGV[i + 3], 'not_before', ARGV[i + 4], 'attempts', ARGV[i + 5],
               'status', 'pending', 'member', ARGV[i + 8])
    if ARGV[i + 6] == '1' then redis.call('HSET', item, 'last_error', ARGV[i + 7]) end
    if sha ~= '' then
      redis.call('HSET', item, 'blob', sha)
      redis.call('HINCRBY', blob, 'refs', 1)
    end
    redis.call('ZADD', KEYS[1], ARGV[i + 4], ARGV[i + 8])
    redis.call('SADD', ARGV[2] .. ARGV[i + 1], ARGV[i])
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: blob. ARGV: base64 data. Before a batch's items: the chart, if not stored yet.
_BLOB_PUT = """
redis.call('HSETNX', KEYS[1], 'data', ARGV[1])
return 1
"""

# KEYS: blob. After a batch's items: a chart no new item referred to goes again.
_BLOB_GC = """
local refs = tonumber(redis.call('HGET', KEYS[1], 'refs') or '0')
if refs <= 0 then redis.call('DEL', KEYS[1]) end
return refs
"""

# What a finished item keeps (lua, after its status is set): the payload and its chart reference go,
# the chart itself with its last reference. ARGV[n] is the blob key prefix.
_FINISH = """
local function finish(item, blob_prefix)
  local b = redis.call('HGET', item, 'blob')
  if b then
    local blob = blob_prefix .. b
    if redis.call('HINCRBY', blob, 'refs', -1) <= 0 then redis.call('DEL', blob) end
  end
  -- what dedup and /status need stays: chat_id, created_at, status, sent_at (finished), last_error
  redis.call('HDEL', item, 'payload', 'blob', 'lease_owner', 'lease_until', 'key', 'not_before', 'attempts',
             'member', 'parts_sent')
end
"""

# KEYS: due, leased. ARGV: now, limit, lease_until, consumer, item key prefix.
# First puts items whose lease ran out back into the due set at their own not_before, then leases the
# first `limit` due items. Returns [[key, chat_id, payload, created_at, not_before, attempts, error]].
_CLAIM = """
local due, leased, now, limit, until_, consumer, items = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]),
    ARGV[3], ARGV[4], ARGV[5]
local skip = {skip}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', leased, '-inf', now)) do
  local item = items .. string.sub(m, skip)
  redis.call('ZADD', due, redis.call('HGET', item, 'not_before'), m)
  redis.call('ZREM', leased, m)
  redis.call('HDEL', item, 'lease_owner', 'lease_until')
end
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)) do
  local item = items .. string.sub(m, skip)
  redis.call('ZREM', due, m)
  redis.call('ZADD', leased, until_, m)
  redis.call('HSET', item, 'lease_owner', consumer, 'lease_until', until_)
  out[#out + 1] = redis.call('HMGET', item, 'key', 'chat_id', 'payload', 'created_at', 'not_before',
                             'attempts', 'last_error', 'parts_sent')
end
return out
""".replace("{skip}", str(_MEMBER_DIGITS + 2))

# Where a pending item goes after a send attempt: "sent" (Telegram's ok), "dead" (given up) or "pending"
# (back to the due set, not before a given instant). KEYS: item, due, leased, the set of the state it
# goes to (outbox:sent or outbox:dead; any key for "pending"), outbox:dead, finished.
# ARGV: to, key, at (sent_at / finished at, "" = its not_before / the new not_before), error, attempts
# to add, chat set prefix, blob prefix, parts sent ("pending" only; "" = unchanged).
# Returns -1 for an unknown key, 0 when it stays as it is (a sent item; a dead one unless it is sent now:
# Telegram's ok is the truth), 1 when moved.
_SETTLE = _FINISH + """
local item, to, key, at = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local status = redis.call('HGET', item, 'status')
if not status then return -1 end
if status == 'sent' or (status == 'dead' and to ~= 'sent') then return 0 end
local m = redis.call('HGET', item, 'member')
if to == 'pending' then
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZADD', KEYS[2], at, m)
  redis.call('HSET', item, 'not_before', at, 'last_error', ARGV[4])
  redis.call('HINCRBY', item, 'attempts', tonumber(ARGV[5]))
  if ARGV[8] ~= '' then redis.call('HSET', item, 'parts_sent', ARGV[8]) end
  redis.call('HDEL', item, 'lease_owner', 'lease_until')
  return 1
end
if m then  -- a pending item; a dead one has left both sets and dropped its member
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
end
redis.call('SREM', ARGV[6] .. redis.call('HGET', item, 'chat_id'), key)
redis.call('SREM', KEYS[5], key)
redis.call('SADD', KEYS[4], key)
if at == '' then at = redis.call('HGET', item, 'not_before') end
redis.call('HSET', item, 'status', to, 'sent_at', at)
if to == 'dead' then redis.call('HSET', item, 'last_error', ARGV[4]) end
redis.call('ZADD', KEYS[6], at, key)
finish(item, ARGV[7])
return 1
"""

# KEYS: finished, sent, dead. ARGV: before (µs, exclusive), limit, item key prefix. Returns how many went.
_PURGE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(keys) do
  redis.call('DEL', ARGV[3] .. k)
  redis.call('SREM', KEYS[2], k)
  redis.call('SREM', KEYS[3], k)
  redis.call('ZREM', KEYS[1], k)
end
return #keys
"""

# KEYS: chat hash, chats set, digest schedule. ARGV: chat_id, then field, value pairs of the new settings.
# The chat goes to the front of the schedule (score 0) when its digest time, zone, language or activity
# changed or it has no place yet; it leaves the schedule when its digest is off or it is inactive.
_PUT_CHAT = """
local old = redis.call('HMGET', KEYS[1], 'digest_time', 'tz', 'lang', 'active')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
local new = redis.call('HMGET', KEYS[1], 'digest_time', 'tz', 'lang', 'active')
if not new[1] or new[4] ~= '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
elseif old[1] ~= new[1] or old[2] ~= new[2] or old[3] ~= new[3] or old[4] ~= new[4] then
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
else
  redis.call('ZADD', KEYS[3], 'NX', 0, ARGV[1])
end
return 1
"""

# KEYS: digest schedule. ARGV: now (µs), limit, chat hash prefix. The due chats, earliest first, as one
# JSON text [[chat_id, due, [field, value, ...]], ...] (one reply to decode, not a map per chat); an
# entry whose chat hash is gone leaves the schedule (it would stay due forever).
_DUE_DIGESTS = """
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do
  local fields = redis.call('HGETALL', ARGV[3] .. due[i])
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], due[i])
  else
    out[#out + 1] = {due[i], due[i + 1], fields}
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""

# KEYS: digest schedule. ARGV: chat_id, was, due triples. Moves each chat still due at `was` to `due`.
_SET_DIGEST_DUE = """
for i = 1, #ARGV, 3 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i])
  end
end
return 1
"""

# KEYS: chat hash, digest schedule. ARGV: reason, chat_id. Only a stored chat is marked.
_DEACTIVATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'active', '0', 'inactive_reason', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# KEYS: rule's subscriber hash, chat's rule set, all rules set, subscriptions version.
# ARGV: chat_id, rule_id, new version.
_DELETE_SUB = """
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
if n > 0 then redis.call('SET', KEYS[4], ARGV[3]) end
return n
"""

# ARGV: prefix, old chat id, new chat id, new subscriptions version. The old chat's records replace the
# new id's on conflict.
_MIGRATE = """
local P, old, new = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', P .. 'chat:' .. old) == 1 then
  redis.call('RENAME', P .. 'chat:' .. old, P .. 'chat:' .. new)
  redis.call('HSET', P .. 'chat:' .. new, 'chat_id', new)
  redis.call('SREM', P .. 'chats', old)
  redis.call('SADD', P .. 'chats', new)
end
local function move(h)  -- the old id's field of hash h to the new id; true if there was one
  local v = redis.call('HGET', h, old)
  if not v then return false end
  redis.call('HSET', h, new, v)
  redis.call('HDEL', h, old)
  return true
end
for _, r in ipairs(redis.call('SMEMBERS', P .. 'subs:chat:' .. old)) do
  if move(P .. 'subs:rule:' .. r) then redis.call('SET', P .. 'subs:version', ARGV[4]) end
  redis.call('SADD', P .. 'subs:chat:' .. new, r)
end
redis.call('DEL', P .. 'subs:chat:' .. old)
for _, r in ipairs(redis.call('SMEMBERS', P .. 'alert:rules')) do move(P .. 'alert:state:' .. r) end
for _, k in ipairs(redis.call('SMEMBERS', P .. 'outbox:chat:' .. old)) do
  redis.call('HSET', P .. 'outbox:item:' .. k, 'chat_id', new)
  redis.call('SADD', P .. 'outbox:chat:' .. new, k)
end
redis.call('DEL', P .. 'outbox:chat:' .. old)
local due = redis.call('ZSCORE', P .. 'digest:due', old)
if due then
  redis.call('ZREM', P .. 'digest:due', old)
  redis.call('ZADD', P .. 'digest:due', due, new)
end
return 1
"""

# Field, value pairs of a subs:rule hash (chat_id, JSON sub) as one JSON text [[chat_id, [sub]], ...]: one
# bulk reply decoded by one json.loads, where HGETALL of 100k fields cost a second of pure-Python reply
# parsing.
_SUBS_JSON = """
local function subs_json(t)
  local parts = {}
  for i = 1, #t, 2 do parts[#parts + 1] = '[' .. t[i] .. ',' .. t[i + 1] .. ']' end
  return '[' .. table.concat(parts, ',') .. ']'
end
"""

# KEYS: a subs:rule hash. Returns it whole, as that JSON text.
_SUBS_OF_RULE_JSON = _SUBS_JSON + "return subs_json(redis.call('HGETALL', KEYS[1]))"

# KEYS: a subs:rule hash. ARGV: HSCAN cursor, count. Returns {next cursor, that JSON text}: one step of a
# scan.
_SCAN_SUBS_OF_RULE_JSON = _SUBS_JSON + """
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
return {r[1], subs_json(r[2])}
"""

# KEYS: subscriptions version. ARGV: a new version, kept only if there is none yet (a fresh prefix, or
# keys written by a capgap without versions).
_SUBS_VERSION = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""

# KEYS: lock. ARGV: owner, ttl ms. Take a free lock, or renew it for its owner.
_ACQUIRE_LOCK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lock. ARGV: owner.
_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# codecs --------------------------------------------------------------------------------------------


def _member(created_us: int, key: str) -> str:
    if not 0 <= created_us < 10**_MEMBER_DIGITS:
        raise ValueError(f"outbox item {key!r}: created_at must be after 1970-01-01")
    return f"{created_us:0{_MEMBER_DIGITS}d}|{key}"


def _chat_to_hash(chat: ChatSettings) -> dict[FieldT, EncodableT]:
    fields: dict[str, str | int | None] = {
        "chat_id": chat.chat_id,
        "lang": chat.lang,
        "tz": chat.tz,
        "digest_time": chat.digest_time,
        "kind": chat.kind,
        "active": int(chat.active),
        "inactive_reason": chat.inactive_reason,
        "muted_until": _opt_to_us(chat.muted_until),
    }
    return {name: str(value) for name, value in fields.items() if value is not None}


def _chat_from_hash(fields: Mapping[str, str]) -> ChatSettings:
    return ChatSettings(
        chat_id=int(fields["chat_id"]),
        lang=fields.get("lang"),
        tz=fields.get("tz"),
        digest_time=fields.get("digest_time"),
        kind=fields["kind"],
        active=fields["active"] == "1",
        inactive_reason=fields.get("inactive_reason"),
        muted_until=_from_us(fields.get("muted_until")),
    )


def _new_version() -> str:
    """A fresh random subscriptions version: it names one state of the subscriptions, even after a
    restart from an older snapshot, where a counter could come round to a value already seen."""
    return secrets.token_hex(8)


def _sub_to_json(sub: Subscription) -> str:
    # a compact array, not an object: listing 100k subscribers of a rule is mostly decoding these
    return json.dumps(
        [dict(sub.params), _opt_to_us(sub.created_at), _opt_to_us(sub.muted_until)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _sub_from_json(chat_id: int, rule_id: str, text: str) -> Subscription:
    params, created_us, muted_us = json.loads(text)
    return Subscription(chat_id, rule_id, params, _from_us(created_us), _from_us(muted_us))


def _item_from_fields(fields: list[str | None]) -> OutboxItem:
    key, chat_id, payload, created_at, not_before, attempts, last_error, parts_sent = fields
    assert key is not None and chat_id is not None and payload is not None and attempts is not None
    created = _from_us(created_at)
    due = _from_us(not_before)
    assert created is not None and due is not None  # always written by the enqueue script
    return OutboxItem(
        key=key,
        chat_id=int(chat_id),
        payload=json.loads(payload),
        created_at=created,
        not_before=due,
        attempts=int(attempts),
        last_error=last_error,
        parts_sent=int(parts_sent or 0),  # an item enqueued before the field: none sent
    )


async def _batches(items: AsyncIterator[str], size: int) -> AsyncIterator[list[str]]:
    batch: list[str] = []
    async for value in items:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Scripts:
    """The Lua scripts above, registered on one client (redis-py reloads them after a server restart)."""

    def __init__(self, client: Redis) -> None:
        self.enqueue = client.register_script(_ENQUEUE)
        self.claim = client.register_script(_CLAIM)
        self.settle = client.register_script(_SETTLE)
        self.deactivate = client.register_script(_DEACTIVATE)
        self.delete_sub = client.register_script(_DELETE_SUB)
        self.migrate = client.register_script(_MIGRATE)
        self.subs_of_rule = client.register_script(_SUBS_OF_RULE_JSON)
        self.scan_subs_of_rule = client.register_script(_SCAN_SUBS_OF_RULE_JSON)
        self.subs_version = client.register_script(_SUBS_VERSION)
        self.blob_put = client.register_script(_BLOB_PUT)
        self.blob_gc = client.register_script(_BLOB_GC)
        self.purge = client.register_script(_PURGE)
        self.put_chat = client.register_script(_PUT_CHAT)
        self.set_digest_due = client.register_script(_SET_DIGEST_DUE)
        self.due_digests = client.register_script(_DUE_DIGESTS)
        self.acquire = client.register_script(_ACQUIRE_LOCK)
        self.release = client.register_script(_RELEASE_LOCK)


@contextmanager
def _unavailable_on_connection_fault() -> Iterator[None]:
    """Turn redis-py's connection faults (after its own retries) into StoreUnavailableError."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise StoreUnavailableError() from exc


class RedisStore:
    """The Store on Redis at ``url`` (``redis://host:port/db``), every key under ``prefix``.

    ``retries`` further attempts per call after a connection fault, with jittered exponential backoff
    from ``backoff_base_s`` up to ``backoff_cap_s``, bound how long a call waits for a restarting server
    before it raises StoreUnavailableError (with the defaults and a refused connection, under a
    second); ``health_check_interval_s`` pings a connection idle that long before reuse, so a
    connection that died quietly is replaced before a command is lost on it.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "capgap:",
        *,
        retries: int = 3,
        backoff_base_s: float = 0.05,
        backoff_cap_s: float = 1.0,
        socket_timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        health_check_interval_s: int = 30,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._client_kwargs: dict[str, Any] = {
            "decode_responses": True,
            "retry": Retry(ExponentialWithJitterBackoff(cap=backoff_cap_s, base=backoff_base_s), retries),
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": connect_timeout_s,
            "health_check_interval": health_check_interval_s,
        }
        self._redis: Redis | None = None
        self._scripts: _Scripts | None = None

    # keys --------------------------------------------------------------------------------------------

    def _k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    @property
    def _r(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("RedisStore is not open; call open() first")
        return self._redis

    @property
    def _lua(self) -> _Scripts:
        if self._scripts is None:
            raise RuntimeError("RedisStore is not open; call open() first")
        return self._scripts

    # lifecycle ---------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, and record or check the layout version; StoreUnavailableError if unreachable."""
        if self._redis is not None:
            return
        client = Redis.from_url(self.url, **self._client_kwargs)
        scripts = _Scripts(client)
        try:
            with _unavailable_on_connection_fault():
                await client.set(self._k("schema_version"), SCHEMA_VERSION, nx=True)
                version = int(cast(str, await client.get(self._k("schema_version"))))
        except BaseException:
            await client.aclose()
            raise
        if version > SCHEMA_VERSION:
            await client.aclose()
            raise ConfigError(
                f"Redis keys under {self.prefix!r} have store schema version {version}, newer than this "
                f"capgap ({SCHEMA_VERSION}); upgrade capgap or use another prefix"
            )
        self._redis, self._scripts = client, scripts
        try:
            await self._upgrade()
        except BaseException:
            await self.close()
            raise

    async def _upgrade(self) -> None:
        """Bring keys written before retention and the digest schedule to this layout, once: finished
        items get a place in ``outbox:finished`` and lose their payload, chats with a digest get a place
        in ``digest:due``. Safe to repeat (a crash half-way just runs it again at the next open)."""
        marker = self._k("upgraded", "retention")
        with _unavailable_on_connection_fault():
            if await self._r.exists(marker):
                return
            for final in OUTBOX_STATUSES[1:]:  # the finished ones
                async for batch in _batches(self._r.sscan_iter(self._k("outbox", final), count=1000), 1000):
                    async with self._r.pipeline(transaction=False) as pipe:
                        for key in batch:
                            pipe.hmget(self._k("outbox", "item", key), "sent_at", "not_before")
                        times = await pipe.execute()
                    async with self._r.pipeline(transaction=False) as pipe:
                        for key, (sent_at, not_before) in zip(batch, times, strict=True):
                            pipe.zadd(self._k("outbox", "finished"), {key: int(sent_at or not_before or 0)}, nx=True)
                            pipe.hdel(self._k("outbox", "item", key), "payload")
                        await pipe.execute()
            async for batch in _batches(self._r.sscan_iter(self._k("chats"), count=1000), 1000):
                async with self._r.pipeline(transaction=False) as pipe:
                    for chat_id in batch:
                        pipe.hmget(self._k("chat", chat_id), "digest_time", "active")
                    rows = await pipe.execute()
                due = {c: 0 for c, (at, active) in zip(batch, rows, strict=True) if at and active == "1"}
                if due:
                    await self._r.zadd(self._k("digest", "due"), due, nx=True)
            await self._r.set(marker, "1")

    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis, self._scripts = self._redis, None, None
            await client.aclose()

    async def ping(self) -> bool:
        """True when Redis answers; False when it does not (after the retries) or the store is closed."""
        if self._redis is None:
            return False
        try:
            with _unavailable_on_connection_fault():
                return bool(await self._redis.ping())
        except StoreUnavailableError:
            return False

    async def schema_version(self) -> int:
        """The layout version recorded under the prefix."""
        with _unavailable_on_connection_fault():
            return int(cast(str, await self._r.get(self._k("schema_version"))))

    # chats -------------------------------------------------------------------------------------------

    async def get_chat(self, chat_id: int) -> ChatSettings | None:
        with _unavailable_on_connection_fault():
            fields = cast(dict[str, str], await self._r.hgetall(self._k("chat", chat_id)))
        return _chat_from_hash(fields) if fields else None

    async def put_chat(self, chat: ChatSettings) -> None:
        keys = [self._k("chat", chat.chat_id), self._k("chats"), self._k("digest", "due")]
        args: list[EncodableT] = [chat.chat_id]
        for name, value in _chat_to_hash(chat).items():
            args += [name, value]
        with _unavailable_on_connection_fault():
            await self._lua.put_chat(keys=keys, args=args)

    async def list_chats(self, *, active_only: bool = True) -> list[ChatSettings]:
        """All chats ordered by chat_id; only active ones unless ``active_only`` is False."""
        with _unavailable_on_connection_fault():
            ids = sorted(int(i) for i in cast(set[str], await self._r.smembers(self._k("chats"))))
            async with self._r.pipeline(transaction=False) as pipe:
                for chat_id in ids:
                    pipe.hgetall(self._k("chat", chat_id))
                rows = await pipe.execute()
        chats = [_chat_from_hash(fields) for fields in rows if fields]
        return [chat for chat in chats if chat.active] if active_only else chats

    async def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """Mark a known chat inactive with ``reason``; an unknown chat id is left unknown."""
        with _unavailable_on_connection_fault():
            await self._lua.deactivate(
                keys=[self._k("chat", chat_id), self._k("digest", "due")], args=[reason, chat_id]
            )

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move settings, subscriptions, alert state and pending outbox items to the new id.

        Where the new id already has a record of the same kind, the old chat's record replaces it;
        sent and dead outbox items keep the old id. One script, so atomic.
        """
        if old_chat_id == new_chat_id:
            return
        with _unavailable_on_connection_fault():
            await self._lua.migrate(args=[self.prefix, old_chat_id, new_chat_id, _new_version()])

    # subscriptions -----------------------------------------------------------------------------------

    async def put_subscription(self, sub: Subscription) -> None:
        with _unavailable_on_connection_fault():
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(self._k("subs", "rule", sub.rule_id), str(sub.chat_id), _sub_to_json(sub))
                pipe.sadd(self._k("subs", "chat", sub.chat_id), sub.rule_id)
                pipe.sadd(self._k("subs", "rules"), sub.rule_id)
                pipe.set(self._k("subs", "version"), _new_version())
                await pipe.execute()

    async def delete_subscription(self, chat_id: int, rule_id: str) -> bool:
        """Remove the (chat_id, rule_id) subscription; True if there was one."""
        keys = [
            self._k("subs", "rule", rule_id),
            self._k("subs", "chat", chat_id),
            self._k("subs", "rules"),
            self._k("subs", "version"),
        ]
        with _unavailable_on_connection_fault():
            return bool(await self._lua.delete_sub(keys=keys, args=[chat_id, rule_id, _new_version()]))

    async def subscriptions_version(self) -> str:
        """Replaced by every write to subscriptions, atomically with it (see the layout above)."""
        with _unavailable_on_connection_fault():
            return str(await self._lua.subs_version(keys=[self._k("subs", "version")], args=[_new_version()]))

    async def iter_subscriptions(
        self, rule_id: str, *, page_size: int = SUBSCRIPTION_PAGE
    ) -> AsyncIterator[list[Subscription]]:
        """Every subscription to ``rule_id``, in pages of about ``page_size``, in no particular order.

        An HSCAN of the rule's hash, one bounded script call per page: a hash has no order to resume
        from, and scanning is what keeps each call short on a server other processes share. A scan may
        return an entry twice (when the hash is resized meanwhile); the repeats are dropped here.
        """
        if page_size < 1:
            raise ValueError(f"page size must be at least 1, got {page_size}")
        key = self._k("subs", "rule", rule_id)
        seen: set[int] = set()
        cursor = "0"
        while True:
            with _unavailable_on_connection_fault():
                cursor, text = await self._lua.scan_subs_of_rule(keys=[key], args=[cursor, page_size])
            page = []
            for chat, (params, created_us, muted_us) in json.loads(text):
                if chat not in seen:
                    seen.add(chat)
                    page.append(Subscription(chat, rule_id, params, _from_us(created_us), _from_us(muted_us)))
            if page:
                yield page
            if cursor == "0":
                return

    async def list_subscriptions(
        self, *, chat_id: int | None = None, rule_id: str | None = None
    ) -> list[Subscription]:
        """Subscriptions matching the given filters (none = all), ordered by (chat_id, rule_id)."""
        subs: list[Subscription] = []
        with _unavailable_on_connection_fault():
            if rule_id is not None and chat_id is not None:
                text = cast(str | None, await self._r.hget(self._k("subs", "rule", rule_id), str(chat_id)))
                return [] if text is None else [_sub_from_json(chat_id, rule_id, text)]
            if rule_id is not None:
                text = await self._lua.subs_of_rule(keys=[self._k("subs", "rule", rule_id)])
                pairs = json.loads(text)
                pairs.sort(key=itemgetter(0))
                return [
                    Subscription(chat, rule_id, params, _from_us(created_us), _from_us(muted_us))
                    for chat, (params, created_us, muted_us) in pairs
                ]
            elif chat_id is not None:
                rules = sorted(cast(set[str], await self._r.smembers(self._k("subs", "chat", chat_id))))
                async with self._r.pipeline(transaction=False) as pipe:
                    for rule in rules:
                        pipe.hget(self._k("subs", "rule", rule), str(chat_id))
                    texts = cast(list[str | None], await pipe.execute())
                subs = [
                    _sub_from_json(chat_id, r, t) for r, t in zip(rules, texts, strict=True) if t is not None
                ]
            else:
                rules = sorted(cast(set[str], await self._r.smembers(self._k("subs", "rules"))))
                async with self._r.pipeline(transaction=False) as pipe:
                    for rule in rules:
                        pipe.hgetall(self._k("subs", "rule", rule))
                    tables = cast(list[dict[str, str]], await pipe.execute())
                for rule, table in zip(rules, tables, strict=True):
                    subs.extend(_sub_from_json(int(c), rule, text) for c, text in table.items())
        subs.sort(key=lambda s: (s.chat_id, s.rule_id))
        return subs

    # alert state -------------------------------------------------------------------------------------

    async def get_alert_states(self, rule_id: str) -> dict[str, dict[str, Any]]:
        """{scope: state} of one rule; each state is the JSON object last put for that scope."""
        with _unavailable_on_connection_fault():
            rows = cast(dict[str, str], await self._r.hgetall(self._k("alert", "state", rule_id)))
        return {scope: json.loads(text) for scope, text in rows.items()}

    async def put_alert_states(
        self, rule_id: str, states: Mapping[str, Mapping[str, Any]], *, drop: Iterable[str] = ()
    ) -> None:
        """Upsert many scopes and delete those in ``drop`` in one MULTI/EXEC; each state is replaced whole."""
        mapping: dict[FieldT, EncodableT] = {str(scope): _dumps(state) for scope, state in states.items()}
        gone = [str(scope) for scope in drop]
        if not mapping and not gone:
            return
        with _unavailable_on_connection_fault():
            async with self._r.pipeline(transaction=True) as pipe:
                if gone:
                    pipe.hdel(self._k("alert", "state", rule_id), *gone)
                if mapping:
                    pipe.hset(self._k("alert", "state", rule_id), mapping=mapping)
                    pipe.sadd(self._k("alert", "rules"), rule_id)
                await pipe.execute()

    # outbox ------------------------------------------------------------------------------------------

    async def enqueue(self, items: list[OutboxItem]) -> int:
        """Add items whose key is new (never seen, whatever its state now); return how many were added."""
        if not items:
            return 0
        blobs = BlobSplitter(_dumps)
        rows: list[list[EncodableT]] = []
        for item in items:
            created_us = _to_us(item.created_at)
            payload, sha = blobs.split(item.payload)
            rows.append(
                [
                    item.key,
                    item.chat_id,
                    payload,
                    created_us,
                    _to_us(item.not_before),
                    item.attempts,
                    "0" if item.last_error is None else "1",
                    item.last_error or "",
                    _member(created_us, item.key),
                    sha or "",
                ]
            )
        prefixes: list[EncodableT] = [self._k("outbox", "item", ""), self._k("outbox", "chat", ""), self._k("outbox", "blob", "")]

        def calls(batch: list[list[EncodableT]], pipe: Any) -> list[Any]:
            """The enqueue script over ``batch`` in chunks (a few MB of arguments at most per call)."""
            due = self._k("outbox", "due")
            return [
                self._lua.enqueue(keys=[due], args=prefixes + [a for r in batch[i : i + 500] for a in r], client=pipe)
                for i in range(0, len(batch), 500)
            ]

        with _unavailable_on_connection_fault():
            # One MULTI/EXEC with the items alone: a chart already stored (a digest's, enqueued minute
            # after minute) is not sent again. Items whose chart is missing come back as -1 and go in a
            # second MULTI/EXEC, their charts first; a chart no new item named (a rerun) goes again at
            # its end. Each script stays idempotent per key, so a batch cut between the two is
            # completed by the job's rerun.
            async with self._r.pipeline(transaction=True) as pipe:
                for call in calls(rows, pipe):
                    await call
                results = [int(n) for chunk in await pipe.execute() for n in chunk]
            retry = [r for r, n in zip(rows, results, strict=True) if n == -1]
            if retry:
                needed = {str(r[-1]) for r in retry}
                async with self._r.pipeline(transaction=True) as pipe:
                    for sha in needed:
                        await self._lua.blob_put(keys=[self._k("outbox", "blob", sha)], args=[blobs.b64[sha]], client=pipe)
                    for call in calls(retry, pipe):
                        await call
                    for sha in needed:
                        await self._lua.blob_gc(keys=[self._k("outbox", "blob", sha)], client=pipe)
                    again = await pipe.execute()
                results += [int(n) for chunk in again[len(needed) : len(again) - len(needed)] for n in chunk]
        return sum(n for n in results if n > 0)

    async def claim(self, consumer: str, *, now: datetime, limit: int, lease_s: float) -> list[OutboxItem]:
        """Lease up to ``limit`` due items to ``consumer`` until ``now + lease_s`` (one Lua script).

        Due = pending, ``not_before <= now`` and no lease or an expired one (``lease_until <= now``).
        Returned in order of ``not_before``, then ``created_at``, then key.
        """
        check_claim(limit, lease_s)
        until = now + timedelta(seconds=lease_s)
        with _unavailable_on_connection_fault():
            rows = await self._lua.claim(
                keys=[self._k("outbox", "due"), self._k("outbox", "leased")],
                args=[_to_us(now), limit, _to_us(until), consumer, self._k("outbox", "item", "")],
            )
        return [_item_from_fields(row) for row in rows]

    async def _settle(
        self, to: str, key: str, at: datetime | None, error: str = "", attempts: int = 0, parts_sent: int | None = None
    ) -> None:
        """Move a pending item to ``to`` (the _SETTLE script), recording ``parts_sent`` unless None; KeyError
        if the key is unknown."""
        keys = [
            self._k("outbox", "item", key),
            self._k("outbox", "due"),
            self._k("outbox", "leased"),
            self._k("outbox", "sent" if to == "sent" else "dead"),
            self._k("outbox", "dead"),
            self._k("outbox", "finished"),
        ]
        args: list[EncodableT] = [
            to,
            key,
            "" if at is None else _to_us(at),
            error,
            attempts,
            self._k("outbox", "chat", ""),
            self._k("outbox", "blob", ""),
            "" if parts_sent is None else parts_sent,
        ]
        with _unavailable_on_connection_fault():
            done = await self._lua.settle(keys=keys, args=args)
        if done == -1:
            raise KeyError(f"no outbox item with key {key!r}")

    async def mark_sent(self, key: str, *, now: datetime) -> None:
        """Record Telegram's ok for ``key`` (KeyError if unknown); the first ``now`` is kept."""
        await self._settle("sent", key, now)

    async def reschedule(
        self, key: str, *, not_before: datetime, error: str, attempt: bool = True, parts_sent: int | None = None
    ) -> None:
        """Release the lease, record the error, not claimable before ``not_before``; bump attempts when
        ``attempt``; record ``parts_sent`` unless None.

        A sent or dead item stays as it is; an unknown key raises KeyError.
        """
        await self._settle("pending", key, not_before, error, int(attempt), parts_sent)

    async def mark_dead(self, key: str, *, error: str, now: datetime | None = None) -> None:
        """Give up on a pending item for good (KeyError if unknown); a sent item stays sent."""
        await self._settle("dead", key, now, error)

    async def outbox_counts(self) -> dict[str, int]:
        """{"pending": n, "sent": n, "dead": n}; pending includes leased items."""
        with _unavailable_on_connection_fault():
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.zcard(self._k("outbox", "due"))
                pipe.zcard(self._k("outbox", "leased"))
                pipe.scard(self._k("outbox", "sent"))
                pipe.scard(self._k("outbox", "dead"))
                due, leased, sent, dead = await pipe.execute()
        return {"pending": int(due) + int(leased), "sent": int(sent), "dead": int(dead)}

    async def was_sent(self, key: str) -> bool:
        with _unavailable_on_connection_fault():
            return bool(await self._r.sismember(self._k("outbox", "sent"), key))

    async def get_blob(self, sha: str) -> bytes | None:
        with _unavailable_on_connection_fault():
            text = await self._r.hget(self._k("outbox", "blob", sha), "data")
        return None if text is None else base64.b64decode(text)

    async def purge_outbox(self, *, before: datetime, limit: int = 10_000) -> int:
        """Delete up to ``limit`` sent or dead items that finished before ``before``; how many went."""
        keys = [self._k("outbox", "finished"), self._k("outbox", "sent"), self._k("outbox", "dead")]
        with _unavailable_on_connection_fault():
            return int(await self._lua.purge(keys=keys, args=[_to_us(before), limit, self._k("outbox", "item", "")]))

    async def size_bytes(self) -> int:
        """Memory Redis reports for the keys under the prefix (MEMORY USAGE, all samples)."""
        total = 0
        with _unavailable_on_connection_fault():
            async for batch in _batches(self._r.scan_iter(match=self.prefix + "*", count=1000), 1000):
                async with self._r.pipeline(transaction=False) as pipe:
                    for key in batch:
                        pipe.memory_usage(key, samples=0)
                    total += sum(int(n or 0) for n in await pipe.execute())
        return total

    # digest schedule ---------------------------------------------------------------------------------

    async def due_digests(self, *, now: datetime, limit: int) -> list[tuple[ChatSettings, datetime]]:
        """Up to ``limit`` chats whose digest is due at ``now``, with their due instant, earliest first."""
        with _unavailable_on_connection_fault():
            text = await self._lua.due_digests(
                keys=[self._k("digest", "due")], args=[_to_us(now), limit, self._k("chat", "")]
            )
        return [
            (
                _chat_from_hash(dict(zip(fields[::2], fields[1::2], strict=True))),
                EPOCH + timedelta(microseconds=int(float(score))),
            )
            for _, score, fields in json.loads(text)
        ]

    async def set_digest_due(self, updates: list[tuple[int, datetime, datetime]]) -> None:
        """For each (chat_id, was, due): the chat's due instant becomes ``due`` if it still is ``was``."""
        for start in range(0, len(updates), 1000):
            args: list[EncodableT] = []
            for chat_id, was, due in updates[start : start + 1000]:
                args += [chat_id, _to_us(was), _to_us(due)]
            with _unavailable_on_connection_fault():
                await self._lua.set_digest_due(keys=[self._k("digest", "due")], args=args)

    # meta --------------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        with _unavailable_on_connection_fault():
            value = await self._r.hget(self._k("meta"), key)
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        with _unavailable_on_connection_fault():
            await self._r.hset(self._k("meta"), key, value)

    # locks -------------------------------------------------------------------------------------------

    async def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take a free lock (SET NX PX), or renew it for its owner, until ``ttl_s`` seconds from now.

        Expiry runs on the Redis server's clock, the one clock every process sharing the lock agrees on.
        """
        if ttl_s <= 0:
            raise ValueError(f"lock ttl must be positive, got {ttl_s} s")
        ttl_ms = max(1, round(ttl_s * 1000))
        with _unavailable_on_connection_fault():
            return bool(await self._lua.acquire(keys=[self._k("lock", name)], args=[owner, ttl_ms]))

    async def release_lock(self, name: str, owner: str) -> None:
        """Free the lock if ``owner`` holds it; anyone else's release is ignored."""
        with _unavailable_on_connection_fault():
            await self._lua.release(keys=[self._k("lock", name)], args=[owner])
