"""The offline distiller: deterministic, extractive, language kept, and always a valid answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.llm.offline_distill import OfflineMemoryDistiller
from memory_domain.evolution_rules import validate_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft, ItemKind, MemoryItem
from memory_domain.model import ChatMessage, Role, Topic
from tests.support.group_world import offline_world

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CJK = ("\u4e00", "\u9fff")


def say(message_id: str, sender: str, content: str, minute: int, reply_to: str | None = None) -> ChatMessage:
    return ChatMessage(
        message_id=message_id,
        group_id="g1",
        sender_id=sender,
        sender_name=sender,
        role=Role.USER,
        content=content,
        sent_at=T0 + timedelta(minutes=minute),
        reply_to=reply_to,
    )


def topic_of(messages: list[ChatMessage], summary: str, topic_id: str = "t1") -> Topic:
    return Topic(
        topic_id, "title", summary, tuple(m.message_id for m in messages), T0, T0 + timedelta(hours=1)
    )


def remembered(
    item_id: str, kind: ItemKind, text: str, message_ids: tuple[str, ...] = ("old",)
) -> MemoryItem:
    return MemoryItem(
        item_id, kind, text, ("t1",), message_ids, T0 - timedelta(days=1), T0 - timedelta(days=1)
    )


HIKE = [
    say("m1", "小王", "周六去香山还是去植物园？", 0),
    say("m2", "小李", "去香山吧，我更喜欢爬山", 1),
    say("m3", "小张", "同意", 2),
    say("m4", "小赵", "+1", 3),
    say("m5", "小王", "那就这么定了，周六早上8点在西门集合", 4),
    say("m6", "小李", "要带午饭吗？", 5),
]


async def distil(
    messages: list[ChatMessage], items: tuple[MemoryItem, ...] = (), summary: str = "", order: int = 1
) -> Distillation:
    summary = summary or "周六去香山爬山，早上8点在西门集合。"
    distil_input = DistillInput("g1", items, (topic_of(messages, summary),), tuple(messages[::order]))
    answer = await OfflineMemoryDistiller().distil(distil_input)
    validate_distillation(distil_input, answer)
    return answer


def new_items(answer: Distillation) -> dict[ItemKind, list[ItemDraft]]:
    found: dict[ItemKind, list[ItemDraft]] = {}
    for draft in answer.items:
        if draft.item_id is None and draft.kind is not None:
            found.setdefault(draft.kind, []).append(draft)
    return found


async def test_a_chinese_chat_gives_chinese_decisions_preferences_consensus_and_open_questions() -> None:
    found = new_items(await distil(HIKE))
    assert [d.text for d in found[ItemKind.DECISION]] == [
        "小王于2026年11月2日说：那就这么定了，周六早上8点在西门集合"
    ]
    assert [d.text for d in found[ItemKind.PREFERENCE]] == ["小李于2026年11月2日说：去香山吧，我更喜欢爬山"]
    [consensus] = found[ItemKind.CONSENSUS]
    assert consensus.text == "小李于2026年11月2日说：去香山吧，我更喜欢爬山（小张、小赵同意）"
    assert consensus.message_ids == ("m2", "m3", "m4")
    # The first question was answered (others spoke after it); the last one was not.
    assert [d.text for d in found[ItemKind.OPEN_QUESTION]] == ["小李于2026年11月2日问：要带午饭吗？"]
    # Every message is in an item already (or is a question): no fact repeats them.
    assert ItemKind.FACT not in found
    for drafts in found.values():
        for draft in drafts:
            assert draft.text is not None and any(CJK[0] <= ch <= CJK[1] for ch in draft.text)
            assert draft.topic_ids == ("t1",)


async def test_the_same_input_always_gives_the_same_answer() -> None:
    assert await distil(HIKE) == await distil(HIKE, order=-1)


async def test_an_english_chat_keeps_english() -> None:
    chat = [
        say("e1", "Ann", "Postgres or MySQL for the new service?", 0),
        say("e2", "Bob", "We decided to go with Postgres for the order service.", 1),
        say("e3", "Cat", "I prefer tabs over spaces, for the record.", 2),
        say("e4", "Ann", "Should we also migrate the reporting database?", 3),
    ]
    found = new_items(await distil(chat, summary="The team picked Postgres for the order service."))
    assert [d.text for d in found[ItemKind.DECISION]] == [
        "Bob said on 2 November 2026: We decided to go with Postgres for the order service."
    ]
    assert [d.text for d in found[ItemKind.PREFERENCE]] == [
        "Cat said on 2 November 2026: I prefer tabs over spaces, for the record."
    ]
    assert [d.text for d in found[ItemKind.OPEN_QUESTION]] == [
        "Ann asked on 2 November 2026: Should we also migrate the reporting database?"
    ]


async def test_a_bare_confirmation_takes_its_decision_from_the_message_it_answers() -> None:
    chat = [
        say("d1", "老张", "周五晚上7点聚餐，地点在湘菜馆", 0),
        say("d2", "老李", "好主意", 1),
        say("d3", "老王", "定了！", 2, reply_to="d1"),
    ]
    [decision] = new_items(await distil(chat))[ItemKind.DECISION]
    assert decision.text == "老张于2026年11月2日说：周五晚上7点聚餐，地点在湘菜馆（老王确认）"
    assert decision.message_ids == ("d1", "d3")


@pytest.mark.parametrize("answered", ["@老张", "👍👍", "[图片]"])
async def test_a_bare_confirmation_of_a_mention_a_sticker_or_an_image_decides_nothing(answered: str) -> None:
    # Taking the empty text of "@老张" once made every answer invalid: the group's memory froze.
    chat = [say("b1", "老李", answered, 0), say("b2", "老王", "定了！", 1, reply_to="b1")]
    for order in (1, -1):
        assert ItemKind.DECISION not in new_items(await distil(chat, order=order))
    live = (remembered("i-d", ItemKind.DECISION, "周五晚上7点聚餐，地点在湘菜馆"),)
    answer = await distil([say("b3", "老王", answered, 2), say("b4", "老张", "定了！", 3)], live)
    assert ItemKind.DECISION not in new_items(answer) and "i-d" in {d.item_id for d in answer.items}


async def test_a_sentence_that_says_a_decision_is_still_to_be_made_is_none() -> None:
    chat = [say("p1", "周婷", "Pricing 今天要定下来，还没决定用哪个方案", 0), say("p2", "A", "ok", 1)]
    assert ItemKind.DECISION not in new_items(await distil(chat))


async def test_a_revised_decision_supersedes_the_old_one_and_a_repeated_one_adds_provenance() -> None:
    old = remembered("i-old", ItemKind.DECISION, "那就这么定了，周六早上8点在西门集合")
    chat = [say("r1", "小王", "改一下：决定改成周日早上8点在西门集合", 0), say("r2", "小李", "收到", 1)]
    answer = await distil(chat, (old,))
    [decision] = new_items(answer)[ItemKind.DECISION]
    assert decision.supersedes == ("i-old",) and "周日" in (decision.text or "")
    assert "i-old" not in {d.item_id for d in answer.items}
    again = await distil([say("r3", "小赵", "那就这么定了，周六早上8点在西门集合", 0)], (old,))
    [kept] = [d for d in again.items if d.item_id == "i-old"]
    assert kept.message_ids == ("r3",) and ItemKind.DECISION not in new_items(again)


@pytest.mark.parametrize(
    ("old", "new", "old_topic"),
    [
        # Only the cue words and the topic are shared: a new decision, not a revision.
        ("We decided to go with Postgres for the order service.",
         "We decided to go with Redis for the session cache service.", "t1"),
        # The same person's preference about something else, in another topic.
        ("Alice: I prefer green tea in the afternoon meetings",
         "I prefer Postgres for the order service database.", "t0"),
        ("Alice: 我喜欢爬山", "我喜欢用 Postgres 做订单库", "t0"),
    ],
)  # fmt: skip
async def test_a_statement_sharing_only_cue_words_or_its_author_supersedes_nothing(
    old: str, new: str, old_topic: str
) -> None:
    kind = ItemKind.PREFERENCE if old.startswith("Alice") else ItemKind.DECISION
    live = MemoryItem("i-old", kind, old, (old_topic,), ("x1",), T0 - timedelta(days=1), T0)
    answer = await distil([say("s1", "Alice", new, 0)], (live,))
    [added] = new_items(answer)[kind]
    assert added.supersedes == () and "i-old" in {d.item_id for d in answer.items}


async def test_a_revised_preference_of_the_same_topic_supersedes_the_old_one() -> None:
    old = remembered("i-p", ItemKind.PREFERENCE, "Alice: I prefer green tea in the afternoon meetings")
    answer = await distil(
        [say("s2", "Alice", "I prefer black tea in the afternoon meetings now.", 0)], (old,)
    )
    [added] = new_items(answer)[ItemKind.PREFERENCE]
    assert added.supersedes == ("i-p",)


async def test_an_open_question_that_got_its_answer_is_superseded() -> None:
    question = remembered("i-q", ItemKind.OPEN_QUESTION, "小李: 要带午饭吗？", ("q1",))
    reply = [say("a1", "小王", "不用带，山顶有饭馆，大家可以在那里吃", 0, reply_to="q1")]
    answer = await distil(reply, (question,))
    assert "i-q" not in {d.item_id for d in answer.items}


async def test_a_summary_fact_of_the_topic_stays_as_it_is_and_no_more_than_half_is_superseded() -> None:
    # Facts come from what people say now, not from the topic's summary: the old gist of the
    # topic is neither rewritten nor ended by a chat that says nothing of it.
    fact = remembered("i-f", ItemKind.FACT, "旧的摘要")
    decisions = tuple(
        remembered(f"i-d{n}", ItemKind.DECISION, f"决定周六早上{n}点在西门集合") for n in range(4)
    )
    chat = [say("n1", "小王", "最终决定：周日早上9点在西门集合", 0)]
    answer = await distil(chat, (fact, *decisions), summary="新的摘要：改到周日。")
    [kept] = [d for d in answer.items if d.item_id == "i-f"]
    assert (kept.text, kept.kind) == (None, None)
    superseded = {"i-f", *(d.item_id for d in decisions)} - {d.item_id for d in answer.items}
    assert 1 <= len(superseded) <= 2  # at most half of the 5 live items


async def test_a_group_of_chatter_gets_no_item() -> None:
    chat = [say("c1", "A", "早", 0)]
    answer = await distil(chat, summary="早")
    assert answer.items == () and answer.retired == ()


async def test_the_offline_pipeline_turns_a_chat_into_group_memory_end_to_end() -> None:
    world = offline_world()
    await world.chat([m for m in HIKE])
    world.clock.advance(timedelta(days=1))
    outcome = await world.evolver.evolve("g1")
    kinds = {item.kind for item in (await world.store.get_group_memory("g1")).items}
    assert outcome.added >= 4 and {ItemKind.DECISION, ItemKind.OPEN_QUESTION, ItemKind.PREFERENCE} <= kinds


PHRASES = [
    "决定周六出发",
    "定了！",
    "我喜欢爬山",
    "同意",
    "+1",
    "要带午饭吗？",
    "We decided to ship on Friday.",
    "I prefer the blue one.",
    "sounds good",
    "Who books the room?",
    "数据库迁移今晚执行",
    "the deploy went fine",
    "@老张",
    "👍👍",
    "[图片]",
]


@settings(max_examples=80, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(PHRASES) - 1), st.integers(0, 3), st.booleans()), min_size=1, max_size=25
    ),
    existing=st.lists(
        st.tuples(st.sampled_from(list(ItemKind)), st.integers(0, len(PHRASES) - 1)), max_size=8
    ),
)
def test_every_answer_is_valid_and_reproducible(
    picks: list[tuple[int, int, bool]], existing: list[tuple[ItemKind, int]]
) -> None:
    import asyncio

    chat = [
        say(f"x{n}", f"user{sender}", PHRASES[phrase], n, reply_to=f"x{n - 1}" if reply and n else None)
        for n, (phrase, sender, reply) in enumerate(picks)
    ]
    items = tuple(
        remembered(f"i{n}", kind, PHRASES[phrase], (f"x{n}",)) for n, (kind, phrase) in enumerate(existing)
    )
    first = asyncio.run(distil(chat, items, summary=" ".join(PHRASES[p] for p, _, _ in picks)))
    assert first == asyncio.run(distil(chat, items, summary=" ".join(PHRASES[p] for p, _, _ in picks)))
