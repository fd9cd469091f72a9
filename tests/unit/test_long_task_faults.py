"""The executor when things go wrong: values the store refuses, stray CancelledErrors, a cancel
that meets a failing step, a worker stopped in the middle of settling."""

from __future__ import annotations

import asyncio

import pytest

from adapters.in_memory.long_tasks import InMemoryTaskRepository
from long_tasks_domain.errors import IllegalTransition, TaskStorageUnavailable
from long_tasks_domain.executor import RunOutcome
from long_tasks_domain.model import LongTask, Settlement, TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskStep
from tests.support.task_world import Empty, TaskWorld, until


@pytest.fixture
def world() -> TaskWorld:
    return TaskWorld()


async def _status_is(world: TaskWorld, task_id: str, status: TaskStatus) -> bool:
    return (await world.status(task_id)) is status


async def test_an_error_message_with_a_nul_is_stored_escaped_with_its_traceback(world: TaskWorld) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        raise RuntimeError("bad input: a\x00b \udc80")

    world.handler("t.nul", step)
    task = await world.service.submit("t.nul")
    assert (await world.executor().run(task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    waiting = await world.task(task.id)
    assert waiting.status is TaskStatus.PENDING and waiting.retry_count == 1
    assert waiting.error == "RuntimeError: bad input: a\\x00b \\udc80"
    assert waiting.error_traceback is not None and "a\\x00b" in waiting.error_traceback


async def test_progress_is_clamped_and_cleaned_and_a_progress_that_is_no_number_fails_the_task(
    world: TaskWorld,
) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await ctx.report_progress(-3, "page\x00 1")
        assert (await world.task(ctx.task_id)).progress_message == "page\\x00 1"
        return Checkpoint({"n": 1}, progress=7.5) if ctx.step == 0 else Completed()

    async def half(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        return Checkpoint({"n": 1}, progress="half")  # type: ignore[arg-type]

    async def reports_half(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await ctx.report_progress("half")  # type: ignore[arg-type]
        return Completed()

    world.handler("t.clamped", step)
    world.handler("t.half", half)
    world.handler("t.reports_half", reports_half)
    clamped = await world.service.submit("t.clamped")
    assert (await world.executor().run(clamped.id)).outcome is RunOutcome.DONE
    assert [c.progress for c in await world.service.checkpoints(clamped.id)] == [1.0]
    for task_type in ("t.half", "t.reports_half"):
        task = await world.service.submit(task_type)
        assert (await world.executor().run(task.id)).outcome is RunOutcome.FAILED
        failed = await world.task(task.id)
        assert failed.retry_count == 0 and failed.error is not None
        assert failed.error.startswith("InvalidProgress: a progress is a number between 0 and 1, not a str")


class RefusesTracebacks(InMemoryTaskRepository):
    """A store that refuses every settlement carrying a traceback (as PostgreSQL refused NULs)."""

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        if settlement.error_traceback is not None:
            raise TaskStorageUnavailable("cannot commit a step: database refused the operation")
        return await super().settle(task_id, token, settlement)


async def test_an_error_the_store_refuses_is_stored_plainly_instead_of_leaving_the_task_running() -> None:
    world = TaskWorld(repository=RefusesTracebacks())

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        raise ValueError("file ünïcode.txt not found")

    world.handler("t.refused", step)
    task = await world.service.submit("t.refused", max_retries=1)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    waiting = await world.task(task.id)
    assert (waiting.status, waiting.retry_count, waiting.lease_token) == (TaskStatus.PENDING, 1, None)
    assert (
        waiting.error == "ValueError: file \\xfcn\\xefcode.txt not found (its traceback could not be stored)"
    )
    world.later(60)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.FAILED
    assert (await world.task(task.id)).error == waiting.error


async def test_a_cancelled_error_the_step_raises_itself_is_a_failed_try_not_a_shutdown(
    world: TaskWorld,
) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        cancelled = asyncio.get_running_loop().create_future()
        cancelled.cancel()  # say, a request that another component gave up on
        await cancelled
        return Completed()

    world.handler("t.stray", step)
    task = await world.service.submit("t.stray", max_retries=1)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    waiting = await world.task(task.id)
    assert waiting.retry_count == 1 and str(waiting.error).startswith("StepCancelled: the step raised")
    world.later(60)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.FAILED


class Pausing(InMemoryTaskRepository):
    """Pauses (forever) after the given operation took effect, as if its answer got lost."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_after: str | None = None
        self.paused = asyncio.Event()

    async def _pause(self, operation: str) -> None:
        if operation == self.pause_after:
            self.pause_after = None  # once: the give-back settles too
            self.paused.set()
            await asyncio.Event().wait()

    async def start_step(self, task_id: str, token: str, now: object, lease_until: object) -> LongTask:
        started = await super().start_step(task_id, token, now, lease_until)  # type: ignore[arg-type]
        await self._pause("start_step")
        return started

    async def settle(self, task_id: str, token: str, settlement: Settlement) -> LongTask:
        settled = await super().settle(task_id, token, settlement)
        await self._pause(f"settle {settlement.status.value}")
        return settled


@pytest.mark.parametrize("pause_after", ["start_step", "settle COMMIT", "settle DONE"])
async def test_a_worker_stopped_while_settling_or_starting_a_step_gives_its_task_back(
    pause_after: str,
) -> None:
    repository = Pausing()
    world = TaskWorld(repository=repository)
    task = await world.service.submit("test.count", {"steps": 1 if pause_after == "settle DONE" else 3})
    world.dispatcher.take()
    repository.pause_after = pause_after
    running = asyncio.create_task(world.executor().run(task.id))
    await asyncio.wait_for(repository.paused.wait(), 2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    back = await world.task(task.id)
    assert back.lease_token is None and back.retry_count == 0
    if pause_after == "settle DONE":
        assert back.status is TaskStatus.DONE and world.dispatcher.take() == []
        return
    assert (back.status, back.step) == (TaskStatus.COMMIT, 1)
    assert [d.task_id for d in world.dispatcher.take()] == [task.id]
    assert (await world.executor().run(task.id)).outcome is RunOutcome.DONE


@pytest.mark.parametrize("max_retries", [0, 3])
async def test_a_running_task_cancelled_before_its_step_fails_ends_cancelled(
    world: TaskWorld, max_retries: int
) -> None:
    release = asyncio.Event()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await release.wait()
        raise RuntimeError("boom")

    world.handler("t.doomed", step)
    task = await world.service.submit("t.doomed", max_retries=max_retries)
    world.dispatcher.take()
    running = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _status_is(world, task.id, TaskStatus.RUNNING))
    assert (await world.service.cancel(task.id)).cancel_requested
    release.set()
    assert (await running).outcome is RunOutcome.CANCELLED
    cancelled = await world.task(task.id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.error == "RuntimeError: boom"
    assert world.dispatcher.take() == []
    with pytest.raises(IllegalTransition, match="only a FAILED task can be retried"):
        await world.service.retry(task.id)


async def test_a_stopped_worker_gives_a_task_cancelled_meanwhile_back_as_cancelled(world: TaskWorld) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await asyncio.Event().wait()
        return Completed()

    world.handler("t.hang", step)
    task = await world.service.submit("t.hang")
    world.dispatcher.take()
    running = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _status_is(world, task.id, TaskStatus.RUNNING))
    await world.service.cancel(task.id)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert (await world.status(task.id)) is TaskStatus.CANCELLED and world.dispatcher.take() == []
