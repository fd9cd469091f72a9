"""Topic updates as arq jobs: one job id per group."""

from __future__ import annotations

import time
from typing import Any

from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix

from adapters.redis.errors import translated

UPDATE_FUNCTION = "task_update_topic_memory"


def update_job_id(group_id: str) -> str:
    """The one arq job id of a group's topic update: at most one is queued or running."""
    return f"topic-update:{group_id}"


class ArqUpdateQueue:
    """The :class:`memory_domain.ports.UpdateQueue` port on arq.

    arq refuses a job whose id is still queued or running, which serialises a group's updates.
    The job keeps no result (``keep_result=0`` on the function), so a finished update never
    blocks the next one.
    """

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._pool = pool
        self._queue_name = queue_name

    async def enqueue_update(self, group_id: str) -> bool:
        async with translated("enqueueing a topic update"):
            job = await self._pool.enqueue_job(
                UPDATE_FUNCTION, group_id, _job_id=update_job_id(group_id), _queue_name=self._queue_name
            )
        return job is not None

    async def revive_update(self, group_id: str) -> None:
        """Let the dead run's job run again now instead of after arq's in-progress timeout.

        arq keeps a killed job's id "in progress" for the largest job timeout plus 10 s; the
        lease already proved its worker dead, so the in-progress mark is dropped and the job,
        still in the queue, is picked up by the next poll of any worker.
        """
        job_id = update_job_id(group_id)
        async with translated("reviving a topic update"):
            async with self._pool.pipeline(transaction=True) as pipe:
                pipe.delete(in_progress_key_prefix + job_id)
                pipe.exists(job_key_prefix + job_id)
                results: list[Any] = await pipe.execute()
            if results[1]:
                await self._pool.zadd(self._queue_name, {job_id: int(time.time() * 1000)})
            else:
                await self.enqueue_update(group_id)
