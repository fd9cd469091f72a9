"""Rolling group memory back as a new revision, and the history that mixes both memories."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memory_domain.errors import InvalidRollback
from memory_domain.group_model import DistillInput, ItemDraft, ItemKind, RevisionAction
from memory_domain.queries import MemoryQueries
from tests.support.group_world import GroupWorld, ScriptedDistiller
from tests.support.world import messages


def revise(distil_input: DistillInput) -> list[ItemDraft]:
    """First a decision and a fact; then the decision replaced and the fact refined."""
    topic = distil_input.topics[0].topic_id
    newest = (distil_input.messages[-1].message_id,)
    if not distil_input.items:
        return [
            ItemDraft(None, ItemKind.DECISION, "Launch on Nov 10", (topic,), newest),
            ItemDraft(None, ItemKind.FACT, "23 beta customers", (topic,), newest),
        ]
    by_kind = {item.kind: item for item in distil_input.items}
    decision, fact = by_kind.get(ItemKind.DECISION), by_kind[ItemKind.FACT]
    drafts = [ItemDraft(fact.item_id, None, f"{fact.text}, all happy", (topic,), newest)]
    supersedes = (decision.item_id,) if decision is not None else ()
    return [*drafts, ItemDraft(None, ItemKind.DECISION, "Launch on Nov 17", (topic,), newest, supersedes)]


async def evolved_twice() -> GroupWorld:
    world = GroupWorld(distiller=ScriptedDistiller(revise))
    for start in (0, 10):
        await world.chat(messages(10, start=start))
        world.clock.advance(timedelta(hours=1))
        await world.evolver.evolve("g1")
    return world


async def test_a_rollback_restores_an_earlier_version_as_a_new_revision_and_erases_nothing() -> None:
    world = await evolved_twice()
    first = await world.store.group_memory_at("g1", 1)
    world.clock.advance(timedelta(minutes=5))
    revision = await world.rollback.rollback("g1", 1)
    assert (revision.revision, revision.action, revision.model) == (3, RevisionAction.ROLLBACK, "rollback")
    assert revision.diff["restored_from"] == 1
    memory = await world.store.get_group_memory("g1")
    assert (memory.version, memory.topic_version) == (3, 2)  # the topics already read stay read
    restored = {(item.item_id, item.text, item.valid_from) for item in memory.items}
    assert restored == {(item.item_id, item.text, item.valid_from) for item in first.items}
    assert all(item.updated_at == world.clock.now() for item in memory.items)
    # The decision of revision 2 is superseded now, and revision 2 itself can still be read.
    everything = await world.store.get_group_memory("g1", include_superseded=True)
    [later] = [i for i in everything.items if i.text == "Launch on Nov 17"]
    assert later.invalid_at == world.clock.now() and later.item_id in revision.diff["superseded"]
    assert {i.text for i in (await world.store.group_memory_at("g1", 2)).items} == {
        "Launch on Nov 17",
        "23 beta customers, all happy",
    }
    assert [r.revision for r in await world.store.list_group_memory_revisions("g1", 10)] == [3, 2, 1]


async def test_a_rollback_can_itself_be_rolled_back_and_evolution_goes_on_after_it() -> None:
    world = await evolved_twice()
    second = {(i.item_id, i.text) for i in (await world.store.group_memory_at("g1", 2)).items}
    await world.rollback.rollback("g1", 1)
    await world.rollback.rollback("g1", 2)
    assert {(i.item_id, i.text) for i in (await world.store.get_group_memory("g1")).items} == second
    await world.rollback.rollback("g1", 0)
    assert (await world.store.get_group_memory("g1")).items == ()
    await world.chat(messages(10, start=20))
    outcome = await world.evolver.evolve("g1")
    assert outcome.revision == 6 and len((await world.store.get_group_memory("g1")).items) == 2


@pytest.mark.parametrize("to_revision", [2, 3, -1])
async def test_a_rollback_to_the_current_or_an_unknown_revision_is_refused(to_revision: int) -> None:
    world = await evolved_twice()
    with pytest.raises(InvalidRollback, match="between 0 and 1"):
        await world.rollback.rollback("g1", to_revision)
    assert (await world.store.get_group_memory("g1")).version == 2


async def test_the_history_mixes_topic_and_group_memory_revisions_newest_first() -> None:
    world = await evolved_twice()
    await world.rollback.rollback("g1", 1)
    queries = MemoryQueries(world.world.store, world.store)
    timeline = await queries.timeline("g1")
    assert [(e.kind, e.revision, e.action) for e in timeline] == [
        ("group_memory", 3, "rollback"),
        ("group_memory", 2, "evolve"),
        ("topics", 2, "update"),
        ("group_memory", 1, "evolve"),
        ("topics", 1, "update"),
    ]
    assert timeline[1].message_ids == tuple(f"m{i:04d}" for i in range(10, 20))
    assert (timeline[1].model, timeline[1].prompt_tokens) == ("scripted", 100)
    assert [e.revision for e in await queries.timeline("g1", limit=2)] == [3, 2]


async def test_show_holds_the_group_memory_and_its_last_error_until_a_later_success() -> None:
    world = await evolved_twice()
    queries = MemoryQueries(world.world.store, world.store)
    view = await queries.show("g1")
    assert view.group_memory is not None and view.group_memory.version == 2
    assert len(view.group_memory.items) == 2 and view.last_evolution_failure is None
    superseded = await queries.show("g1", include_superseded=True)
    assert superseded.group_memory is not None and len(superseded.group_memory.items) == 3
    await world.chat(messages(10, start=20))
    world.distiller = ScriptedDistiller(lambda i: [])
    world.rewire()
    with pytest.raises(Exception, match="no items"):
        await world.evolver.evolve("g1")
    failed = await queries.show("g1")
    assert failed.last_evolution_failure is not None and "no items" in failed.last_evolution_failure.error
    assert (await MemoryQueries(world.world.store).show("g1")).group_memory is None


async def test_a_rollback_after_a_failed_evolution_does_not_hide_its_error() -> None:
    world = await evolved_twice()
    queries = MemoryQueries(world.world.store, world.store)
    await world.chat(messages(10, start=20))
    world.distiller = ScriptedDistiller(lambda i: [])
    world.rewire()
    with pytest.raises(Exception, match="no items"):
        await world.evolver.evolve("g1")
    world.clock.advance(timedelta(minutes=5))
    await world.rollback.rollback("g1", 1)  # the evolution is still failing: the error stays
    view = await queries.show("g1")
    assert view.last_evolution_failure is not None and "no items" in view.last_evolution_failure.error
    world.clock.advance(timedelta(minutes=5))
    world.distiller = ScriptedDistiller()
    world.rewire()
    await world.evolver.evolve("g1")  # an evolution that works again clears it
    assert (await queries.show("g1")).last_evolution_failure is None
