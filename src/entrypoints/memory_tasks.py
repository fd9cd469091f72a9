"""Long tasks of the memory: where the two domains meet (neither imports the other).

``memory.rebuild_group`` re-derives a group's topic memory from its whole message history, one
checkpointed batch of ``L2_QUEUE_MAX_LEN`` messages per step, for instance after the model was
changed. A worker that dies mid-rebuild leaves the last checkpoint behind; the task resumes there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep
from memory_domain.model import validate_group_id
from memory_domain.topic_rebuild import TopicRebuilder

REBUILD_GROUP = "memory.rebuild_group"


class RebuildGroupPayload(BaseModel):
    """The payload of ``memory.rebuild_group``: ``{"group_id": "team-backend-cn"}``."""

    model_config = ConfigDict(extra="forbid")

    group_id: str

    @field_validator("group_id")
    @classmethod
    def _valid_group(cls, value: str) -> str:
        return validate_group_id(value)


def register_memory_tasks(registry: TaskRegistry, rebuilder: TopicRebuilder) -> None:
    """Register the memory's built-in long tasks, bound to the services they run."""

    async def rebuild_group(step: TaskStep[RebuildGroupPayload]) -> Checkpoint | Completed:
        """Re-derive a group's topics from its whole history (e.g. after changing the model)."""
        checkpoint = step.state if isinstance(step.state, dict) else None
        outcome = await rebuilder.step(step.payload.group_id, checkpoint, key=step.task_id)
        await step.report_progress(outcome.progress, outcome.message)
        if outcome.done:
            return Completed(outcome.state)
        return Checkpoint(outcome.state, progress=outcome.progress)

    registry.register(REBUILD_GROUP, RebuildGroupPayload, rebuild_group)


def with_memory_tasks(registry: TaskRegistry, rebuilder: TopicRebuilder) -> TaskRegistry:
    """``registry`` with the memory's tasks added (for the container)."""
    register_memory_tasks(registry, rebuilder)
    return registry
