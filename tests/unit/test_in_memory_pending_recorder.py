from __future__ import annotations

import pytest

from adapters.in_memory.pending_index import InMemoryPendingIndex
from adapters.in_memory.queue import InMemoryUpdateQueue
from adapters.in_memory.recording import InMemoryPendingRecorder
from adapters.system import SystemClock
from tests.contracts.pending_recorder_contract import PendingRecorderContract


class TestInMemoryPendingRecorder(PendingRecorderContract):
    @pytest.fixture
    def index(self) -> InMemoryPendingIndex:
        return InMemoryPendingIndex(SystemClock().now)

    @pytest.fixture
    def recorder(self, index: InMemoryPendingIndex) -> InMemoryPendingRecorder:
        self.queue = InMemoryUpdateQueue()
        return InMemoryPendingRecorder(index, self.queue)

    async def queued(self) -> list[str]:
        return list(self.queue.queued)

    async def finish(self, group_id: str) -> None:
        assert self.queue.take() == group_id
        self.queue.done(group_id)
