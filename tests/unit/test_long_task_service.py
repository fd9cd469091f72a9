"""Submitting, reading, listing, cancelling and retrying long tasks through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest

from long_tasks_domain.errors import (
    DedupeKeyConflict,
    IllegalTransition,
    InvalidPayload,
    TaskNotFound,
    UnknownTaskType,
)
from long_tasks_domain.executor import RunOutcome
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskStep
from tests.support.task_world import START, Empty, TaskWorld


@pytest.fixture
def world() -> TaskWorld:
    return TaskWorld()


async def test_a_submitted_task_is_stored_pending_and_dispatched_at_once(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 2})
    assert task.status is TaskStatus.PENDING and task.run_at == START and task.max_retries == 3
    assert task.payload == {"steps": 2, "sleep": 0, "log": None, "hang_at_step": None, "hang_marker": None}
    assert [(d.task_id, d.not_before) for d in world.dispatcher.take()] == [(task.id, None)]
    assert await world.service.get(task.id) == task


async def test_a_task_with_a_start_time_is_dispatched_for_then(world: TaskWorld) -> None:
    later = START + timedelta(minutes=10)
    task = await world.service.submit("test.count", {"steps": 1}, run_at=later, max_retries=0)
    assert task.run_at == later and task.max_retries == 0
    assert [(d.task_id, d.not_before) for d in world.dispatcher.take()] == [(task.id, later)]
    assert (await world.executor().run(task.id)).outcome is RunOutcome.NOT_CLAIMED
    world.later(600)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.DONE


async def test_submitting_twice_with_one_dedupe_key_makes_one_task(world: TaskWorld) -> None:
    first = await world.service.submit("test.count", {"steps": 1}, dedupe_key="nightly-2026-11-02")
    second = await world.service.submit("test.count", {"steps": 1}, dedupe_key="nightly-2026-11-02")
    other = await world.service.submit("test.count", {"steps": 1}, dedupe_key="nightly-2026-11-03")
    assert second == first and other.id != first.id
    assert len(world.repository.tasks) == 2 and len(world.dispatcher.take()) == 2


async def test_a_dedupe_key_is_scoped_by_type_and_says_whether_the_task_is_new(world: TaskWorld) -> None:
    first, created = await world.service.submit_or_get("test.count", {"steps": 1}, dedupe_key="nightly")
    assert created
    await world.service.cancel(first.id)
    again, created = await world.service.submit_or_get("test.count", {"steps": 1}, dedupe_key="nightly")
    assert not created and again.id == first.id and again.status is TaskStatus.CANCELLED
    other, created = await world.service.submit_or_get(
        "test.fail_once", {"marker": "m"}, dedupe_key="nightly"
    )
    assert created and other.id != first.id
    with pytest.raises(
        DedupeKeyConflict, match=f"taken by task {first.id} of type 'test.count' with a different"
    ):
        await world.service.submit("test.count", {"steps": 5, "log": "s3cret-path"}, dedupe_key="nightly")
    assert len(world.repository.tasks) == 2


async def test_what_can_be_known_at_submit_is_refused_there(world: TaskWorld) -> None:
    with pytest.raises(UnknownTaskType, match=r"'no\.such'.*registered: test\.count, test\.fail_once"):
        await world.service.submit("no.such")
    with pytest.raises(InvalidPayload, match="steps: Input should be greater than or equal to 1"):
        await world.service.submit("test.count", {"steps": 0, "api_key": "s3cret"})
    with pytest.raises(InvalidPayload) as refused:
        await world.service.submit("test.count", {"steps": "s3cret-value"})
    assert "s3cret-value" not in str(refused.value)
    with pytest.raises(ValueError, match="max_retries"):
        await world.service.submit("test.count", {"steps": 1}, max_retries=101)
    with pytest.raises(ValueError, match="timezone"):
        await world.service.submit("test.count", {"steps": 1}, run_at=START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="dedupe key"):
        await world.service.submit("test.count", {"steps": 1}, dedupe_key="")
    with pytest.raises(ValueError, match="a dedupe key cannot hold NUL"):
        await world.service.submit("test.count", {"steps": 1}, dedupe_key="k\x00")
    with pytest.raises(UnknownTaskType, match=r"'test\.count\\x00'"):
        await world.service.submit("test.count\x00", {"steps": 1})
    with pytest.raises(ValueError, match="bad task type"):
        await world.service.list(task_type="test.count\x00")
    assert world.repository.tasks == {}


async def test_a_lost_dispatch_still_stores_the_task_for_the_poll(world: TaskWorld) -> None:
    world.dispatcher.fail_with = ConnectionError("redis is down")
    task = await world.service.submit("test.count", {"steps": 1})
    assert (await world.service.get(task.id)).status is TaskStatus.PENDING
    assert [r.outcome for r in await world.executor().poll(5)] == [RunOutcome.DONE]


async def test_tasks_are_listed_newest_first_filtered_and_paged(world: TaskWorld) -> None:
    async def noop(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        return Completed()

    world.handler("t.other", noop)
    made = []
    for i in range(7):
        made.append(
            await world.service.submit("test.count" if i % 2 else "t.other", {"steps": 1} if i % 2 else {})
        )
        world.later(1)
    await world.service.cancel(made[6].id)
    page = await world.service.list(limit=3)
    assert [t.id for t in page.tasks] == [made[6].id, made[5].id, made[4].id]
    rest = await world.service.list(limit=3, cursor=page.next_cursor)
    last = await world.service.list(limit=3, cursor=rest.next_cursor)
    assert [t.id for t in rest.tasks + last.tasks] == [m.id for m in reversed(made[:4])]
    assert last.next_cursor is None
    by_type = await world.service.list(task_type="test.count")
    assert [t.id for t in by_type.tasks] == [made[5].id, made[3].id, made[1].id]
    cancelled = await world.service.list(status=TaskStatus.CANCELLED)
    assert [t.id for t in cancelled.tasks] == [made[6].id]
    with pytest.raises(ValueError, match="cursor"):
        await world.service.list(cursor="garbage")


async def test_an_unknown_task_is_named(world: TaskWorld) -> None:
    for call in (world.service.get, world.service.cancel, world.service.retry, world.service.checkpoints):
        with pytest.raises(TaskNotFound, match="no task 'missing'"):
            await call("missing")
    with pytest.raises(ValueError, match="bad task id"):
        await world.service.get("../etc/passwd")


async def test_a_failed_task_is_retried_from_its_last_checkpoint(world: TaskWorld) -> None:
    broken = {"yes": True}

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        if ctx.step == 1 and broken["yes"]:
            raise RuntimeError("disk full")
        return Completed({"state": ctx.state}) if ctx.step == 1 else Checkpoint({"after": 1})

    world.handler("t.disk", step)
    task = await world.service.submit("t.disk", max_retries=0)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.FAILED
    with pytest.raises(IllegalTransition, match="FAILED and cannot be cancelled"):
        await world.service.cancel(task.id)
    broken["yes"] = False
    world.dispatcher.take()
    retried = await world.service.retry(task.id)
    assert (retried.status, retried.error, retried.retry_count, retried.step) == (
        TaskStatus.PENDING,
        None,
        0,
        1,
    )
    assert [d.task_id for d in world.dispatcher.take()] == [task.id]
    assert (await world.executor().run(task.id)).outcome is RunOutcome.DONE
    assert (await world.service.get(task.id)).result == {"state": {"after": 1}}
    with pytest.raises(IllegalTransition, match="only a FAILED task can be retried"):
        await world.service.retry(task.id)


async def test_cancelling_twice_is_harmless_and_a_done_task_cannot_be_cancelled(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 1})
    first = await world.service.cancel(task.id)
    assert await world.service.cancel(task.id) == first
    done = await world.service.submit("test.count", {"steps": 1})
    await world.executor().run(done.id)
    with pytest.raises(IllegalTransition, match="DONE"):
        await world.service.cancel(done.id)


def test_the_registered_types_are_listed_by_name(world: TaskWorld) -> None:
    assert [h.task_type for h in world.service.types()] == ["test.count", "test.fail_once"]
