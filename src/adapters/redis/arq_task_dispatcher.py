"""Long tasks handed to the worker as arq jobs: one job per dispatch, each with its own id."""

from __future__ import annotations

import uuid
from datetime import datetime

from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from redis.exceptions import RedisError

from adapters.redis.wake_up import wake_channel
from long_tasks_domain.errors import LongTaskError

RUN_FUNCTION = "task_run_long_task"


class DispatchFailed(LongTaskError):
    """Redis could not take the job; the task stays stored and the poll runs it."""


def dispatch_job_id(task_id: str) -> str:
    return f"long-task:{task_id}:{uuid.uuid4().hex[:12]}"


class ArqTaskDispatcher:
    """The :class:`long_tasks_domain.ports.TaskDispatcher` port on arq.

    Each dispatch gets a fresh job id. A per-task id would be refused while a previous job of
    the task is queued, or still marked in progress after its worker was killed (arq keeps that
    mark for the largest job timeout plus 10 s). Duplicate jobs are harmless: the claim lets
    one of them run the task and the others find it held or not due.

    A job due now is announced on the queue's wake-up channel (``adapters.redis.wake_up``), so
    an idle worker reads it at once instead of at its next poll; should nobody listen, the
    poll reads the job as before.
    """

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._pool = pool
        self._queue_name = queue_name

    async def dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        # arq's enqueue_job first checks (WATCH, EXISTS) that the job id is free: a fresh id
        # always is, so the job goes in as arq writes it, with its wake-up, in one round trip.
        job_id = dispatch_job_id(task_id)
        enqueued_ms = timestamp_ms()
        score = enqueued_ms if not_before is None else max(enqueued_ms, to_unix_ms(not_before))
        job = serialize_job(
            RUN_FUNCTION, (task_id,), {}, None, enqueued_ms, serializer=self._pool.job_serializer
        )
        try:
            async with self._pool.pipeline(transaction=True) as pipe:
                pipe.psetex(job_key_prefix + job_id, score - enqueued_ms + self._pool.expires_extra_ms, job)
                pipe.zadd(self._queue_name, {job_id: score})
                if score <= enqueued_ms:
                    pipe.publish(wake_channel(self._queue_name), b"1")
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise DispatchFailed(f"Redis did not take the job of task {task_id}: {error}") from error
