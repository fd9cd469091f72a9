"""The SQL MemoryStore keeps the contract on SQLite and PostgreSQL, and serialises commits."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.store import SqlMemoryStore
from memory_domain.errors import StaleVersion
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_builders import T0, commit, ids, msg, topic
from tests.contracts.memory_store_contract import MemoryStoreContract

pytestmark = pytest.mark.integration


class TestSqliteMemoryStore(MemoryStoreContract):
    @pytest.fixture
    def store(self, sqlite_engine: AsyncEngine) -> MemoryStore:
        return SqlMemoryStore(sqlite_engine)


class TestPostgresMemoryStore(MemoryStoreContract):
    @pytest.fixture
    def store(self, postgres_engine: AsyncEngine) -> MemoryStore:
        return SqlMemoryStore(postgres_engine)


async def test_a_commit_waits_for_the_row_lock_and_then_finds_its_version_stale(
    postgres_engine: AsyncEngine,
) -> None:
    store = SqlMemoryStore(postgres_engine)
    await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
    await commit(store, 0, ["m1"], [topic("t1")])
    async with postgres_engine.connect() as rival:
        # A rival transaction holds the group's row, as a concurrent commit would.
        await rival.execute(sa.text("SELECT version FROM topic_memories WHERE group_id = 'g1' FOR UPDATE"))
        waiting = asyncio.create_task(commit(store, 1, ["m2"], [topic("t2")]))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "the commit did not wait for the rival's row lock"
        await rival.execute(sa.text("UPDATE topic_memories SET version = 2 WHERE group_id = 'g1'"))
        await rival.commit()
    with pytest.raises(StaleVersion):
        await waiting
    assert ids(await store.pending_messages("g1", 10)) == ["m2"]
    assert [t.topic_id for t in (await store.get_topic_memory("g1")).topics] == ["t1"]


async def test_many_concurrent_commits_of_one_group_each_integrate_a_message_once(
    postgres_engine: AsyncEngine,
) -> None:
    store = SqlMemoryStore(postgres_engine)
    await store.add_messages([msg(f"m{i:02d}", minute=i) for i in range(20)], T0)

    async def integrate_one(message_id: str) -> None:
        # Each worker retries on StaleVersion, as the topic-memory service does.
        while True:
            version = (await store.get_topic_memory("g1")).version
            try:
                await commit(store, version, [message_id])
                return
            except StaleVersion:
                await asyncio.sleep(0)

    await asyncio.gather(*(integrate_one(f"m{i:02d}") for i in range(20)))
    revisions = await store.list_revisions("g1", 100)
    assert [r.revision for r in revisions] == list(range(20, 0, -1))
    assert sorted(m for r in revisions for m in r.message_ids) == [f"m{i:02d}" for i in range(20)]
    assert (await store.pending_state("g1")).count == 0
