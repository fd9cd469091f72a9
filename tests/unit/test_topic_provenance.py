"""A topic holds its newest message ids and a count: its row does not grow with its history."""

from __future__ import annotations

from datetime import UTC, datetime

from memory_domain.model import RECENT_TOPIC_MESSAGE_IDS, ModelUsage, Topic, TopicDraft, TopicRewrite
from memory_domain.topic_merge import merge_rewrite

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Ids:
    def new_id(self) -> str:
        return "new"


def test_a_topic_built_from_ids_counts_them() -> None:
    assert Topic("t1", "title", "summary", ("m1", "m2"), NOW, NOW).message_count == 2
    assert Topic("t1", "title", "summary", ("m1",), NOW, NOW, message_count=7).message_count == 7


def test_filing_messages_keeps_the_newest_ids_and_grows_the_count() -> None:
    topic = Topic(
        "t1", "title", "summary", tuple(f"old{i}" for i in range(40)), NOW, NOW, message_count=1_000
    )
    grown = topic.with_messages(tuple(f"new{i}" for i in range(30)))
    assert len(grown.message_ids) == RECENT_TOPIC_MESSAGE_IDS
    assert grown.message_ids[-1] == "new29" and grown.message_ids[0] == "old20"
    assert grown.message_count == 1_030


def test_an_update_of_a_long_topic_writes_a_bounded_topic_and_assigns_every_new_message() -> None:
    history = Topic(
        "t1", "title", "summary", tuple(f"m{i}" for i in range(50)), NOW, NOW, message_count=20_000
    )
    new_ids = tuple(f"n{i}" for i in range(200))
    rewrite = TopicRewrite((TopicDraft("t1", "title", "summary", new_ids),), ModelUsage("test"))
    changed, diff = merge_rewrite([history], rewrite, NOW, Ids())
    (topic,) = changed
    assert topic.message_ids == new_ids[-RECENT_TOPIC_MESSAGE_IDS:]
    assert topic.message_count == 20_200
    assert diff["assignments"] == {"t1": list(new_ids)}
