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


async def test_groups_whose_messages_are_not_all_indexed_are_found_and_reindexed(
    postgres_engine: AsyncEngine,
) -> None:
    import sqlalchemy as sa

    from memory_domain.search import query_terms
    from tests.contracts.search_index_contract import CHAT, integrate

    indexed = Indexed(SqlMemoryStore(postgres_engine), SqlSearchIndex(postgres_engine))
    await integrate(indexed, 0, CHAT[:2])
    index = SqlSearchIndex(postgres_engine)
    assert await index.stale_groups() == []
    async with postgres_engine.begin() as connection:  # as a database upgraded from before 0006
        for table in ("search_postings", "search_terms", "search_stats"):
            await connection.execute(sa.text(f"DELETE FROM {table}"))
    assert await index.stale_groups() == ["g1"]
    assert await index.reindex("g1") == 2
    assert await index.stale_groups() == []
    # A worker of an older release integrates messages without indexing them: the topic
    # version moves past the indexed one.
    await indexed.store.add_messages(CHAT[2:], CHAT[0].sent_at)
    async with postgres_engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE chat_messages SET revision = 1 WHERE message_id IN ('m3', 'm4')")
        )
        await connection.execute(sa.text("UPDATE topic_memories SET version = 2"))
    assert await index.stale_groups() == ["g1"]
    assert await index.reindex("g1") == 4
    assert await index.stale_groups() == []
    assert (await index.search("g1", query_terms("lake restaurant"), 10)).documents == 4
