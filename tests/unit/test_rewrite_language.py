"""A model answer in another language than the chat's is refused; mixed chats pass."""

from __future__ import annotations

import pytest

from memory_domain.errors import InvalidRewrite
from memory_domain.model import ModelUsage, Topic, TopicDraft, TopicModelInput, TopicRewrite
from memory_domain.rewrite_rules import validate_language
from tests.support.world import START, message

CHINESE = ["周末一起去爬山吧，天气很好", "好的，我来买火车票"]
ENGLISH = ["shall we go hiking this weekend?", "sure, I will buy the train tickets"]


def model_input(contents: list[str], topics: tuple[Topic, ...] = ()) -> TopicModelInput:
    new = tuple(message(f"m{i}", content=text, minutes=i) for i, text in enumerate(contents))
    return TopicModelInput("g1", topics, new)


def answer(
    title: str, summary: str, topic_id: str | None = None, ids: tuple[str, ...] = ("m0", "m1")
) -> TopicRewrite:
    return TopicRewrite((TopicDraft(topic_id, title, summary, ids),), ModelUsage("m"))


@pytest.mark.parametrize(
    ("contents", "title", "summary"),
    [
        (CHINESE, "Weekend hike", "They plan a hike and buy train tickets."),
        (ENGLISH, "周末爬山", "大家计划周末去爬山，并购买火车票。"),
    ],
    ids=["chinese-chat-english-answer", "english-chat-chinese-answer"],
)
def test_a_topic_in_another_language_than_its_messages_is_refused(
    contents: list[str], title: str, summary: str
) -> None:
    with pytest.raises(InvalidRewrite, match=r"new topic #1: .*not in the language of its messages"):
        validate_language(model_input(contents), answer(title, summary))


@pytest.mark.parametrize(
    ("contents", "title", "summary"),
    [
        (CHINESE, "周末爬山", "大家计划周末去爬山。"),
        (ENGLISH, "Weekend hike", "A hike is planned."),
        (CHINESE, "周末 hiking", "Weekend hike: 买火车票"),  # some CJK in the answer: not another language
        (
            ["部署 kubernetes cluster 到 production 环境", "rollback plan for the deploy 回滚"],
            "Deploy",
            "Rollout plan",
        ),
        (["123 456", "!!!"], "Numbers", "Only numbers were said."),  # no letters: nothing to compare
    ],
    ids=["chinese", "english", "chinese-with-terms", "mixed-chat", "no-letters"],
)
def test_a_topic_in_the_language_of_its_messages_passes(
    contents: list[str], title: str, summary: str
) -> None:
    validate_language(model_input(contents), answer(title, summary))


def test_a_kept_topic_is_compared_with_its_own_title_and_summary_too() -> None:
    hike = Topic("t1", "周末爬山", "大家计划周末去爬山。", ("old",), START, START)
    with pytest.raises(InvalidRewrite, match="t1: "):
        validate_language(model_input([], (hike,)), answer("Weekend hike", "A hike.", topic_id="t1", ids=()))
    validate_language(
        model_input([], (hike,)), answer("周末爬山", "大家计划周末去爬山。", topic_id="t1", ids=())
    )
