"""The contract every TaskRepository adapter keeps: one suite, subclassed once per adapter."""

from __future__ import annotations

import pytest

from long_tasks_domain.errors import IllegalTransition, LeaseLost, TaskNotFound
from long_tasks_domain.model import TAKEOVER_ERROR, Settlement, TaskQuery, TaskStatus
from long_tasks_domain.ports import TaskRepository
from tests.contracts.task_repository_base import T0, at, checkpoint, new_task
from tests.contracts.task_repository_rules import TaskRepositoryRules

__all__ = ["T0", "TaskRepositoryContract", "at", "checkpoint", "new_task"]


class TaskRepositoryContract(TaskRepositoryRules):
    """Tests every TaskRepository adapter passes; a subclass provides the ``repository`` fixture."""

    async def test_a_task_is_stored_and_read_back_as_it_was(self, repository: TaskRepository) -> None:
        task = new_task("t1", dedupe_key="k1")
        assert await repository.add(task) == (task, True)
        assert await repository.get("t1") == task
        assert await repository.get("nope") is None
        assert await repository.checkpoints("t1") == []

    async def test_a_second_task_with_a_taken_dedupe_key_is_not_stored(
        self, repository: TaskRepository
    ) -> None:
        first = new_task("t1", dedupe_key="k1")
        await repository.add(first)
        assert await repository.add(new_task("t2", dedupe_key="k1")) == (first, False)
        assert await repository.get("t2") is None
        assert (await repository.add(new_task("t3")))[1] and (await repository.add(new_task("t4")))[1]

    async def test_tasks_are_listed_newest_first_filtered_and_after_a_cursor(
        self, repository: TaskRepository
    ) -> None:
        for i, kind in enumerate(["a.x", "b.y", "a.x", "a.x", "b.y"]):
            await repository.add(new_task(f"t{i}", created=i // 2, task_type=kind))
        listed = await repository.list_tasks(TaskQuery(limit=10))
        assert [t.id for t in listed] == ["t4", "t3", "t2", "t1", "t0"]
        assert [t.id for t in await repository.list_tasks(TaskQuery(task_type="a.x", limit=2))] == [
            "t3",
            "t2",
        ]
        after = await repository.list_tasks(TaskQuery(limit=10, before=(at(1), "t3")))
        assert [t.id for t in after] == ["t2", "t1", "t0"]
        await self.claim_one(repository, 5, "w", task_id="t1")
        running = await repository.list_tasks(TaskQuery(status=TaskStatus.RUNNING))
        assert [t.id for t in running] == ["t1"]

    async def test_a_claim_takes_due_tasks_earliest_first_and_holds_them(
        self, repository: TaskRepository
    ) -> None:
        await repository.add(new_task("late", run_at=20))
        await repository.add(new_task("second", run_at=5))
        await repository.add(new_task("first", run_at=1))
        await repository.add(new_task("third", run_at=9))
        claimed = await repository.claim(at(10), at(40), "w1", 2)
        assert [t.id for t in claimed] == ["first", "second"]
        first = claimed[0]
        assert (first.status, first.lease_token, first.lease_expires_at) == (TaskStatus.RUNNING, "w1", at(40))
        assert first.started_at == at(10) and first.retry_count == 0
        assert await repository.get("first") == first
        assert [t.id for t in await repository.claim(at(10), at(40), "w2", 5)] == ["third"]
        assert await repository.claim(at(10), at(40), "w3", 5) == []
        assert await repository.claim(at(30), at(60), "w3", 5, task_id="first") == []
        assert [t.id for t in await repository.claim(at(30), at(60), "w3", 5, task_id="late")] == ["late"]

    async def test_an_expired_lease_is_taken_over_counting_the_dead_try(
        self, repository: TaskRepository
    ) -> None:
        await repository.add(new_task("t1"))
        await repository.add(new_task("waiting", run_at=100))
        await self.claim_one(repository, 0, "dead")
        assert await repository.claim(at(29), at(59), "w2", 5, expired_only=True) == []
        taken = await self.claim_one(repository, 30, "w2", expired_only=True)
        assert (taken.id, taken.status, taken.lease_token) == ("t1", TaskStatus.RUNNING, "w2")
        assert taken.retry_count == 1 and taken.error == TAKEOVER_ERROR and taken.started_at == at(0)
        # Only the expired lease: "waiting" is due too, but belongs to the minute poll.
        assert [t.id for t in await repository.claim(at(200), at(230), "w3", 5, expired_only=True)] == ["t1"]

    async def test_the_holder_renews_its_lease_and_no_one_else_can(self, repository: TaskRepository) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        assert await repository.renew("t1", "w1", at(20), at(50))
        assert not await repository.renew("t1", "w2", at(60), at(90))
        assert not await repository.renew("nope", "w1", at(60), at(90))
        assert await repository.claim(at(40), at(70), "w2", 5) == []
        assert (await repository.get("t1")).lease_expires_at == at(50)  # type: ignore[union-attr]

    async def test_a_checkpoint_commits_with_the_task_and_the_holder_keeps_the_task(
        self, repository: TaskRepository
    ) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        held = await repository.settle(
            "t1", "w1", Settlement(TaskStatus.COMMIT, at(1), checkpoint=checkpoint("t1", 1, 1), hold=True)
        )
        assert (held.status, held.step, held.state, held.progress) == (
            TaskStatus.COMMIT, 1, {"done": 1, "note": "第1"}, 0.5,
        )  # fmt: skip
        assert held.lease_token == "w1" and await repository.get("t1") == held
        assert await repository.claim(at(2), at(32), "w2", 5) == []
        started = await repository.start_step("t1", "w1", at(3), at(33))
        assert (started.status, started.lease_expires_at) == (TaskStatus.RUNNING, at(33))
        await repository.settle(
            "t1", "w1", Settlement(TaskStatus.COMMIT, at(4), checkpoint=checkpoint("t1", 2, 4))
        )
        assert [c.step for c in await repository.checkpoints("t1")] == [1, 2]
        assert (await repository.checkpoints("t1"))[0] == checkpoint("t1", 1, 1)
        released = await repository.get("t1")
        assert released is not None and released.lease_token is None and released.run_at == at(4)
        assert [t.id for t in await repository.claim(at(5), at(35), "w2", 5)] == ["t1"]

    async def test_a_stale_holder_writes_nothing(self, repository: TaskRepository) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "dead")
        await self.claim_one(repository, 31, "alive")
        before = await repository.get("t1")
        stale = Settlement(TaskStatus.COMMIT, at(40), checkpoint=checkpoint("t1", 1, 40))
        with pytest.raises(LeaseLost):
            await repository.settle("t1", "dead", stale)
        with pytest.raises(LeaseLost):
            await repository.record_progress("t1", "dead", 0.9, "late", at(40))
        with pytest.raises(LeaseLost):
            await repository.start_step("t1", "dead", at(40), at(70))
        assert await repository.get("t1") == before and await repository.checkpoints("t1") == []

    async def test_a_checkpoint_out_of_order_is_refused_whole(self, repository: TaskRepository) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        with pytest.raises(ValueError, match="cannot follow"):
            await repository.settle(
                "t1", "w1", Settlement(TaskStatus.COMMIT, at(1), checkpoint=checkpoint("t1", 2))
            )
        assert await repository.checkpoints("t1") == []
        assert (await repository.get("t1")).step == 0  # type: ignore[union-attr]

    async def test_done_keeps_the_result_and_frees_the_task(self, repository: TaskRepository) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        await repository.record_progress("t1", "w1", 0.25, "rendering", at(1))
        progressed = await repository.get("t1")
        assert progressed is not None and (progressed.progress, progressed.progress_message) == (
            0.25,
            "rendering",
        )
        result = {"pages": ["a", "b"], "ok": True, "ratio": 0.5}
        done = await repository.settle("t1", "w1", Settlement(TaskStatus.DONE, at(2), result=result))
        assert (done.status, done.result, done.progress, done.finished_at) == (
            TaskStatus.DONE,
            result,
            1.0,
            at(2),
        )
        assert done.lease_token is None and await repository.get("t1") == done
        with pytest.raises(LeaseLost):
            await repository.settle("t1", "w1", Settlement(TaskStatus.FAILED, at(3)))

    async def test_a_failed_try_waits_for_its_retry_time(self, repository: TaskRepository) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w1")
        retry = Settlement(
            TaskStatus.PENDING,
            at(1),
            error="Boom: x",
            error_traceback="Traceback...",
            retry_count=1,
            run_at=at(20),
        )
        waiting = await repository.settle("t1", "w1", retry)
        assert (waiting.status, waiting.retry_count, waiting.error, waiting.run_at) == (
            TaskStatus.PENDING, 1, "Boom: x", at(20),
        )  # fmt: skip
        assert await repository.claim(at(19), at(49), "w2", 5) == []
        assert (await self.claim_one(repository, 20, "w2")).retry_count == 1

    async def test_cancel_is_immediate_when_nothing_runs_the_task_and_flagged_otherwise(
        self, repository: TaskRepository
    ) -> None:
        for task_id in ("waiting", "running", "dead", "done"):
            await repository.add(new_task(task_id))
        await self.claim_one(repository, 0, "w", task_id="dead")
        await self.claim_one(repository, 20, "w", task_id="running")
        await self.claim_one(repository, 20, "w", task_id="done")
        await repository.settle("done", "w", Settlement(TaskStatus.DONE, at(21)))
        cancelled = await repository.request_cancel("waiting", at(40))
        assert (cancelled.status, cancelled.finished_at) == (TaskStatus.CANCELLED, at(40))
        assert await repository.request_cancel("waiting", at(41)) == cancelled
        flagged = await repository.request_cancel("running", at(40))
        assert (flagged.status, flagged.cancel_requested) == (TaskStatus.RUNNING, True)
        assert flagged.lease_token == "w"
        dead = await repository.request_cancel("dead", at(40))
        assert (dead.status, dead.lease_token) == (TaskStatus.CANCELLED, None)
        with pytest.raises(IllegalTransition):
            await repository.request_cancel("done", at(40))
        with pytest.raises(TaskNotFound):
            await repository.request_cancel("nope", at(40))
        assert await repository.claim(at(100), at(130), "w2", 5, task_id="waiting") == []

    async def test_a_failed_task_is_reset_to_pending_with_its_checkpoints(
        self, repository: TaskRepository
    ) -> None:
        await repository.add(new_task("t1"))
        await self.claim_one(repository, 0, "w")
        await repository.settle(
            "t1", "w", Settlement(TaskStatus.COMMIT, at(1), checkpoint=checkpoint("t1", 1), hold=True)
        )
        await repository.start_step("t1", "w", at(2), at(32))
        await repository.settle(
            "t1", "w", Settlement(TaskStatus.FAILED, at(3), error="E: bad", retry_count=3)
        )
        reset = await repository.reset_failed("t1", at(5))
        assert (reset.status, reset.retry_count, reset.error, reset.finished_at, reset.run_at, reset.step) == (
            TaskStatus.PENDING, 0, None, None, at(5), 1,
        )  # fmt: skip
        assert (reset.progress, reset.progress_message, reset.result, reset.cancel_requested) == (
            None, None, None, False,
        )  # fmt: skip
        with pytest.raises(IllegalTransition):
            await repository.reset_failed("t1", at(6))
        # Written before cancels of failing steps ended CANCELLED: the retry starts afresh.
        flagged = new_task("old", status=TaskStatus.FAILED, cancel_requested=True, result=[1], progress=0.5)
        await repository.add(flagged)
        assert not (await repository.reset_failed("old", at(7))).cancel_requested
        assert [t.id for t in await repository.claim(at(8), at(38), "w2", 5, task_id="old")] == ["old"]
        with pytest.raises(TaskNotFound):
            await repository.reset_failed("nope", at(6))

    async def test_finished_tasks_are_deleted_oldest_first_with_their_checkpoints(
        self, repository: TaskRepository
    ) -> None:
        for i, final in enumerate(
            [TaskStatus.DONE, TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.DONE]
        ):
            await repository.add(new_task(f"t{i}"))
            await self.claim_one(repository, i, "w", task_id=f"t{i}")
            await repository.settle(
                f"t{i}",
                "w",
                Settlement(TaskStatus.COMMIT, at(i), checkpoint=checkpoint(f"t{i}", 1), hold=True),
            )
            await repository.start_step(f"t{i}", "w", at(i), at(i + 30))
            await repository.settle(f"t{i}", "w", Settlement(final, at(10 + i)))
        await repository.add(new_task("pending"))
        statuses = [TaskStatus.DONE, TaskStatus.CANCELLED]
        assert await repository.delete_finished(statuses, at(13), 1) == 1
        assert await repository.get("t0") is None and await repository.checkpoints("t0") == []
        assert await repository.delete_finished(statuses, at(13), 10) == 1  # t3 finished at 13: not before
        assert {t.id for t in await repository.list_tasks(TaskQuery())} == {"t2", "t3", "pending"}
        assert await repository.delete_finished([TaskStatus.FAILED], at(100), 10) == 1
        assert await repository.delete_finished(statuses, at(100), 0) == 0
