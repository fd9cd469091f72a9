from __future__ import annotations

import pytest

from adapters.in_memory.history import InMemoryMessageHistory, InMemoryRebuildStaging
from adapters.in_memory.store import InMemoryMemoryStore
from tests.contracts.message_history_contract import MessageHistoryContract
from tests.contracts.rebuild_staging_contract import RebuildStagingContract


class TestInMemoryMessageHistory(MessageHistoryContract):
    @pytest.fixture
    def store(self) -> InMemoryMemoryStore:
        return InMemoryMemoryStore()

    @pytest.fixture
    def history(self, store: InMemoryMemoryStore) -> InMemoryMessageHistory:
        return InMemoryMessageHistory(store)


class TestInMemoryRebuildStaging(RebuildStagingContract):
    @pytest.fixture
    def staging(self) -> InMemoryRebuildStaging:
        return InMemoryRebuildStaging()
