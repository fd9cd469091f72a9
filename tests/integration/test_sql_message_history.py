from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import create_engine
from adapters.postgres.history import SqlMessageHistory, SqlRebuildStaging
from adapters.postgres.store import SqlMemoryStore
from tests.contracts.message_history_contract import MessageHistoryContract
from tests.contracts.rebuild_staging_contract import RebuildStagingContract
from tests.support.databases import fresh_postgres_database, migrated_sqlite_url

pytestmark = pytest.mark.integration


class TestSqliteMessageHistory(MessageHistoryContract):
    @pytest.fixture
    async def engine(self, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(await migrated_sqlite_url(tmp_path))
        try:
            yield engine
        finally:
            await engine.dispose()

    @pytest.fixture
    def store(self, engine: AsyncEngine) -> SqlMemoryStore:
        return SqlMemoryStore(engine)

    @pytest.fixture
    def history(self, engine: AsyncEngine) -> SqlMessageHistory:
        return SqlMessageHistory(engine)


class TestPostgresMessageHistory(TestSqliteMessageHistory):
    @pytest.fixture
    async def engine(self, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
        async with fresh_postgres_database() as url:
            engine = create_engine(url)
            try:
                yield engine
            finally:
                await engine.dispose()


class TestSqliteRebuildStaging(RebuildStagingContract):
    @pytest.fixture
    async def staging(self, tmp_path: Path) -> AsyncIterator[SqlRebuildStaging]:
        engine = create_engine(await migrated_sqlite_url(tmp_path))
        try:
            yield SqlRebuildStaging(engine)
        finally:
            await engine.dispose()


class TestPostgresRebuildStaging(RebuildStagingContract):
    @pytest.fixture
    async def staging(self) -> AsyncIterator[SqlRebuildStaging]:
        async with fresh_postgres_database() as url:
            engine = create_engine(url)
            try:
                yield SqlRebuildStaging(engine)
            finally:
                await engine.dispose()
