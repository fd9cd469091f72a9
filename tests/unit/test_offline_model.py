from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.llm.offline import OfflineTopicModel
from adapters.llm.text import split_sentences
from memory_domain.errors import ModelError
from memory_domain.model import ChatMessage, Role, Topic, TopicDraft, TopicModelInput, TopicRewrite
from memory_domain.rewrite_rules import MAX_ACTIVE_TOPICS, validate_rewrite

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
GROUP = "g1"
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def message(
    message_id: str,
    content: str,
    minutes: float = 0.0,
    sender: str = "alice",
    reply_to: str | None = None,
) -> ChatMessage:
    return ChatMessage(
        message_id=message_id,
        group_id=GROUP,
        sender_id=sender.lower(),
        sender_name=sender,
        role=Role.USER,
        content=content,
        sent_at=T0 + timedelta(minutes=minutes),
        reply_to=reply_to,
    )


def topic(topic_id: str, title: str, summary: str, message_ids: Sequence[str] = ()) -> Topic:
    return Topic(topic_id, title, summary, tuple(message_ids), T0, T0)


async def rewrite(
    new: Sequence[ChatMessage], topics: Sequence[Topic] = (), context: Sequence[ChatMessage] = ()
) -> TopicRewrite:
    model_input = TopicModelInput(GROUP, tuple(topics), tuple(new), tuple(context))
    result = await OfflineTopicModel().rewrite_topics(model_input)
    validate_rewrite(model_input, result)
    return result


def draft_of(result: TopicRewrite, message_id: str) -> TopicDraft:
    return next(draft for draft in result.topics if message_id in draft.new_message_ids)


def same_topic(result: TopicRewrite, *message_ids: str) -> bool:
    return len({id(draft_of(result, message_id)) for message_id in message_ids}) == 1


DEPLOY_ZH = [
    message("d1", "今晚我们要把新版本部署到生产环境，数据库迁移脚本准备好了吗？", 0, "王伟"),
    message("d2", "数据库迁移脚本已经写好了，部署前需要先备份数据库。", 2, "李娜"),
    message("d3", "备份完成后再执行迁移，部署窗口定在晚上十点。", 4, "李娜"),
    message("d4", "部署窗口十点可以，回滚方案也准备一下。", 6, "王伟"),
]
HIKING_EN = [
    message("h1", "Anyone up for a hiking trip to Mount Tam this Saturday?", 1, "Alice"),
    message("h2", "I'm in for the hiking trip! Should we start early to avoid the heat?", 3, "Bob"),
    message("h3", "Let's start the hike at 7am, I'll bring snacks and water for the trip.", 5, "Alice"),
    message(
        "h4", "Great, the trailhead parking fills up early on Saturday, so 7am for the hike works.", 7, "Bob"
    ),
]


async def test_a_chinese_conversation_gets_a_chinese_title_and_summary_without_english() -> None:
    result = await rewrite(DEPLOY_ZH)

    [draft] = result.topics
    assert draft.new_message_ids == ("d1", "d2", "d3", "d4")
    for text in (draft.title, draft.summary):
        assert CJK.search(text), text
        assert not LATIN.search(text), text
    assert "部署" in draft.title


async def test_interleaved_chinese_and_english_conversations_end_in_separate_topics() -> None:
    interleaved = sorted([*DEPLOY_ZH, *HIKING_EN], key=lambda item: item.sent_at)

    result = await rewrite(interleaved)

    assert len(result.topics) == 2
    assert same_topic(result, "d1", "d2", "d3", "d4")
    assert same_topic(result, "h1", "h2", "h3", "h4")
    english = draft_of(result, "h1")
    assert not CJK.search(english.title + english.summary)
    assert "hik" in english.title.lower() or "trip" in english.title.lower()


async def test_a_message_in_another_language_does_not_join_a_conversation_by_time_alone() -> None:
    # Short enough that nearness in time alone would carry it into the Chinese conversation.
    english = message("e1", "Hiking trip, anyone?", 1, "Alice")

    result = await rewrite([DEPLOY_ZH[0], english])

    assert not same_topic(result, "d1", "e1")


LUNCH_ZH = [
    message("l1", "中午的外卖订哪家？我想吃川菜麻辣香锅。", 1, "张强"),
    message("l2", "麻辣香锅可以，外卖我来下单。", 3, "赵敏"),
]


async def test_a_short_reply_joins_the_topic_of_the_message_it_answers() -> None:
    # The deployment question comes first, then the lunch conversation; "好的" answers the
    # deployment question although the message right before it is about lunch.
    chat = [DEPLOY_ZH[0], *LUNCH_ZH]
    answer = message("ok", "好的", 4, "李娜", reply_to="d1")
    plain = message("ok", "好的", 4, "李娜")

    replied = await rewrite([*chat, answer])
    unreplied = await rewrite([*chat, plain])

    assert len(replied.topics) == 2
    assert same_topic(replied, "d1", "ok")
    assert same_topic(unreplied, "l2", "ok")  # without the reply it follows the latest message


async def test_a_reply_to_an_integrated_message_joins_that_messages_existing_topic() -> None:
    deploy = topic("t-deploy", "部署 · 数据库", "今晚部署新版本，先备份数据库。", ["d1"])
    lunch = topic("t-lunch", "外卖 · 麻辣香锅", "中午订麻辣香锅外卖。", ["l1", "l2"])
    answer = message("ok", "收到👍", 5, "李娜", reply_to="d1")

    result = await rewrite([answer], [deploy, lunch], context=[DEPLOY_ZH[0], *LUNCH_ZH])

    assert draft_of(result, "ok").topic_id == "t-deploy"


async def test_an_at_mention_joins_the_mentioned_persons_topic() -> None:
    chat = [
        message("a1", "The release build is failing on the database migration step.", 0, "Alice"),
        message("b1", "Booked the cabin near the lake for the weekend trip.", 1, "Bob"),
        message("a2", "Rolling back the release until the database migration is fixed.", 2, "Alice"),
    ]
    addressed = message("c1", "@Bob how much do we each owe you?", 3, "Carol")
    not_addressed = message("c1", "How much do we each owe you?", 3, "Carol")

    with_mention = await rewrite([*chat, addressed])
    without_mention = await rewrite([*chat, not_addressed])

    assert same_topic(with_mention, "b1", "c1")
    assert not same_topic(without_mention, "b1", "c1")


async def test_a_long_silence_weakens_the_pull_of_similar_words() -> None:
    backup = topic("t-backup", "database · backup", "We run the nightly database backup at midnight.", ["x1"])
    earlier = message("x1", "Nightly database backup runs at midnight on the primary server.", 0, "Dan")
    soon = message("n1", "Is the database replica in sync yet?", 3, "Eve")
    days_later = message("n1", "Is the database replica in sync yet?", 3 * 24 * 60, "Eve")

    close_in_time = await rewrite([soon], [backup], context=[earlier])
    after_a_gap = await rewrite([days_later], [backup], context=[earlier])

    assert draft_of(close_in_time, "n1").topic_id == "t-backup"
    assert draft_of(after_a_gap, "n1").topic_id is None


async def test_existing_topics_keep_their_ids_and_receive_the_messages_that_match_them() -> None:
    deploy = topic(
        "t-deploy", "部署 · 数据库", "今晚把新版本部署到生产环境，部署前备份数据库。", ["d1", "d2"]
    )
    hiking = topic("t-hike", "hiking · trip", "A hiking trip to Mount Tam on Saturday.", ["h1", "h2"])
    context = [DEPLOY_ZH[0], DEPLOY_ZH[1], HIKING_EN[0], HIKING_EN[1]]
    new = [DEPLOY_ZH[2], HIKING_EN[2], DEPLOY_ZH[3], HIKING_EN[3]]

    result = await rewrite(new, [deploy, hiking], context)

    assert [draft.topic_id for draft in result.topics] == ["t-deploy", "t-hike"]
    assert draft_of(result, "d3").topic_id == draft_of(result, "d4").topic_id == "t-deploy"
    assert draft_of(result, "h3").topic_id == draft_of(result, "h4").topic_id == "t-hike"
    assert CJK.search(result.topics[0].summary)


async def test_an_untouched_existing_topic_is_kept_as_it_was() -> None:
    old = topic("t-old", "Quarterly budget", "The Q3 budget was approved in June.", ["q1"])

    result = await rewrite(HIKING_EN, [old])

    kept = next(draft for draft in result.topics if draft.topic_id == "t-old")
    assert (kept.title, kept.summary, kept.new_message_ids) == (old.title, old.summary, ())


async def test_a_wordless_message_follows_the_previous_topic_instead_of_opening_one() -> None:
    result = await rewrite([*HIKING_EN[:2], message("thumb", "👍", 60 * 5, "Carol")])

    assert len(result.topics) == 1
    assert same_topic(result, "h1", "thumb")


async def test_the_summary_is_made_of_the_topics_own_sentences() -> None:
    result = await rewrite(HIKING_EN)

    [draft] = result.topics
    source = {sentence.rstrip(".!?") for item in HIKING_EN for sentence in split_sentences(item.content)}
    picked = split_sentences(draft.summary)
    assert picked
    assert all(sentence.rstrip(".!?") in source for sentence in picked)
    assert len(draft.summary) <= 400


async def test_titles_name_the_recurring_key_terms() -> None:
    chat = [
        message("k1", "The database migration failed during the deploy.", 0),
        message("k2", "Retry the deploy after the database migration is fixed.", 1, "Bob"),
        message("k3", "Database migration fixed, deploy is green now.", 2),
    ]

    [draft] = (await rewrite(chat)).topics

    terms = draft.title.split(" · ")
    assert 2 <= len(terms) <= 4
    assert {"database", "migration", "deploy"} >= set(terms)


async def test_the_same_input_gives_the_same_rewrite_whatever_the_order_of_the_messages() -> None:
    chat = sorted([*DEPLOY_ZH, *HIKING_EN, *LUNCH_ZH], key=lambda item: item.sent_at)

    first = await rewrite(chat)
    again = await rewrite(chat)
    shuffled = await rewrite(list(reversed(chat)))

    assert first == again == shuffled


_HASH_SEED_SCRIPT = """
import asyncio, dataclasses, json, sys
sys.path.insert(0, sys.argv[1])
from tests.unit.test_offline_model import DEPLOY_ZH, HIKING_EN, LUNCH_ZH, GROUP
from adapters.llm.offline import OfflineTopicModel
from memory_domain.model import TopicModelInput
chat = tuple(sorted([*DEPLOY_ZH, *HIKING_EN, *LUNCH_ZH], key=lambda item: item.sent_at))
result = asyncio.run(OfflineTopicModel().rewrite_topics(TopicModelInput(GROUP, (), chat)))
print(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
"""


def test_the_rewrite_does_not_depend_on_the_hash_seed() -> None:
    root = Path(__file__).resolve().parents[2]
    outputs = []
    for seed in ("1", "2", "3"):
        completed = subprocess.run(
            [sys.executable, "-c", _HASH_SEED_SCRIPT, str(root)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outputs.append(json.loads(completed.stdout))
    assert outputs[0] == outputs[1] == outputs[2]


async def test_the_topic_count_stays_within_the_limit_and_an_existing_topic_is_kept() -> None:
    existing = [topic(f"t{index}", f"old topic {index}", f"old summary {index}") for index in range(50)]
    # Each message is about something else and a day apart: every one would open a topic.
    distinct = [
        message(f"n{index}", f"zq{index}alpha zq{index}beta zq{index}gamma", index * 24 * 60)
        for index in range(80)
    ]

    result = await rewrite(distinct, existing)

    assert len(result.topics) <= MAX_ACTIVE_TOPICS
    assert any(draft.topic_id is not None for draft in result.topics)
    assigned = sorted(message_id for draft in result.topics for message_id in draft.new_message_ids)
    assert assigned == sorted(item.message_id for item in distinct)


async def test_usage_names_the_model_and_counts_tokens_read_and_written() -> None:
    result = await rewrite(HIKING_EN)

    assert result.usage.model == OfflineTopicModel().name == "offline-extractive-v1"
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0


async def test_an_input_without_topics_and_messages_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        await OfflineTopicModel().rewrite_topics(TopicModelInput(GROUP, (), ()))


# Chinese and English words, chat filler, mentions, addresses, notices and punctuation, for
# random messages (the "system" sender's lines are notices, actions or announcements).
_WORD_TEXT = (
    "部署 数据库 备份 迁移 徒步 周末 预算 会议 好的 收到 👍 ok deploy database backup hiking trip "
    "budget meeting @Alice @小明 Bob: 李娜， hi === * has joined is now known as 加入了群聊 "
    "? 。 ！ ， thanks v1.2 k8s 的 了 吗"
)
WORDS = [*_WORD_TEXT.split(), "\n"]
SENDERS = ["Alice", "Bob", "小明", "李娜", "system"]


@st.composite
def model_inputs(draw: st.DrawFn) -> TopicModelInput:
    texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
    anything = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
    mixed = st.one_of(texts, anything)
    count = draw(st.integers(0, 40))
    context_count = draw(st.integers(0, 12))
    messages: list[ChatMessage] = []
    for index in range(context_count + count):
        content = draw(mixed)
        if not content.strip():
            content = "ok"
        earlier = [item.message_id for item in messages]
        reply = draw(st.one_of(st.none(), st.sampled_from([*earlier, "unknown"]))) if earlier else None
        messages.append(
            message(
                f"m{index}",
                content,
                draw(st.floats(0, 60 * 24 * 5)),
                draw(st.sampled_from(SENDERS)),
                reply,
            )
        )
    context, new = messages[:context_count], messages[context_count:]
    topic_count = draw(st.integers(0 if new else 1, MAX_ACTIVE_TOPICS + 5))
    owners = [draw(st.integers(-1, topic_count - 1)) for _ in context] if topic_count else []
    short = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
    topics = [
        topic(
            f"t{index}",
            draw(short),
            draw(short),
            [item.message_id for item, owner in zip(context, owners, strict=True) if owner == index],
        )
        for index in range(topic_count)
    ]
    return TopicModelInput(GROUP, tuple(topics), tuple(new), tuple(context))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_inputs())
async def test_every_rewrite_passes_the_rewrite_rules_and_is_reproducible(
    model_input: TopicModelInput,
) -> None:
    model = OfflineTopicModel()

    result = await model.rewrite_topics(model_input)

    validate_rewrite(model_input, result)
    assert await model.rewrite_topics(model_input) == result
