"""The offline distiller's items say who stated what and when; chatter gives none; later replaces earlier."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.llm.offline_distill import OfflineMemoryDistiller
from adapters.llm.offline_facts import FACTS_PER_EVOLUTION, FACTS_PER_TOPIC
from adapters.system import SequentialIds
from memory_domain.evolution_merge import merge_distillation
from memory_domain.evolution_rules import validate_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft, ItemKind, MemoryItem
from memory_domain.model import ChatMessage, Role, Topic

MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]
NOV_2 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def said(
    message_id: str,
    sender: str,
    content: str,
    at: datetime,
    minute: int = 0,
    reply_to: str | None = None,
) -> ChatMessage:
    return ChatMessage(
        message_id, "g1", sender, sender, Role.USER, content, at + timedelta(minutes=minute), reply_to
    )


def topic(messages: list[ChatMessage], topic_id: str = "t1", summary: str = "the topic's summary") -> Topic:
    at = messages[0].sent_at
    return Topic(topic_id, "title", summary, tuple(m.message_id for m in messages), at, at)


async def distil(
    messages: list[ChatMessage],
    items: tuple[MemoryItem, ...] = (),
    topic_id: str = "t1",
    distiller: OfflineMemoryDistiller | None = None,
) -> tuple[DistillInput, Distillation]:
    distil_input = DistillInput("g1", items, (topic(messages, topic_id),), tuple(messages))
    answer = await (distiller or OfflineMemoryDistiller()).distil(distil_input)
    validate_distillation(distil_input, answer)
    return distil_input, answer


def added(answer: Distillation, kind: ItemKind | None = None) -> list[ItemDraft]:
    return [d for d in answer.items if d.item_id is None and (kind is None or d.kind is kind)]


def texts(answer: Distillation, kind: ItemKind | None = None) -> list[str]:
    return [d.text or "" for d in added(answer, kind)]


@dataclass
class Memory:
    """A group's memory over several evolutions: the real distiller and the real merge."""

    items: dict[str, MemoryItem] = field(default_factory=dict)
    ids: SequentialIds = field(default_factory=lambda: SequentialIds("i"))

    async def evolve(self, topic_id: str, messages: list[ChatMessage]) -> Distillation:
        live = tuple(item for item in self.items.values() if item.live)
        distil_input, answer = await distil(messages, live, topic_id)
        now = max(m.sent_at for m in messages) + timedelta(hours=1)
        changed, _ = merge_distillation(distil_input, answer, now, self.ids)
        self.items.update((item.item_id, item) for item in changed)
        return answer

    def live(self, kind: ItemKind) -> list[str]:
        return [item.text for item in self.items.values() if item.live and item.kind is kind]

    def ended(self, kind: ItemKind) -> list[MemoryItem]:
        return [item for item in self.items.values() if not item.live and item.kind is kind]


# -- who and when ---------------------------------------------------------------------------


async def test_an_english_fact_names_its_speaker_its_day_and_the_day_a_relative_time_means() -> None:
    chat = [
        said("e1", "Ann", "Hey Ben! Good to see you! How have you been?", MAY_8, 0),
        said("e2", "Ben", "Hey Ann! I'm swamped with the kids and the new garden.", MAY_8, 1),
        said("e3", "Ann", "I went to a pottery workshop yesterday and it was so relaxing.", MAY_8, 2),
        said("e4", "Ben", "Wow, that's cool, Ann! Did you make a bowl?", MAY_8, 3),
        said("e5", "Ann", "Yes, a blue pottery bowl for my sister's birthday.", MAY_8, 4),
    ]
    _, answer = await distil(chat)
    facts = added(answer, ItemKind.FACT)
    assert [(d.text, d.message_ids) for d in facts] == [
        ("Ben said on 8 May 2023: I'm swamped with the kids and the new garden.", ("e2",)),
        (
            "Ann said on 8 May 2023: I went to a pottery workshop yesterday [7 May 2023] and it was so "
            "relaxing.",
            ("e3",),
        ),
        ("Ann said on 8 May 2023: Yes, a blue pottery bowl for my sister's birthday.", ("e5",)),
    ]


async def test_a_chinese_chat_gives_chinese_items_with_chinese_days() -> None:
    chat = [
        said("z1", "小王", "大家好", NOV_2, 0),
        said("z2", "小张", "大巴订好了，45 座，早上7点出发", NOV_2, 1),
        said("z3", "小赵", "团建的预算是每人200元，昨天已经批下来了", NOV_2, 2),
        said("z4", "小王", "谢谢大家", NOV_2, 3),
    ]
    _, answer = await distil(chat)
    assert texts(answer) == [
        "小张于2026年11月2日说：大巴订好了，45 座，早上7点出发",
        "小赵于2026年11月2日说：团建的预算是每人200元，昨天[2026年11月1日]已经批下来了",
    ]


async def test_every_kind_of_item_says_who_and_when() -> None:
    chat = [
        said("k1", "Ann", "Postgres or MySQL for the new order service?", NOV_2, 0),
        said("k2", "Bob", "We decided to go with Postgres for the order service.", NOV_2, 1),
        said("k3", "Cat", "Nightly backups of the order database run at 01:00.", NOV_2, 2),
        said("k4", "Dan", "sounds good", NOV_2, 3, reply_to="k3"),
        said("k5", "Eve", "+1", NOV_2, 4, reply_to="k3"),
        said("k6", "Cat", "I prefer tabs over spaces in the new repository.", NOV_2, 5),
        said("k7", "Ann", "Who writes the rollback runbook for the cutover?", NOV_2, 6),
    ]
    _, answer = await distil(chat)
    assert {d.kind: d.text for d in added(answer)} == {
        ItemKind.DECISION: "Bob said on 2 November 2026: We decided to go with Postgres for the order service.",
        ItemKind.CONSENSUS: "Cat said on 2 November 2026: Nightly backups of the order database run at "
        "01:00. (agreed by Dan and Eve)",
        ItemKind.PREFERENCE: "Cat said on 2 November 2026: I prefer tabs over spaces in the new repository.",
        ItemKind.OPEN_QUESTION: "Ann asked on 2 November 2026: Who writes the rollback runbook for the cutover?",
    }


async def test_a_confirmation_on_a_later_day_says_who_confirmed_it_and_when() -> None:
    chat = [
        said("c1", "Ann", "Friday dinner at the Hunan place, 7 pm, for the whole team", NOV_2, 0),
        said("c2", "Bob", "It's decided!", NOV_2 + timedelta(days=2), 0, reply_to="c1"),
    ]
    _, answer = await distil(chat)
    assert texts(answer, ItemKind.DECISION) == [
        "Ann said on 2 November 2026: Friday dinner at the Hunan place, 7 pm, for the whole team "
        "(confirmed by Bob on 4 November 2026)"
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # A Chinese group: an English statement is framed in the group's language.
        (
            [("小王", "明天上线新版本，大家注意"), ("小李", "Release notes are in the wiki under v2.3"),
             ("小张", "回滚脚本我已经测过了")],
            ["小王于2026年11月2日说：明天[2026年11月3日]上线新版本，大家注意",
             "小李于2026年11月2日说：Release notes are in the wiki under v2.3",
             "小张于2026年11月2日说：回滚脚本我已经测过了"],
        ),
        # An English group: a Chinese statement stays Chinese, frame and all.
        (
            [("Ann", "The staging cluster moves to the new region tomorrow"), ("小李", "我负责迁移数据库和备份")],
            ["Ann said on 2 November 2026: The staging cluster moves to the new region tomorrow [3 November 2026]",
             "小李于2026年11月2日说：我负责迁移数据库和备份"],
        ),
    ],
)  # fmt: skip
async def test_a_mixed_chat_keeps_each_statement_in_its_words_and_frames_it_in_its_language(
    lines: list[tuple[str, str]], expected: list[str]
) -> None:
    chat = [said(f"x{n}", sender, content, NOV_2, n) for n, (sender, content) in enumerate(lines)]
    _, answer = await distil(chat)
    assert texts(answer) == expected


async def test_the_day_is_the_groups_day_in_its_time_zone() -> None:
    late = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 November in Shanghai
    chat = [said("s1", "小王", "数据库迁移昨晚完成了，一切正常", late)]
    shanghai = OfflineMemoryDistiller(zone=ZoneInfo("Asia/Shanghai"))
    _, answer = await distil(chat, distiller=shanghai)
    assert texts(answer) == ["小王于2026年11月2日说：数据库迁移昨晚[2026年11月1日]完成了，一切正常"]
    _, in_utc = await distil(chat)
    assert texts(in_utc) == ["小王于2026年11月1日说：数据库迁移昨晚[2026年10月31日]完成了，一切正常"]


# -- facts come from the messages ---------------------------------------------------------------


async def test_facts_are_statements_of_the_messages_not_the_topics_summary() -> None:
    chat = [
        said("f1", "Ann", "I started a pottery class on Monday at the community center.", NOV_2, 0),
        said("f2", "Ben", "Nice! I joined a climbing gym downtown last week.", NOV_2, 1),
    ]
    summary = "Hobbies: pottery and climbing."
    distil_input = DistillInput("g1", (), (topic(chat, summary=summary),), tuple(chat))
    answer = await OfflineMemoryDistiller().distil(distil_input)
    assert [(d.text, d.message_ids) for d in added(answer)] == [
        (
            "Ann said on 2 November 2026: I started a pottery class on Monday at the community center.",
            ("f1",),
        ),
        # "Nice!" says nothing: the fact is the sentence that does.
        ("Ben said on 2 November 2026: I joined a climbing gym downtown last week.", ("f2",)),
    ]
    assert all(summary not in (d.text or "") for d in answer.items)


async def test_a_busy_topic_gives_its_few_most_telling_statements_and_an_evolution_a_bounded_number() -> None:
    chat = [
        said(f"b{n}", f"dev{n % 3}", f"The {word} service passed its load test on runner {n}.", NOV_2, n)
        for n, word in enumerate(WORDS)
    ]
    _, answer = await distil(chat)
    assert len(added(answer, ItemKind.FACT)) == FACTS_PER_TOPIC
    many = [
        said(f"m{n}", f"dev{n}", f"The {WORDS[n % 20]} cache of region {n // 20} runs on host {n}.", NOV_2, n)
        for n in range(400)
    ]
    topics = tuple(topic(many[i : i + 4], f"t{i // 4}") for i in range(0, 400, 4))
    distil_input = DistillInput("g1", (), topics, tuple(many))
    answer = await OfflineMemoryDistiller().distil(distil_input)
    validate_distillation(distil_input, answer)
    assert len(added(answer, ItemKind.FACT)) == FACTS_PER_EVOLUTION


async def test_a_message_that_asks_and_states_gives_its_statement_as_a_fact() -> None:
    chat = [said("q1", "Ann", "I moved to Lisbon last month. Have you ever been to Portugal?", NOV_2)]
    _, answer = await distil(chat)
    assert texts(answer, ItemKind.FACT) == [
        "Ann said on 2 November 2026: I moved to Lisbon last month [October 2026]."
    ]
    assert texts(answer, ItemKind.OPEN_QUESTION) == [
        "Ann asked on 2 November 2026: Have you ever been to Portugal?"
    ]


# -- what has no content is not kept ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "Hey Mel! Good to see you!",
        "hi all",
        "Good morning everyone, how are you doing?",
        "大家好",
        "早上好，大家周末愉快",
        "thanks!",
        "Thanks, Ben! That's really sweet.",
        "Thank you so much for sharing!",
        "谢谢",
        "谢谢大家，辛苦了",
        "ok",
        "好的",
        "收到，明白",
        "lol",
        "haha yeah, me too",
        "Wow, that's cool, Ben!",
        "See you soon, take care!",
        "拜拜，回头聊",
    ],
)
async def test_greetings_thanks_and_acknowledgements_give_no_item(content: str) -> None:
    chat = [said("g1", "Ann", content, NOV_2, 0), said("g2", "Ben", content, NOV_2, 1)]
    _, answer = await distil(chat)
    assert answer.items == ()


@pytest.mark.parametrize(
    "content",
    [
        "Sorry, the deploy failed at step 3.",
        "The meeting is tomorrow morning in room 301.",
        "Thanks to the new cache the page loads in 80 ms.",
        "欢迎新同事小刘加入后端组",
        "好的方案是先迁移订单库",
        "I moved to Berlin.",
    ],
)
async def test_a_statement_beside_a_word_of_chatter_is_kept(content: str) -> None:
    _, answer = await distil([said("k1", "Ann", content, NOV_2)])
    assert len(texts(answer, ItemKind.FACT)) == 1


@pytest.mark.parametrize(
    ("question", "reply", "fact"),
    [
        ("Who books the meeting room for Friday?", "I booked room 301 for Friday at 3 pm.",
         "Bob said on 2 November 2026: I booked room 301 for Friday at 3 pm."),
        ("谁来订周五的会议室？", "我订好了周五下午三点的301会议室", "小李于2026年11月2日说：我订好了周五下午三点的301会议室"),
    ],
)  # fmt: skip
async def test_an_answered_question_is_not_kept_its_answer_is(question: str, reply: str, fact: str) -> None:
    asker, answerer = ("Ann", "Bob") if question.isascii() else ("小王", "小李")
    for reply_to in ("a1", None):  # a reply to it, or someone speaking after it
        chat = [said("a1", asker, question, NOV_2, 0), said("a2", answerer, reply, NOV_2, 1, reply_to)]
        _, answer = await distil(chat)
        assert texts(answer) == [fact]


async def test_a_greeting_before_a_statement_is_left_out_of_the_item() -> None:
    chat = [said("h1", "Ann", "Hi Ben! Thanks for asking. I adopted a rescue dog named Pixel.", NOV_2)]
    _, answer = await distil(chat)
    assert texts(answer) == ["Ann said on 2 November 2026: I adopted a rescue dog named Pixel."]


async def test_a_new_groups_chat_of_chatter_gives_an_empty_answer_and_a_live_memory_is_kept() -> None:
    chatter = [said("n1", "Ann", "hi all", NOV_2, 0), said("n2", "Ben", "大家好", NOV_2, 1)]
    _, answer = await distil(chatter)
    assert answer.items == ()
    live = MemoryItem("i-1", ItemKind.FACT, "Ann said on 1 November 2026: I moved to Lisbon.", ("t0",),
                      ("old",), NOV_2 - timedelta(days=1), NOV_2)  # fmt: skip
    _, answer = await distil(chatter, (live,))
    assert [(d.item_id, d.text) for d in answer.items] == [("i-1", None)]


# -- a later statement on the same subject replaces an earlier one -----------------------------------


async def test_a_persons_later_move_supersedes_their_earlier_one_months_later_in_another_topic() -> None:
    memory = Memory()
    march = datetime(2026, 3, 2, 10, tzinfo=UTC)
    await memory.evolve("t1", [said("p1", "Ann", "I moved to Berlin for the new job.", march)])
    await memory.evolve("t1", [said("p2", "Ben", "I moved to Madrid in 2019, best decision ever.", march, 1)])
    answer = await memory.evolve("t9", [said("p3", "Ann", "I moved to Paris last month, finally!", NOV_2)])
    [paris] = added(answer, ItemKind.FACT)
    [berlin] = memory.ended(ItemKind.FACT)
    assert berlin.text == "Ann said on 2 March 2026: I moved to Berlin for the new job."
    assert paris.supersedes == (berlin.item_id,) and berlin.invalid_at == NOV_2
    assert memory.live(ItemKind.FACT) == [
        "Ben said on 2 March 2026: I moved to Madrid in 2019, best decision ever.",
        "Ann said on 2 November 2026: I moved to Paris last month [October 2026], finally!",
    ]


async def test_a_move_of_something_else_leaves_a_persons_home_alone() -> None:
    memory = Memory()
    march = datetime(2026, 3, 2, 10, tzinfo=UTC)
    await memory.evolve("t1", [said("p1", "Ann", "I moved to Berlin for the new job.", march)])
    # The same person, a move of the team's cluster: not where Ann lives.
    await memory.evolve(
        "t2", [said("p2", "Ann", "We finally moved to Kubernetes, the deploys are fast.", NOV_2)]
    )
    assert memory.ended(ItemKind.FACT) == []
    assert "Ann said on 2 March 2026: I moved to Berlin for the new job." in memory.live(ItemKind.FACT)


async def test_a_chinese_move_supersedes_the_same_persons_earlier_move() -> None:
    memory = Memory()
    await memory.evolve("t1", [said("c1", "小王", "我搬到北京了，在海淀", NOV_2 - timedelta(days=200))])
    await memory.evolve("t2", [said("c2", "小王", "我搬到上海了，在浦东", NOV_2)])
    assert memory.live(ItemKind.FACT) == ["小王于2026年11月2日说：我搬到上海了，在浦东"]
    assert [item.text for item in memory.ended(ItemKind.FACT)] == [
        "小王于2026年4月16日说：我搬到北京了，在海淀"
    ]


async def test_events_of_one_person_add_up_and_a_fact_told_again_adds_to_its_provenance() -> None:
    memory = Memory()
    await memory.evolve("t1", [said("v1", "Ann", "I went to the climbing gym with my sister.", NOV_2)])
    day_later = NOV_2 + timedelta(days=1)
    await memory.evolve("t2", [said("v2", "Ann", "I went to the pottery studio with my sister.", day_later)])
    assert len(memory.live(ItemKind.FACT)) == 2 and memory.ended(ItemKind.FACT) == []
    answer = await memory.evolve(
        "t3", [said("v3", "Ann", "I went to the climbing gym with my sister.", day_later, 5)]
    )
    assert added(answer) == [] and len(memory.live(ItemKind.FACT)) == 2
    [gym] = [item for item in memory.items.values() if "climbing" in item.text]
    assert gym.message_ids == ("v1", "v3")


async def test_another_persons_statement_does_not_supersede_a_persons_fact() -> None:
    memory = Memory()
    await memory.evolve("t1", [said("o1", "Ann", "I moved to Berlin for the new job.", NOV_2)])
    await memory.evolve("t2", [said("o2", "Ben", "I moved to Paris for the new job.", NOV_2, 5)])
    assert len(memory.live(ItemKind.FACT)) == 2


async def test_a_decision_that_changes_an_earlier_one_of_another_topic_supersedes_it() -> None:
    memory = Memory()
    await memory.evolve(
        "t1", [said("d1", "Bob", "We decided to go with Postgres for the order service.", NOV_2)]
    )
    await memory.evolve("t1", [said("d2", "Bob", "We decided to ship the docs site on Friday.", NOV_2, 1)])
    later = NOV_2 + timedelta(days=30)
    await memory.evolve(
        "t2", [said("d3", "Cat", "We decided to move the order service to CockroachDB instead.", later)]
    )
    await memory.evolve("t3", [said("d4", "Cat", "We decided to ship the admin app on Friday.", later, 1)])
    assert memory.live(ItemKind.DECISION) == [
        "Bob said on 2 November 2026: We decided to ship the docs site on Friday.",
        "Cat said on 2 December 2026: We decided to move the order service to CockroachDB instead.",
        "Cat said on 2 December 2026: We decided to ship the admin app on Friday.",
    ]
    assert [item.text for item in memory.ended(ItemKind.DECISION)] == [
        "Bob said on 2 November 2026: We decided to go with Postgres for the order service."
    ]


async def test_a_fact_saying_it_no_longer_holds_supersedes_it_and_a_loose_now_does_not() -> None:
    memory = Memory()
    await memory.evolve("t1", [said("w1", "Ann", "I work at Acme Robotics as an engineer.", NOV_2)])
    await memory.evolve(
        "t1", [said("w2", "Ann", "I'm training for the city marathon with my running club.", NOV_2, 1)]
    )
    later = NOV_2 + timedelta(days=60)
    await memory.evolve("t2", [said("w3", "Ann", "I no longer work at Acme Robotics.", later)])
    # Only partly the same thing: both stay, each with its day, for a reader to weigh.
    await memory.evolve("t3", [said("w4", "Ann", "Now I'm training for a triathlon with my club.", later, 1)])
    assert [item.text for item in memory.ended(ItemKind.FACT)] == [
        "Ann said on 2 November 2026: I work at Acme Robotics as an engineer."
    ]
    assert len(memory.live(ItemKind.FACT)) == 3


async def test_a_switch_replaces_an_earlier_switch_of_the_same_subject_only() -> None:
    memory = Memory()
    await memory.evolve("t1", [said("s1", "Ann", "I switched to the data team in March.", NOV_2)])
    await memory.evolve("t1", [said("s2", "Ann", "I switched to decaf coffee for good.", NOV_2, 1)])
    later = NOV_2 + timedelta(days=90)
    await memory.evolve("t2", [said("s3", "Ann", "I switched to the platform team.", later)])
    assert [item.text for item in memory.ended(ItemKind.FACT)] == [
        "Ann said on 2 November 2026: I switched to the data team in March."
    ]
    assert len(memory.live(ItemKind.FACT)) == 2
