"""Dict-backed group memory and consensus slots, for tests and single-process use."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.group_memory_checks import check_group_memory_commit
from adapters.in_memory.store import InMemoryMemoryStore
from adapters.memory_store_checks import require_aware
from memory_domain.errors import StaleVersion
from memory_domain.group_model import (
    EvolutionFailure,
    GroupMemory,
    GroupMemoryRevision,
    MemoryItem,
    TopicChanges,
)


@dataclass(slots=True)
class _Reading:
    """One reading of an item: current from revision ``since`` until revision ``until``."""

    item: MemoryItem
    since: int
    until: int | None = None


@dataclass(slots=True)
class _GroupMemory:
    version: int = 0
    topic_version: int = 0
    updated_at: datetime | None = None
    readings: list[_Reading] = dataclasses.field(default_factory=list)
    revisions: list[GroupMemoryRevision] = dataclasses.field(default_factory=list)
    failures: list[EvolutionFailure] = dataclasses.field(default_factory=list)


class InMemoryGroupMemoryStore:
    """The :class:`~memory_domain.group_ports.GroupMemoryStore` in dicts, with the SQL store's semantics.

    It reads the topic memory of the :class:`InMemoryMemoryStore` it is given, as the SQL store
    reads the topic tables of its database. No method awaits, so each one is atomic.
    """

    def __init__(self, topics: InMemoryMemoryStore) -> None:
        self._topics = topics
        self._groups: dict[str, _GroupMemory] = {}

    async def get_group_memory(self, group_id: str, *, include_superseded: bool = False) -> GroupMemory:
        group = self._groups.get(group_id)
        if group is None:
            return GroupMemory(group_id=group_id, version=0)
        current = [r.item for r in group.readings if r.until is None]
        items = current if include_superseded else [item for item in current if item.live]
        return GroupMemory(
            group_id=group_id,
            version=group.version,
            topic_version=group.topic_version,
            items=_newest_first(items),
            updated_at=group.updated_at,
        )

    async def group_memory_at(self, group_id: str, version: int) -> GroupMemory:
        group = self._groups.get(group_id)
        revision = (
            None if group is None else next((r for r in group.revisions if r.revision == version), None)
        )
        if group is None or revision is None:
            return GroupMemory(group_id=group_id, version=0)
        items = [
            r.item
            for r in group.readings
            if r.since <= version and (r.until is None or r.until > version) and r.item.live
        ]
        return GroupMemory(
            group_id=group_id,
            version=version,
            topic_version=revision.topic_version,
            items=_newest_first(items),
            updated_at=revision.created_at,
        )

    async def topic_changes(
        self,
        group_id: str,
        since_topic_version: int,
        message_limit: int,
        until_topic_version: int | None = None,
    ) -> TopicChanges:
        until = self._topics.topic_version(group_id)
        if until_topic_version is not None:
            until = min(until, until_topic_version)
        written = self._topics.topics_written_between(group_id, since_topic_version, until)
        messages = self._topics.messages_integrated_between(
            group_id, since_topic_version, until, message_limit
        )
        return TopicChanges(
            group_id=group_id,
            topic_version=until,
            topics=tuple(topic for topic, _ in written),
            messages=tuple(messages),
            topic_revisions={topic.topic_id: revision for topic, revision in written},
            message_topics=self._topics.topics_of(group_id, [m.message_id for m in messages]),
        )

    async def groups_to_evolve(self, limit: int, after: str | None = None) -> list[str]:
        changed = [
            group_id
            for group_id, version in self._topics.topic_versions().items()
            if version > (self._groups[group_id].topic_version if group_id in self._groups else 0)
            and (after is None or group_id > after)
        ]
        return sorted(changed)[: max(0, limit)]

    async def commit_group_memory(
        self,
        group_id: str,
        expected_version: int,
        items: Sequence[MemoryItem],
        revision: GroupMemoryRevision,
    ) -> None:
        check_group_memory_commit(group_id, expected_version, items, revision)
        group = self._groups.get(group_id, _GroupMemory())
        if group.version != expected_version:
            raise StaleVersion(
                f"group {group_id!r}: the group memory is at version {group.version}, "
                f"not the expected {expected_version}"
            )
        stored = _stored_revision(revision)
        self._groups[group_id] = group
        changed = {item.item_id: _stored_item(item) for item in items}
        for reading in group.readings:
            if reading.until is None and reading.item.item_id in changed:
                reading.until = revision.revision
        group.readings.extend(_Reading(item, revision.revision) for item in changed.values())
        group.version = revision.revision
        group.topic_version = revision.topic_version
        group.updated_at = stored.created_at
        group.revisions.append(stored)

    async def list_group_memory_revisions(self, group_id: str, limit: int) -> list[GroupMemoryRevision]:
        group = self._groups.get(group_id)
        if group is None or limit <= 0:
            return []
        return sorted(group.revisions, key=lambda r: r.revision, reverse=True)[:limit]

    async def record_evolution_failure(self, failure: EvolutionFailure) -> None:
        require_aware(failure.created_at, "created_at")
        group = self._groups.setdefault(failure.group_id, _GroupMemory())
        group.failures.append(dataclasses.replace(failure, created_at=failure.created_at.astimezone(UTC)))

    async def last_evolution_failure(self, group_id: str) -> EvolutionFailure | None:
        group = self._groups.get(group_id)
        if group is None or not group.failures:
            return None
        return max(reversed(group.failures), key=lambda failure: failure.created_at)


class InMemoryConsensusSlots:
    """The :class:`~memory_domain.group_ports.ConsensusSlots` port over a dict of slots."""

    def __init__(self) -> None:
        # slot -> (holder, claimed_at, completed_at, groups)
        self.slots: dict[datetime, tuple[str, datetime, datetime | None, int | None]] = {}

    async def last_completed_slot(self) -> datetime | None:
        return max((slot for slot, row in self.slots.items() if row[2] is not None), default=None)

    async def claim_slot(self, slot_at: datetime, holder: str, now: datetime, stale_before: datetime) -> bool:
        for value, name in ((slot_at, "slot_at"), (now, "now"), (stale_before, "stale_before")):
            require_aware(value, name)
        slot_at = slot_at.astimezone(UTC)
        row = self.slots.get(slot_at)
        if row is not None and (row[2] is not None or row[1] >= stale_before):
            return False
        self.slots[slot_at] = (holder, now.astimezone(UTC), None, None)
        return True

    async def complete_slot(self, slot_at: datetime, holder: str, now: datetime, groups: int) -> bool:
        require_aware(slot_at, "slot_at")
        require_aware(now, "now")
        slot_at = slot_at.astimezone(UTC)
        row = self.slots.get(slot_at)
        if row is None or row[0] != holder or row[2] is not None:
            return False
        self.slots[slot_at] = (holder, row[1], now.astimezone(UTC), groups)
        return True


def _newest_first(items: list[MemoryItem]) -> tuple[MemoryItem, ...]:
    ordered = sorted(items, key=lambda item: item.item_id)
    ordered.sort(key=lambda item: item.updated_at, reverse=True)
    return tuple(ordered)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _stored_item(item: MemoryItem) -> MemoryItem:
    return dataclasses.replace(
        item,
        topic_ids=tuple(item.topic_ids),
        message_ids=tuple(item.message_ids),
        valid_from=item.valid_from.astimezone(UTC),
        updated_at=item.updated_at.astimezone(UTC),
        invalid_at=_utc(item.invalid_at),
    )


def _stored_revision(revision: GroupMemoryRevision) -> GroupMemoryRevision:
    # The SQL store keeps ``diff`` as JSON: the same round trip gives back the same shapes.
    diff: dict[str, Any] = json.loads(json.dumps(revision.diff))
    return dataclasses.replace(
        revision,
        created_at=revision.created_at.astimezone(UTC),
        topic_ids=tuple(revision.topic_ids),
        message_ids=tuple(revision.message_ids),
        diff=diff,
    )
