"""The in-memory search index keeps the same contract as the SQL one."""

from __future__ import annotations

import pytest

from adapters.in_memory.store import InMemoryMemoryStore
from tests.contracts.search_index_contract import Indexed, SearchIndexContract


class TestInMemorySearchIndex(SearchIndexContract):
    @pytest.fixture
    def indexed(self) -> Indexed:
        store = InMemoryMemoryStore()
        return Indexed(store, store.search_index)
