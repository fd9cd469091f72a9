"""The offline distiller on a full memory: old facts make room, nothing new is dropped silently."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from adapters.llm.offline_distill import OfflineMemoryDistiller
from memory_domain.evolution_rules import MAX_LIVE_ITEMS, validate_distillation
from memory_domain.group_model import DistillInput, ItemKind, MemoryItem
from memory_domain.model import Topic, TopicStatus
from tests.unit.test_offline_distiller import T0, say

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
]


def old_item(n: int, kind: ItemKind, topic_id: str, age_days: int) -> MemoryItem:
    text = f"{kind.value} {WORDS[n % 12]} {WORDS[(n // 12) % 12]} number {n} about warehouse {n * 7}"
    at = T0 - timedelta(days=age_days)
    return MemoryItem(f"i{n:03d}", kind, text, (topic_id,), (f"x{n}",), at, at)


def chat_topic(topic_id: str, status: TopicStatus = TopicStatus.ACTIVE) -> Topic:
    messages = ("m1", "m2") if status is TopicStatus.ACTIVE else ("g1", "g2", "g3")
    return Topic(topic_id, "db", "We decided to go with Postgres.", messages, T0, T0, status)


async def test_a_full_memory_retires_its_oldest_facts_of_archived_topics_first_to_keep_new_decisions() -> (
    None
):
    live = [old_item(n, ItemKind.FACT, f"old{n}", age_days=10) for n in range(MAX_LIVE_ITEMS - 2)]
    live.append(old_item(900, ItemKind.FACT, "gone", age_days=1))  # an archived topic, recent
    live.append(old_item(901, ItemKind.FACT, "old901", age_days=30))  # the oldest fact
    chat = [
        say("m1", "a", "We decided to go with Postgres for the order service.", 0),
        say("m2", "b", "We decided to keep the nightly backups for a year.", 1),
    ]
    topics = (chat_topic("t1"), chat_topic("gone", TopicStatus.ARCHIVED))
    distil_input = DistillInput("g1", tuple(live), topics, tuple(chat))

    answer = await OfflineMemoryDistiller().distil(distil_input)

    validate_distillation(distil_input, answer)
    added = [d for d in answer.items if d.item_id is None]
    assert [d.kind for d in added] == [ItemKind.DECISION, ItemKind.DECISION]
    assert len(answer.items) == MAX_LIVE_ITEMS
    retired = {item.item_id for item in live} - {d.item_id for d in answer.items}
    assert retired == {"i900", "i901"}


async def test_new_items_that_find_no_room_are_dropped_least_important_first_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing may be retired: every live item is a decision.
    live = [old_item(n, ItemKind.DECISION, f"old{n}", age_days=10) for n in range(MAX_LIVE_ITEMS)]
    chat = [
        say("m1", "a", "We decided to go with Postgres for the order service.", 0),
        say("m2", "b", "I prefer tabs over spaces in the new repository.", 1),
    ]
    distil_input = DistillInput("g1", tuple(live), (chat_topic("t1"),), tuple(chat))

    with caplog.at_level(logging.WARNING):
        answer = await OfflineMemoryDistiller().distil(distil_input)

    assert len(answer.items) == MAX_LIVE_ITEMS
    assert [d.item_id for d in answer.items] == [item.item_id for item in live]
    [record] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert "[decision] a said on 2 November 2026: We decided to go with Postgres" in record.getMessage()
    assert "[preference] b said on 2 November 2026: I prefer tabs" in record.getMessage()
