"""Long tasks handed to the worker as arq jobs: one job per dispatch, each with its own id."""

from __future__ import annotations

import uuid
from datetime import datetime

from arq.connections import ArqRedis
from arq.constants import default_queue_name
from redis.exceptions import RedisError

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
    """

    def __init__(self, pool: ArqRedis, queue_name: str = default_queue_name) -> None:
        self._pool = pool
        self._queue_name = queue_name

    async def dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        try:
            await self._pool.enqueue_job(
                RUN_FUNCTION,
                task_id,
                _job_id=dispatch_job_id(task_id),
                _queue_name=self._queue_name,
                _defer_until=not_before,
            )
        except (RedisError, OSError) as error:
            raise DispatchFailed(f"Redis did not take the job of task {task_id}: {error}") from error
