"""Turning a validated rewrite into the topic rows to commit, and the diff kept on the revision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from memory_domain.model import Topic, TopicRewrite, TopicStatus
from memory_domain.ports import IdGenerator


def merge_rewrite(
    current: Sequence[Topic], rewrite: TopicRewrite, now: datetime, ids: IdGenerator
) -> tuple[list[Topic], dict[str, Any]]:
    """Apply a rewrite (already validated) to the current active topics.

    Returns every topic whose row changes (kept, new and archived ones) and the diff:
    ``added``, ``updated``, ``archived`` topic ids and ``assignments`` (topic id -> the ids of
    the messages this update added to it). Existing topics keep their id and their provenance;
    a topic the rewrite leaves out is archived, never deleted.
    """
    by_id = {topic.topic_id: topic for topic in current}
    changed: list[Topic] = []
    added: list[str] = []
    updated: list[str] = []
    assignments: dict[str, list[str]] = {}
    kept: set[str] = set()
    for draft in rewrite.topics:
        title, summary = draft.title.strip(), draft.summary.strip()
        if draft.topic_id is None:
            topic = Topic(
                topic_id=ids.new_id(),
                title=title,
                summary=summary,
                message_ids=(),
                created_at=now,
                updated_at=now,
            ).with_messages(tuple(draft.new_message_ids))
            added.append(topic.topic_id)
            changed.append(topic)
        else:
            kept.add(draft.topic_id)
            old = by_id[draft.topic_id]
            # New messages are pending, so none is filed in the topic yet: no need to look
            # through the topic's history (which the topic no longer holds in full anyway).
            new_ids = tuple(dict.fromkeys(draft.new_message_ids))
            if not new_ids and old.title == title and old.summary == summary:
                continue
            topic = old.with_messages(new_ids, title=title, summary=summary, updated_at=now)
            updated.append(topic.topic_id)
            changed.append(topic)
        if draft.new_message_ids:
            assignments[topic.topic_id] = list(draft.new_message_ids)
    archived = [topic_id for topic_id in by_id if topic_id not in kept]
    for topic_id in archived:
        changed.append(replace(by_id[topic_id], status=TopicStatus.ARCHIVED, updated_at=now))
    diff: dict[str, Any] = {
        "added": added,
        "updated": updated,
        "archived": archived,
        "assignments": assignments,
    }
    return changed, diff
