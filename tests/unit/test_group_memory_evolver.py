"""Evolving group memory on the in-memory adapters: provenance, supersession, validity, the guards."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.llm.offline_distill import OfflineMemoryDistiller
from memory_domain.errors import InvalidDistillation, LeaseLost
from memory_domain.group_memory import EvolverOptions, MemoryEvolver
from memory_domain.group_model import (
    Distillation,
    DistillInput,
    EvolutionStatus,
    GroupMemoryRevision,
    ItemDraft,
    ItemKind,
    RevisionAction,
)
from tests.support.group_world import GroupWorld, Retiring, ScriptedDistiller
from tests.support.world import START, message, messages


def decision(
    text: str, topic_id: str, message_ids: tuple[str, ...], supersedes: tuple[str, ...] = ()
) -> ItemDraft:
    return ItemDraft(None, ItemKind.DECISION, text, (topic_id,), message_ids, supersedes)


async def test_an_evolution_distils_the_changed_topics_into_items_with_provenance_and_a_revision() -> None:
    world = GroupWorld()
    await world.chat(messages(12))
    world.clock.advance(timedelta(hours=1))
    outcome = await world.evolver.evolve("g1")
    assert (outcome.status, outcome.revision, outcome.added) == (EvolutionStatus.EVOLVED, 1, 1)
    memory = await world.store.get_group_memory("g1")
    [topic] = (await world.world.store.get_topic_memory("g1")).topics
    [item] = memory.items
    assert (memory.version, memory.topic_version) == (1, 1)
    assert (item.kind, item.topic_ids, item.message_ids) == (
        ItemKind.FACT,
        (topic.topic_id,),
        ("m0000", "m0001"),
    )
    # Valid from the newest message it came from; written now.
    assert item.valid_from == START + timedelta(minutes=1) and item.updated_at == world.clock.now()
    assert item.invalid_at is None and item.live
    [revision] = await world.store.list_group_memory_revisions("g1", 10)
    assert (revision.action, revision.topic_version, revision.model) == (RevisionAction.EVOLVE, 1, "scripted")
    assert (revision.prompt_tokens, revision.completion_tokens) == (100, 10)
    assert revision.topic_ids == (topic.topic_id,) and len(revision.message_ids) == 12
    assert revision.diff["added"] == [item.item_id]


async def test_only_topics_changed_since_the_last_evolution_are_read_and_none_means_no_revision() -> None:
    distiller = ScriptedDistiller()
    world = GroupWorld(distiller=distiller)
    await world.chat(messages(10))
    await world.evolver.evolve("g1")
    assert (await world.evolver.evolve("g1")).status is EvolutionStatus.UNCHANGED
    assert len(distiller.calls) == 1
    await world.chat(messages(10, start=10))
    await world.evolver.evolve("g1")
    second = distiller.calls[-1]
    assert [m.message_id for m in second.messages] == [f"m{i:04d}" for i in range(10, 20)]
    assert len(second.items) == 1  # the live item of the first evolution
    assert [r.revision for r in await world.store.list_group_memory_revisions("g1", 10)] == [2, 1]


async def test_a_superseded_item_keeps_its_row_with_invalid_at_and_its_successor() -> None:
    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        last = distil_input.messages[-1].message_id
        if not distil_input.items:
            return [decision("Release on Friday", topic.topic_id, (last,))]
        [old] = distil_input.items
        return [decision("Release on Saturday", topic.topic_id, (last,), supersedes=(old.item_id,))]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat(messages(10))
    await world.evolver.evolve("g1")
    [friday] = (await world.store.get_group_memory("g1")).items
    world.clock.advance(timedelta(days=1))
    await world.chat(messages(10, start=10))
    outcome = await world.evolver.evolve("g1")
    assert (outcome.added, outcome.superseded) == (1, 1)
    [saturday] = (await world.store.get_group_memory("g1")).items
    everything = (await world.store.get_group_memory("g1", include_superseded=True)).items
    [old] = [item for item in everything if item.item_id == friday.item_id]
    assert saturday.text == "Release on Saturday" and saturday.valid_from == START + timedelta(minutes=19)
    # The old decision stopped being true when its successor became true.
    assert (old.invalid_at, old.superseded_by) == (saturday.valid_from, saturday.item_id)
    assert (old.text, old.valid_from) == (friday.text, friday.valid_from)
    assert (await world.store.group_memory_at("g1", 1)).items == (friday,)
    [revision, _] = await world.store.list_group_memory_revisions("g1", 10)
    assert revision.diff["superseded_by"] == {friday.item_id: saturday.item_id}


async def test_a_kept_item_keeps_its_id_and_validity_and_gains_the_new_provenance() -> None:
    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        first = distil_input.messages[0].message_id
        if not distil_input.items:
            return [ItemDraft(None, ItemKind.PREFERENCE, "Alice likes tea", (topic.topic_id,), (first,))]
        [item] = distil_input.items
        return [ItemDraft(item.item_id, None, "Alice likes green tea", (topic.topic_id,), (first,))]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat(messages(10))
    await world.evolver.evolve("g1")
    [before] = (await world.store.get_group_memory("g1")).items
    world.clock.advance(timedelta(hours=3))
    await world.chat(messages(10, start=10))
    outcome = await world.evolver.evolve("g1")
    [after] = (await world.store.get_group_memory("g1")).items
    assert (outcome.updated, outcome.superseded) == (1, 0)
    assert (after.item_id, after.kind, after.valid_from) == (before.item_id, before.kind, before.valid_from)
    assert after.text == "Alice likes green tea" and after.message_ids == ("m0000", "m0010")
    assert after.updated_at == world.clock.now()
    assert (await world.store.group_memory_at("g1", 1)).items == (before,)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        pytest.param(lambda i: [], "no items", id="empty"),
        pytest.param(
            lambda i: Retiring([ItemDraft(i.items[0].item_id, None, None)], [t.item_id for t in i.items[1:]]),
            "supersede 3 and rewrite 0 of 4",
            id="most",
        ),
        pytest.param(
            # Keeping every id but rewriting every text wipes the memory as surely.
            lambda i: [
                ItemDraft(t.item_id, None, f"rewritten entirely, number {n}") for n, t in enumerate(i.items)
            ],
            "rewrite 4 of 4",
            id="rewrite-all",
        ),
        pytest.param(
            lambda i: Retiring(
                [
                    ItemDraft(t.item_id, None, f"rewritten entirely, number {n}")
                    for n, t in enumerate(i.items[:2])
                ],
                [i.items[3].item_id],
            ),
            "supersede 1 and rewrite 2 of 4",
            id="retire-and-rewrite",
        ),
        pytest.param(lambda i: [ItemDraft("ghost", None, None)], "not a live item", id="unknown-id"),
        pytest.param(
            lambda i: [ItemDraft(None, ItemKind.FACT, "x", ("no-such-topic",))], "not one of", id="topic"
        ),
        pytest.param(
            lambda i: [ItemDraft(i.items[0].item_id, ItemKind.DECISION, None)], "keeps its kind", id="kind"
        ),
        pytest.param(
            lambda i: [ItemDraft(None, ItemKind.FACT, "  ", (i.topics[0].topic_id,))], "empty", id="blank"
        ),
    ],
)
async def test_a_degenerate_or_invalid_answer_is_refused_and_the_memory_is_untouched(answer, problem) -> None:  # type: ignore[no-untyped-def]
    world = GroupWorld()
    await world.chat(messages(10))

    def four_facts(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        return [ItemDraft(None, ItemKind.FACT, f"fact {n}", (topic.topic_id,)) for n in range(4)]

    world.distiller = ScriptedDistiller(four_facts)
    world.rewire()
    await world.evolver.evolve("g1")
    before = await world.store.get_group_memory("g1", include_superseded=True)
    await world.chat(messages(10, start=10))
    world.distiller = ScriptedDistiller(answer)
    world.rewire()
    with pytest.raises(InvalidDistillation, match=problem):
        await world.evolver.evolve("g1")
    assert await world.store.get_group_memory("g1", include_superseded=True) == before
    failure = await world.store.last_evolution_failure("g1")
    assert failure is not None and problem.split()[0] in failure.error


async def test_superseding_half_of_the_items_is_allowed_and_a_lone_item_may_be_replaced() -> None:
    counts = iter([4, 2, 1])

    def answer(distil_input: DistillInput) -> Retiring:
        topic = distil_input.topics[0]
        keep = next(counts)
        kept = [ItemDraft(item.item_id, None, None) for item in distil_input.items[:keep]]
        retired = [item.item_id for item in distil_input.items[keep:]]
        new = [ItemDraft(None, ItemKind.FACT, f"fact {n}", (topic.topic_id,)) for n in range(4)]
        return Retiring(kept or new, retired)

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    for start in (0, 10, 20):
        await world.chat(messages(10, start=start))
        await world.evolver.evolve("g1")
    live = (await world.store.get_group_memory("g1")).items
    assert len(live) == 1  # 4 facts, then 2 of them kept (2 superseded), then 1 of 2 kept
    await world.chat(messages(10, start=30))
    world.distiller = ScriptedDistiller(
        lambda i: [decision("the lone item replaced", i.topics[0].topic_id, (), (i.items[0].item_id,))]
    )
    world.rewire()
    assert (await world.evolver.evolve("g1")).superseded == 1


async def test_a_live_item_the_answer_leaves_out_without_naming_it_is_kept_unchanged() -> None:
    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        if not distil_input.items:
            return [ItemDraft(None, ItemKind.FACT, f"fact {n}", (topic.topic_id,)) for n in range(4)]
        # A model that forgot to repeat three of the four items, and added one.
        return [ItemDraft(distil_input.items[0].item_id, None, None), decision("ship", topic.topic_id, ())]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat(messages(10))
    await world.evolver.evolve("g1")
    before = (await world.store.get_group_memory("g1")).items
    await world.chat(messages(10, start=10))
    outcome = await world.evolver.evolve("g1")
    after = (await world.store.get_group_memory("g1")).items
    assert (outcome.added, outcome.updated, outcome.superseded) == (1, 0, 0)
    assert set(before) < set(after) and len(after) == 5
    [revision, _] = await world.store.list_group_memory_revisions("g1", 10)
    assert revision.diff["superseded"] == []


async def test_a_busy_group_is_not_evolved_twice_at_once() -> None:
    world = GroupWorld()
    await world.chat(messages(10))
    assert await world.leases.acquire("g1", "another-worker", 30)
    assert (await world.evolver.evolve("g1")).status is EvolutionStatus.BUSY
    assert (await world.store.get_group_memory("g1")).version == 0


async def test_a_commit_on_a_stale_version_is_redone_on_the_fresh_memory() -> None:
    world = GroupWorld()
    await world.chat(messages(10))
    calls = 0

    def racing(distil_input: DistillInput) -> list[ItemDraft]:
        nonlocal calls
        calls += 1
        return [ItemDraft(None, ItemKind.FACT, f"answer {calls}", (distil_input.topics[0].topic_id,))]

    world.distiller = ScriptedDistiller(racing)
    world.rewire()
    original = world.store.commit_group_memory
    raced = False

    async def rival_commits_first(group_id, expected, items, revision: GroupMemoryRevision) -> None:  # type: ignore[no-untyped-def]
        nonlocal raced
        if not raced:
            raced = True
            rival = GroupMemoryRevision(
                group_id, 1, revision.created_at, RevisionAction.ROLLBACK, 0, (), (), "rival", 0, 0, 0, {}
            )
            await original(group_id, 0, [], rival)
        await original(group_id, expected, items, revision)

    world.store.commit_group_memory = rival_commits_first  # type: ignore[method-assign]
    outcome = await world.evolver.evolve("g1")
    assert (outcome.status, outcome.revision, calls) == (EvolutionStatus.EVOLVED, 2, 2)
    assert [i.text for i in (await world.store.get_group_memory("g1")).items] == ["answer 2"]
    # The revision counts the tokens of both model calls, the one whose commit was stale too.
    [revision, _] = await world.store.list_group_memory_revisions("g1", 10)
    assert (revision.prompt_tokens, revision.completion_tokens) == (200, 20)


async def test_an_evolution_that_lost_its_lease_does_not_commit() -> None:
    world = GroupWorld()
    await world.chat(messages(10))

    class TakenOverMeanwhile(ScriptedDistiller):
        async def distil(self, distil_input: DistillInput) -> Distillation:
            # Another worker took the group over while the model was thinking.
            world.leases.leases["g1"] = ("another-worker", world.clock.now() + timedelta(hours=1))
            await asyncio.sleep(0.1)  # the heartbeat (every 10 ms here) notices
            return await super().distil(distil_input)

    evolver = MemoryEvolver(
        world.store,
        world.leases,
        TakenOverMeanwhile(),
        world.clock,
        world.ids,
        EvolverOptions(lease_seconds=0.03),
    )
    with pytest.raises(LeaseLost):
        await evolver.evolve("g1")
    assert (await world.store.get_group_memory("g1")).version == 0


async def test_topics_beyond_topic_limit_in_one_revision_are_read_by_the_follow_up_evolution() -> None:
    from memory_domain.model import Topic, TopicRevision, TopicStatus

    world = GroupWorld()
    await world.world.record(messages(1))
    at = world.clock.now()
    topics = [
        Topic(f"t{n}", f"topic {n}", "summary", ("m0000",), at, at + timedelta(minutes=n), status)
        for n, status in enumerate(
            [TopicStatus.ACTIVE, TopicStatus.ARCHIVED, TopicStatus.ARCHIVED, TopicStatus.ACTIVE]
        )
    ]
    revision = TopicRevision("g1", 1, at, ("m0000",), "test", 0, 0, 0)
    await world.world.store.commit_topic_update("g1", 0, topics, revision)
    distiller = ScriptedDistiller()
    evolver = MemoryEvolver(
        world.store, world.leases, distiller, world.clock, world.ids, EvolverOptions(topic_limit=3)
    )
    first = await evolver.evolve("g1")
    # The active ones first, then by id; the reader sees the active ones, then the newest.
    assert [t.topic_id for t in distiller.calls[0].topics] == ["t3", "t0", "t1"]
    assert first.more and (await world.store.get_group_memory("g1")).topic_version == 0
    # A rollback in between keeps the place reached inside the revision.
    await world.rollback.rollback("g1", 0)
    second = await evolver.evolve("g1")
    assert [t.topic_id for t in distiller.calls[1].topics] == ["t2"] and not second.more
    assert (await world.store.get_group_memory("g1")).topic_version == 1
    assert (await evolver.evolve("g1")).status is EvolutionStatus.UNCHANGED


async def test_topics_beyond_topic_limit_are_read_revision_by_revision_and_none_is_lost() -> None:
    from memory_domain.model import Topic, TopicRevision

    world = GroupWorld()
    await world.world.record(messages(5))
    at = world.clock.now()
    # Revision 3 writes t0 again: it is read with revision 3, not 1.
    writes = {1: ["t0", "t1"], 2: ["t2"], 3: ["t0", "t3"], 4: ["t4"]}
    for number, topic_ids in writes.items():
        message_id = f"m{number:04d}"
        topics = [Topic(t, t, "summary", (message_id,), at, at) for t in topic_ids]
        revision = TopicRevision("g1", number, at, (message_id,), "test", 0, 0, 0)
        await world.world.store.commit_topic_update("g1", number - 1, topics, revision)
    distiller = ScriptedDistiller()
    evolver = MemoryEvolver(
        world.store, world.leases, distiller, world.clock, world.ids, EvolverOptions(topic_limit=2)
    )
    outcomes = [await evolver.evolve("g1")]
    while outcomes[-1].more:
        outcomes.append(await evolver.evolve("g1"))
    assert [sorted(t.topic_id for t in call.topics) for call in distiller.calls] == [
        ["t1", "t2"],
        ["t0", "t3"],
        ["t4"],
    ]
    assert [[m.message_id for m in call.messages] for call in distiller.calls] == [
        ["m0001", "m0002"],
        ["m0003"],
        ["m0004"],
    ]
    revisions = await world.store.list_group_memory_revisions("g1", 10)
    assert [r.topic_version for r in revisions] == [4, 3, 2]


async def test_a_new_group_with_nothing_worth_remembering_evolves_to_an_empty_memory_and_moves_on() -> None:
    # An empty answer ends nothing when nothing is live: the topics are read, and not again.
    world = GroupWorld(distiller=ScriptedDistiller(lambda i: []))
    await world.chat(messages(10))
    outcome = await world.evolver.evolve("g1")
    assert (outcome.status, outcome.added) == (EvolutionStatus.EVOLVED, 0)
    memory = await world.store.get_group_memory("g1")
    assert (memory.version, memory.topic_version, memory.items) == (1, 1, ())
    assert (await world.evolver.evolve("g1")).status is EvolutionStatus.UNCHANGED


async def test_an_empty_answer_may_end_the_only_live_item_but_not_leave_items_unlisted() -> None:
    def one_question(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        return [ItemDraft(None, ItemKind.OPEN_QUESTION, "Ann asked: who pays?", (topic.topic_id,))]

    world = GroupWorld(distiller=ScriptedDistiller(one_question))
    await world.chat(messages(10))
    await world.evolver.evolve("g1")
    [question] = (await world.store.get_group_memory("g1")).items
    await world.chat(messages(10, start=10))
    world.distiller = ScriptedDistiller(lambda i: Retiring([], [question.item_id]))
    world.rewire()
    assert (await world.evolver.evolve("g1")).superseded == 1
    assert (await world.store.get_group_memory("g1")).items == ()


async def test_the_offline_distiller_keeps_nothing_of_a_chat_of_greetings_and_thanks() -> None:
    world = GroupWorld(distiller=OfflineMemoryDistiller())
    chatter = ["hi all", "大家好", "thanks!", "谢谢", "ok", "好的", "lol", "Hey Bob! Good to see you!"]
    await world.chat(
        [message(f"c{n}", content=text, sender=f"u{n % 3}", minutes=n) for n, text in enumerate(chatter)]
    )
    assert (await world.evolver.evolve("g1")).added == 0
    await world.chat(
        [message("s1", content="I moved to Lisbon last month for the new job.", sender="ann", minutes=20)]
    )
    world.clock.advance(timedelta(hours=1))
    await world.evolver.evolve("g1")
    [item] = (await world.store.get_group_memory("g1")).items
    assert (
        item.text
        == "Ann said on 2 November 2026: I moved to Lisbon last month [October 2026] for the new job."
    )
