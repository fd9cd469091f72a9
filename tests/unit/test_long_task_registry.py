"""The handler registry and the built-in maintenance.prune_tasks task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel

from adapters.system import ManualClock
from long_tasks_domain.errors import DuplicateTaskType, InvalidPayload, UnknownTaskType
from long_tasks_domain.executor import RunOutcome
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.prune import PRUNE_TASK_TYPE, register_prune_task
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep
from tests.support.task_world import TaskWorld


class Pages(BaseModel):
    pages: int


def test_a_handler_registers_with_a_decorator_and_its_docstring_describes_it() -> None:
    registry = TaskRegistry()

    @registry.handler("report.render", payload=Pages)
    async def render(step: TaskStep[Pages]) -> Checkpoint | Completed:
        """Render a report, a page per step.

        More words.
        """
        return Completed()

    handler = registry.get("report.render")
    assert handler.run is render and handler.payload_model is Pages
    assert handler.description == "Render a report, a page per step."
    assert "report.render" in registry and len(registry) == 1
    assert handler.parse({"pages": "3"}) == Pages(pages=3)


def test_a_type_is_registered_once_and_must_be_a_dotted_lower_case_name() -> None:
    registry = TaskRegistry()
    registry.register("a.b", Pages, _noop)
    with pytest.raises(DuplicateTaskType):
        registry.register("a.b", Pages, _noop)
    with pytest.raises(ValueError, match="bad task type"):
        registry.register("Not A Type", Pages, _noop)
    other = TaskRegistry()
    other.register("c.d", Pages, _noop)
    registry.include(other)
    assert [h.task_type for h in registry] == ["a.b", "c.d"]
    with pytest.raises(DuplicateTaskType):
        registry.include(other)


def test_unknown_types_and_bad_payloads_are_named() -> None:
    registry = TaskRegistry()
    registry.register("a.b", Pages, _noop)
    with pytest.raises(UnknownTaskType, match=r"unknown task type 'x.y' \(registered: a.b\)"):
        registry.get("x.y")
    with pytest.raises(InvalidPayload, match=r"bad payload for task type 'a\.b': pages: Field required"):
        registry.get("a.b").parse({})


async def _noop(step: TaskStep[Pages]) -> Checkpoint | Completed:
    return Completed()


async def test_prune_deletes_old_finished_tasks_in_batches_and_keeps_the_rest() -> None:
    world = TaskWorld(clock=ManualClock())
    register_prune_task(world.registry, world.repository, world.clock)
    executor = world.executor()
    old = [await world.service.submit("test.count", {"steps": 2}) for _ in range(5)]
    for task in old:
        await executor.run(task.id)
    cancelled = await world.service.submit("test.count", {"steps": 1})
    await world.service.cancel(cancelled.id)
    waiting = await world.service.submit(
        "test.count", {"steps": 1}, run_at=world.clock.now() + timedelta(days=90)
    )
    world.later(40 * 86400)
    recent = await world.service.submit("test.count", {"steps": 1})
    await executor.run(recent.id)
    world.later(3600)
    prune = await world.service.submit(PRUNE_TASK_TYPE, {"older_than_days": 30, "batch_size": 2})
    report = await executor.run(prune.id)
    assert (report.outcome, report.steps) == (RunOutcome.DONE, 4)
    done = await world.service.get(prune.id)
    assert done.result["deleted"] == 6
    assert [c.state["deleted"] for c in await world.service.checkpoints(prune.id)] == [2, 4, 6]
    assert set(world.repository.tasks) == {recent.id, prune.id, waiting.id}
    assert old[0].id not in world.repository.checkpoint_rows
    assert (await world.service.get(waiting.id)).status is TaskStatus.PENDING


def test_the_prune_payload_is_checked() -> None:
    world = TaskWorld(clock=ManualClock())
    register_prune_task(world.registry, world.repository, world.clock)
    handler = world.registry.get(PRUNE_TASK_TYPE)
    with pytest.raises(InvalidPayload, match=r"statuses\.0"):
        handler.parse({"statuses": ["RUNNING"]})
    with pytest.raises(InvalidPayload, match="Extra inputs"):
        handler.parse({"older_than": 3})
