"""Mapping between the memory domain's value objects and the rows of ``tables``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from memory_domain.model import (
    RECENT_TOPIC_MESSAGE_IDS,
    ChatMessage,
    Role,
    Topic,
    TopicRevision,
    TopicStatus,
    UpdateFailure,
)


def message_row(message: ChatMessage, recorded_at: datetime) -> dict[str, Any]:
    return {
        "group_id": message.group_id,
        "message_id": message.message_id,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "role": message.role.value,
        "content": message.content,
        "sent_at": message.sent_at,
        "reply_to": message.reply_to,
        "recorded_at": recorded_at,
        "revision": None,
    }


def message_from_row(row: sa.Row[Any]) -> ChatMessage:
    return ChatMessage(
        message_id=row.message_id,
        group_id=row.group_id,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        role=Role(row.role),
        content=row.content,
        sent_at=row.sent_at,
        reply_to=row.reply_to,
    )


def topic_row(group_id: str, topic: Topic, revision: int) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "topic_id": topic.topic_id,
        "title": topic.title,
        "summary": topic.summary,
        "message_ids": list(topic.message_ids[-RECENT_TOPIC_MESSAGE_IDS:]),
        "message_count": topic.message_count,
        "status": topic.status.value,
        "created_at": topic.created_at,
        "updated_at": topic.updated_at,
        "revision": revision,
    }


def topic_from_row(row: sa.Row[Any]) -> Topic:
    return Topic(
        topic_id=row.topic_id,
        title=row.title,
        summary=row.summary,
        message_ids=tuple(row.message_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=TopicStatus(row.status),
        message_count=row.message_count,
    )


def revision_row(revision: TopicRevision) -> dict[str, Any]:
    return {
        "group_id": revision.group_id,
        "revision": revision.revision,
        "created_at": revision.created_at,
        "message_ids": list(revision.message_ids),
        "model": revision.model,
        "prompt_tokens": revision.prompt_tokens,
        "completion_tokens": revision.completion_tokens,
        "duration_ms": revision.duration_ms,
        "diff": revision.diff,
    }


def revision_from_row(row: sa.Row[Any]) -> TopicRevision:
    return TopicRevision(
        group_id=row.group_id,
        revision=row.revision,
        created_at=row.created_at,
        message_ids=tuple(row.message_ids),
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        duration_ms=row.duration_ms,
        diff=row.diff,
    )


def failure_from_row(row: sa.Row[Any]) -> UpdateFailure:
    return UpdateFailure(
        group_id=row.group_id,
        created_at=row.created_at,
        error=row.error,
        message_ids=tuple(row.message_ids),
    )
