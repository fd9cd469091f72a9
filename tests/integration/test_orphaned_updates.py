"""An update job whose worker died before taking the group's lease is revived, not left for arq's 36 minutes.

Found by the chaos run: a worker SIGKILLed between arq marking a group's job in progress and
the update taking the lease left no lease to expire, and the group waited out arq's
in-progress timeout (the largest job timeout plus 10 s) with every new job of it refused.
"""

from __future__ import annotations

import asyncio

import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix

from adapters.redis.arq_queue import ArqEvolutionQueue, ArqUpdateQueue, evolve_job_id, update_job_id
from adapters.redis.orphaned_jobs import OrphanedJobs
from adapters.redis.pending_index import RedisUpdateLeases

pytestmark = pytest.mark.integration

GRACE = 0.3


async def started_then_killed(pool: ArqRedis, queue: ArqUpdateQueue, group: str) -> None:
    """A group whose update job arq marked in progress, on a worker that died before the lease."""
    assert await queue.enqueue_update(group)
    await pool.set(in_progress_key_prefix + update_job_id(group), b"1", px=2_170_000)


def update_orphans(pool: ArqRedis, queue: ArqUpdateQueue) -> tuple[OrphanedJobs, RedisUpdateLeases]:
    leases = RedisUpdateLeases(pool)
    return OrphanedJobs(pool, leases, queue.revive_update, "topic-update", "aiw:l2:orphans", GRACE), leases


async def test_a_job_in_progress_without_a_lease_is_revived_after_the_grace(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    orphans, leases = update_orphans(arq_pool, queue)
    await started_then_killed(arq_pool, queue, "orphan")
    await started_then_killed(arq_pool, queue, "running")
    assert await queue.enqueue_update("waiting")  # queued, not started: nobody's orphan
    assert await leases.acquire("running", "live-worker", 30)  # a live worker holds this one

    assert await orphans.sweep() == []  # first seen: a live worker may be about to take the lease
    await asyncio.sleep(GRACE + 0.05)
    # The next recovery tick may run on another worker: the sighting is shared through Redis.
    other_worker, _ = update_orphans(arq_pool, queue)
    assert await other_worker.sweep() == ["orphan"]

    assert not await arq_pool.exists(in_progress_key_prefix + update_job_id("orphan"))
    assert await arq_pool.zscore("arq:queue", update_job_id("orphan")) is not None
    assert await arq_pool.exists(in_progress_key_prefix + update_job_id("running"))
    assert not await queue.enqueue_update("orphan")  # one job per group still: it is queued again


async def test_a_job_that_takes_its_lease_within_the_grace_is_left_alone(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    orphans, leases = update_orphans(arq_pool, queue)
    await started_then_killed(arq_pool, queue, "slow-start")
    assert await orphans.sweep() == []
    assert await leases.acquire("slow-start", "live-worker", 30)  # the job got its lease after all
    await asyncio.sleep(GRACE + 0.05)
    assert await orphans.sweep() == []
    await leases.release("slow-start", "live-worker")
    # Lease gone, job still marked in progress: seen anew, so the grace starts again.
    assert await orphans.sweep() == []
    assert await arq_pool.exists(in_progress_key_prefix + update_job_id("slow-start"))


async def test_an_orphaned_evolution_is_revived_through_its_own_leases(arq_pool: ArqRedis) -> None:
    queue = ArqEvolutionQueue(arq_pool)
    leases = RedisUpdateLeases(arq_pool, namespace="l3")
    orphans = OrphanedJobs(
        arq_pool, leases, queue.revive_evolution, "evolve-memory", "aiw:l3:orphans", grace_seconds=0
    )
    assert await queue.enqueue_evolution("g1")
    await arq_pool.set(in_progress_key_prefix + evolve_job_id("g1"), b"1", px=2_170_000)
    assert await RedisUpdateLeases(arq_pool).acquire("g1", "topic-updater", 30)  # another kind's lease
    assert await orphans.sweep() == ["g1"]
    assert not await arq_pool.exists(in_progress_key_prefix + evolve_job_id("g1"))
