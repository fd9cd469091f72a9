"""How a held task's step ends: committed, tried again later, failed, or given back.

Every write is fenced by the lease token (:class:`LeaseLost` once the task was taken over). A
cancel requested while the step ran turns a failed try or a give-back into CANCELLED (the
repository applies ``transitions.settled``), so callers look at the task each settle returns.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from datetime import datetime

from long_tasks_domain.errors import (
    InvalidPayload,
    InvalidProgress,
    LeaseLost,
    NotJson,
    NotStorable,
    PermanentTaskError,
    UnknownTaskType,
)
from long_tasks_domain.model import (
    MAX_ERROR_LENGTH,
    MAX_TRACEBACK_LENGTH,
    CheckpointRecord,
    LongTask,
    Settlement,
    TaskStatus,
    clip,
)
from long_tasks_domain.ports import Clock, TaskDispatcher, TaskRepository
from long_tasks_domain.retry_policy import Backoff
from long_tasks_domain.state_machine import WAITING

logger = logging.getLogger(__name__)

# Errors that trying the step again cannot fix: the task fails at once.
PERMANENT_ERRORS = (
    PermanentTaskError,
    UnknownTaskType,
    InvalidPayload,
    NotJson,
    InvalidProgress,
    NotStorable,
)

# How long a worker that is being stopped tries to give its task back.
GIVE_BACK_SECONDS = 5.0


class Settler:
    """Writes how a held task's step ended, and dispatches what is due again."""

    def __init__(
        self, repository: TaskRepository, dispatcher: TaskDispatcher, clock: Clock, backoff: Backoff
    ) -> None:
        self._repository = repository
        self._dispatcher = dispatcher
        self._clock = clock
        self._backoff = backoff

    async def settle(
        self,
        task: LongTask,
        token: str,
        status: TaskStatus,
        *,
        checkpoint: CheckpointRecord | None = None,
        result: object = None,
        error: str | None = None,
        traceback: str | None = None,
        retry_count: int = 0,
        run_at: datetime | None = None,
        hold: bool = False,
    ) -> LongTask:
        settlement = Settlement(
            status, self._clock.now(), checkpoint, result, error, traceback, retry_count, run_at, hold
        )
        return await self._repository.settle(task.id, token, settlement)

    async def failed_try(self, task: LongTask, token: str, error: Exception) -> LongTask:
        """The step raised ``error``: try it again after a backoff, or fail the task."""
        message = clip(f"{type(error).__name__}: {error}", MAX_ERROR_LENGTH)
        trace = clip("".join(traceback.format_exception(error)), MAX_TRACEBACK_LENGTH)
        if isinstance(error, PERMANENT_ERRORS) or task.retry_count >= task.max_retries:
            return await self.fail(task, token, message, trace)
        retry = task.retry_count + 1
        run_at = self._clock.now() + self._backoff.delay(retry)
        status = TaskStatus.COMMIT if task.step else TaskStatus.PENDING
        settled = await self._settle_error(task, token, status, message, trace, retry, run_at)
        if settled.status is TaskStatus.CANCELLED:
            logger.info(
                "task %s: cancelled; its step %d failed meanwhile (%s)", task.id, task.step + 1, message
            )
            return settled
        logger.warning(
            "task %s: step %d failed (%s); retry %d/%d at %s",
            task.id, task.step + 1, message, retry, task.max_retries, run_at.isoformat(),
        )  # fmt: skip
        await self.dispatch(task.id, run_at)
        return settled

    async def fail(self, task: LongTask, token: str, message: str | None, trace: str | None) -> LongTask:
        settled = await self._settle_error(task, token, TaskStatus.FAILED, message, trace, task.retry_count)
        if settled.status is TaskStatus.FAILED:
            logger.error(
                "task %s (%s): failed at step %d: %s", task.id, task.task_type, task.step + 1, message
            )
        else:
            logger.info(
                "task %s: cancelled; its step %d failed meanwhile (%s)", task.id, task.step + 1, message
            )
        return settled

    async def give_back(self, task_id: str, token: str) -> None:
        """The job is being cancelled (a worker shutdown): give the task back for another worker
        at once, no try counted. Should that fail, the lease expires instead."""
        try:
            await asyncio.wait_for(self._give_back(task_id, token), GIVE_BACK_SECONDS)
        except Exception as error:
            logger.warning("task %s: interrupted; its lease will expire instead (%s)", task_id, error)

    async def dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        try:
            await self._dispatcher.dispatch(task_id, not_before)
        except Exception as error:
            logger.warning("task %s: not dispatched (%s); the poll will run it", task_id, error)

    async def _give_back(self, task_id: str, token: str) -> None:
        # Read again: the job may have been cancelled while a settle or a step start was on
        # its way, and whether it committed is known only to the store.
        task = await self._repository.get(task_id)
        if task is None or task.lease_token != token:
            return
        now = self._clock.now()
        settlement = Settlement(
            TaskStatus.COMMIT if task.step else TaskStatus.PENDING,
            now,
            error=task.error,
            error_traceback=task.error_traceback,
            retry_count=task.retry_count,
            run_at=now,
        )
        settled = await self._repository.settle(task_id, token, settlement)
        if settled.status in WAITING:
            await self._dispatcher.dispatch(task_id)
        logger.info("task %s: interrupted; given back as %s", task_id, settled.status.value)

    async def _settle_error(
        self,
        task: LongTask,
        token: str,
        status: TaskStatus,
        message: str | None,
        trace: str | None,
        retry_count: int,
        run_at: datetime | None = None,
    ) -> LongTask:
        try:
            return await self.settle(
                task, token, status, error=message, traceback=trace, retry_count=retry_count, run_at=run_at
            )
        except LeaseLost:
            raise
        except Exception as refused:
            # Whatever the store disliked in the message, the task must not stay RUNNING until
            # its lease expires (and lose this error to the takeover's): try a plain ASCII one.
            logger.error(
                "task %s: could not store the error of step %d (%s); it was: %s",
                task.id, task.step + 1, refused, message,
            )  # fmt: skip
            plain = (message or "").encode("ascii", "backslashreplace").decode("ascii")
            return await self.settle(
                task,
                token,
                status,
                error=clip(plain + " (its traceback could not be stored)", MAX_ERROR_LENGTH),
                retry_count=retry_count,
                run_at=run_at,
            )
