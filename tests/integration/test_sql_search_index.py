"""The SQL search index keeps the contract on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.search_index import SqlSearchIndex
from adapters.postgres.store import SqlMemoryStore
from tests.contracts.search_index_contract import Indexed, SearchIndexContract

pytestmark = pytest.mark.integration


class TestSqliteSearchIndex(SearchIndexContract):
    @pytest.fixture
    def indexed(self, sqlite_engine: AsyncEngine) -> Indexed:
        return Indexed(SqlMemoryStore(sqlite_engine), SqlSearchIndex(sqlite_engine))


class TestPostgresSearchIndex(SearchIndexContract):
    @pytest.fixture
    def indexed(self, postgres_engine: AsyncEngine) -> Indexed:
        return Indexed(SqlMemoryStore(postgres_engine), SqlSearchIndex(postgres_engine))
