"""The arq jobs of a cancelled long task leave the queue (``ai-worker tasks cancel``).

A cancelled task's jobs would do nothing when they run (the claim refuses a cancelled task),
but a job deferred to the task's ``--run-at`` or to a retry's backoff would sit in arq's queue
until then: listed by ``KEYS arq:*`` and counted in the queue length ``status`` shows. Jobs
already running are left alone: their worker ends them at the next step boundary.
"""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix

from adapters.redis.arq_task_dispatcher import dispatch_job_id


def _job_prefix(task_id: str) -> str:
    # The dispatcher's own format (long-task:ID:RANDOM), not a copy of it.
    return dispatch_job_id(task_id).rsplit(":", 1)[0]


async def drop_queued_jobs(pool: ArqRedis, task_id: str, queue_name: str = default_queue_name) -> int:
    """Remove the task's jobs that wait in ``queue_name`` (not the running ones); return how many.

    One cursor walk over the queue with a MATCH on the task's job-id prefix: the queue holds
    only jobs not yet finished, and this runs once per cancel, never per job.
    """
    prefix = _job_prefix(task_id)
    dropped = 0
    async for member, _score in pool.zscan_iter(queue_name, match=f"{prefix}:*"):
        job_id = member.decode() if isinstance(member, bytes) else str(member)
        # "long-task:a:*" also matches task "a:b"'s jobs: compare the whole prefix.
        if job_id.rsplit(":", 1)[0] != prefix or await pool.exists(in_progress_key_prefix + job_id):
            continue
        async with pool.pipeline(transaction=True) as pipe:
            pipe.zrem(queue_name, job_id)
            pipe.delete(job_key_prefix + job_id)
            removed, _ = await pipe.execute()
        dropped += int(removed)
    return dropped
