"""What ``ai-worker status`` reads from Redis: one pipelined round trip, then one for the top groups.

Nothing walks the key space. The counters hash is read whole (``HGETALL``, one key: a few MB at
100,000 groups) because the top groups by backlog and the total of pending messages need every
count; the due index is counted with ``ZCOUNT``, the leases and arq's queue with ``ZCARD``.
arq's in-progress keys are one key per job and are not listed: running work is counted by the
leases the running updates and evolutions hold.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq.constants import default_queue_name, health_check_key_suffix
from redis.asyncio import Redis

from adapters.redis.errors import translated
from adapters.redis.pending_index import RedisPendingIndex, RedisUpdateLeases, from_ms, to_ms

ARQ_HEALTH_KEY = default_queue_name + health_check_key_suffix


@dataclass(frozen=True, slots=True)
class GroupBacklog:
    group_id: str
    pending: int
    due_at: datetime | None
    failures: int  # failed updates in a row (0: the last one succeeded or none failed)


@dataclass(frozen=True, slots=True)
class RedisSnapshot:
    index_built: bool
    groups_with_pending: int
    pending_messages: int
    groups_due: int
    top: list[GroupBacklog]  # by pending count, largest first
    groups_failing: int
    failing: list[GroupBacklog]  # by failures in a row, most first
    jobs_queued: int  # every job in arq's queue (updates, evolutions, long tasks)
    updates_running: int
    evolutions_running: int
    worker_info: str | None  # arq's health-check key: present while a worker is alive


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStatusReads:
    """Reads the keys of :class:`RedisPendingIndex` and the leases under ``prefix``, and arq's."""

    def __init__(self, redis: Redis, prefix: str = "aiw", queue_name: str = default_queue_name) -> None:
        self._redis = redis
        index = RedisPendingIndex(redis, prefix)
        self._counts_key = index.counts_key
        self._due_key = index.due_key
        self._streaks_key = index.streaks_key
        self._built_key = index.built_key
        self._updates_key = RedisUpdateLeases(redis, prefix, "l2").running_key
        self._evolutions_key = RedisUpdateLeases(redis, prefix, "l3").running_key
        self._queue_name = queue_name

    async def snapshot(self, now: datetime, top: int) -> RedisSnapshot:
        async with translated("reading the worker's state"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.exists(self._built_key)
                pipe.hgetall(self._counts_key)
                pipe.zcount(self._due_key, "-inf", to_ms(now))
                pipe.hgetall(self._streaks_key)
                pipe.zcard(self._queue_name)
                pipe.zcard(self._updates_key)
                pipe.zcard(self._evolutions_key)
                pipe.get(ARQ_HEALTH_KEY)
                built, counts, due, streaks, queued, updates, evolutions, info = await pipe.execute()
            pending = {_text(group): int(count) for group, count in counts.items()}
            failing = {_text(group): int(count) for group, count in streaks.items()}
            largest = heapq.nlargest(top, pending.items(), key=lambda item: (item[1], item[0]))
            worst = heapq.nlargest(top, failing.items(), key=lambda item: (item[1], item[0]))
            shown = list(dict.fromkeys([group for group, _ in largest] + [group for group, _ in worst]))
            due_at = await self._due_times(shown)

        def backlog(group_id: str) -> GroupBacklog:
            return GroupBacklog(
                group_id, pending.get(group_id, 0), due_at[group_id], failing.get(group_id, 0)
            )

        return RedisSnapshot(
            index_built=bool(built),
            groups_with_pending=len(pending),
            pending_messages=sum(pending.values()),
            groups_due=int(due),
            top=[backlog(group) for group, _ in largest],
            groups_failing=len(failing),
            failing=[backlog(group) for group, _ in worst],
            jobs_queued=int(queued),
            updates_running=int(updates),
            evolutions_running=int(evolutions),
            worker_info=None if info is None else _text(info),
        )

    async def _due_times(self, group_ids: list[str]) -> dict[str, datetime | None]:
        if not group_ids:
            return {}
        scores = await self._redis.zmscore(self._due_key, group_ids)
        return {
            group: None if score is None else from_ms(score)
            for group, score in zip(group_ids, scores, strict=True)
        }
