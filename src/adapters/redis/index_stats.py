"""Sizes of the pending index, for the metrics: three O(1) / O(log N) reads in one round trip.

Nothing here walks the keys: ``HLEN`` of the counters and of the failure streaks, and ``ZCOUNT``
of the due index up to now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from adapters.redis.errors import translated
from adapters.redis.pending_index import RedisPendingIndex, to_ms


@dataclass(frozen=True, slots=True)
class IndexSizes:
    groups_with_pending: int
    groups_due: int
    groups_failing: int


class RedisIndexStats:
    """Reads the sizes of the keys :class:`RedisPendingIndex` keeps under ``prefix``."""

    def __init__(self, redis: Redis, prefix: str = "aiw") -> None:
        self._redis = redis
        # The index names its own keys; reading them through it keeps the two from drifting.
        index = RedisPendingIndex(redis, prefix)
        self._counts_key = index.counts_key
        self._due_key = index.due_key
        self._streaks_key = index.streaks_key

    async def sizes(self, now: datetime) -> IndexSizes:
        """Groups with pending messages, groups due at ``now``, groups whose last update failed."""
        async with (
            translated("reading the pending index's sizes"),
            self._redis.pipeline(transaction=False) as pipe,
        ):
            pipe.hlen(self._counts_key)
            pipe.zcount(self._due_key, "-inf", to_ms(now))
            pipe.hlen(self._streaks_key)
            pending, due, failing = await pipe.execute()
        return IndexSizes(groups_with_pending=int(pending), groups_due=int(due), groups_failing=int(failing))
