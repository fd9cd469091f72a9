"""The in-memory TaskRepository keeps the same contract as the SQL one."""

from __future__ import annotations

import pytest

from adapters.in_memory.long_tasks import InMemoryTaskRepository
from long_tasks_domain.ports import TaskRepository
from tests.contracts.task_repository_contract import TaskRepositoryContract


class TestInMemoryTaskRepository(TaskRepositoryContract):
    @pytest.fixture
    def repository(self) -> TaskRepository:
        return InMemoryTaskRepository()
