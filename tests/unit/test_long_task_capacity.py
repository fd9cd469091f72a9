"""What a worker runs: at most its share of long tasks at once, and only the types it knows.

A dispatched task it cannot run now is handed back (dispatched again shortly), no try counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from long_tasks_domain.capacity import HAND_BACK_MAX_SECONDS
from long_tasks_domain.executor import UNKNOWN_TYPE_HAND_BACK_SECONDS, RunOutcome
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep
from tests.support.task_world import Empty, TaskWorld, until


@pytest.fixture
def world() -> TaskWorld:
    return TaskWorld()


async def test_a_full_worker_hands_further_tasks_back_without_counting_a_try(world: TaskWorld) -> None:
    release = asyncio.Event()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await release.wait()
        return Completed()

    world.handler("t.wait", step)
    tasks = [await world.service.submit("t.wait") for _ in range(4)]
    world.dispatcher.take()
    executor = world.executor(max_concurrent=2, hand_back_seconds=2.0)
    running = [asyncio.create_task(executor.run(task.id)) for task in tasks[:2]]

    async def both_running() -> bool:
        return [await world.status(t.id) for t in tasks[:2]] == [TaskStatus.RUNNING] * 2

    await until(both_running)
    assert (await executor.run(tasks[2].id)).outcome is RunOutcome.HANDED_BACK
    assert await executor.poll(5) == [] and await executor.poll(5, expired_only=True) == []
    waiting = await world.task(tasks[2].id)
    assert (waiting.status, waiting.retry_count, waiting.started_at) == (TaskStatus.PENDING, 0, None)
    [again] = world.dispatcher.take()
    assert again.task_id == tasks[2].id and again.not_before is not None
    assert timedelta(seconds=1.5) <= again.not_before - world.clock.now() <= timedelta(seconds=2.5)
    release.set()
    assert [(await r).outcome for r in running] == [RunOutcome.DONE] * 2
    assert executor.slots.used == 0
    assert (await executor.run(tasks[2].id)).outcome is RunOutcome.DONE
    assert [r.outcome for r in await executor.poll(5)] == [RunOutcome.DONE]  # tasks[3]


async def test_a_job_waits_a_moment_for_a_slot_that_a_poll_holds_while_it_claims(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 1})
    executor = world.executor(max_concurrent=1, slot_patience_seconds=2.0)
    executor.slots.take(1)  # a poll's claim in flight holds the free slot
    running = asyncio.create_task(executor.run(task.id))
    await asyncio.sleep(0.05)
    executor.slots.give(1)  # ... and finds nothing to claim
    assert (await running).outcome is RunOutcome.DONE and executor.slots.used == 0


async def test_a_poll_claims_no_more_than_the_free_slots(world: TaskWorld) -> None:
    release = asyncio.Event()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await release.wait()
        return Completed()

    world.handler("t.wait", step)
    tasks = [await world.service.submit("t.wait") for _ in range(5)]
    executor = world.executor(max_concurrent=3)
    busy = asyncio.create_task(executor.run(tasks[0].id))
    await until(lambda: _is(world, tasks[0].id, TaskStatus.RUNNING))
    polling = asyncio.create_task(executor.poll(10))

    async def three_running() -> bool:
        return [await world.status(t.id) for t in tasks].count(TaskStatus.RUNNING) == 3

    await until(three_running)
    assert executor.slots.used == 3
    release.set()
    assert len(await polling) == 2 and (await busy).outcome is RunOutcome.DONE
    assert [await world.status(t.id) for t in tasks].count(TaskStatus.PENDING) == 2


async def _is(world: TaskWorld, task_id: str, status: TaskStatus) -> bool:
    return (await world.status(task_id)) is status


async def test_a_task_handed_back_again_and_again_waits_longer_each_time_up_to_a_bound(
    world: TaskWorld,
) -> None:
    task = await world.service.submit("test.count", {"steps": 1})
    world.dispatcher.take()
    full = world.executor(max_concurrent=1)
    full.slots.take(1)
    delays = []
    for _ in range(12):
        assert (await full.run(task.id)).outcome is RunOutcome.HANDED_BACK
        [again] = world.dispatcher.take()
        assert again.not_before is not None
        delays.append((again.not_before - world.clock.now()).total_seconds())
        world.clock.current = again.not_before
    assert 1.5 <= delays[0] <= 2.5 and delays[-1] > 10 * delays[0] / 2
    assert max(delays) <= HAND_BACK_MAX_SECONDS * 1.25


async def test_a_full_worker_does_not_hand_back_a_task_that_is_not_waiting(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 1})
    assert (await world.executor().run(task.id)).outcome is RunOutcome.DONE
    world.dispatcher.take()
    full = world.executor(max_concurrent=1)
    full.slots.take(1)
    for task_id in (task.id, "no-such-task"):
        assert (await full.run(task_id)).outcome is RunOutcome.NOT_CLAIMED
    assert world.dispatcher.take() == []


async def test_a_worker_leaves_task_types_it_does_not_know_to_workers_that_do(world: TaskWorld) -> None:
    base = await world.service.submit("test.count", {"steps": 1})
    await world.executor().run(base.id)
    # Submitted by a newer program; this (older) worker has no handler for it.
    newer = replace(base, id="newer-1", task_type="report.v2", status=TaskStatus.PENDING, result=None)
    await world.repository.add(newer)
    world.dispatcher.take()
    old = world.executor()
    assert await old.poll(10) == []
    assert (await old.run(newer.id)).outcome is RunOutcome.HANDED_BACK
    assert [d.task_id for d in world.dispatcher.take()] == [newer.id]
    left = await world.task(newer.id)
    assert (left.status, left.retry_count, left.error) == (TaskStatus.PENDING, 0, None)
    world.later(UNKNOWN_TYPE_HAND_BACK_SECONDS)  # no worker knew it for a while: no more jobs
    assert (await old.run(newer.id)).outcome is RunOutcome.NOT_CLAIMED
    assert world.dispatcher.take() == []

    async def v2(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        return Completed({"by": "the new worker"})

    newer_world = TaskWorld(clock=world.clock, repository=world.repository, registry=TaskRegistry())
    newer_world.handler("report.v2", v2)
    assert [r.outcome for r in await newer_world.executor().poll(10)] == [RunOutcome.DONE]
    assert (await world.task(newer.id)).result == {"by": "the new worker"}
