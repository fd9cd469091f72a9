"""Counts of the shared state for the metrics, each served by an index.

The pending messages are counted on the partial index that holds only them, and the
unfinished long tasks on the status index: neither read grows with the history kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import storage_errors
from adapters.postgres.long_task_tables import long_tasks
from adapters.postgres.quarantine import PENDING
from adapters.postgres.tables import chat_messages
from long_tasks_domain.model import TaskStatus

# Finished tasks (DONE, FAILED, CANCELLED) are left out: counting them reads the whole history.
UNFINISHED = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.COMMIT)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    pending_messages: int
    unfinished_tasks: dict[str, int]


class SqlStoreStats:
    """Reads the counts in one connection, on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def counts(self) -> StoreCounts:
        pending = (
            # Quarantined messages are not pending: they wait for an operator, not for an update.
            sa.select(sa.func.count()).select_from(chat_messages).where(PENDING)
        )
        statuses = [status.value for status in UNFINISHED]
        by_status = (
            sa.select(long_tasks.c.status, sa.func.count())
            .where(long_tasks.c.status.in_(statuses))
            .group_by(long_tasks.c.status)
        )
        with storage_errors(self._engine.url, "count the pending messages and unfinished tasks"):
            async with self._engine.connect() as connection:
                pending_count = (await connection.execute(pending)).scalar_one()
                rows = (await connection.execute(by_status)).all()
        tasks = dict.fromkeys(statuses, 0) | {str(status): int(count) for status, count in rows}
        return StoreCounts(pending_messages=int(pending_count), unfinished_tasks=tasks)
