"""Whole-population reads of the SQL store stay bounded: failures are pruned, groups listed by index."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.store import SqlMemoryStore
from memory_domain.model import UpdateFailure
from memory_domain.ports import FAILURES_KEPT_PER_GROUP
from tests.contracts.memory_store_builders import T0, at, commit, msg

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return engine


async def _failure_rows(engine: AsyncEngine, group_id: str) -> int:
    async with engine.connect() as connection:
        statement = sa.text("SELECT count(*) FROM topic_update_failures WHERE group_id = :g")
        return int((await connection.execute(statement, {"g": group_id})).scalar_one())


async def test_a_group_keeps_only_its_newest_failures(engine: AsyncEngine) -> None:
    store = SqlMemoryStore(engine)
    minutes = list(range(FAILURES_KEPT_PER_GROUP + 15))
    random.Random(8).shuffle(minutes)  # recorded out of time order: the newest by time are kept
    for minute in minutes:
        await store.record_failure(UpdateFailure("g1", at(minute), f"error {minute}", ()))
    await store.record_failure(UpdateFailure("g2", at(0), "another group", ()))
    assert await _failure_rows(engine, "g1") == FAILURES_KEPT_PER_GROUP
    assert await _failure_rows(engine, "g2") == 1
    newest = await store.last_failure("g1")
    assert newest is not None and newest.error == f"error {max(minutes)}"
    async with engine.connect() as connection:
        kept = (
            await connection.execute(sa.text("SELECT error FROM topic_update_failures WHERE group_id = 'g1'"))
        ).scalars()
        assert set(kept) == {f"error {m}" for m in minutes if m >= len(minutes) - FAILURES_KEPT_PER_GROUP}


async def test_group_ids_are_every_group_in_id_order(engine: AsyncEngine) -> None:
    store = SqlMemoryStore(engine)
    groups = [f"group-{i:03d}" for i in range(40)] + ["#chan", "A"]
    await store.add_messages([msg(f"m{j}", group=g) for g in groups for j in range(3)], T0)
    assert await store.group_ids() == sorted(groups)


async def test_group_ids_list_integrated_quarantined_and_pending_groups_once_each(
    engine: AsyncEngine,
) -> None:
    store = SqlMemoryStore(engine)
    done = [msg("m1", group="done"), msg("m2", group="done", minute=1)]
    others = [msg("m1", group="stuck"), msg("m1", group="fresh"), msg("m2", group="mixed")]
    await store.add_messages([*done, *others, msg("m3", group="mixed", minute=1)], T0)
    await commit(store, 0, ["m1", "m2"], group="done")  # integrated only
    await commit(store, 0, ["m2"], group="mixed")  # integrated and pending
    assert await store.quarantine_message("stuck", "m1", "poison", at(1))  # quarantined only
    assert await store.group_ids() == ["done", "fresh", "mixed", "stuck"]
