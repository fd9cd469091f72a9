"""Random sequences of what programs, operators and workers do to long tasks, on the in-memory
world: submit, run, poll, cancel, retry, stop a worker mid-step, let time pass; with steps that
commit, finish, fail, fail for good, raise CancelledError, or are cancelled while they run.

After every operation: each status change was a legal transition, nothing is left held, no
committed checkpoint was lost or changed, finished tasks stay finished, a cancelled task never
runs again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from long_tasks_domain.errors import IllegalTransition, PermanentTaskError
from long_tasks_domain.model import CheckpointRecord, LongTask, TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskStep
from long_tasks_domain.state_machine import can_transition
from tests.support.task_world import Empty, TaskWorld

BEHAVIOURS = [
    "checkpoint",
    "complete",
    "fail",
    "permanent",
    "stray_cancel",
    "cancel_then_checkpoint",
    "cancel_then_fail",
    "cancel_then_complete",
]
INDEX = st.integers(min_value=0, max_value=5)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(min_value=0, max_value=2)),
        st.tuples(st.just("script"), st.lists(st.sampled_from(BEHAVIOURS), min_size=1, max_size=4)),
        st.tuples(st.just("run"), INDEX),
        st.tuples(st.just("poll"), st.just(3)),
        st.tuples(st.just("stop_worker"), INDEX),
        st.tuples(st.just("cancel"), INDEX),
        st.tuples(st.just("retry"), INDEX),
        st.tuples(st.just("wait"), st.sampled_from([1, 30, 700])),
    ),
    max_size=30,
)


class Scenario:
    def __init__(self) -> None:
        self.world = TaskWorld()
        self.script: deque[str] = deque()
        self.hanging = asyncio.Event()
        self.world.handler("t.scripted", self.step)
        self.executor = self.world.executor()
        self.ids: list[str] = []
        self.seen: dict[str, LongTask] = {}
        self.checkpoints: dict[str, list[CheckpointRecord]] = {}

    async def step(self, ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        behaviour = self.script.popleft() if self.script else "complete"
        if behaviour == "hang":
            self.hanging.set()
            await asyncio.Event().wait()
        if behaviour.startswith("cancel_then_"):
            await self.world.service.cancel(ctx.task_id)  # an operator, while the step runs
            behaviour = behaviour.removeprefix("cancel_then_")
        if behaviour == "fail":
            raise RuntimeError("the backend is down")
        if behaviour == "permanent":
            raise PermanentTaskError("the input is gone")
        if behaviour == "stray_cancel":
            raise asyncio.CancelledError
        n = ctx.step + 1
        return Completed({"n": n}) if behaviour == "complete" else Checkpoint({"n": n}, progress=n / 10)

    async def apply(self, name: str, argument: Any) -> None:
        target = self.ids[argument % len(self.ids)] if self.ids and isinstance(argument, int) else None
        if name == "submit":
            self.ids.append((await self.world.service.submit("t.scripted", max_retries=argument)).id)
        elif name == "script":
            self.script.extend(argument)
        elif name == "run" and target:
            await self.executor.run(target)
        elif name == "poll":
            await self.executor.poll(argument)
        elif name == "stop_worker" and target:
            await self.stop_worker_during_a_step(target)
        elif name == "cancel" and target:
            try:
                await self.world.service.cancel(target)
            except IllegalTransition:
                assert (await self.world.task(target)).status in (TaskStatus.DONE, TaskStatus.FAILED)
        elif name == "retry" and target:
            try:
                retried = await self.world.service.retry(target)
            except IllegalTransition:
                assert self.seen[target].status is not TaskStatus.FAILED
            else:
                assert (retried.status, retried.cancel_requested, retried.retry_count) == (
                    TaskStatus.PENDING, False, 0,
                )  # fmt: skip
                self.seen[target] = retried
        elif name == "wait":
            self.world.later(argument)

    async def stop_worker_during_a_step(self, task_id: str) -> None:
        self.script.appendleft("hang")
        self.hanging.clear()
        running = asyncio.create_task(self.executor.run(task_id))
        reached = asyncio.create_task(self.hanging.wait())
        await asyncio.wait([running, reached], return_when=asyncio.FIRST_COMPLETED)
        reached.cancel()
        if running.done():  # the step never started (not due, finished...): nothing to stop
            self.script.remove("hang")
            running.result()
            return
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("a stopped worker's job must end cancelled")

    async def check(self) -> None:
        history = self.world.repository.history
        for task_id, source, target in history:
            assert can_transition(source, target), (task_id, source, target)
        for task_id in self.ids:
            task = await self.world.task(task_id)
            before = self.seen.get(task_id)
            checkpoints = await self.world.service.checkpoints(task_id)
            assert [c.step for c in checkpoints] == list(range(1, task.step + 1))
            assert [c.state for c in checkpoints] == [{"n": n} for n in range(1, task.step + 1)]
            assert checkpoints[: len(self.checkpoints.get(task_id, []))] == self.checkpoints.get(task_id, [])
            assert task.state == (checkpoints[-1].state if checkpoints else None)
            assert task.lease_token is None and task.status is not TaskStatus.RUNNING, task
            assert task.retry_count <= task.max_retries
            if before is not None and before.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
                assert task == before
            if task.cancel_requested:  # a cancel always wins, unless the step just finished
                assert task.status in (TaskStatus.CANCELLED, TaskStatus.DONE), task
            if task.status is TaskStatus.DONE:
                assert (task.result, task.progress) == ({"n": task.step + 1}, 1.0)
            self.seen[task_id] = task
            self.checkpoints[task_id] = checkpoints


async def play(operations: list[tuple[str, Any]]) -> None:
    scenario = Scenario()
    for name, argument in operations:
        await scenario.apply(name, argument)
        await scenario.check()
    # However it went, the time and the workers to finish every task are enough.
    scenario.script.clear()
    for _ in range(3 * len(scenario.ids) + 3):
        scenario.world.later(timedelta(hours=1).total_seconds())
        await scenario.executor.poll(10)
        await scenario.check()
    finished = {TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED}
    assert {await scenario.world.status(t) for t in scenario.ids} <= finished


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_any_sequence_of_operations_keeps_every_task_consistent(operations: list[tuple[str, Any]]) -> None:
    asyncio.run(play(operations))
