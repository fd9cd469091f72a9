"""Topic updates and evolutions as arq jobs: one job id per group and kind of job."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix

from adapters.redis.errors import translated

UPDATE_FUNCTION = "task_update_topic_memory"
EVOLVE_FUNCTION = "task_evolve_memory"


def update_job_id(group_id: str) -> str:
    """The one arq job id of a group's topic update: at most one is queued or running."""
    return f"topic-update:{group_id}"


def evolve_job_id(group_id: str) -> str:
    """The one arq job id of a group's memory evolution."""
    return f"evolve-memory:{group_id}"


class _GroupJobs:
    """Jobs of one arq function, one job id per group.

    arq refuses a job whose id is still queued or running, which serialises a group's jobs.
    The functions keep no result (``keep_result=0``), so a finished job never blocks the next.
    """

    def __init__(
        self, pool: ArqRedis, function: str, job_id: Callable[[str], str], what: str, queue_name: str
    ) -> None:
        self._pool = pool
        self._function = function
        self._job_id = job_id
        self._what = what
        self._queue_name = queue_name

    async def enqueue(self, group_id: str) -> bool:
        async with translated(f"enqueueing a {self._what}"):
            job = await self._pool.enqueue_job(
                self._function, group_id, _job_id=self._job_id(group_id), _queue_name=self._queue_name
            )
        return job is not None

    async def revive(self, group_id: str) -> None:
        """Let the dead run's job run again now instead of after arq's in-progress timeout.

        arq keeps a killed job's id "in progress" for the largest job timeout plus 10 s; the
        lease already proved its worker dead, so the in-progress mark is dropped and the job,
        still in the queue, is picked up by the next poll of any worker.
        """
        job_id = self._job_id(group_id)
        async with translated(f"reviving a {self._what}"):
            async with self._pool.pipeline(transaction=True) as pipe:
                pipe.delete(in_progress_key_prefix + job_id)
                pipe.exists(job_key_prefix + job_id)
                results: list[Any] = await pipe.execute()
            if results[1]:
                await self._pool.zadd(self._queue_name, {job_id: int(time.time() * 1000)})
            else:
                await self.enqueue(group_id)


class ArqUpdateQueue:
    """The :class:`memory_domain.ports.UpdateQueue` port on arq (job id ``topic-update:GROUP``)."""

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._jobs = _GroupJobs(pool, UPDATE_FUNCTION, update_job_id, "topic update", queue_name)

    async def enqueue_update(self, group_id: str) -> bool:
        return await self._jobs.enqueue(group_id)

    async def revive_update(self, group_id: str) -> None:
        await self._jobs.revive(group_id)


class ArqEvolutionQueue:
    """The :class:`memory_domain.group_ports.EvolutionQueue` port on arq (``evolve-memory:GROUP``)."""

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._jobs = _GroupJobs(pool, EVOLVE_FUNCTION, evolve_job_id, "memory evolution", queue_name)

    async def enqueue_evolution(self, group_id: str) -> bool:
        return await self._jobs.enqueue(group_id)

    async def revive_evolution(self, group_id: str) -> None:
        await self._jobs.revive(group_id)
