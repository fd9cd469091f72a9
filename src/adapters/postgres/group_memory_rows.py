"""Mapping between group-memory value objects and the rows of ``group_memory_tables``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from memory_domain.group_model import (
    EvolutionFailure,
    GroupMemoryRevision,
    ItemKind,
    MemoryItem,
    RevisionAction,
)


def item_row(group_id: str, item: MemoryItem, since_revision: int) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "item_id": item.item_id,
        "since_revision": since_revision,
        "until_revision": None,
        "kind": item.kind.value,
        "text": item.text,
        "topic_ids": list(item.topic_ids),
        "message_ids": list(item.message_ids),
        "valid_from": item.valid_from,
        "invalid_at": item.invalid_at,
        "superseded_by": item.superseded_by,
        "updated_at": item.updated_at,
    }


def item_from_row(row: sa.Row[Any]) -> MemoryItem:
    return MemoryItem(
        item_id=row.item_id,
        kind=ItemKind(row.kind),
        text=row.text,
        topic_ids=tuple(row.topic_ids),
        message_ids=tuple(row.message_ids),
        valid_from=row.valid_from,
        updated_at=row.updated_at,
        invalid_at=row.invalid_at,
        superseded_by=row.superseded_by,
    )


def revision_row(revision: GroupMemoryRevision) -> dict[str, Any]:
    return {
        "group_id": revision.group_id,
        "revision": revision.revision,
        "created_at": revision.created_at,
        "action": revision.action.value,
        "topic_version": revision.topic_version,
        "topic_ids": list(revision.topic_ids),
        "message_ids": list(revision.message_ids),
        "model": revision.model,
        "prompt_tokens": revision.prompt_tokens,
        "completion_tokens": revision.completion_tokens,
        "duration_ms": revision.duration_ms,
        "diff": revision.diff,
    }


def revision_from_row(row: sa.Row[Any]) -> GroupMemoryRevision:
    return GroupMemoryRevision(
        group_id=row.group_id,
        revision=row.revision,
        created_at=row.created_at,
        action=RevisionAction(row.action),
        topic_version=row.topic_version,
        topic_ids=tuple(row.topic_ids),
        message_ids=tuple(row.message_ids),
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        duration_ms=row.duration_ms,
        diff=row.diff,
    )


def failure_from_row(row: sa.Row[Any]) -> EvolutionFailure:
    return EvolutionFailure(group_id=row.group_id, created_at=row.created_at, error=row.error)
