"""Merging a distiller's answer into the live items: provenance kept within bounds, origins kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.system import SequentialIds
from memory_domain.evolution_merge import MAX_MESSAGE_IDS, MAX_TOPIC_IDS, merge_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft, ItemKind, MemoryItem
from memory_domain.model import ModelUsage, Topic

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def confirm(item: MemoryItem, day: int, count: int) -> MemoryItem:
    """One evolution in which ``count`` new messages of a new topic confirm ``item``."""
    message_ids = tuple(f"d{day}-m{n:03d}" for n in range(count))
    topic = Topic(f"t{day}", "t", "s", message_ids, T0, T0)
    draft = ItemDraft(item.item_id, None, None, (topic.topic_id,), message_ids)
    answer = Distillation((draft,), ModelUsage("m"))
    [merged], _ = merge_distillation(
        DistillInput("g1", (item,), (topic,)), answer, T0 + timedelta(days=day), SequentialIds("x")
    )
    return merged


def test_a_long_confirmed_item_keeps_the_messages_it_came_from_and_the_newest() -> None:
    origin = tuple(f"origin-{n}" for n in range(3))
    item = MemoryItem("i1", ItemKind.DECISION, "ship on Friday", ("t0",), origin, T0, T0)
    for day in range(1, 8):
        item = confirm(item, day, 100)
    assert len(item.message_ids) == MAX_MESSAGE_IDS and len(item.topic_ids) == 8
    assert item.message_ids[:3] == origin  # where it came from stays, for good
    assert item.message_ids[-100:] == tuple(f"d7-m{n:03d}" for n in range(100))  # the newest
    for day in range(8, 60):
        item = confirm(item, day, 1)
    assert item.message_ids[:3] == origin and item.message_ids[-1] == "d59-m000"
    assert len(item.topic_ids) == MAX_TOPIC_IDS and item.topic_ids[0] == "t0" and item.topic_ids[-1] == "t59"
