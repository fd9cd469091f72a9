"""What the TaskRepository contract suite builds on: times, tasks, checkpoints, the fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from long_tasks_domain.model import (
    CheckpointRecord,
    LongTask,
    TaskStatus,
)
from long_tasks_domain.ports import TaskRepository

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_task(task_id: str, *, created: float = 0, run_at: float = 0, **fields: object) -> LongTask:
    values: dict[str, object] = {
        "id": task_id,
        "task_type": "report.render",
        "status": TaskStatus.PENDING,
        "payload": {"pages": 3, "title": "周报 ✓", "nested": {"list": [1, 2.5, None, True]}},
        "created_at": at(created),
        "updated_at": at(created),
        "run_at": at(run_at),
        "max_retries": 3,
    }
    values.update(fields)
    return LongTask(**values)  # type: ignore[arg-type]


def checkpoint(task_id: str, step: int, seconds: float = 0) -> CheckpointRecord:
    return CheckpointRecord(task_id, step, {"done": step, "note": "第" + str(step)}, at(seconds), 12, 0.5)


class TaskRepositoryContractBase:
    """The ``repository`` fixture (a subclass per adapter provides it) and helpers."""

    @pytest.fixture
    def repository(self) -> TaskRepository:
        raise NotImplementedError("a subclass provides the repository under test")

    async def claim_one(self, repository: TaskRepository, now: float, token: str, **kw: object) -> LongTask:
        claimed = await repository.claim(at(now), at(now + 30), token, 1, **kw)  # type: ignore[arg-type]
        assert len(claimed) == 1, claimed
        return claimed[0]
