from __future__ import annotations

import pytest

from adapters.in_memory.history import InMemoryMessageHistory
from adapters.in_memory.store import InMemoryMemoryStore
from tests.contracts.message_history_contract import MessageHistoryContract


class TestInMemoryMessageHistory(MessageHistoryContract):
    @pytest.fixture
    def store(self) -> InMemoryMemoryStore:
        return InMemoryMemoryStore()

    @pytest.fixture
    def history(self, store: InMemoryMemoryStore) -> InMemoryMessageHistory:
        return InMemoryMessageHistory(store)
