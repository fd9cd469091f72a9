from __future__ import annotations

import pytest

from memory_domain.errors import InvalidRewrite
from memory_domain.model import ModelUsage, Topic, TopicDraft, TopicModelInput, TopicRewrite
from memory_domain.rewrite_rules import MAX_ACTIVE_TOPICS, validate_rewrite
from tests.support.world import START, messages

USAGE = ModelUsage("m")


def topics(count: int) -> tuple[Topic, ...]:
    return tuple(
        Topic(f"t{i}", f"title {i}", f"summary {i}", (f"old{i}",), START, START) for i in range(count)
    )


def model_input(existing: int, new: int = 2) -> TopicModelInput:
    return TopicModelInput("g1", topics(existing), tuple(messages(new)))


def rewrite(*drafts: TopicDraft) -> TopicRewrite:
    return TopicRewrite(tuple(drafts), USAGE)


NEW = ("m0000", "m0001")


def test_a_good_rewrite_passes() -> None:
    validate_rewrite(model_input(2), rewrite(TopicDraft("t0", "a", "b", NEW), TopicDraft("t1", "c", "d")))


@pytest.mark.parametrize(
    ("drafts", "problem"),
    [
        ((), "no topics"),
        ((TopicDraft("nope", "a", "b", NEW),), "not a current topic"),
        ((TopicDraft("t0", "a", "b", NEW), TopicDraft("t0", "a", "b")), "more than once"),
        ((TopicDraft("t0", " ", "b", NEW),), "title is empty"),
        ((TopicDraft("t0", "a", "", NEW),), "summary is empty"),
        ((TopicDraft("t0", "a", "b", ("m0000",)),), "assigned to no topic"),
        ((TopicDraft("t0", "a", "b", NEW), TopicDraft(None, "c", "d", ("m0001",))), "more than one topic"),
        ((TopicDraft("t0", "a", "b", (*NEW, "elsewhere")),), "not one of this update's messages"),
        ((TopicDraft(None, "a", "b", NEW),), "drop all 4 existing topics"),
        ((TopicDraft(None, "a", "b"),), "at least one new message"),
    ],
)
def test_a_broken_rewrite_is_refused_naming_the_rule(drafts: tuple[TopicDraft, ...], problem: str) -> None:
    with pytest.raises(InvalidRewrite, match=problem):
        validate_rewrite(model_input(4), rewrite(*drafts))


def test_archiving_more_than_half_of_the_topics_at_once_is_refused() -> None:
    with pytest.raises(InvalidRewrite, match="archive 3 of 4"):
        validate_rewrite(model_input(4), rewrite(TopicDraft("t0", "merged", "everything", NEW)))
    validate_rewrite(model_input(4), rewrite(TopicDraft("t0", "a", "b", NEW), TopicDraft("t1", "c", "d")))


def test_the_topic_cap_may_require_archiving_more() -> None:
    full = model_input(MAX_ACTIVE_TOPICS)
    kept = [TopicDraft(f"t{i}", "a", "b") for i in range(1, MAX_ACTIVE_TOPICS - 1)]
    validate_rewrite(full, rewrite(TopicDraft(None, "new", "n", NEW), *kept))
    with pytest.raises(InvalidRewrite, match="at most"):
        validate_rewrite(
            full,
            rewrite(
                TopicDraft(None, "new", "n", NEW), *(TopicDraft(t.topic_id, "a", "b") for t in full.topics)
            ),
        )
