"""The executor on the in-memory repository with a controllable clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from long_tasks_domain.errors import PermanentTaskError
from long_tasks_domain.executor import RunOutcome
from long_tasks_domain.model import TAKEOVER_ERROR, LongTask, TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskStep
from tests.support.task_world import START, Empty, TaskWorld, until


@pytest.fixture
def world() -> TaskWorld:
    return TaskWorld()


async def test_steps_run_one_after_another_each_checkpoint_committed_before_the_next(
    world: TaskWorld,
) -> None:
    committed_at_start: list[int] = []

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        committed_at_start.append(len(await world.repository.checkpoints(ctx.task_id)))
        done = (ctx.state or {}).get("done", 0) + 1
        return Completed({"done": done}) if done == 4 else Checkpoint({"done": done}, progress=done / 4)

    world.handler("t.steps", step)
    task = await world.service.submit("t.steps")
    report = await world.executor().run(task.id)
    assert report.outcome is RunOutcome.DONE and report.steps == 4
    assert committed_at_start == [0, 1, 2, 3]
    done = await world.task(task.id)
    assert (done.status, done.result, done.step, done.progress) == (TaskStatus.DONE, {"done": 4}, 3, 1.0)
    assert [c.state for c in await world.service.checkpoints(task.id)] == [{"done": n} for n in (1, 2, 3)]
    assert [h[1:] for h in world.repository.history] == [
        (TaskStatus.PENDING, TaskStatus.RUNNING),
        *[(TaskStatus.RUNNING, TaskStatus.COMMIT), (TaskStatus.COMMIT, TaskStatus.RUNNING)] * 3,
        (TaskStatus.RUNNING, TaskStatus.DONE),
    ]


async def test_a_failing_step_is_retried_with_growing_jittered_backoff_then_fails(world: TaskWorld) -> None:
    calls: list[int] = []

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        calls.append(ctx.attempt)
        if ctx.step == 0:
            return Checkpoint({"first": True})
        raise RuntimeError("the backend is down")

    world.handler("t.flaky", step)
    task = await world.service.submit("t.flaky", max_retries=3)
    world.dispatcher.take()
    executor = world.executor()
    delays = []
    for retry in (1, 2, 3):
        report = await executor.run(task.id)
        assert report.outcome is RunOutcome.RETRY_SCHEDULED
        waiting = await world.task(task.id)
        assert (waiting.status, waiting.retry_count, waiting.step) == (TaskStatus.COMMIT, retry, 1)
        assert waiting.error == "RuntimeError: the backend is down"
        assert world.dispatcher.take()[-1].not_before == waiting.run_at
        delay = (waiting.run_at - world.clock.now()).total_seconds()
        ceiling = 5.0 * 2 ** (retry - 1)
        assert ceiling / 2 <= delay <= ceiling
        delays.append(delay)
        assert (await executor.run(task.id)).outcome is RunOutcome.NOT_CLAIMED  # not due yet
        world.later(delay)
    report = await executor.run(task.id)
    failed = await world.task(task.id)
    assert report.outcome is RunOutcome.FAILED and failed.status is TaskStatus.FAILED
    assert failed.error == "RuntimeError: the backend is down"
    assert failed.error_traceback and "the backend is down" in failed.error_traceback
    assert failed.retry_count == 3 and failed.finished_at == world.clock.now()
    assert calls == [1, 1, 2, 3, 4]
    assert delays == sorted(delays)


async def test_a_retried_step_resumes_from_the_same_checkpoint_and_resets_the_tries(world: TaskWorld) -> None:
    failures = {2: 1}
    states = []

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        states.append(ctx.state)
        number = ctx.step + 1
        if failures.get(number, 0):
            failures[number] -= 1
            raise ValueError("once")
        return Completed("ok") if number == 3 else Checkpoint({"after": number})

    world.handler("t.once", step)
    task = await world.service.submit("t.once")
    executor = world.executor()
    assert (await executor.run(task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    world.later(60)
    assert (await executor.run(task.id)).outcome is RunOutcome.DONE
    assert states == [None, {"after": 1}, {"after": 1}, {"after": 2}]
    done = await world.task(task.id)
    assert done.retry_count == 0 and done.error is None


async def test_a_step_longer_than_the_timeout_is_cancelled_and_counts_as_a_failed_try(
    world: TaskWorld,
) -> None:
    cancelled = asyncio.Event()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Completed()

    world.handler("t.slow", step)
    task = await world.service.submit("t.slow", max_retries=1)
    executor = world.executor(step_timeout_seconds=0.05)
    assert (await executor.run(task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    assert cancelled.is_set()
    waiting = await world.task(task.id)
    assert waiting.status is TaskStatus.PENDING and waiting.retry_count == 1
    assert (
        waiting.error
        and "StepTimedOut" in waiting.error
        and "LONG_TASK_LOCK_TIMEOUT_SECONDS" in waiting.error
    )
    world.later(60)
    assert (await executor.run(task.id)).outcome is RunOutcome.FAILED


async def test_a_handler_raising_timeout_error_itself_is_an_ordinary_failure(world: TaskWorld) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        raise TimeoutError("upstream timed out")

    world.handler("t.upstream", step)
    task = await world.service.submit("t.upstream")
    await world.executor().run(task.id)
    assert (await world.task(task.id)).error == "TimeoutError: upstream timed out"


async def _hang_on_second_step(world: TaskWorld, release: asyncio.Event) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        if ctx.step == 1 and ctx.attempt == 1:
            await release.wait()
        return Completed({"from": ctx.state}) if ctx.step == 2 else Checkpoint({"after": ctx.step + 1})

    world.handler("t.hang", step)


async def test_a_dead_workers_task_is_taken_over_after_its_lease_and_resumes_from_its_checkpoint(
    world: TaskWorld,
) -> None:
    release = asyncio.Event()
    await _hang_on_second_step(world, release)
    task = await world.service.submit("t.hang")
    # Worker A hangs in step 2 and never renews: to the others it is dead.
    dead = asyncio.create_task(world.executor(heartbeat_seconds=1000).run(task.id))
    await until(lambda: _running_step(world, task.id, 1))
    survivor = world.executor()
    assert await survivor.poll(5, expired_only=True) == []  # the lease still runs
    world.later(31)
    reports = await survivor.poll(5, expired_only=True)
    assert [(r.outcome, r.steps) for r in reports] == [(RunOutcome.DONE, 2)]
    done = await world.task(task.id)
    assert done.result == {"from": {"after": 2}} and done.status is TaskStatus.DONE
    release.set()  # the "dead" worker wakes up: its results are refused
    assert (await dead).outcome is RunOutcome.LEASE_LOST
    assert [c.step for c in await world.service.checkpoints(task.id)] == [1, 2]
    assert (TaskStatus.RUNNING, TaskStatus.RUNNING) in [h[1:] for h in world.repository.history]


async def _running_step(world: TaskWorld, task_id: str, step: int) -> bool:
    task = await world.task(task_id)
    return task.status is TaskStatus.RUNNING and task.step == step


async def test_the_takeover_counts_the_dead_try(world: TaskWorld) -> None:
    release = asyncio.Event()
    await _hang_on_second_step(world, release)
    task = await world.service.submit("t.hang", max_retries=0)
    dead = asyncio.create_task(world.executor(heartbeat_seconds=1000).run(task.id))
    await until(lambda: _running_step(world, task.id, 1))
    world.later(31)
    reports = await world.executor().poll(5)
    failed = await world.task(task.id)
    assert [r.outcome for r in reports] == [RunOutcome.FAILED]
    assert failed.status is TaskStatus.FAILED and failed.error == f"{TAKEOVER_ERROR}; no retries left"
    release.set()
    assert (await dead).outcome is RunOutcome.LEASE_LOST


async def test_a_live_workers_heartbeat_keeps_its_lease(world: TaskWorld) -> None:
    release = asyncio.Event()
    await _hang_on_second_step(world, release)
    task = await world.service.submit("t.hang")
    alive = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _running_step(world, task.id, 1))
    for _ in range(3):
        world.later(20)
        await asyncio.sleep(0.06)  # a few heartbeats
        assert await world.executor().poll(5) == []
    release.set()
    assert (await alive).outcome is RunOutcome.DONE


async def test_a_worker_whose_lease_was_taken_stops_its_step(world: TaskWorld) -> None:
    stopped = asyncio.Event()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return Completed()

    world.handler("t.forever", step)
    task = await world.service.submit("t.forever")
    running = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _running_step(world, task.id, 0))
    stolen = replace(await world.task(task.id), lease_token="someone-else")
    world.repository.tasks[task.id] = stolen
    report = await asyncio.wait_for(running, 2)
    assert report.outcome is RunOutcome.LEASE_LOST and stopped.is_set()
    assert (await world.task(task.id)).lease_token == "someone-else"


async def test_cancelling_a_waiting_task_is_immediate(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 2}, run_at=START + timedelta(hours=1))
    cancelled = await world.service.cancel(task.id)
    assert cancelled.status is TaskStatus.CANCELLED
    world.later(7200)
    assert (await world.executor().run(task.id)).outcome is RunOutcome.NOT_CLAIMED


async def test_a_running_task_is_cancelled_at_its_next_step_boundary(world: TaskWorld) -> None:
    release = asyncio.Event()
    ran: list[int] = []

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        ran.append(ctx.step + 1)
        await release.wait()
        return Checkpoint({"after": ctx.step + 1})

    world.handler("t.cancel", step)
    task = await world.service.submit("t.cancel")
    running = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _running_step(world, task.id, 0))
    flagged = await world.service.cancel(task.id)
    assert flagged.status is TaskStatus.RUNNING and flagged.cancel_requested
    release.set()
    assert (await running).outcome is RunOutcome.CANCELLED
    cancelled = await world.task(task.id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.step == 1 and ran == [1]
    assert world.repository.history[-2:] == [
        (task.id, TaskStatus.RUNNING, TaskStatus.COMMIT),
        (task.id, TaskStatus.COMMIT, TaskStatus.CANCELLED),
    ]


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ({1, 2}, "holds a set"),
        (float("nan"), "JSON cannot represent"),
        ({"k": object()}, "holds a object"),
        ({"text": "nul\x00"}, "NUL character"),
        ({"state": "but not wrapped"}, "returned a dict"),
    ],
)
async def test_a_step_returning_something_not_json_fails_the_task_at_once(
    world: TaskWorld, returned: object, expected: str
) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        if isinstance(returned, dict) and "state" in returned:
            return returned  # type: ignore[return-value]
        return Checkpoint(returned)

    world.handler("t.bad", step)
    task = await world.service.submit("t.bad")
    assert (await world.executor().run(task.id)).outcome is RunOutcome.FAILED
    failed = await world.task(task.id)
    assert failed.status is TaskStatus.FAILED and failed.retry_count == 0
    assert failed.error is not None and expected in failed.error


async def test_bad_payloads_and_permanent_errors_fail_without_retries(world: TaskWorld) -> None:
    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        raise PermanentTaskError("the report was deleted")

    world.handler("t.permanent", step)
    permanent = await world.service.submit("t.permanent")
    base = await world.service.submit("test.count", {"steps": 1})
    bad_payload = replace(base, id="bad-1", payload={"steps": "many"}, dedupe_key=None)
    await world.repository.add(bad_payload)
    await world.executor().poll(10)
    errors = {t: (await world.task(t)).error for t in (permanent.id, bad_payload.id)}
    assert [await world.status(t) for t in errors] == [TaskStatus.FAILED] * 2
    assert "the report was deleted" in str(errors[permanent.id])
    assert "bad payload for task type 'test.count': steps:" in str(errors[bad_payload.id])
    assert (await world.status(base.id)) is TaskStatus.DONE


async def test_after_its_slice_a_task_is_handed_on_to_a_fresh_job(world: TaskWorld) -> None:
    task = await world.service.submit("test.count", {"steps": 3})
    world.dispatcher.take()
    executor = world.executor(slice_seconds=0)
    report = await executor.run(task.id)
    assert (report.outcome, report.steps) == (RunOutcome.HANDED_ON, 1)
    handed = await world.task(task.id)
    assert handed.status is TaskStatus.COMMIT and handed.lease_token is None
    assert [d.task_id for d in world.dispatcher.take()] == [task.id]
    while (await executor.run(task.id)).outcome is RunOutcome.HANDED_ON:
        pass
    assert (await world.task(task.id)).result == {"counted": 3, "seen": [1, 2, 3]}


async def test_a_shut_down_worker_gives_its_task_back_at_once(world: TaskWorld) -> None:
    release = asyncio.Event()
    await _hang_on_second_step(world, release)
    task = await world.service.submit("t.hang")
    world.dispatcher.take()
    running = asyncio.create_task(world.executor().run(task.id))
    await until(lambda: _running_step(world, task.id, 1))
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    back = await world.task(task.id)
    assert (back.status, back.lease_token, back.retry_count, back.step) == (TaskStatus.COMMIT, None, 0, 1)
    assert [d.task_id for d in world.dispatcher.take()] == [task.id]
    release.set()
    assert (await world.executor().run(task.id)).outcome is RunOutcome.DONE


async def test_progress_reports_are_stored_and_kept_on_the_checkpoint(world: TaskWorld) -> None:
    seen: list[LongTask] = []

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await ctx.report_progress(1.7, "almost")
        seen.append(await world.task(ctx.task_id))
        return Checkpoint({}) if ctx.step == 0 else Completed()

    world.handler("t.progress", step)
    task = await world.service.submit("t.progress")
    await world.executor().run(task.id)
    assert (seen[0].progress, seen[0].progress_message) == (1.0, "almost")
    assert (await world.service.checkpoints(task.id))[0].progress == 1.0


async def test_a_poll_runs_up_to_its_batch_of_due_tasks_concurrently(world: TaskWorld) -> None:
    tasks = [await world.service.submit("test.count", {"steps": 2, "sleep": 0.05}) for _ in range(7)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    reports = await world.executor().poll(5)
    assert len(reports) == 5 and all(r.outcome is RunOutcome.DONE for r in reports)
    assert loop.time() - started < 0.5  # 5 tasks x 2 steps x 50 ms would take 0.5 s in a row
    statuses = [await world.status(t.id) for t in tasks]
    assert statuses.count(TaskStatus.DONE) == 5 and statuses.count(TaskStatus.PENDING) == 2
