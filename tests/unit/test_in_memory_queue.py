from __future__ import annotations

import pytest

from adapters.in_memory.queue import InMemoryUpdateQueue
from memory_domain.ports import UpdateQueue
from tests.contracts.update_queue_contract import UpdateQueueContract


class TestInMemoryUpdateQueue(UpdateQueueContract):
    @pytest.fixture
    def queue(self) -> InMemoryUpdateQueue:
        return InMemoryUpdateQueue()

    async def queued(self, queue: UpdateQueue) -> list[str]:
        assert isinstance(queue, InMemoryUpdateQueue)
        return list(queue.queued)


def test_a_running_update_blocks_a_second_one_until_it_is_done() -> None:
    import asyncio

    queue = InMemoryUpdateQueue()
    assert asyncio.run(queue.enqueue_update("g1"))
    assert queue.take() == "g1"
    assert not asyncio.run(queue.enqueue_update("g1"))
    queue.done("g1")
    assert asyncio.run(queue.enqueue_update("g1"))
