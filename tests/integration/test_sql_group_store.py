"""The SQL group store and consensus slots keep the contracts on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.consensus_slots import SqlConsensusSlots
from adapters.postgres.group_store import SqlGroupMemoryStore
from adapters.postgres.store import SqlMemoryStore
from memory_domain.errors import StaleVersion
from memory_domain.group_ports import ConsensusSlots
from tests.contracts.group_memory_store_contract import (
    ConsensusSlotsContract,
    GroupMemoryStoreContract,
    Stores,
    item,
    revision,
)
from tests.contracts.memory_store_builders import T0, at, commit, msg, topic

pytestmark = pytest.mark.integration


class TestSqliteGroupMemoryStore(GroupMemoryStoreContract):
    @pytest.fixture
    def stores(self, sqlite_engine: AsyncEngine) -> Stores:
        return SqlMemoryStore(sqlite_engine), SqlGroupMemoryStore(sqlite_engine)


class TestPostgresGroupMemoryStore(GroupMemoryStoreContract):
    @pytest.fixture
    def stores(self, postgres_engine: AsyncEngine) -> Stores:
        return SqlMemoryStore(postgres_engine), SqlGroupMemoryStore(postgres_engine)


class TestSqliteConsensusSlots(ConsensusSlotsContract):
    @pytest.fixture
    def slots(self, sqlite_engine: AsyncEngine) -> ConsensusSlots:
        return SqlConsensusSlots(sqlite_engine)


class TestPostgresConsensusSlots(ConsensusSlotsContract):
    @pytest.fixture
    def slots(self, postgres_engine: AsyncEngine) -> ConsensusSlots:
        return SqlConsensusSlots(postgres_engine)


async def test_concurrent_claims_of_one_slot_on_postgres_let_exactly_one_worker_run_it(
    postgres_engine: AsyncEngine,
) -> None:
    workers = [SqlConsensusSlots(postgres_engine) for _ in range(8)]
    claims = await asyncio.gather(
        *(slots.claim_slot(at(0), f"w{n}", at(1), at(-10)) for n, slots in enumerate(workers))
    )
    assert sum(claims) == 1
    # And a stale claim taken over by many at once: one winner again.
    takeovers = await asyncio.gather(
        *(slots.claim_slot(at(0), f"late{n}", at(30), at(20)) for n, slots in enumerate(workers))
    )
    assert sum(takeovers) == 1


async def test_concurrent_commits_of_one_group_memory_on_postgres_each_land_once(
    postgres_engine: AsyncEngine,
) -> None:
    store = SqlGroupMemoryStore(postgres_engine)

    async def commit_one(n: int) -> None:
        while True:
            version = (await store.get_group_memory("g1")).version
            try:
                await store.commit_group_memory("g1", version, [item(f"i{n:02d}")], revision(version + 1))
                return
            except StaleVersion:
                await asyncio.sleep(0)

    await asyncio.gather(*(commit_one(n) for n in range(12)))
    memory = await store.get_group_memory("g1")
    assert memory.version == 12 and len(memory.items) == 12


async def test_a_topic_update_committing_while_the_changes_are_read_is_left_for_the_next_read(
    postgres_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics, store = SqlMemoryStore(postgres_engine), SqlGroupMemoryStore(postgres_engine)
    await topics.add_messages([msg(f"m{i}", minute=i) for i in range(1, 5)], T0)
    await commit(topics, 0, ["m1", "m2"], [topic("t1", minute=1)])
    read_version = AsyncConnection.scalar
    raced = False

    async def update_commits_right_after_the_version_is_read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal raced
        result = await read_version(self, *args, **kwargs)
        if not raced:
            raced = True
            await commit(topics, 1, ["m3", "m4"], [topic("t2", minute=3)])
        return result

    monkeypatch.setattr(AsyncConnection, "scalar", update_commits_right_after_the_version_is_read)
    changes = await store.topic_changes("g1", 0, 100)
    monkeypatch.undo()
    assert raced and changes.topic_version == 1
    assert ([t.topic_id for t in changes.topics], [m.message_id for m in changes.messages]) == (
        ["t1"],
        ["m1", "m2"],
    )
    again = await store.topic_changes("g1", changes.topic_version, 100)
    assert ([t.topic_id for t in again.topics], [m.message_id for m in again.messages]) == (
        ["t2"],
        ["m3", "m4"],
    )
