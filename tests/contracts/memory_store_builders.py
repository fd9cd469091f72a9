"""Builders of memory-domain values for MemoryStore tests: short to write, fixed in time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

from memory_domain.model import ChatMessage, Role, Topic, TopicRevision, TopicStatus
from memory_domain.ports import MemoryStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def msg(message_id: str, *, group: str = "g1", minute: float = 0, content: str | None = None) -> ChatMessage:
    return ChatMessage(
        message_id=message_id,
        group_id=group,
        sender_id="u1",
        sender_name="Alice",
        role=Role.USER,
        content=content or f"message {message_id}",
        sent_at=at(minute),
    )


def topic(
    topic_id: str, *, minute: float = 0, status: TopicStatus = TopicStatus.ACTIVE, title: str | None = None
) -> Topic:
    return Topic(
        topic_id=topic_id,
        title=title or f"title {topic_id}",
        summary=f"summary of {topic_id}",
        message_ids=("m1",),
        created_at=T0,
        updated_at=at(minute),
        status=status,
    )


def revision(number: int, message_ids: Sequence[str], *, group: str = "g1") -> TopicRevision:
    return TopicRevision(
        group_id=group,
        revision=number,
        created_at=at(100 + number),
        message_ids=tuple(message_ids),
        model="offline",
        prompt_tokens=10 * number,
        completion_tokens=number,
        duration_ms=5,
        diff={"revision": number, "added": ["t1"]},
    )


def ids(messages: Sequence[ChatMessage]) -> list[str]:
    return [message.message_id for message in messages]


async def commit(
    store: MemoryStore,
    version: int,
    message_ids: Sequence[str],
    topics: Sequence[Topic] = (),
    group: str = "g1",
) -> None:
    await store.commit_topic_update(group, version, topics, revision(version + 1, message_ids, group=group))
