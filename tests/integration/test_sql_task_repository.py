"""The SQL TaskRepository keeps the contract on SQLite and PostgreSQL, and claims skip locked rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import create_engine
from adapters.postgres.long_task_repository import SqlTaskRepository
from long_tasks_domain.errors import TaskStorageUnavailable
from long_tasks_domain.ports import TaskRepository
from tests.contracts.task_repository_contract import TaskRepositoryContract, at, new_task
from tests.support.databases import fresh_postgres_database, migrated_sqlite_url

pytestmark = pytest.mark.integration


@pytest.fixture
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


class TestSqliteTaskRepository(TaskRepositoryContract):
    @pytest.fixture
    async def repository(self, tmp_path: Path) -> AsyncIterator[TaskRepository]:
        engine = create_engine(await migrated_sqlite_url(tmp_path))
        try:
            yield SqlTaskRepository(engine)
        finally:
            await engine.dispose()


class TestPostgresTaskRepository(TaskRepositoryContract):
    @pytest.fixture
    def repository(self, postgres_engine: AsyncEngine) -> TaskRepository:
        return SqlTaskRepository(postgres_engine)


async def test_a_claim_skips_a_row_another_transaction_holds_instead_of_waiting(
    postgres_engine: AsyncEngine,
) -> None:
    repository = SqlTaskRepository(postgres_engine)
    await repository.add(new_task("locked", run_at=0))
    await repository.add(new_task("free", run_at=1))
    async with postgres_engine.connect() as rival:
        await rival.execute(sa.text("SELECT id FROM long_tasks WHERE id = 'locked' FOR UPDATE"))
        claimed = await asyncio.wait_for(repository.claim(at(5), at(35), "w1", 5), 5)
        assert [t.id for t in claimed] == ["free"]
        await rival.rollback()
    assert [t.id for t in await repository.claim(at(5), at(35), "w2", 5)] == ["locked"]


async def test_an_unreachable_database_is_a_task_storage_error_without_the_password() -> None:
    engine = create_engine("postgresql://worker:s3cret-pw@127.0.0.1:1/tasks")
    try:
        with pytest.raises(TaskStorageUnavailable) as unavailable:
            await SqlTaskRepository(engine).get("t1")
    finally:
        await engine.dispose()
    assert "read a task" in str(unavailable.value) and "s3cret-pw" not in str(unavailable.value)
