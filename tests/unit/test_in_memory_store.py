"""The in-memory MemoryStore keeps the same contract as the SQL store."""

from __future__ import annotations

import pytest

from adapters.in_memory.store import InMemoryMemoryStore
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_contract import MemoryStoreContract


class TestInMemoryMemoryStore(MemoryStoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return InMemoryMemoryStore()
