"""Argument checks that every :class:`~memory_domain.ports.MemoryStore` adapter makes alike.

They refuse, before any I/O, calls that no stored state could make valid, so the in-memory
and the SQL store raise the same ``ValueError`` for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memory_domain.model import Topic, TopicRevision


def require_aware(value: datetime, what: str) -> None:
    """Raise ``ValueError`` unless ``value`` carries a time zone."""
    if value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


def check_revision_number(group_id: str, expected_version: int, revision_group: str, number: int) -> None:
    """Raise ``ValueError`` unless a revision of ``revision_group`` numbered ``number`` may follow
    version ``expected_version`` of ``group_id``: the same group, and exactly the next number."""
    if revision_group != group_id:
        raise ValueError(f"a revision of group {revision_group!r} cannot be committed to group {group_id!r}")
    if expected_version < 0 or number != expected_version + 1:
        raise ValueError(
            f"revision {number} cannot follow version {expected_version}: it must be {expected_version + 1}"
        )


def check_topic_update(
    group_id: str, expected_version: int, topics: Sequence[Topic], revision: TopicRevision
) -> None:
    """Raise ``ValueError`` when the update is malformed whatever the store holds.

    The revision must belong to the group and be numbered ``expected_version + 1`` (the new
    version of the memory is the revision number), topic ids must not repeat, and every
    timestamp must be timezone-aware.
    """
    check_revision_number(group_id, expected_version, revision.group_id, revision.revision)
    topic_ids = [topic.topic_id for topic in topics]
    if len(set(topic_ids)) != len(topic_ids):
        raise ValueError(f"group {group_id!r}: a topic id appears more than once in the update")
    require_aware(revision.created_at, "revision.created_at")
    for topic in topics:
        require_aware(topic.created_at, f"topic {topic.topic_id!r} created_at")
        require_aware(topic.updated_at, f"topic {topic.topic_id!r} updated_at")
