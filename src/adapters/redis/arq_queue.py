"""Topic updates and evolutions as arq jobs: one job id per group and kind of job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from adapters.redis.errors import translated
from adapters.redis.serialization import serialize

UPDATE_FUNCTION = "task_update_topic_memory"
EVOLVE_FUNCTION = "task_evolve_memory"
# A group id no caller can give (group ids are validated): marks the group in a job's JSON.
_MARKER = "\x00group\x00"


def update_job_id(group_id: str) -> str:
    """The one arq job id of a group's topic update: at most one is queued or running."""
    return f"topic-update:{group_id}"


def evolve_job_id(group_id: str) -> str:
    """The one arq job id of a group's memory evolution."""
    return f"evolve-memory:{group_id}"


# What arq's enqueue_job does for one job (a job whose key or result is there is refused), for
# many jobs in one round trip; a job running (its in-progress key set) is refused as well. The
# keys are made here from arq's prefixes: three keys a job as KEYS would triple what is sent.
# KEYS: the queue. ARGV: job, result and in-progress key prefixes, score, expiry ms, then per
# job: job id, serialised job. Returns the 1-based positions of the jobs added.
_ENQUEUE_MANY = """
local job, result, running = ARGV[1], ARGV[2], ARGV[3]
local added = {}
for i = 6, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('EXISTS', job .. id, result .. id, running .. id) == 0 then
    redis.call('SET', job .. id, ARGV[i + 1], 'PX', ARGV[5])
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    added[#added + 1] = (i - 4) / 2
  end
end
return added
"""


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
        self._enqueue_many = pool.register_script(_ENQUEUE_MANY)

    async def enqueue(self, group_id: str) -> bool:
        async with translated(f"enqueueing a {self._what}"):
            job = await self._pool.enqueue_job(
                self._function, group_id, _job_id=self._job_id(group_id), _queue_name=self._queue_name
            )
        return job is not None

    async def enqueue_many(self, group_ids: Sequence[str]) -> list[str]:
        """Enqueue the jobs of these groups in one round trip; return the groups newly queued."""
        groups = list(dict.fromkeys(group_ids))
        if not groups:
            return []
        now_ms = int(time.time() * 1000)
        args: list[Any] = [job_key_prefix, result_key_prefix, in_progress_key_prefix, now_ms]
        args.append(self._pool.expires_extra_ms)
        job = self._job_maker(now_ms)
        for group_id in groups:
            args += [self._job_id(group_id), job(group_id)]
        async with translated(f"enqueueing {len(groups)} {self._what}s"):
            added = await self._enqueue_many(keys=[self._queue_name], args=args)
        return [groups[int(position) - 1] for position in added]

    def _job_maker(self, now_ms: int) -> Callable[[str], bytes]:
        """Serialises the job of one group as arq's enqueue_job would, always as JSON.

        A thousand jobs differ only in the group: the serializer's output for a marker group is
        cut around the marker once, and each job is the group's JSON string put in between.
        """
        # JSON even on a pool opened without a serializer (arq's default would pickle).
        serializer = self._pool.job_serializer or serialize

        def whole(group_id: str) -> bytes:
            return serialize_job(self._function, (group_id,), {}, None, now_ms, serializer=serializer)

        marker = json.dumps(_MARKER, ensure_ascii=False).encode()
        parts = whole(_MARKER).split(marker)
        if serializer is not serialize or len(parts) != 2:
            return whole
        head, tail = parts
        return lambda group_id: head + json.dumps(group_id, ensure_ascii=False).encode() + tail

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

    async def enqueue_updates(self, group_ids: Sequence[str]) -> list[str]:
        return await self._jobs.enqueue_many(group_ids)

    async def revive_update(self, group_id: str) -> None:
        await self._jobs.revive(group_id)


class ArqEvolutionQueue:
    """The :class:`memory_domain.group_ports.EvolutionQueue` port on arq (``evolve-memory:GROUP``)."""

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._jobs = _GroupJobs(pool, EVOLVE_FUNCTION, evolve_job_id, "memory evolution", queue_name)

    async def enqueue_evolution(self, group_id: str) -> bool:
        return await self._jobs.enqueue(group_id)

    async def enqueue_evolutions(self, group_ids: Sequence[str]) -> list[str]:
        return await self._jobs.enqueue_many(group_ids)

    async def revive_evolution(self, group_id: str) -> None:
        await self._jobs.revive(group_id)
