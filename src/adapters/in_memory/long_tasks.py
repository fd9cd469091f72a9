"""Dict-backed long-task adapters, for tests and for programs that embed the executor.

They keep the same contract as the SQL repository (``tests/contracts/``). Each operation runs
without awaiting in between, so under asyncio it is atomic, as a transaction is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from long_tasks_domain import transitions
from long_tasks_domain.errors import TaskNotFound
from long_tasks_domain.model import (
    CheckpointRecord,
    LongTask,
    Settlement,
    TaskQuery,
    TaskStatus,
    check_storable,
)
from long_tasks_domain.state_machine import can_transition


class InMemoryTaskRepository:
    """The :class:`long_tasks_domain.ports.TaskRepository` port in dicts.

    ``history`` lists every status change as (task id, from, to): tests check them.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, LongTask] = {}
        self.checkpoint_rows: dict[str, list[CheckpointRecord]] = {}
        self.history: list[tuple[str, TaskStatus, TaskStatus]] = []

    async def add(self, task: LongTask) -> tuple[LongTask, bool]:
        check_storable(task)
        if task.dedupe_key is not None:
            for existing in self.tasks.values():
                if (existing.task_type, existing.dedupe_key) == (task.task_type, task.dedupe_key):
                    return existing, False
        if task.id in self.tasks:
            raise ValueError(f"task id {task.id!r} is taken")
        self.tasks[task.id] = task
        self.checkpoint_rows[task.id] = []
        return task, True

    async def get(self, task_id: str) -> LongTask | None:
        return self.tasks.get(task_id)

    async def list_tasks(self, query: TaskQuery) -> list[LongTask]:
        found = [
            task
            for task in self.tasks.values()
            if (query.status is None or task.status is query.status)
            and (query.task_type is None or task.task_type == query.task_type)
            and (query.before is None or (task.created_at, task.id) < query.before)
        ]
        found.sort(key=lambda task: (task.created_at, task.id), reverse=True)
        return found[: max(query.limit, 0)]

    async def checkpoints(self, task_id: str) -> list[CheckpointRecord]:
        return list(self.checkpoint_rows.get(task_id, []))

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        token: str,
        limit: int,
        task_id: str | None = None,
        expired_only: bool = False,
        task_types: Collection[str] | None = None,
    ) -> list[LongTask]:
        wanted = transitions.lease_expired if expired_only else transitions.is_due
        due = [
            task
            for task in self.tasks.values()
            if (task_id is None or task.id == task_id)
            and (task_types is None or task.task_type in task_types)
            and wanted(task, now)
        ]
        due.sort(key=lambda task: (task.run_at, task.created_at, task.id))
        return [
            self._put(transitions.claimed(task, now, lease_until, token), claim=True) for task in due[:limit]
        ]

    async def renew(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> bool:
        task = self.tasks.get(task_id)
        if task is None or task.lease_token != token:
            return False
        if task.status not in (TaskStatus.RUNNING, TaskStatus.COMMIT):
            return False
        self._put(transitions.renewed(task, lease_until))
        return True

    async def start_step(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> LongTask:
        task = transitions.held(self.tasks.get(task_id), task_id, token)
        return self._put(transitions.step_started(task, now, lease_until))

    async def record_progress(
        self, task_id: str, token: str, progress: float | None, message: str | None, now: datetime
    ) -> None:
        task = transitions.held(self.tasks.get(task_id), task_id, token)
        self._put(transitions.with_progress(task, progress, message, now))

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        task = transitions.held(self.tasks.get(task_id), task_id, token)
        updated = transitions.settled(task, settlement)
        if settlement.checkpoint is not None:
            self.checkpoint_rows[task_id].append(settlement.checkpoint)
        return self._put(updated)

    async def request_cancel(self, task_id: str, now: datetime) -> LongTask:
        return self._put(transitions.cancel_requested(self._existing(task_id), now))

    async def reset_failed(self, task_id: str, now: datetime) -> LongTask:
        return self._put(transitions.reset_for_retry(self._existing(task_id), now))

    async def delete_finished(
        self, statuses: Sequence[TaskStatus], finished_before: datetime, limit: int
    ) -> int:
        old = sorted(
            (
                task
                for task in self.tasks.values()
                if task.status in statuses
                and task.finished_at is not None
                and task.finished_at < finished_before
            ),
            key=lambda task: (task.finished_at, task.id),
        )[: max(limit, 0)]
        for task in old:
            del self.tasks[task.id]
            self.checkpoint_rows.pop(task.id, None)
        return len(old)

    def _existing(self, task_id: str) -> LongTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id!r}")
        return task

    def _put(self, task: LongTask, *, claim: bool = False) -> LongTask:
        before = self.tasks[task.id].status
        if claim or before is not task.status:
            # The domain's transition functions already checked this; the fake double-checks.
            assert can_transition(before, task.status), (before, task.status)
            self.history.append((task.id, before, task.status))
        self.tasks[task.id] = task
        return task


@dataclass(frozen=True, slots=True)
class Dispatch:
    task_id: str
    not_before: datetime | None


class InMemoryTaskDispatcher:
    """The :class:`long_tasks_domain.ports.TaskDispatcher` port as a list of dispatches."""

    def __init__(self) -> None:
        self.dispatched: list[Dispatch] = []
        self.fail_with: Exception | None = None

    async def dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.dispatched.append(Dispatch(task_id, not_before))

    def take(self) -> list[Dispatch]:
        taken, self.dispatched = self.dispatched, []
        return taken
