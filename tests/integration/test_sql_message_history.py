from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.history import SqlMessageHistory, SqlRebuildStaging
from adapters.postgres.store import SqlMemoryStore
from tests.contracts.message_history_contract import MessageHistoryContract
from tests.contracts.rebuild_staging_contract import RebuildStagingContract

pytestmark = pytest.mark.integration


class TestSqliteMessageHistory(MessageHistoryContract):
    @pytest.fixture
    def engine(self, sqlite_engine: AsyncEngine) -> AsyncEngine:
        return sqlite_engine

    @pytest.fixture
    def store(self, engine: AsyncEngine) -> SqlMemoryStore:
        return SqlMemoryStore(engine)

    @pytest.fixture
    def history(self, engine: AsyncEngine) -> SqlMessageHistory:
        return SqlMessageHistory(engine)


class TestPostgresMessageHistory(TestSqliteMessageHistory):
    @pytest.fixture
    def engine(self, postgres_engine: AsyncEngine) -> AsyncEngine:
        return postgres_engine


class TestSqliteRebuildStaging(RebuildStagingContract):
    @pytest.fixture
    def staging(self, sqlite_engine: AsyncEngine) -> SqlRebuildStaging:
        return SqlRebuildStaging(sqlite_engine)


class TestPostgresRebuildStaging(RebuildStagingContract):
    @pytest.fixture
    def staging(self, postgres_engine: AsyncEngine) -> SqlRebuildStaging:
        return SqlRebuildStaging(postgres_engine)
