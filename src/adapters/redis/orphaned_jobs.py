"""Group jobs (topic updates, evolutions) that arq holds "in progress" while no worker runs them.

A worker killed after arq marked a group's job in progress but before the job took the
group's lease leaves no lease to expire, so the lease-based recovery never sees it; arq keeps
the job id in progress for its largest job timeout plus 10 s (36 minutes with the long-task
defaults), and refuses every new job of the group meanwhile. Found by the chaos run
(``bench/chaos.py``): one group of 200 waited half an hour.

The jobs of arq's queue that should have started by now (what arq's own poll reads, so the
cost is that of the queue, never of every key) are looked at; a group job in progress without
a lease is an orphan once it stays so for ``grace_seconds`` (a live worker takes the lease
within milliseconds of the job's start), and is then revived as the lease recovery revives a
dead worker's job. When each orphan was first seen is kept in Redis (``sightings_key``, a hash
of group -> unix ms), since each recovery tick runs on whichever worker claims it; a revival
made twice is harmless (the group's lease and the memory's version keep a second run safe).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq.constants import default_queue_name, in_progress_key_prefix
from redis.asyncio import Redis

from adapters.redis.errors import translated
from adapters.redis.pending_index import RedisUpdateLeases

logger = logging.getLogger(__name__)


async def _awaited(value: Awaitable[Any] | Any) -> Any:
    # redis-py types its hash commands as sync-or-async; on the asyncio client they are awaitable.
    return await value


def _text(member: Any) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


class OrphanedJobs:
    """Finds and revives orphaned group jobs of one kind (job ids ``PREFIX:GROUP``)."""

    def __init__(
        self,
        redis: Redis,
        leases: RedisUpdateLeases,
        revive: Callable[[str], Awaitable[None]],
        job_prefix: str,
        sightings_key: str,
        grace_seconds: float,
        *,
        queue_name: str = default_queue_name,
        limit: int = 1_000,
    ) -> None:
        self._redis = redis
        self._leases = leases
        self._revive = revive
        self._prefix = f"{job_prefix}:"
        self._sightings = sightings_key
        self._grace = grace_seconds
        self._queue_name = queue_name
        self._limit = limit

    async def sweep(self) -> list[str]:
        """Revive the orphans seen for at least the grace period; return their groups."""
        async with translated("looking for orphaned jobs"):
            # A second ahead of now: arq rounds a job's score to the nearest millisecond (one
            # just enqueued may score 1 ms ahead of this clock) and workers' clocks differ a
            # little; a job not started yet is no orphan anyway (it has no in-progress mark).
            started = await self._redis.zrangebyscore(
                self._queue_name, "-inf", int(time.time() * 1000) + 1_000, start=0, num=self._limit
            )
            groups = [job[len(self._prefix) :] for job in map(_text, started) if job.startswith(self._prefix)]
            flags: list[Any] = []
            if groups:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for group_id in groups:
                        pipe.exists(f"{in_progress_key_prefix}{self._prefix}{group_id}")
                        pipe.exists(self._leases.lease_key(group_id))
                    flags = await pipe.execute()
            orphans = {
                group_id
                for group_id, running, leased in zip(groups, flags[0::2], flags[1::2], strict=True)
                if running and not leased
            }
            seen = {
                _text(k): int(v) for k, v in (await _awaited(self._redis.hgetall(self._sightings))).items()
            }
            now = int(time.time() * 1000)
            # Forget groups no longer orphaned (their job ended, or a worker took the lease).
            gone = [group_id for group_id in seen if group_id not in orphans]
            new = {group_id: now for group_id in orphans if group_id not in seen}
            if gone:
                await _awaited(self._redis.hdel(self._sightings, *gone))
            if new:
                await _awaited(self._redis.hset(self._sightings, mapping=new))
        revived = []
        for group_id in sorted(orphans):
            since = seen.get(group_id, now)
            if now - since < self._grace * 1000:
                continue
            await self._revive(group_id)
            async with translated("looking for orphaned jobs"):
                await _awaited(self._redis.hdel(self._sightings, group_id))
            revived.append(group_id)
            logger.warning(
                "group %s: its %s job was in progress without a lease for %.0f s "
                "(its worker died before taking it); revived",
                group_id,
                self._prefix[:-1],
                (now - since) / 1000,
            )
        return revived
