"""The pending counters, the due index and the update leases, in Redis.

Keys (``{p}`` is the configured prefix):

- ``{p}:l2:pending``  hash   group -> pending count
- ``{p}:l2:due``      zset   group -> when it becomes due (unix ms)
- ``{p}:l2:failures`` hash   group -> failed updates in a row (cleared by a successful one)
- ``{p}:l2:built``    string present while the index is known to match Postgres
- ``{p}:l2:rebuilding`` string, the worker rebuilding the index (one at a time), with a TTL
- ``{p}:l2:running``  zset   group -> when its update lease expires (unix ms)
- ``{p}:l2:lease:{group}`` string, the lease holder, with the lease's TTL

Evolution leases live beside them under ``{p}:l3:`` (``running`` and ``lease:{group}``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from adapters.redis.errors import translated
from memory_domain.model import IndexEntry

_ADD_PENDING = """
local out = {}
for i = 2, #ARGV, 2 do
  local c = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[i])
  out[#out + 1] = c
end
return out
"""

# KEYS: counts, due, streaks. ARGV: group, integrated, remaining, next_due ('' = none), fallback_due
_SETTLE = """
redis.call('HDEL', KEYS[3], ARGV[1])
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') - tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
if c < remaining then c = remaining end
if c <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], c)
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[1])
end
return c
"""

# KEYS: lease key, running zset; ARGV: holder, ttl ms, expiry ms, group
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
"""

# Only the caller that removes the entry (and only once the lease key itself, kept by Redis's
# own clock, is gone) hands the work on: the workers' clocks never decide it.
_FORGET = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# KEYS: due, streaks. ARGV: until, group
_DEFER = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
"""


# Members read or written per command when the whole index is reconciled.
_PAGE = 1_000

# The rebuild lock: taken when free or already held by the same holder, released by it alone.
_CLAIM_LOCK = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1
"""

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


async def _awaited(value: Awaitable[Any] | Any) -> Any:
    """redis-py types its commands as sync-or-async; on the asyncio client they are awaitables."""
    return await value


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPendingIndex:
    """The :class:`memory_domain.ports.PendingIndex` port on Redis (one round trip per call)."""

    def __init__(self, redis: Redis, prefix: str = "aiw") -> None:
        self._redis = redis
        self.counts_key = f"{prefix}:l2:pending"
        self.due_key = f"{prefix}:l2:due"
        self.built_key = f"{prefix}:l2:built"
        self.streaks_key = f"{prefix}:l2:failures"
        self.rebuild_lock_key = f"{prefix}:l2:rebuilding"
        self._claim = redis.register_script(_CLAIM_LOCK)
        self._release_lock = redis.register_script(_RELEASE_LOCK)
        self._add = redis.register_script(_ADD_PENDING)
        self._settle = redis.register_script(_SETTLE)
        self._defer = redis.register_script(_DEFER)

    async def add_pending(self, counts: dict[str, int], due_at: datetime) -> dict[str, int]:
        groups = sorted(counts)
        args: list[Any] = [to_ms(due_at)]
        for group_id in groups:
            args += [group_id, counts[group_id]]
        async with translated("recording pending messages"):
            result = await self._add(keys=[self.counts_key, self.due_key], args=args)
        return {group_id: int(value) for group_id, value in zip(groups, result, strict=True)}

    async def settle(
        self,
        group_id: str,
        integrated: int,
        remaining: int,
        next_due_at: datetime | None,
        fallback_due_at: datetime,
    ) -> int:
        next_due = "" if next_due_at is None else to_ms(next_due_at)
        args: list[Any] = [group_id, integrated, remaining, next_due, to_ms(fallback_due_at)]
        async with translated("settling a group's pending count"):
            keys = [self.counts_key, self.due_key, self.streaks_key]
            return int(await self._settle(keys=keys, args=args))

    async def defer(self, group_id: str, until: datetime) -> int:
        async with translated("deferring a group"):
            keys = [self.due_key, self.streaks_key]
            return int(await self._defer(keys=keys, args=[to_ms(until), group_id]))

    async def failure_streak(self, group_id: str) -> int:
        async with translated("reading a failure streak"):
            value = await _awaited(self._redis.hget(self.streaks_key, group_id))
        return int(value) if value is not None else 0

    async def in_backoff(self, group_ids: Sequence[str], now: datetime) -> set[str]:
        if not group_ids:
            return set()
        async with translated("reading failure backoffs"), self._redis.pipeline(transaction=False) as pipe:
            for group_id in group_ids:
                pipe.hget(self.streaks_key, group_id)
                pipe.zscore(self.due_key, group_id)
            results = await pipe.execute()
        limit = to_ms(now)
        return {
            group_id
            for group_id, streak, due in zip(group_ids, results[::2], results[1::2], strict=True)
            if streak is not None and int(streak) > 0 and due is not None and float(due) > limit
        }

    async def pending_count(self, group_id: str) -> int:
        async with translated("reading a pending count"):
            value = await _awaited(self._redis.hget(self.counts_key, group_id))
        return int(value) if value is not None else 0

    async def due_at(self, group_id: str) -> datetime | None:
        async with translated("reading a due time"):
            score = await self._redis.zscore(self.due_key, group_id)
        return None if score is None else from_ms(score)

    async def due_groups(self, now: datetime, limit: int) -> list[str]:
        async with translated("reading the due index"):
            members = await self._redis.zrangebyscore(self.due_key, "-inf", to_ms(now), start=0, num=limit)
        return [_text(member) for member in members]

    async def rebuild(
        self, entries: Sequence[IndexEntry], keep_due_after: datetime, valid_for: timedelta
    ) -> None:
        listed = {entry.group_id for entry in entries}
        keep_after = to_ms(keep_due_after)
        async with translated("rebuilding the pending index"):
            # In pages (ZSCAN, HSCAN): one reply of a 100,000-member key stalls every client.
            due: set[str] = set()
            stale: list[str] = []
            async for member, score in self._redis.zscan_iter(self.due_key, count=_PAGE):
                group_id = _text(member)
                due.add(group_id)
                if group_id not in listed and score <= keep_after:
                    stale.append(group_id)
            async for field, _ in self._redis.hscan_iter(self.counts_key, count=_PAGE):
                group_id = _text(field)
                if group_id not in listed and group_id not in due:
                    stale.append(group_id)
            # Chunks without MULTI: the state is derived, and one huge transaction would stall
            # Redis for every other client while it ran.
            async with self._redis.pipeline(transaction=False) as pipe:
                for start in range(0, len(stale), _PAGE):
                    chunk = stale[start : start + _PAGE]
                    pipe.zrem(self.due_key, *chunk)
                    pipe.hdel(self.counts_key, *chunk)
                    pipe.hdel(self.streaks_key, *chunk)
                for start in range(0, len(entries), _PAGE):
                    chunk_entries = entries[start : start + _PAGE]
                    pipe.hset(self.counts_key, mapping={e.group_id: e.count for e in chunk_entries})
                    pipe.zadd(self.due_key, {e.group_id: to_ms(e.due_at) for e in chunk_entries})
                pipe.set(self.built_key, "1", px=max(1, int(valid_for.total_seconds() * 1000)))
                await pipe.execute()

    async def claim_rebuild(self, holder: str, ttl_seconds: float) -> bool:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        async with translated("taking the rebuild lock"):
            return bool(await self._claim(keys=[self.rebuild_lock_key], args=[holder, ttl_ms]))

    async def release_rebuild(self, holder: str) -> None:
        async with translated("releasing the rebuild lock"):
            await self._release_lock(keys=[self.rebuild_lock_key], args=[holder])

    async def is_built(self) -> bool:
        async with translated("checking the pending index"):
            return bool(await self._redis.exists(self.built_key))


class RedisUpdateLeases:
    """The :class:`memory_domain.ports.UpdateLeases` port: a TTL key per group plus a zset of expiries."""

    def __init__(self, redis: Redis, prefix: str = "aiw", namespace: str = "l2") -> None:
        # ``namespace`` keeps kinds of work apart: "l2" for topic updates, "l3" for evolutions.
        self._redis = redis
        self._space = f"{prefix}:{namespace}"
        self.running_key = f"{self._space}:running"
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._forget = redis.register_script(_FORGET)

    def lease_key(self, group_id: str) -> str:
        return f"{self._space}:lease:{group_id}"

    def _args(self, group_id: str, holder: str, ttl_seconds: float) -> list[Any]:
        ttl_ms = max(1, int(ttl_seconds * 1000))
        expiry = to_ms(datetime.now(UTC)) + ttl_ms
        return [holder, ttl_ms, expiry, group_id]

    async def acquire(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        keys = [self.lease_key(group_id), self.running_key]
        async with translated("taking an update lease"):
            return bool(await self._acquire(keys=keys, args=self._args(group_id, holder, ttl_seconds)))

    async def renew(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        keys = [self.lease_key(group_id), self.running_key]
        async with translated("renewing an update lease"):
            return bool(await self._renew(keys=keys, args=self._args(group_id, holder, ttl_seconds)))

    async def release(self, group_id: str, holder: str) -> None:
        keys = [self.lease_key(group_id), self.running_key]
        async with translated("releasing an update lease"):
            await self._release(keys=keys, args=[holder, group_id])

    async def expired(self, now: datetime, limit: int) -> list[str]:
        async with translated("reading expired leases"):
            members = await self._redis.zrangebyscore(
                self.running_key, "-inf", to_ms(now), start=0, num=limit
            )
        return [_text(member) for member in members]

    async def forget(self, group_id: str) -> bool:
        async with translated("forgetting an expired lease"):
            keys = [self.lease_key(group_id), self.running_key]
            return bool(await self._forget(keys=keys, args=[group_id]))
