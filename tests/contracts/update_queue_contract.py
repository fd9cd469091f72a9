"""One contract for the UpdateQueue port: at most one queued update per group."""

from __future__ import annotations

from memory_domain.ports import UpdateQueue


class UpdateQueueContract:
    """Subclasses provide an async fixture ``queue`` and a method ``queued(queue)``: the groups queued."""

    async def queued(self, queue: UpdateQueue) -> list[str]:
        raise AssertionError("subclasses say which groups their queue holds")

    async def test_a_group_is_queued_once_and_groups_independently(self, queue: UpdateQueue) -> None:
        assert await queue.enqueue_update("g1")
        assert not await queue.enqueue_update("g1")
        assert await queue.enqueue_update("g2")
        assert sorted(await self.queued(queue)) == ["g1", "g2"]

    async def test_reviving_a_group_whose_job_is_gone_queues_it_again(self, queue: UpdateQueue) -> None:
        await queue.revive_update("g1")
        assert await self.queued(queue) == ["g1"]
        assert not await queue.enqueue_update("g1")

    async def test_reviving_a_queued_group_keeps_one_job(self, queue: UpdateQueue) -> None:
        assert await queue.enqueue_update("g1")
        await queue.revive_update("g1")
        assert await self.queued(queue) == ["g1"]

    async def test_a_batch_queues_each_group_once_in_input_order(self, queue: UpdateQueue) -> None:
        assert await queue.enqueue_updates(["g2", "g1", "g2", "g3"]) == ["g2", "g1", "g3"]
        assert sorted(await self.queued(queue)) == ["g1", "g2", "g3"]

    async def test_a_batch_skips_groups_already_queued(self, queue: UpdateQueue) -> None:
        assert await queue.enqueue_update("g1")
        assert await queue.enqueue_updates(["g1", "g2"]) == ["g2"]
        assert await queue.enqueue_updates(["g2", "g1"]) == []
        assert not await queue.enqueue_update("g2")
        assert sorted(await self.queued(queue)) == ["g1", "g2"]

    async def test_an_empty_batch_queues_nothing(self, queue: UpdateQueue) -> None:
        assert await queue.enqueue_updates([]) == []
        assert await self.queued(queue) == []
