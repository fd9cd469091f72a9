"""The TaskRepository contract, continued: dedupe keys, what cannot be stored, task types,
cancels that meet failing steps, releasing a held task, and claims racing each other."""

from __future__ import annotations

import asyncio

import pytest

from long_tasks_domain.errors import NotStorable
from long_tasks_domain.model import CheckpointRecord, LongTask, Settlement, TaskStatus
from long_tasks_domain.ports import TaskRepository
from tests.contracts.task_repository_base import TaskRepositoryContractBase, at, checkpoint, new_task


class TaskRepositoryRules(TaskRepositoryContractBase):
    """Part of :class:`TaskRepositoryContract`, which every adapter's suite subclasses."""

    async def test_a_dedupe_key_is_unique_per_task_type(self, repository: TaskRepository) -> None:
        render = new_task("t1", dedupe_key="nightly")
        export = new_task("t2", dedupe_key="nightly", task_type="report.export")
        assert await repository.add(render) == (render, True)
        assert await repository.add(export) == (export, True)
        again = new_task("t3", dedupe_key="nightly", task_type="report.export")
        assert await repository.add(again) == (export, False)

    async def test_values_the_store_cannot_hold_are_refused_alike_and_nothing_is_written(
        self, repository: TaskRepository
    ) -> None:
        for bad in (
            new_task("bad1", dedupe_key="k\x00"),
            new_task("bad2", error="a\x00b"),
            new_task("bad3", progress=1.5),
            new_task("bad4", progress_message="lone \udc80 surrogate"),
        ):
            with pytest.raises(NotStorable):
                await repository.add(bad)
            assert await repository.get(bad.id) is None
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        before = await repository.get("t1")
        with pytest.raises(NotStorable, match="progress_message"):
            await repository.record_progress("t1", "w1", 0.5, "nul \x00", at(1))
        with pytest.raises(NotStorable, match="error"):
            await repository.settle("t1", "w1", Settlement(TaskStatus.FAILED, at(2), error="E: \x00"))
        for progress in (7.5, -1.0, float("nan"), "half"):
            record = CheckpointRecord("t1", 1, {}, at(2), 1, progress)  # type: ignore[arg-type]
            with pytest.raises(NotStorable, match="progress"):
                await repository.settle("t1", "w1", Settlement(TaskStatus.COMMIT, at(2), checkpoint=record))
        assert await repository.get("t1") == before and await repository.checkpoints("t1") == []

    async def test_a_claim_takes_only_the_task_types_asked_for(self, repository: TaskRepository) -> None:
        await repository.add(new_task("old", run_at=1))
        await repository.add(new_task("new", run_at=0, task_type="report.v2"))
        assert [
            t.id for t in await repository.claim(at(5), at(35), "w1", 5, task_types=["report.render"])
        ] == ["old"]
        assert await repository.claim(at(5), at(35), "w1", 5, task_types=[]) == []
        # A dead worker's task of an unknown type is left for a worker that knows it.
        await self.claim_one(repository, 5, "w2", task_types=["report.v2"])
        assert await repository.claim(at(60), at(90), "w3", 5, expired_only=True, task_types=["x.y"]) == []
        taken = await self.claim_one(repository, 60, "w3", expired_only=True, task_types=["report.v2"])
        assert taken.id == "new" and taken.retry_count == 1

    async def test_a_cancel_requested_during_a_step_wins_over_a_failed_try_and_a_give_back(
        self, repository: TaskRepository
    ) -> None:
        for task_id in ("retry", "fail", "give-back"):
            await repository.add(new_task(task_id))
            await self.claim_one(repository, 0, "w", task_id=task_id)
            await repository.request_cancel(task_id, at(1))
        retry = Settlement(TaskStatus.PENDING, at(2), error="E: boom", retry_count=1, run_at=at(9))
        failed = Settlement(TaskStatus.FAILED, at(2), error="E: boom", retry_count=3)
        given_back = Settlement(TaskStatus.PENDING, at(2), run_at=at(2))
        for task_id, settlement in (("retry", retry), ("fail", failed), ("give-back", given_back)):
            cancelled = await repository.settle(task_id, "w", settlement)
            assert (cancelled.status, cancelled.lease_token, cancelled.finished_at) == (
                TaskStatus.CANCELLED, None, at(2),
            )  # fmt: skip
            assert cancelled.error == settlement.error and await repository.get(task_id) == cancelled
        assert await repository.claim(at(100), at(130), "w2", 5) == []

    async def test_the_holder_of_a_task_between_two_steps_can_let_it_go(
        self, repository: TaskRepository
    ) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w")
        await repository.settle(
            "t1", "w", Settlement(TaskStatus.COMMIT, at(1), checkpoint=checkpoint("t1", 1), hold=True)
        )
        released = await repository.settle("t1", "w", Settlement(TaskStatus.COMMIT, at(2), run_at=at(2)))
        assert (released.status, released.step, released.lease_token, released.run_at) == (
            TaskStatus.COMMIT, 1, None, at(2),
        )  # fmt: skip
        assert [t.id for t in await repository.claim(at(3), at(33), "w2", 5)] == ["t1"]

    async def test_concurrent_claims_take_disjoint_sets_within_their_limits(
        self, repository: TaskRepository
    ) -> None:
        # Only PostgreSQL runs these claims truly at once (the in-memory adapter and SQLite
        # serialise them), and there it is FOR UPDATE SKIP LOCKED in one statement that keeps
        # them apart: CI fails an integration test that skips for want of PostgreSQL.
        for i in range(40):
            await repository.add(new_task(f"t{i:02d}", run_at=i % 3))
        batches: list[list[LongTask]] = []
        for round_ in range(2):  # ten workers race for up to 3 each, twice: 60 places, 40 tasks
            batches += await asyncio.gather(
                *(repository.claim(at(5), at(35), f"w{round_}-{n}", 3) for n in range(10))
            )
        claimed = [task.id for batch in batches for task in batch]
        assert all(len(batch) <= 3 for batch in batches)
        assert len(claimed) == len(set(claimed)) == 40
        stored = {task_id: await repository.get(task_id) for task_id in claimed}
        holders = {task.id: batch[0].lease_token for batch in batches for task in batch}
        assert {t: task.lease_token for t, task in stored.items() if task} == holders
        # Every lease runs out; racing takeovers take each task over once, counting one try.
        takeovers = await asyncio.gather(
            *(repository.claim(at(40), at(70), f"x{n}", 5, expired_only=True) for n in range(12))
        )
        taken = [task.id for batch in takeovers for task in batch]
        assert all(len(batch) <= 5 for batch in takeovers)
        assert sorted(taken) == sorted(claimed) and len(set(taken)) == 40
        assert {(await repository.get(t)).retry_count for t in taken} == {1}  # type: ignore[union-attr]
