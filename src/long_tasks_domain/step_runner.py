"""Running one step of a held task: under a heartbeat that renews the lease, within the step
timeout, with progress reports written through the lease."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import timedelta

from long_tasks_domain.errors import LeaseLost, StepCancelled, StepTimedOut, TaskStorageUnavailable
from long_tasks_domain.model import LongTask
from long_tasks_domain.ports import Clock, TaskRepository
from long_tasks_domain.progress import ProgressWriter
from long_tasks_domain.registry import Checkpoint, Completed, TaskHandler, TaskStep

logger = logging.getLogger(__name__)


class StepRunner:
    """Runs a handler's step; raises what the step raised, :class:`StepTimedOut`,
    :class:`LeaseLost` when the heartbeat found the task taken (the step is then cancelled), or
    CancelledError only when the job itself is being cancelled (a worker shutdown)."""

    def __init__(
        self,
        repository: TaskRepository,
        clock: Clock,
        *,
        lease_seconds: float,
        heartbeat_seconds: float,
        step_timeout_seconds: float,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._heartbeat_seconds = heartbeat_seconds
        self._step_timeout = step_timeout_seconds

    async def run(self, task: LongTask, token: str, handler: TaskHandler) -> Checkpoint | Completed:
        payload = handler.parse(task.payload)
        progress = ProgressWriter(self._repository, self._clock, task.id, token)
        step = TaskStep(
            task.id, task.task_type, payload, task.state, task.step, task.retry_count + 1, progress.write
        )
        limit = self._step_timeout

        async def guarded() -> Checkpoint | Completed:
            scope = asyncio.timeout(limit)
            try:
                async with scope:
                    return await handler.run(step)
            except TimeoutError:
                if not scope.expired():
                    raise
                raise StepTimedOut(
                    f"step {task.step + 1} ran longer than {limit:g} s "
                    "(LONG_TASK_LOCK_TIMEOUT_SECONDS) and was cancelled"
                ) from None

        lost = asyncio.Event()
        running = asyncio.create_task(guarded())
        heartbeat = asyncio.create_task(self._heartbeat(task.id, token, running, lost))
        try:
            outcome = await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this job is being cancelled: the worker shuts down
            if lost.is_set():
                raise LeaseLost("its lease was taken over or cancelled while the step ran") from None
            # Nobody cancelled this job: the handler raised it, say from awaiting a future that
            # something else cancelled. Giving the task back would run it again at once, forever.
            raise StepCancelled(
                "the step raised CancelledError while nothing cancelled it "
                "(it awaited something that was cancelled)"
            ) from None
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
        if isinstance(outcome, Checkpoint) and outcome.progress is None and progress.last is not None:
            outcome = Checkpoint(outcome.state, progress.last)
        return outcome

    async def _heartbeat(
        self, task_id: str, token: str, running: asyncio.Task[object], lost: asyncio.Event
    ) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                now = self._clock.now()
                held = await self._repository.renew(task_id, token, now, now + self._lease)
            except TaskStorageUnavailable as error:
                # The step goes on; should another worker take the task over meanwhile, the
                # fenced writes refuse this worker's results.
                logger.warning("task %s: could not renew the lease: %s", task_id, error)
                continue
            if not held:
                lost.set()
                running.cancel()
                return
