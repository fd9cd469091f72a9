"""Argument checks that every :class:`~memory_domain.group_ports.GroupMemoryStore` adapter makes alike."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.memory_store_checks import check_revision_number, require_aware
from memory_domain.group_model import GroupMemoryRevision, MemoryItem


def check_group_memory_commit(
    group_id: str, expected_version: int, items: Sequence[MemoryItem], revision: GroupMemoryRevision
) -> None:
    """Raise ``ValueError`` when the commit is malformed whatever the store holds.

    The revision must belong to the group and be numbered ``expected_version + 1``, its topic
    version must not be negative, item ids must not repeat, and every timestamp must be
    timezone-aware.
    """
    check_revision_number(group_id, expected_version, revision.group_id, revision.revision)
    if revision.topic_version < 0:
        raise ValueError("the revision's topic version must not be negative")
    item_ids = [item.item_id for item in items]
    if len(set(item_ids)) != len(item_ids):
        raise ValueError(f"group {group_id!r}: an item id appears more than once in the commit")
    require_aware(revision.created_at, "revision.created_at")
    for item in items:
        for name in ("valid_from", "updated_at", "invalid_at"):
            value = getattr(item, name)
            if value is not None:
                require_aware(value, f"item {item.item_id!r} {name}")
