"""What ``ai-worker status`` reads from the database, each read served by an index.

The oldest pending message and the last failure are read for the few groups shown only (the
pending partial index and the failures' ``(group_id, created_at)`` index); the quarantine is
counted on its partial index; long tasks are counted on the status index for the unfinished
statuses only (counting finished ones would read the whole history); the last daily consensus
is the newest completed slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import storage_errors
from adapters.postgres.group_memory_tables import consensus_slots
from adapters.postgres.long_task_tables import long_tasks
from adapters.postgres.quarantine import PENDING
from adapters.postgres.stats import UNFINISHED
from adapters.postgres.tables import chat_messages, topic_update_failures
from long_tasks_domain.model import TaskStatus

_messages = chat_messages.c
_failures = topic_update_failures.c
_tasks = long_tasks.c
_slots = consensus_slots.c


@dataclass(frozen=True, slots=True)
class LastFailure:
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class RunningTask:
    task_id: str
    task_type: str
    started_at: datetime | None
    step: int
    progress: float | None
    progress_message: str | None


@dataclass(frozen=True, slots=True)
class ConsensusRun:
    slot_at: datetime
    completed_at: datetime
    groups: int | None


@dataclass(frozen=True, slots=True)
class DatabaseSnapshot:
    oldest_pending: dict[str, datetime]
    last_failures: dict[str, LastFailure]
    quarantined: dict[str, int]
    unfinished_tasks: dict[str, int]
    oldest_running: RunningTask | None
    last_consensus: ConsensusRun | None


class SqlStatusReads:
    """Reads the snapshot in one connection, on PostgreSQL or SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def snapshot(self, group_ids: Sequence[str]) -> DatabaseSnapshot:
        groups = list(group_ids)
        oldest = (
            sa.select(_messages.group_id, sa.func.min(_messages.sent_at))
            .where(PENDING, _messages.group_id.in_(groups))
            .group_by(_messages.group_id)
        )
        newest = (
            sa.select(_failures.group_id, sa.func.max(_failures.created_at).label("at"))
            .where(_failures.group_id.in_(groups))
            .group_by(_failures.group_id)
            .subquery()
        )
        failures = sa.select(_failures.group_id, _failures.created_at, _failures.error).join(
            newest, sa.and_(_failures.group_id == newest.c.group_id, _failures.created_at == newest.c.at)
        )
        quarantined = (
            sa.select(_messages.group_id, sa.func.count())
            .where(_messages.quarantined_at.is_not(None))
            .group_by(_messages.group_id)
        )
        statuses = [status.value for status in UNFINISHED]
        by_status = (
            sa.select(_tasks.status, sa.func.count())
            .where(_tasks.status.in_(statuses))
            .group_by(_tasks.status)
        )
        running = (
            sa.select(
                _tasks.id,
                _tasks.task_type,
                _tasks.started_at,
                _tasks.step,
                _tasks.progress,
                _tasks.progress_message,
            )
            .where(_tasks.status == TaskStatus.RUNNING.value)
            .order_by(_tasks.created_at, _tasks.id)
            .limit(1)
        )
        consensus = (
            sa.select(_slots.slot_at, _slots.completed_at, _slots.groups)
            .where(_slots.completed_at.is_not(None))
            .order_by(_slots.slot_at.desc())
            .limit(1)
        )
        with storage_errors(self._engine.url, "read the worker's state"):
            async with self._engine.connect() as connection:
                oldest_rows = (await connection.execute(oldest)).all() if groups else []
                failure_rows = (await connection.execute(failures)).all() if groups else []
                quarantine_rows = (await connection.execute(quarantined)).all()
                status_rows = (await connection.execute(by_status)).all()
                task = (await connection.execute(running)).first()
                slot = (await connection.execute(consensus)).first()
        return DatabaseSnapshot(
            oldest_pending={str(group): at for group, at in oldest_rows},
            last_failures={str(row.group_id): LastFailure(row.created_at, row.error) for row in failure_rows},
            quarantined={str(group): int(count) for group, count in quarantine_rows},
            unfinished_tasks=dict.fromkeys(statuses, 0) | {str(s): int(n) for s, n in status_rows},
            oldest_running=None if task is None else RunningTask(*task),
            last_consensus=None if slot is None else ConsensusRun(*slot),
        )
