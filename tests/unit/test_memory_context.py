"""The memory context of a reply prompt: most relevant first, never over its character budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_domain.group_model import DistillInput, ItemDraft, ItemKind
from memory_domain.memory_context import ITEMS_HEADING, MESSAGES_HEADING, TOPICS_HEADING, MemoryContext
from tests.support.group_world import GroupWorld, ScriptedDistiller
from tests.support.world import START, message

ITEMS = [
    (ItemKind.DECISION, "订单库本周六 23:00 从 MySQL 切到 PostgreSQL", 6),
    (ItemKind.PREFERENCE, "Alice: I prefer the Sunday hike over Saturday", 2),
    (ItemKind.FACT, "The staging import took 3 hours 40 minutes", 1),
    (ItemKind.OPEN_QUESTION, "Bob: who books the restaurant for Friday?", 1),
]


async def remembered_world() -> GroupWorld:
    """A group with four items of group memory and one active topic."""

    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        ids = [m.message_id for m in distil_input.messages]
        return [ItemDraft(None, kind, text, (topic.topic_id,), tuple(ids[:n])) for kind, text, n in ITEMS]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat([message(f"m{i}", content=f"migration step {i}", minutes=i) for i in range(10)])
    world.clock.advance(timedelta(hours=1))
    await world.evolver.evolve("g1")
    return world


async def test_the_context_holds_group_memory_and_topics_as_data_and_as_text() -> None:
    world = await remembered_world()
    context = await world.context.context("g1", 5_000)
    assert len(context.items) == 4 and len(context.topics) == 1
    assert (context.omitted, context.truncated) == (0, False)
    assert (context.group_memory_version, context.topic_version) == (1, 1)
    assert context.text.startswith(
        ITEMS_HEADING + "\n- [decision] 订单库本周六 23:00 从 MySQL 切到 PostgreSQL"
    )
    assert f"\n\n{TOPICS_HEADING}\n- Everything: " in context.text
    assert "- [open question] Bob: who books the restaurant for Friday?" in context.text


async def test_without_a_query_well_supported_and_recent_entries_come_first() -> None:
    world = await remembered_world()
    context = await world.context.context("g1", 5_000)
    # Written together: the decision, backed by the most messages, leads; the fact trails.
    assert context.items[0].kind is ItemKind.DECISION
    old_fact = next(i for i in context.items if i.kind is ItemKind.FACT)
    world.clock.advance(timedelta(days=30))

    def one_more_fact(distil_input: DistillInput) -> list[ItemDraft]:
        kept = [ItemDraft(item.item_id, None, None) for item in distil_input.items]
        topic, newest = distil_input.topics[0], distil_input.messages[-1]
        return [
            *kept,
            ItemDraft(None, ItemKind.FACT, "A fresh fact", (topic.topic_id,), (newest.message_id,)),
        ]

    world.distiller = ScriptedDistiller(one_more_fact)
    world.rewire()
    await world.chat([message("m99", content="migration step 99", minutes=30 * 24 * 60)])
    await world.evolver.evolve("g1")
    later = [i.item_id for i in (await world.context.context("g1", 5_000)).items]
    fresh = next(i for i in (await world.store.get_group_memory("g1")).items if i.text == "A fresh fact")
    # As well supported as the old fact, and a month younger: ahead of it, and of the aged decision.
    assert later.index(fresh.item_id) < later.index(old_fact.item_id)
    assert later[0] == fresh.item_id


async def test_a_query_brings_the_matching_entries_first_in_any_language() -> None:
    world = await remembered_world()
    english = await world.context.context("g1", 5_000, query="which day is the hike?")
    assert english.items[0].kind is ItemKind.PREFERENCE
    chinese = await world.context.context("g1", 5_000, query="什么时候切到PostgreSQL")
    assert chinese.items[0].kind is ItemKind.DECISION
    restaurant = await world.context.context("g1", 5_000, query="restaurant on Friday")
    assert restaurant.items[0].kind is ItemKind.OPEN_QUESTION


async def test_an_entry_matching_more_query_terms_comes_first_however_old_and_thin() -> None:
    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic, ids = distil_input.topics[0], [m.message_id for m in distil_input.messages]
        if not distil_input.items:
            return [ItemDraft(None, ItemKind.FACT, "数据库切换时", (topic.topic_id,), tuple(ids[:1]))]
        kept = [ItemDraft(item.item_id, None, None) for item in distil_input.items]
        return [*kept, ItemDraft(None, ItemKind.DECISION, "数据库切换", (topic.topic_id,), tuple(ids))]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat([message(f"m{i}", content=f"migration step {i}", minutes=i) for i in range(10)])
    await world.evolver.evolve("g1")
    world.clock.advance(timedelta(days=60))
    await world.chat([message(f"n{i}", content=f"step {i}", minutes=60 * 24 * 60 + i) for i in range(50)])
    await world.evolver.evolve("g1")
    # Eight query terms: the old, thin fact holds five, the fresh, well-supported decision three.
    context = await world.context.context("g1", 5_000, query="数据库切换时间安排")
    assert [item.text for item in context.items] == ["数据库切换时", "数据库切换"]


async def test_a_small_budget_keeps_the_most_relevant_entries_and_cuts_the_last() -> None:
    world = await remembered_world()
    query = "Sunday hike restaurant Friday"
    full = await world.context.context("g1", 5_000, query=query)
    assert {item.kind for item in full.items} == {ItemKind.PREFERENCE, ItemKind.OPEN_QUESTION}
    first_line_end = full.text.index("\n", len(ITEMS_HEADING) + 1)
    exact = await world.context.context("g1", first_line_end, query=query)
    assert exact.text == full.text[:first_line_end] and len(exact.items) == 1 and not exact.truncated
    assert exact.omitted == len(full.entries) - 1 + full.omitted
    cut = await world.context.context("g1", first_line_end + 30, query=query)
    assert cut.truncated and cut.text.endswith("…") and len(cut.text) <= first_line_end + 30
    assert len(cut.items) == 2
    assert (await world.context.context("g1", 10)).text == ""  # not even a heading fits


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(min_value=0, max_value=900),
    query=st.sampled_from([None, "hike", "切库", "zzz", "migration step 3", "数据库 migration"]),
)
def test_the_budget_is_never_exceeded(budget: int, query: str | None) -> None:
    import asyncio

    async def run() -> MemoryContext:
        world = await remembered_world()
        return await world.context.context("g1", budget, query=query)

    context = asyncio.run(run())
    assert len(context.text) <= budget
    assert len(context.entries) == len(context.items) + len(context.topics) + len(context.messages)
    if context.text:
        assert context.text.startswith((ITEMS_HEADING, TOPICS_HEADING, MESSAGES_HEADING))


async def test_messages_that_match_come_with_who_said_them_under_the_day_they_were_said() -> None:
    world = GroupWorld()
    await world.chat(
        [
            message("m1", content="I went to the pottery class yesterday", sender="melanie"),
            message("m2", content="What did you make there?", sender="caroline", minutes=1),
            message("m3", content="A bowl with a sunflower painted on it", sender="melanie", minutes=2),
            message("m4", content="Completely unrelated chatter about trains", sender="bob", minutes=3),
        ]
    )
    context = await world.context.context("g1", 2_000, query="When did Melanie go to the pottery class?")
    assert context.messages[0].message_id == "m1"
    assert "m4" not in {m.message_id for m in context.messages}
    day = f"[{START.day} {START.strftime('%B')} {START.year}]"
    # "yesterday" is resolved against the day it was said: a reader months later needs the day.
    yesterday = START - timedelta(days=1)
    assert (
        f"{MESSAGES_HEADING}\n{day}\nMelanie: I went to the pottery class yesterday "
        f"[{yesterday.day} {yesterday.strftime('%B')} {yesterday.year}]"
    ) in context.text
    entry = next(e for e in context.entries if e.key == "m1")
    assert (entry.kind, entry.speakers) == ("message", ("Melanie",))
    assert entry.dates == (START.date().isoformat(), yesterday.date().isoformat())


async def test_a_chinese_chat_gets_its_days_written_the_chinese_way() -> None:
    world = GroupWorld()
    await world.chat(
        [
            message("m1", content="数据库迁移定在周六晚上十一点", sender="xiaowang"),
            message("m2", content="好的，我来准备回滚脚本", sender="laoli", minutes=1),
        ]
    )
    context = await world.context.context("g1", 500, query="数据库什么时候迁移？")
    assert f"[{START.year}年{START.month}月{START.day}日]" in context.text
    assert context.messages[0].message_id == "m1"


async def test_the_same_call_gives_the_same_context() -> None:
    world = await remembered_world()
    for query in (None, "migration step", "hike"):
        first = await world.context.context("g1", 700, query=query)
        second = await world.context.context("g1", 700, query=query)
        assert first.text == second.text and first.entries == second.entries


async def test_without_a_query_the_latest_messages_fill_what_memory_leaves() -> None:
    world = await remembered_world()
    context = await world.context.context("g1", 5_000)
    assert len(context.items) == 4
    assert context.messages[0].message_id == "m9"  # the latest first; the text reads oldest first
    assert context.text.index(ITEMS_HEADING) < context.text.index(MESSAGES_HEADING)


async def test_a_group_without_memory_has_an_empty_context_and_bad_arguments_are_refused() -> None:
    world = GroupWorld()
    empty = await world.context.context("nobody", 1_000)
    assert (empty.text, empty.items, empty.topics, empty.group_memory_version) == ("", (), (), 0)
    with pytest.raises(ValueError, match="budget_chars"):
        await world.context.context("g1", -1)
    with pytest.raises(ValueError, match="group_id"):
        await world.context.context("bad group!", 100)


async def test_an_item_and_the_one_message_it_restates_are_not_both_spent() -> None:
    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        source = next(m for m in distil_input.messages if m.message_id == "m1")
        return [ItemDraft(None, ItemKind.FACT, f"Melanie: {source.content}", (topic.topic_id,), ("m1",))]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat(
        [
            message("m1", content="I finished a painting of a lake sunrise", sender="melanie"),
            message("m2", content="The lake sunrise painting looks calm", sender="caroline", minutes=1),
        ]
    )
    await world.evolver.evolve("g1")
    context = await world.context.context("g1", 2_000, query="lake sunrise painting")
    kinds = {(entry.kind, entry.message_ids) for entry in context.entries}
    assert ("message", ("m2",)) in kinds
    assert sum(1 for kind, ids in kinds if ids == ("m1",)) == 1  # the item or m1, never both


async def test_an_embedder_brings_up_an_item_that_shares_no_word_with_the_query() -> None:
    from adapters.in_memory.embedder import InMemoryEmbedder
    from memory_domain.errors import ModelError
    from memory_domain.memory_context import MemoryContextReader

    def answer(distil_input: DistillInput) -> list[ItemDraft]:
        topic = distil_input.topics[0]
        return [ItemDraft(None, ItemKind.PREFERENCE, "Melanie loves painting", (topic.topic_id,), ("m1",))]

    world = GroupWorld(distiller=ScriptedDistiller(answer))
    await world.chat([message("m1", content="I bought new brushes", sender="melanie")])
    await world.evolver.evolve("g1")
    lexical = await world.context.context("g1", 2_000, query="painter?")
    assert lexical.items == ()  # "painter" and "painting" are not one stem to BM25
    embedder = InMemoryEmbedder()
    semantic = MemoryContextReader(
        world.world.store, world.store, world.world.store.search_index, world.clock, embedder=embedder
    )
    found = await semantic.context("g1", 2_000, query="painter?")
    assert [item.text for item in found.items] == ["Melanie loves painting"]
    embedder.fail_with(ModelError("the embeddings server is down"))
    fallback = await semantic.context("g1", 2_000, query="painter?")
    assert fallback.text == lexical.text  # a failing embedder never fails the reply
    embedder.fail_with(None)
    asked = len(embedder.requests)
    paused = await semantic.context("g1", 2_000, query="painter?")
    # After a failure the next replies do not wait on the server: it is not asked for a while.
    assert paused.text == lexical.text and len(embedder.requests) == asked


async def test_the_entries_hold_no_more_than_the_text_and_a_query_must_be_text() -> None:
    world = GroupWorld()
    await world.chat([message("m1", content="lake " * 3_000, sender="melanie")])
    context = await world.context.context("g1", 120, query="lake")
    assert len(context.text) <= 120
    assert sum(len(entry.text) for entry in context.entries) <= 120
    assert context.truncated and context.entries[0].text.endswith("…")
    for bad in (5, b"lake", ["lake"]):
        with pytest.raises(ValueError, match="query must be a string"):
            await world.context.context("g1", 120, query=bad)  # type: ignore[arg-type]
