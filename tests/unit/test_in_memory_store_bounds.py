"""The in-memory store bounds what it keeps per group as the SQL store does."""

from __future__ import annotations

from adapters.in_memory.store import InMemoryMemoryStore
from memory_domain.model import UpdateFailure
from memory_domain.ports import FAILURES_KEPT_PER_GROUP
from memory_domain.queries import MemoryQueries
from tests.contracts.memory_store_builders import T0, at, msg


async def test_a_group_keeps_only_its_newest_failures() -> None:
    store = InMemoryMemoryStore()
    minutes = [(m * 8) % 35 for m in range(35)]  # every minute 0..34, out of order
    for minute in minutes:
        await store.record_failure(UpdateFailure("g1", at(minute), f"error {minute}", ()))
    kept = store._groups["g1"].failures
    assert len(kept) == FAILURES_KEPT_PER_GROUP
    assert {f.error for f in kept} == {f"error {m}" for m in range(35 - FAILURES_KEPT_PER_GROUP, 35)}
    assert (await store.last_failure("g1") or UpdateFailure("g1", T0, "", ())).error == "error 34"


async def test_a_group_whose_only_messages_are_quarantined_exists() -> None:
    store = InMemoryMemoryStore()
    await store.add_messages([msg("m1")], T0)
    assert await store.quarantine_message("g1", "m1", "poison", at(1))
    queries = MemoryQueries(store)
    assert await queries.exists("g1")
    assert not await queries.exists("g2")
