"""Ports of the long-task domain: what its services need from the outside world.

Every port has an in-memory adapter (``adapters.in_memory.long_tasks``) that passes the same
contract tests as the real one (``tests/contracts/task_repository_contract.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from long_tasks_domain.model import CheckpointRecord, LongTask, Settlement, TaskQuery, TaskStatus


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique, opaque identifier (task ids and lease tokens)."""
        ...


class TaskRepository(Protocol):
    """The source of truth of long tasks (PostgreSQL in production).

    Writes by the worker that holds a task are fenced by its lease token: once another worker
    took the task over, or it was cancelled, they raise :class:`LeaseLost` and write nothing.
    Every status change is a legal transition of ``state_machine``. Driver errors become
    :class:`TaskStorageUnavailable`; a value the store cannot hold (a NUL character, a progress
    outside [0, 1]) is refused with :class:`NotStorable`, by every adapter alike.

    Times are the caller's (its ``Clock``), except that a store with a clock of its own
    (PostgreSQL) measures leases with that: it holds a task for ``lease_until - now`` by its own
    clock and sees a lease expired when its own clock says so. A worker whose clock runs ahead
    therefore cannot take a live lease over.
    """

    async def add(self, task: LongTask) -> tuple[LongTask, bool]:
        """Store a new task; return it and True.

        When another task of the same type holds ``task.dedupe_key`` (a key is unique per task
        type), store nothing and return that task and False.
        """
        ...

    async def get(self, task_id: str) -> LongTask | None: ...

    async def list_tasks(self, query: TaskQuery) -> list[LongTask]:
        """Tasks matching the query, newest first (created_at, then id, descending)."""
        ...

    async def checkpoints(self, task_id: str) -> list[CheckpointRecord]:
        """The task's committed checkpoints, oldest first."""
        ...

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
        """Claim up to ``limit`` due tasks (only ``task_id`` when given), earliest due first.

        Due: PENDING or COMMIT with ``run_at <= now`` and no live lease, or RUNNING whose lease
        expired (its worker died: the dead try counts, ``retry_count`` goes up by one). Claimed
        tasks become RUNNING, held by ``token`` until ``lease_until``. Rows another transaction
        is claiming are skipped, not waited for (``FOR UPDATE SKIP LOCKED``). With
        ``expired_only``, only tasks whose lease expired (their worker died) are claimed. With
        ``task_types``, only tasks of these types (the ones the claiming worker can run).
        """
        ...

    async def renew(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> bool:
        """Extend the lease; False when ``token`` no longer holds the task."""
        ...

    async def start_step(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> LongTask:
        """COMMIT → RUNNING for the next step of a held task; return it (cancel flag included)."""
        ...

    async def record_progress(
        self, task_id: str, token: str, progress: float | None, message: str | None, now: datetime
    ) -> None:
        """Store a running step's progress (a fraction in [0, 1]) and message."""
        ...

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        """End the held task's step as ``settlement`` says, atomically; return the task.

        A checkpoint is inserted with the task row's update (its step must be the task's
        ``step + 1``): it is committed once or not at all. A cancel requested meanwhile turns a
        failed try, a failure or a give-back into CANCELLED; the returned task tells.
        """
        ...

    async def request_cancel(self, task_id: str, now: datetime) -> LongTask:
        """Cancel: a waiting task (or one whose lease expired) at once, a running one at its
        next step boundary (the flag is set). Cancelling a CANCELLED task changes nothing.

        Raises :class:`TaskNotFound`, or :class:`IllegalTransition` for DONE and FAILED tasks.
        """
        ...

    async def reset_failed(self, task_id: str, now: datetime) -> LongTask:
        """FAILED → PENDING, due now, with its tries and error cleared; its checkpoints stay."""
        ...

    async def delete_finished(
        self, statuses: Sequence[TaskStatus], finished_before: datetime, limit: int
    ) -> int:
        """Delete up to ``limit`` finished tasks (and their checkpoints) of these statuses that
        finished before ``finished_before``, oldest first; return how many."""
        ...


class TaskDispatcher(Protocol):
    """Hands a task to a worker at once (arq in production); the poll is the safety net."""

    async def dispatch(self, task_id: str, not_before: datetime | None = None) -> None:
        """Ask a worker to run the task (not before ``not_before``). Raises on failure."""
        ...
