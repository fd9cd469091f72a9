"""Running long tasks: claim, run step after step under a renewed lease, settle each step.

A claimed task is held by a short lease that a heartbeat renews while a step runs, so the
task of a dead worker is claimed again (taken over) soon after its lease runs out, and
resumes from its last committed checkpoint. Every write of the holder is fenced by its lease
token: a worker that lost the task can no longer commit anything.

An executor runs at most ``max_concurrent`` tasks at once (one per worker process, so that
long tasks leave job slots to the worker's other jobs), and claims only the task types its
registry knows. A dispatched task it cannot run now is handed back: dispatched again shortly,
for this worker or another, without counting a try.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from long_tasks_domain.capacity import Slots, hand_back_delay
from long_tasks_domain.errors import LeaseLost, NotJson, NotStorable
from long_tasks_domain.model import (
    CheckpointRecord,
    JsonValue,
    LongTask,
    TaskStatus,
    ensure_json,
    progress_fraction,
)
from long_tasks_domain.ports import Clock, IdGenerator, TaskDispatcher, TaskRepository
from long_tasks_domain.registry import Checkpoint, Completed, StepOutcome, TaskRegistry
from long_tasks_domain.retry_policy import Backoff
from long_tasks_domain.settling import Settler
from long_tasks_domain.state_machine import WAITING
from long_tasks_domain.step_runner import StepRunner

logger = logging.getLogger(__name__)

# A task of a type this worker does not know is handed back while it has waited less than
# this; later it is left to the minute poll of the workers that know it (should no worker
# know it, it would otherwise be dispatched again and again, for ever).
UNKNOWN_TYPE_HAND_BACK_SECONDS = 60.0


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
    # At most this many tasks run at once in this executor; None: no cap.
    max_concurrent: int | None = None
    # How long a dispatched job waits for a slot before it hands its task back; and the first
    # delay of a task handed back (growing as it waits, up to HAND_BACK_MAX_SECONDS).
    slot_patience_seconds: float = 1.0
    hand_back_seconds: float = 2.0
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
    HANDED_BACK = "handed_back"  # this worker is full or does not know the type: dispatched again
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
        self._clock = clock
        self._ids = ids
        self._options = options = options or ExecutorOptions()
        self.slots = Slots(options.max_concurrent)
        self._settler = Settler(repository, dispatcher, clock, options.backoff)
        self._steps = StepRunner(
            repository,
            clock,
            lease_seconds=options.lease_seconds,
            heartbeat_seconds=options.heartbeat,
            step_timeout_seconds=options.step_timeout_seconds,
        )

    async def run(self, task_id: str) -> RunReport:
        """Claim this task if it is due and run it (what a dispatched job does)."""
        if not await self.slots.take_one(self._options.slot_patience_seconds):
            return await self._hand_back(task_id, "this worker runs as many tasks as it may")
        try:
            claimed = await self._claim(1, task_id)
            if not claimed:
                task = await self._repository.get(task_id)
                if task is not None and task.task_type not in self._registry:
                    why = f"no handler here for {task.task_type!r}"
                    return await self._hand_back(task_id, why, task, UNKNOWN_TYPE_HAND_BACK_SECONDS)
                wait = self._early_by(task)
                if wait is None:
                    return RunReport(task_id, RunOutcome.NOT_CLAIMED)
                await asyncio.sleep(wait)
                claimed = await self._claim(1, task_id)
                if not claimed:
                    return RunReport(task_id, RunOutcome.NOT_CLAIMED)
            task, token = claimed[0]
            return await self.drive(task, token)
        finally:
            self.slots.give()

    async def poll(self, limit: int, *, expired_only: bool = False) -> list[RunReport]:
        """Claim up to ``limit`` due tasks (missed ones, dead workers' ones) and run them.

        With ``expired_only``, only tasks whose lease expired: their worker died.
        """
        free = self.slots.take(limit)
        if not free:
            return []
        try:
            claimed = await self._claim(free, expired_only=expired_only)
        finally:
            self.slots.give(free)
        self.slots.used += len(claimed)  # nothing ran in between: these slots are still free
        results = await asyncio.gather(
            *(self._drive_in_slot(t, token) for t, token in claimed), return_exceptions=True
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
        except asyncio.CancelledError:
            await self._settler.give_back(task.id, token)
            raise
        return RunReport(task.id, outcome, len(committed))

    async def _drive(self, task: LongTask, token: str, committed: list[int]) -> RunOutcome:
        loop = asyncio.get_running_loop()
        started = loop.time()
        settler = self._settler
        while True:
            if task.cancel_requested:
                await settler.settle(task, token, TaskStatus.CANCELLED, retry_count=task.retry_count)
                logger.info("task %s: cancelled after %d steps", task.id, task.step)
                return RunOutcome.CANCELLED
            if task.retry_count > task.max_retries:
                trace = task.error_traceback
                return _ended(await settler.fail(task, token, f"{task.error}; no retries left", trace))
            step_started = loop.time()
            try:
                outcome, value, progress = await self._step(task, token)
            except LeaseLost:
                raise
            except Exception as error:
                return _ended(await settler.failed_try(task, token, error))
            duration_ms = int((loop.time() - step_started) * 1000)
            hold = loop.time() - started < self._options.slice_seconds
            try:
                if isinstance(outcome, Completed):
                    await settler.settle(task, token, TaskStatus.DONE, result=value)
                    committed.append(task.step + 1)
                    logger.info("task %s (%s): done after %d steps", task.id, task.task_type, task.step + 1)
                    return RunOutcome.DONE
                checkpoint = CheckpointRecord(
                    task.id, task.step + 1, value, self._clock.now(), duration_ms, progress
                )
                task = await settler.settle(task, token, TaskStatus.COMMIT, checkpoint=checkpoint, hold=hold)
            except NotStorable as refused:  # the store's last word on a value that got through
                return _ended(await settler.failed_try(task, token, refused))
            committed.append(task.step)
            if task.cancel_requested and hold:
                continue  # the step boundary: cancelled at the top of the loop, COMMIT → CANCELLED
            if not hold:
                await settler.dispatch(task.id)
                return RunOutcome.HANDED_ON
            now = self._clock.now()
            task = await self._repository.start_step(task.id, token, now, self._lease_until(now))

    async def _step(self, task: LongTask, token: str) -> tuple[StepOutcome, JsonValue, float | None]:
        """Run one step; its outcome as JSON, and the checkpoint's progress."""
        handler = self._registry.get(task.task_type)
        outcome = await self._steps.run(task, token, handler)
        if isinstance(outcome, Completed):
            return outcome, ensure_json(outcome.result, f"the result of task type {task.task_type!r}"), None
        if isinstance(outcome, Checkpoint):
            state = ensure_json(outcome.state, f"the checkpoint of task type {task.task_type!r}")
            return outcome, state, progress_fraction(outcome.progress)
        raise NotJson(
            f"the handler of {task.task_type!r} returned a {type(outcome).__name__}; "
            "a step returns Checkpoint(state) or Completed(result)"
        )

    async def _drive_in_slot(self, task: LongTask, token: str) -> RunReport:
        try:
            return await self.drive(task, token)
        finally:
            self.slots.give()

    async def _hand_back(
        self, task_id: str, why: str, task: LongTask | None = None, horizon: float | None = None
    ) -> RunReport:
        """Dispatch a due task again shortly, for whichever worker can run it then (unless it
        has waited ``horizon`` seconds already)."""
        task = task or await self._repository.get(task_id)
        now = self._clock.now()
        early = timedelta(seconds=self._options.early_arrival_seconds)
        if task is None or task.status not in WAITING or task.run_at > now + early:
            return RunReport(task_id, RunOutcome.NOT_CLAIMED)  # nothing to run (yet)
        waited = max(0.0, (now - task.run_at).total_seconds())
        if horizon is not None and waited >= horizon:
            logger.info("task %s: not run here (%s); left to the poll", task_id, why)
            return RunReport(task_id, RunOutcome.NOT_CLAIMED)
        delay = hand_back_delay(waited, self._options.hand_back_seconds, self._options.backoff.rng)
        logger.info("task %s: handed back (%s); dispatched again in %.1f s", task_id, why, delay)
        await self._settler.dispatch(task_id, now + timedelta(seconds=delay))
        return RunReport(task_id, RunOutcome.HANDED_BACK)

    async def _claim(
        self, limit: int, task_id: str | None = None, *, expired_only: bool = False
    ) -> list[tuple[LongTask, str]]:
        token = self._ids.new_id()
        now = self._clock.now()
        types = [handler.task_type for handler in self._registry]
        tasks = await self._repository.claim(
            now, self._lease_until(now), token, limit, task_id, expired_only, task_types=types
        )
        return [(task, token) for task in tasks]

    def _early_by(self, task: LongTask | None) -> float | None:
        if task is None or task.status not in WAITING:
            return None
        early = task.run_at - self._clock.now()
        if timedelta(0) < early <= timedelta(seconds=self._options.early_arrival_seconds):
            return early.total_seconds()
        return None

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._options.lease_seconds)


def _ended(task: LongTask) -> RunOutcome:
    """What a failed try came to: tried again later, FAILED, or CANCELLED (a cancel won)."""
    if task.status is TaskStatus.CANCELLED:
        return RunOutcome.CANCELLED
    return RunOutcome.FAILED if task.status is TaskStatus.FAILED else RunOutcome.RETRY_SCHEDULED
