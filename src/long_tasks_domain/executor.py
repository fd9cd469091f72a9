"""Running long tasks: claim, run step after step under a renewed lease, settle each step.

A claimed task is held by a short lease that a heartbeat renews while a step runs, so the
task of a dead worker is claimed again (taken over) soon after its lease runs out, and
resumes from its last committed checkpoint. Every write of the holder is fenced by its lease
token: a worker that lost the task can no longer commit anything.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from long_tasks_domain.errors import (
    InvalidPayload,
    LeaseLost,
    NotJson,
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
    ensure_json,
)
from long_tasks_domain.ports import Clock, IdGenerator, TaskDispatcher, TaskRepository
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry
from long_tasks_domain.retry_policy import Backoff
from long_tasks_domain.step_runner import StepRunner

logger = logging.getLogger(__name__)

# Errors that trying the step again cannot fix: the task fails at once.
PERMANENT_ERRORS = (PermanentTaskError, UnknownTaskType, InvalidPayload, NotJson)


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    lease_seconds: float = 30.0
    step_timeout_seconds: float = 1800.0
    # After this long, a task is handed on to a fresh job between two steps, so that one job
    # runs at most one slice plus one step (arq's job timeout is set from that).
    slice_seconds: float = 300.0
    heartbeat_seconds: float | None = None  # default: a third of the lease
    # A job that arrives this much before its task is due (clock skew between the machines
    # that enqueue and run it) waits for it instead of leaving it to the poll.
    early_arrival_seconds: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)

    @property
    def heartbeat(self) -> float:
        return self.heartbeat_seconds or self.lease_seconds / 3


class RunOutcome(StrEnum):
    NOT_CLAIMED = "not_claimed"  # not due, held by a live worker, or finished
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY_SCHEDULED = "retry_scheduled"
    HANDED_ON = "handed_on"  # the slice ran out; a fresh job continues
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True, slots=True)
class RunReport:
    task_id: str
    outcome: RunOutcome
    steps: int = 0  # checkpoints (and the result) committed by this run


class TaskExecutor:
    """Claims due tasks and runs their steps, one after another, while they return COMMIT."""

    def __init__(
        self,
        repository: TaskRepository,
        registry: TaskRegistry,
        dispatcher: TaskDispatcher,
        clock: Clock,
        ids: IdGenerator,
        options: ExecutorOptions | None = None,
    ) -> None:
        self._repository = repository
        self._registry = registry
        self._dispatcher = dispatcher
        self._clock = clock
        self._ids = ids
        self._options = options or ExecutorOptions()
        self._steps = StepRunner(
            repository,
            clock,
            lease_seconds=self._options.lease_seconds,
            heartbeat_seconds=self._options.heartbeat,
            step_timeout_seconds=self._options.step_timeout_seconds,
        )

    async def run(self, task_id: str) -> RunReport:
        """Claim this task if it is due and run it (what a dispatched job does)."""
        claimed = await self._claim(1, task_id)
        if not claimed:
            task = await self._repository.get(task_id)
            wait = self._early_by(task)
            if wait is None:
                return RunReport(task_id, RunOutcome.NOT_CLAIMED)
            await asyncio.sleep(wait)
            claimed = await self._claim(1, task_id)
            if not claimed:
                return RunReport(task_id, RunOutcome.NOT_CLAIMED)
        task, token = claimed[0]
        return await self.drive(task, token)

    async def poll(self, limit: int, *, expired_only: bool = False) -> list[RunReport]:
        """Claim up to ``limit`` due tasks (missed ones, dead workers' ones) and run them.

        With ``expired_only``, only tasks whose lease expired: their worker died.
        """
        claimed = await self._claim(limit, expired_only=expired_only)
        results = await asyncio.gather(
            *(self.drive(t, token) for t, token in claimed), return_exceptions=True
        )
        reports: list[RunReport] = []
        for (task, _), result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                logger.error("task %s: could not be run: %s", task.id, result)
                continue
            reports.append(result)
        return reports

    async def drive(self, task: LongTask, token: str) -> RunReport:
        """Run the claimed ``task`` until it is settled, handed on, or lost."""
        committed: list[int] = []
        try:
            outcome = await self._drive(task, token, committed)
        except LeaseLost as lost:
            logger.warning("task %s: %s; this worker stops running it", task.id, lost)
            outcome = RunOutcome.LEASE_LOST
        return RunReport(task.id, outcome, len(committed))

    async def _drive(self, task: LongTask, token: str, committed: list[int]) -> RunOutcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            if task.cancel_requested:
                await self._settle(task, token, TaskStatus.CANCELLED, retry_count=task.retry_count)
                logger.info("task %s: cancelled after %d steps", task.id, task.step)
                return RunOutcome.CANCELLED
            if task.retry_count > task.max_retries:
                await self._fail(task, token, f"{task.error}; no retries left", task.error_traceback)
                return RunOutcome.FAILED
            step_started = loop.time()
            try:
                handler = self._registry.get(task.task_type)
                outcome = await self._steps.run(task, token, handler)
                if isinstance(outcome, Completed):
                    value = ensure_json(outcome.result, f"the result of task type {task.task_type!r}")
                elif isinstance(outcome, Checkpoint):
                    value = ensure_json(outcome.state, f"the checkpoint of task type {task.task_type!r}")
                else:
                    raise NotJson(
                        f"the handler of {task.task_type!r} returned a {type(outcome).__name__}; "
                        "a step returns Checkpoint(state) or Completed(result)"
                    )
            except (LeaseLost, asyncio.CancelledError) as stop:
                if isinstance(stop, asyncio.CancelledError):
                    await self._interrupted(task, token)
                raise
            except Exception as error:
                return await self._failed_try(task, token, error)
            duration_ms = int((loop.time() - step_started) * 1000)
            if isinstance(outcome, Completed):
                await self._settle(task, token, TaskStatus.DONE, result=value)
                committed.append(task.step + 1)
                logger.info("task %s (%s): done after %d steps", task.id, task.task_type, task.step + 1)
                return RunOutcome.DONE
            hold = loop.time() - started < self._options.slice_seconds
            checkpoint = CheckpointRecord(
                task.id, task.step + 1, value, self._clock.now(), duration_ms, outcome.progress
            )
            task = await self._settle(task, token, TaskStatus.COMMIT, checkpoint=checkpoint, hold=hold)
            committed.append(checkpoint.step)
            if task.cancel_requested and hold:
                continue  # the step boundary: cancelled at the top of the loop, COMMIT → CANCELLED
            if not hold:
                await self._dispatch(task.id)
                return RunOutcome.HANDED_ON
            now = self._clock.now()
            task = await self._repository.start_step(task.id, token, now, self._lease_until(now))

    # -- settling ----------------------------------------------------------------------------

    async def _failed_try(self, task: LongTask, token: str, error: Exception) -> RunOutcome:
        message = clip(f"{type(error).__name__}: {error}", MAX_ERROR_LENGTH)
        trace = clip("".join(traceback.format_exception(error)), MAX_TRACEBACK_LENGTH)
        if isinstance(error, PERMANENT_ERRORS) or task.retry_count >= task.max_retries:
            await self._fail(task, token, message, trace)
            return RunOutcome.FAILED
        retry = task.retry_count + 1
        run_at = self._clock.now() + self._options.backoff.delay(retry)
        status = TaskStatus.COMMIT if task.step else TaskStatus.PENDING
        await self._settle(
            task, token, status, error=message, traceback=trace, retry_count=retry, run_at=run_at
        )
        logger.warning(
            "task %s: step %d failed (%s); retry %d/%d at %s",
            task.id, task.step + 1, message, retry, task.max_retries, run_at.isoformat(),
        )  # fmt: skip
        await self._dispatch(task.id, run_at)
        return RunOutcome.RETRY_SCHEDULED

    async def _fail(self, task: LongTask, token: str, message: str | None, trace: str | None) -> None:
        await self._settle(
            task, token, TaskStatus.FAILED, error=message, traceback=trace, retry_count=task.retry_count
        )
        logger.error("task %s (%s): failed at step %d: %s", task.id, task.task_type, task.step + 1, message)

    async def _interrupted(self, task: LongTask, token: str) -> None:
        """The job is being cancelled (worker shutdown): give the task back for another worker."""
        status = TaskStatus.COMMIT if task.step else TaskStatus.PENDING
        now = self._clock.now()
        settlement = Settlement(status, now, retry_count=task.retry_count, run_at=now, error=task.error)
        try:
            await asyncio.wait_for(self._repository.settle(task.id, token, settlement), 3)
            await asyncio.wait_for(self._dispatcher.dispatch(task.id), 3)
        except Exception as error:
            logger.warning("task %s: interrupted; its lease will expire instead (%s)", task.id, error)

    async def _settle(
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

    # -- helpers -------------------------------------------------------------------------------

    async def _claim(
        self, limit: int, task_id: str | None = None, *, expired_only: bool = False
    ) -> list[tuple[LongTask, str]]:
        token = self._ids.new_id()
        now = self._clock.now()
        tasks = await self._repository.claim(now, self._lease_until(now), token, limit, task_id, expired_only)
        return [(task, token) for task in tasks]

    def _early_by(self, task: LongTask | None) -> float | None:
        if task is None or task.status not in (TaskStatus.PENDING, TaskStatus.COMMIT):
            return None
        early = task.run_at - self._clock.now()
        if timedelta(0) < early <= timedelta(seconds=self._options.early_arrival_seconds):
            return early.total_seconds()
        return None

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._options.lease_seconds)

    async def _dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        try:
            await self._dispatcher.dispatch(task_id, not_before)
        except Exception as error:
            logger.warning("task %s: not dispatched (%s); the poll will run it", task_id, error)
