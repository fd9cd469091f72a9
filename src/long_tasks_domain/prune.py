"""The built-in ``maintenance.prune_tasks`` task: delete old finished tasks, a batch per step."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from long_tasks_domain.model import TaskStatus
from long_tasks_domain.ports import Clock, TaskRepository
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep

PRUNE_TASK_TYPE = "maintenance.prune_tasks"

FinishedStatus = Literal["DONE", "CANCELLED", "FAILED"]


def _done_and_cancelled() -> list[FinishedStatus]:
    return ["DONE", "CANCELLED"]


class PruneTasksPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: float = Field(default=30, ge=0, le=36_500)
    statuses: list[FinishedStatus] = Field(default_factory=_done_and_cancelled, min_length=1)
    batch_size: int = Field(default=500, ge=1, le=10_000)


class PruneFinishedTasks:
    """Delete finished tasks (and their checkpoints) older than ``older_than_days``.

    The cut-off is fixed by the first step and kept in the checkpoint, so a task resumed later
    deletes the same set; each step deletes one batch and commits the running total.
    """

    def __init__(self, repository: TaskRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def step(self, step: TaskStep[PruneTasksPayload]) -> Checkpoint | Completed:
        """Delete finished tasks older than N days, with their checkpoints, in batches."""
        payload = step.payload
        state = step.state or {
            "cutoff": (self._clock.now() - timedelta(days=payload.older_than_days)).isoformat(),
            "deleted": 0,
        }
        cutoff = datetime.fromisoformat(state["cutoff"])
        statuses = [TaskStatus(status) for status in payload.statuses]
        deleted = await self._repository.delete_finished(statuses, cutoff, payload.batch_size)
        total = int(state["deleted"]) + deleted
        await step.report_progress(None, f"{total} tasks deleted")
        if deleted < payload.batch_size:
            return Completed({"deleted": total, "cutoff": state["cutoff"]})
        return Checkpoint({"cutoff": state["cutoff"], "deleted": total})


def register_prune_task(registry: TaskRegistry, repository: TaskRepository, clock: Clock) -> None:
    registry.register(PRUNE_TASK_TYPE, PruneTasksPayload, PruneFinishedTasks(repository, clock).step)
