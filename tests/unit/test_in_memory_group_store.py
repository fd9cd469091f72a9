"""The in-memory group store and consensus slots keep the same contracts as the SQL ones."""

from __future__ import annotations

import pytest

from adapters.in_memory.group_store import InMemoryConsensusSlots, InMemoryGroupMemoryStore
from adapters.in_memory.store import InMemoryMemoryStore
from memory_domain.group_ports import ConsensusSlots
from tests.contracts.group_memory_store_contract import (
    ConsensusSlotsContract,
    GroupMemoryStoreContract,
    Stores,
)


class TestInMemoryGroupMemoryStore(GroupMemoryStoreContract):
    @pytest.fixture
    def stores(self) -> Stores:
        topics = InMemoryMemoryStore()
        return topics, InMemoryGroupMemoryStore(topics)


class TestInMemoryConsensusSlots(ConsensusSlotsContract):
    @pytest.fixture
    def slots(self) -> ConsensusSlots:
        return InMemoryConsensusSlots()
