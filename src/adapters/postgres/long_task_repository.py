"""The :class:`~long_tasks_domain.ports.TaskRepository` on PostgreSQL (production) or SQLite.

Every write transaction starts with an UPDATE that locks the task's row (and checks the lease
token, for the holder's writes), then applies the domain's transition function to the row as
it was and writes the result. Starting with a write matters on SQLite too: a transaction that
read first could not upgrade to a write once another connection had written. Claims pick rows
with ``FOR UPDATE SKIP LOCKED`` (ignored by SQLite, which serialises writers anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.engine import storage_errors
from adapters.postgres.long_task_rows import (
    checkpoint_from_row,
    checkpoint_row,
    mutable_values,
    task_from_row,
    task_row,
)
from adapters.postgres.long_task_tables import long_task_checkpoints, long_tasks
from long_tasks_domain import transitions
from long_tasks_domain.errors import TaskNotFound, TaskStorageUnavailable
from long_tasks_domain.model import CheckpointRecord, LongTask, Settlement, TaskQuery, TaskStatus
from memory_domain.errors import StorageUnavailable

_T = long_tasks.c
_WAITING = [TaskStatus.PENDING.value, TaskStatus.COMMIT.value]


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """SQL for ``transitions.is_due``."""
    lease_dead = sa.or_(_T.lease_expires_at.is_(None), _T.lease_expires_at <= now)
    return sa.or_(
        sa.and_(_T.status.in_(_WAITING), _T.run_at <= now, lease_dead),
        sa.and_(_T.status == TaskStatus.RUNNING.value, lease_dead),
    )


class SqlTaskRepository:
    """Long tasks in SQL through one async engine; driver errors become TaskStorageUnavailable."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, task: LongTask) -> tuple[LongTask, bool]:
        with self._errors("submit a task"):
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(sa.insert(long_tasks).values(task_row(task)))
                return task, True
            except sa_exc.IntegrityError:
                if task.dedupe_key is None:
                    raise
            existing = await self._fetch_one(
                sa.select(long_tasks).where(_T.dedupe_key == task.dedupe_key), "read a task"
            )
        if existing is None:  # the holder of the key was deleted in between: try once more
            return await self.add(task)
        return existing, False

    async def get(self, task_id: str) -> LongTask | None:
        return await self._fetch_one(sa.select(long_tasks).where(_T.id == task_id), "read a task")

    async def list_tasks(self, query: TaskQuery) -> list[LongTask]:
        statement = sa.select(long_tasks).order_by(_T.created_at.desc(), _T.id.desc()).limit(query.limit)
        if query.status is not None:
            statement = statement.where(_T.status == query.status.value)
        if query.task_type is not None:
            statement = statement.where(_T.task_type == query.task_type)
        if query.before is not None:
            created_at, task_id = query.before
            statement = statement.where(
                sa.or_(_T.created_at < created_at, sa.and_(_T.created_at == created_at, _T.id < task_id))
            )
        with self._errors("list tasks"):
            async with self._engine.connect() as connection:
                return [task_from_row(row) for row in await connection.execute(statement)]

    async def checkpoints(self, task_id: str) -> list[CheckpointRecord]:
        statement = (
            sa.select(long_task_checkpoints)
            .where(long_task_checkpoints.c.task_id == task_id)
            .order_by(long_task_checkpoints.c.step)
        )
        with self._errors("read checkpoints"):
            async with self._engine.connect() as connection:
                return [checkpoint_from_row(row) for row in await connection.execute(statement)]

    async def claim(
        self,
        now: datetime,
        lease_until: datetime,
        token: str,
        limit: int,
        task_id: str | None = None,
        expired_only: bool = False,
    ) -> list[LongTask]:
        if limit <= 0:
            return []
        candidates = sa.select(_T.id).where(_due(now))
        if task_id is not None:
            candidates = candidates.where(_T.id == task_id)
        if expired_only:
            candidates = candidates.where(_T.lease_expires_at <= now)
        candidates = (
            candidates.order_by(_T.run_at, _T.created_at, _T.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # A CTE, not a plain subquery: PostgreSQL may scan an IN subquery again per row, and a
        # rescan skips the rows this very statement just locked and takes more than ``limit``.
        # A CTE with FOR UPDATE is never inlined, so it runs once.
        picked = candidates.cte("picked")
        # Marking the rows with the token locks them; the status is still the old one, which
        # the transition function needs (a takeover counts the dead try).
        mark = (
            sa.update(long_tasks)
            .where(_T.id.in_(sa.select(picked.c.id)), _due(now))
            .values(lease_token=token, lease_expires_at=lease_until)
            .returning(long_tasks)
        )
        with self._errors("claim tasks"):
            async with self._engine.begin() as connection:
                rows = (await connection.execute(mark)).all()
                claimed = [transitions.claimed(task_from_row(row), now, lease_until, token) for row in rows]
                for task in claimed:
                    await self._write(connection, task)
        return sorted(claimed, key=lambda task: (task.run_at, task.created_at, task.id))

    async def renew(self, task_id: str, token: str, lease_until: datetime) -> bool:
        statement = (
            sa.update(long_tasks)
            .where(
                _T.id == task_id,
                _T.lease_token == token,
                _T.status.in_([TaskStatus.RUNNING.value, TaskStatus.COMMIT.value]),
            )
            .values(lease_expires_at=lease_until)
            .returning(_T.id)
        )
        with self._errors("renew a lease"):
            async with self._engine.begin() as connection:
                return (await connection.execute(statement)).first() is not None

    async def start_step(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> LongTask:
        return await self._change_held(
            task_id, token, lambda task: transitions.step_started(task, now, lease_until), "start a step"
        )

    async def record_progress(
        self, task_id: str, token: str, progress: float | None, message: str | None, now: datetime
    ) -> None:
        await self._change_held(
            task_id,
            token,
            lambda task: transitions.with_progress(task, progress, message, now),
            "record progress",
        )

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        checkpoint = settlement.checkpoint
        return await self._change_held(
            task_id,
            token,
            lambda task: transitions.settled(task, settlement),
            "commit a step",
            checkpoint_row(checkpoint) if checkpoint is not None else None,
        )

    async def request_cancel(self, task_id: str, now: datetime) -> LongTask:
        return await self._change(
            task_id, lambda task: transitions.cancel_requested(task, now), "cancel a task"
        )

    async def reset_failed(self, task_id: str, now: datetime) -> LongTask:
        return await self._change(
            task_id, lambda task: transitions.reset_for_retry(task, now), "retry a task"
        )

    async def delete_finished(
        self, statuses: Sequence[TaskStatus], finished_before: datetime, limit: int
    ) -> int:
        if limit <= 0 or not statuses:
            return 0
        victims = (
            sa.select(_T.id)
            .where(_T.status.in_([status.value for status in statuses]), _T.finished_at < finished_before)
            .order_by(_T.finished_at, _T.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # A no-op write locks the victims and returns them: the checkpoints go first (the
        # foreign key), then the tasks, the very same ones.
        picked = victims.cte("picked")
        lock = (
            sa.update(long_tasks)
            .where(_T.id.in_(sa.select(picked.c.id)))
            .values(updated_at=_T.updated_at)
            .returning(_T.id)
        )
        with self._errors("delete finished tasks"):
            async with self._engine.begin() as connection:
                deleted = [row.id for row in await connection.execute(lock)]
                if deleted:
                    await connection.execute(
                        sa.delete(long_task_checkpoints).where(long_task_checkpoints.c.task_id.in_(deleted))
                    )
                    await connection.execute(sa.delete(long_tasks).where(_T.id.in_(deleted)))
        return len(deleted)

    # -- helpers -------------------------------------------------------------------------------

    async def _change_held(
        self,
        task_id: str,
        token: str,
        change: Callable[[LongTask], LongTask],
        action: str,
        checkpoint: dict[str, Any] | None = None,
    ) -> LongTask:
        lock = sa.update(long_tasks).where(_T.id == task_id, _T.lease_token == token)
        with self._errors(action):
            async with self._engine.begin() as connection:
                row = (await connection.execute(lock.values(lease_token=token).returning(long_tasks))).first()
                task = change(transitions.held(task_from_row(row) if row else None, task_id, token))
                if checkpoint is not None:
                    await connection.execute(sa.insert(long_task_checkpoints).values(checkpoint))
                await self._write(connection, task)
        return task

    async def _change(self, task_id: str, change: Callable[[LongTask], LongTask], action: str) -> LongTask:
        lock = (
            sa.update(long_tasks)
            .where(_T.id == task_id)
            .values(updated_at=_T.updated_at)
            .returning(long_tasks)
        )
        with self._errors(action):
            async with self._engine.begin() as connection:
                row = (await connection.execute(lock)).first()
                if row is None:
                    raise TaskNotFound(f"no task {task_id!r}")
                task = change(task_from_row(row))
                await self._write(connection, task)
        return task

    @staticmethod
    async def _write(connection: AsyncConnection, task: LongTask) -> None:
        await connection.execute(sa.update(long_tasks).where(_T.id == task.id).values(mutable_values(task)))

    async def _fetch_one(self, statement: sa.Select[Any], action: str) -> LongTask | None:
        with self._errors(action):
            async with self._engine.connect() as connection:
                row = (await connection.execute(statement)).first()
        return task_from_row(row) if row is not None else None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            with storage_errors(self._engine.url, action):
                yield
        except StorageUnavailable as error:
            raise TaskStorageUnavailable(str(error)) from error
