"""The :class:`~long_tasks_domain.ports.TaskRepository` on PostgreSQL (production) or SQLite.

Every write transaction starts with an UPDATE that locks the task's row (and checks the lease
token, for the holder's writes), then applies the domain's transition function to the row as
it was and writes the result. Starting with a write matters on SQLite too: a transaction that
read first could not upgrade to a write once another connection had written. Claims pick rows
with ``FOR UPDATE SKIP LOCKED`` (ignored by SQLite, which serialises writers anyway).

On PostgreSQL, leases are measured with the database's clock (``now()``): every worker's lease
ends when the database says so, whatever the worker's own clock says. Due times (``run_at``)
are compared with the caller's clock, as the in-memory adapter does. There, too, a claim and
each write of a holder to the task it holds are one autocommitted statement
(``long_task_held``), the locking path being what they fall back to.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres import long_task_statements as statements
from adapters.postgres.engine import storage_errors
from adapters.postgres.long_task_held import HeldTasks, applied
from adapters.postgres.long_task_rows import (
    checkpoint_from_row,
    checkpoint_row,
    mutable_values,
    task_from_row,
    task_row,
)
from adapters.postgres.long_task_tables import long_task_checkpoints, long_tasks
from adapters.postgres.tables import UtcDateTime
from long_tasks_domain import transitions
from long_tasks_domain.errors import TaskNotFound, TaskStorageUnavailable
from long_tasks_domain.model import (
    CheckpointRecord,
    LongTask,
    Settlement,
    TaskQuery,
    TaskStatus,
    check_storable,
)
from memory_domain.errors import StorageUnavailable

_T = long_tasks.c

# The database's clock, passed to a change: None when leases use the caller's clock.
Change = Callable[[LongTask, datetime | None], LongTask]


def _shifted(moment: datetime, now: datetime, database_now: datetime | None) -> datetime:
    """``moment`` (a caller's time) on the database's clock, when leases use that."""
    return moment if database_now is None else database_now + (moment - now)


class SqlTaskRepository:
    """Long tasks in SQL through one async engine; driver errors become TaskStorageUnavailable.

    ``database_clock``: measure leases with the database's clock (the default on PostgreSQL).
    Off, they use the callers' clocks: on SQLite, and in tests that move time by hand.
    """

    def __init__(self, engine: AsyncEngine, *, database_clock: bool | None = None) -> None:
        self._engine = engine
        postgres = engine.dialect.name == "postgresql"
        self._database_clock = postgres if database_clock is None else database_clock
        if self._database_clock and not postgres:
            raise ValueError("only PostgreSQL offers its clock for leases")
        # On PostgreSQL, a single statement runs autocommitted (no BEGIN and COMMIT round trips)
        # and the holder's writes take one statement (see long_task_held).
        self._single = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        self._held = HeldTasks(self._database_clock) if postgres else None

    async def add(self, task: LongTask) -> tuple[LongTask, bool]:
        check_storable(task)
        with self._errors("submit a task"):
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(sa.insert(long_tasks).values(task_row(task)))
                return task, True
            except sa_exc.IntegrityError:
                if task.dedupe_key is None:
                    raise
            existing = await self._fetch_one(
                sa.select(long_tasks).where(_T.task_type == task.task_type, _T.dedupe_key == task.dedupe_key),
                "read a task",
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
        task_types: Collection[str] | None = None,
    ) -> list[LongTask]:
        if limit <= 0:
            return []
        if self._held is not None:
            with self._errors("claim tasks"):
                async with self._single.connect() as connection:
                    claimed = await self._held.claim(
                        connection, now, lease_until, token, limit, task_id, expired_only, task_types
                    )
            return sorted(claimed, key=lambda task: (task.run_at, task.created_at, task.id))
        lease_now, new_lease = self._lease_clock(now, lease_until)
        mark = statements.claim(now, lease_now, new_lease, token, limit, task_id, expired_only, task_types)
        with self._errors("claim tasks"):
            async with self._engine.begin() as connection:
                rows = (await connection.execute(mark)).all()
                claimed = [
                    transitions.claimed(task_from_row(row), now, row.lease_expires_at, token) for row in rows
                ]
                for task in claimed:
                    await self._write(connection, task)
        return sorted(claimed, key=lambda task: (task.run_at, task.created_at, task.id))

    async def renew(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> bool:
        _, new_lease = self._lease_clock(now, lease_until)
        statement = (
            sa.update(long_tasks)
            .where(
                _T.id == task_id,
                _T.lease_token == token,
                _T.status.in_([TaskStatus.RUNNING.value, TaskStatus.COMMIT.value]),
            )
            .values(lease_expires_at=new_lease)
            .returning(_T.id)
        )
        with self._errors("renew a lease"):
            async with self._single.begin() as connection:
                return (await connection.execute(statement)).first() is not None

    async def start_step(self, task_id: str, token: str, now: datetime, lease_until: datetime) -> LongTask:
        return await self._change_held(
            task_id,
            token,
            lambda task, db_now: transitions.step_started(task, now, _shifted(lease_until, now, db_now)),
            "start a step",
            lease_for=lease_until - now if self._database_clock else None,
        )

    async def record_progress(
        self, task_id: str, token: str, progress: float | None, message: str | None, now: datetime
    ) -> None:
        await self._change_held(
            task_id,
            token,
            lambda task, _: transitions.with_progress(task, progress, message, now),
            "record progress",
        )

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        checkpoint = settlement.checkpoint
        return await self._change_held(
            task_id,
            token,
            lambda task, _: transitions.settled(task, settlement),
            "commit a step",
            checkpoint_row(checkpoint) if checkpoint is not None else None,
        )

    async def request_cancel(self, task_id: str, now: datetime) -> LongTask:
        return await self._change(
            task_id, lambda task, db_now: transitions.cancel_requested(task, now, db_now), "cancel a task"
        )

    async def reset_failed(self, task_id: str, now: datetime) -> LongTask:
        return await self._change(
            task_id, lambda task, _: transitions.reset_for_retry(task, now), "retry a task"
        )

    async def delete_finished(
        self, statuses: Sequence[TaskStatus], finished_before: datetime, limit: int
    ) -> int:
        if limit <= 0 or not statuses:
            return 0
        # The checkpoints go first (the foreign key), then the tasks, the very same ones.
        lock = statements.lock_finished(statuses, finished_before, limit)
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
        change: Change,
        action: str,
        checkpoint: dict[str, Any] | None = None,
        lease_for: timedelta | None = None,
    ) -> LongTask:
        known = self._held.get(task_id, token) if self._held is not None else None
        changed = applied(change, known)
        if known is not None and changed is not None and self._held is not None:
            with self._errors(action):
                async with self._single.connect() as connection:
                    written = await self._held.write(connection, known, changed, token, checkpoint, lease_for)
            if written is not None:
                return written
        lock = (
            sa.update(long_tasks)
            .where(_T.id == task_id, _T.lease_token == token)
            .values(lease_token=token)
            .returning(*self._with_database_now())
        )
        with self._errors(action):
            async with self._engine.begin() as connection:
                row = (await connection.execute(lock)).first()
                held = transitions.held(task_from_row(row) if row else None, task_id, token)
                task = change(held, self._database_now(row))
                if checkpoint is not None:
                    await connection.execute(sa.insert(long_task_checkpoints).values(checkpoint))
                await self._write(connection, task)
        if self._held is not None:
            self._held.remember(task, token)
        return task

    async def _change(self, task_id: str, change: Change, action: str) -> LongTask:
        lock = (
            sa.update(long_tasks)
            .where(_T.id == task_id)
            .values(updated_at=_T.updated_at)
            .returning(*self._with_database_now())
        )
        with self._errors(action):
            async with self._engine.begin() as connection:
                row = (await connection.execute(lock)).first()
                if row is None:
                    raise TaskNotFound(f"no task {task_id!r}")
                task = change(task_from_row(row), self._database_now(row))
                await self._write(connection, task)
        return task

    def _lease_clock(self, now: datetime, lease_until: datetime) -> tuple[statements.When, statements.When]:
        """The time leases are compared with, and the end of a new lease, in a statement."""
        if not self._database_clock:
            return now, lease_until
        database_now = sa.func.now(type_=UtcDateTime())
        return database_now, database_now + sa.literal(lease_until - now, sa.Interval())

    def _with_database_now(self) -> list[sa.ColumnElement[Any] | sa.Table]:
        if not self._database_clock:
            return [long_tasks]
        return [long_tasks, sa.func.now(type_=UtcDateTime()).label("database_now")]

    def _database_now(self, row: sa.Row[Any] | None) -> datetime | None:
        return row.database_now if row is not None and self._database_clock else None

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
