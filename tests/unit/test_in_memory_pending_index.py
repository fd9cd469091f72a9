from __future__ import annotations

import pytest

from adapters.in_memory.pending_index import InMemoryPendingIndex, InMemoryUpdateLeases
from adapters.system import SystemClock
from tests.contracts.pending_index_contract import PendingIndexContract, UpdateLeasesContract


class TestInMemoryPendingIndex(PendingIndexContract):
    @pytest.fixture
    def index(self) -> InMemoryPendingIndex:
        return InMemoryPendingIndex(SystemClock().now)


class TestInMemoryUpdateLeases(UpdateLeasesContract):
    @pytest.fixture
    def leases(self) -> InMemoryUpdateLeases:
        return InMemoryUpdateLeases(SystemClock().now)
