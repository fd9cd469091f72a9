"""A dict-backed :class:`~memory_domain.ports.MemoryStore` for tests and single-process use."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.in_memory.quarantine import InMemoryQuarantine
from adapters.in_memory.search_index import InMemorySearchIndex
from adapters.in_memory.store_rows import Group, StoredMessage
from adapters.memory_store_checks import check_topic_update, require_aware
from memory_domain.errors import MessagesNotPending, StaleVersion
from memory_domain.model import (
    RECENT_TOPIC_MESSAGE_IDS,
    ChatMessage,
    PendingState,
    Topic,
    TopicMemory,
    TopicRevision,
    TopicStatus,
    UpdateFailure,
    UpdateInput,
)
from memory_domain.ports import FAILURES_KEPT_PER_GROUP
from memory_domain.update_input import replied_ids, update_context


class InMemoryMemoryStore(InMemoryQuarantine):
    """The memory store in plain dicts, with the SQL store's semantics.

    It passes the same contract suite as :class:`adapters.postgres.store.SqlMemoryStore`:
    datetimes come back in UTC, JSON fields go through a JSON round trip, and a refused commit
    (:class:`StaleVersion`, :class:`MessagesNotPending`) leaves everything as it was. No method
    awaits, so each one is atomic on its event loop, as a transaction is.
    """

    def __init__(self) -> None:
        self._groups: dict[str, Group] = {}
        # Written in the commit that integrates messages, as the SQL store writes its index.
        self.search_index = InMemorySearchIndex(self._integrated)

    async def add_messages(self, messages: Sequence[ChatMessage], recorded_at: datetime) -> list[ChatMessage]:
        require_aware(recorded_at, "recorded_at")
        recorded_at = recorded_at.astimezone(UTC)
        added: list[ChatMessage] = []
        for message in messages:
            group = self._groups.setdefault(message.group_id, Group())
            if message.message_id in group.messages:
                continue
            stored = dataclasses.replace(message, sent_at=message.sent_at.astimezone(UTC))
            group.messages[message.message_id] = StoredMessage(stored, recorded_at)
            added.append(message)
        return added

    async def pending_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        if limit <= 0:
            return []
        return [stored.message for stored in self._pending(group_id)[:limit]]

    async def pending_state(self, group_id: str) -> PendingState:
        return self._state(group_id)

    def _state(self, group_id: str) -> PendingState:
        pending = self._pending(group_id)
        oldest = min((stored.recorded_at for stored in pending), default=None)
        return PendingState(group_id=group_id, count=len(pending), oldest_recorded_at=oldest)

    async def all_pending_states(self) -> list[PendingState]:
        states = [await self.pending_state(group_id) for group_id in sorted(self._groups)]
        return [state for state in states if state.count]

    async def messages_by_ids(self, group_id: str, message_ids: Sequence[str]) -> list[ChatMessage]:
        group = self._groups.get(group_id)
        if group is None:
            return []
        found = [group.messages[i].message for i in dict.fromkeys(message_ids) if i in group.messages]
        return sorted(found, key=_message_order)

    async def recent_integrated_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        if limit <= 0:
            return []
        group = self._groups.get(group_id)
        integrated = (
            [] if group is None else [s.message for s in group.messages.values() if s.revision is not None]
        )
        return sorted(integrated, key=_message_order)[-limit:]

    async def get_topic_memory(self, group_id: str) -> TopicMemory:
        group = self._groups.get(group_id)
        if group is None or group.version == 0:
            return TopicMemory(group_id=group_id, version=0)
        active = [topic for topic in group.topics.values() if topic.status is TopicStatus.ACTIVE]
        # Newest first, ties by id: two stable sorts, the secondary key first.
        active.sort(key=lambda topic: topic.topic_id)
        active.sort(key=lambda topic: topic.updated_at, reverse=True)
        return TopicMemory(
            group_id=group_id, version=group.version, topics=tuple(active), updated_at=group.updated_at
        )

    async def read_update_input(self, group_id: str, limit: int, context_limit: int) -> UpdateInput:
        memory = await self.get_topic_memory(group_id)
        pending = await self.pending_messages(group_id, limit)
        recent = await self.recent_integrated_messages(group_id, context_limit)
        wanted = replied_ids(pending, recent)
        group = self._groups.get(group_id)
        replied = [
            group.messages[i].message
            for i in wanted
            if group is not None and i in group.messages and not group.messages[i].pending
        ]
        context = update_context(recent, replied)
        topic_of = {}
        if group is not None:
            for message in context:
                topic_id = group.messages[message.message_id].topic_id
                if topic_id is not None:
                    topic_of[message.message_id] = topic_id
        return UpdateInput(memory, tuple(pending), context, topic_of)

    async def commit_topic_update(
        self,
        group_id: str,
        expected_version: int,
        topics: Sequence[Topic],
        revision: TopicRevision,
        assignments: Mapping[str, Sequence[str]] | None = None,
    ) -> PendingState:
        check_topic_update(group_id, expected_version, topics, revision)
        group = self._groups.get(group_id, Group())
        if group.version != expected_version:
            raise StaleVersion(
                f"group {group_id!r}: the topic memory is at version {group.version}, "
                f"not the expected {expected_version}"
            )
        message_ids = list(dict.fromkeys(revision.message_ids))
        missing = [
            message_id
            for message_id in message_ids
            if message_id not in group.messages or not group.messages[message_id].pending
        ]
        if missing:
            raise MessagesNotPending(
                f"group {group_id!r}: {len(missing)} message(s) of revision {revision.revision} are not "
                f"pending (already integrated, quarantined or never recorded): {', '.join(missing[:5])}"
            )
        # Every check passed: from here on nothing can fail, so the update is all or nothing.
        stored_revision = _stored_revision(revision)
        self._groups[group_id] = group
        group.version = revision.revision
        group.updated_at = stored_revision.created_at
        for message_id in message_ids:
            group.messages[message_id].revision = revision.revision
        for topic in topics:
            group.topics[topic.topic_id] = dataclasses.replace(
                topic,
                message_ids=tuple(topic.message_ids[-RECENT_TOPIC_MESSAGE_IDS:]),
                created_at=topic.created_at.astimezone(UTC),
                updated_at=topic.updated_at.astimezone(UTC),
            )
            group.topic_revisions[topic.topic_id] = revision.revision
        group.revisions.append(stored_revision)
        if assignments is None:
            assignments = {topic.topic_id: topic.message_ids for topic in topics}
        for topic_id, filed in assignments.items():
            for message_id in filed:
                if message_id in group.messages:
                    group.messages[message_id].topic_id = topic_id
        self.search_index.add(group_id, [group.messages[message_id].message for message_id in message_ids])
        return self._state(group_id)

    async def list_revisions(self, group_id: str, limit: int) -> list[TopicRevision]:
        if limit <= 0:
            return []
        group = self._groups.get(group_id)
        revisions = [] if group is None else group.revisions
        return sorted(revisions, key=lambda revision: revision.revision, reverse=True)[:limit]

    async def record_failure(self, failure: UpdateFailure) -> None:
        require_aware(failure.created_at, "created_at")
        group = self._groups.setdefault(failure.group_id, Group())
        group.failures.append(
            dataclasses.replace(
                failure, created_at=failure.created_at.astimezone(UTC), message_ids=tuple(failure.message_ids)
            )
        )
        # Sorted stably by time, so among equal times the one recorded last stays last.
        group.failures = sorted(group.failures, key=lambda kept: kept.created_at)[-FAILURES_KEPT_PER_GROUP:]

    async def last_failure(self, group_id: str) -> UpdateFailure | None:
        group = self._groups.get(group_id)
        if group is None or not group.failures:
            return None
        # The latest by time; among equal times the one recorded last, as the SQL store's id does.
        return max(reversed(group.failures), key=lambda failure: failure.created_at)

    async def group_ids(self) -> list[str]:
        return sorted(group_id for group_id, group in self._groups.items() if group.messages)

    # -- read by the in-memory group memory store (not part of the MemoryStore port) ----------

    def _integrated(self, group_id: str) -> list[ChatMessage]:
        group = self._groups.get(group_id, Group())
        return [stored.message for stored in group.messages.values() if stored.revision is not None]

    def topic_version(self, group_id: str) -> int:
        group = self._groups.get(group_id)
        return 0 if group is None else group.version

    def topic_versions(self) -> dict[str, int]:
        return {group_id: group.version for group_id, group in self._groups.items() if group.version}

    def topics_written_between(self, group_id: str, after: int, until: int) -> list[tuple[Topic, int]]:
        """Topics (active or archived) last written by a revision in (after, until], newest first.

        Each with the revision that wrote it last.
        """
        group = self._groups.get(group_id)
        if group is None:
            return []
        changed = [
            (group.topics[t], written)
            for t, written in group.topic_revisions.items()
            if after < written <= until
        ]
        changed.sort(key=lambda pair: pair[0].topic_id)
        changed.sort(key=lambda pair: pair[0].updated_at, reverse=True)
        return changed

    def messages_integrated_between(
        self, group_id: str, after: int, until: int, limit: int
    ) -> list[ChatMessage]:
        """The latest ``limit`` messages integrated by a revision in (after, until], oldest first."""
        group = self._groups.get(group_id)
        if group is None or limit <= 0:
            return []
        integrated = [
            s.message
            for s in group.messages.values()
            if s.revision is not None and after < s.revision <= until
        ]
        return sorted(integrated, key=_message_order)[-limit:]

    def topics_of(self, group_id: str, message_ids: Sequence[str]) -> dict[str, str]:
        """The topic each of these messages is filed in (those filed), by message id."""
        group = self._groups.get(group_id)
        if group is None:
            return {}
        stored = [group.messages.get(message_id) for message_id in message_ids]
        return {s.message.message_id: s.topic_id for s in stored if s is not None and s.topic_id is not None}

    def _pending(self, group_id: str) -> list[StoredMessage]:
        group = self._groups.get(group_id)
        if group is None:
            return []
        pending = [stored for stored in group.messages.values() if stored.pending]
        return sorted(pending, key=lambda stored: _message_order(stored.message))


def _message_order(message: ChatMessage) -> tuple[datetime, str]:
    return (message.sent_at, message.message_id)


def _stored_revision(revision: TopicRevision) -> TopicRevision:
    # The SQL store keeps ``diff`` as JSON: the same round trip here makes a diff that is not
    # JSON fail in both, and gives back the same shapes (lists, not tuples).
    diff: dict[str, Any] = json.loads(json.dumps(revision.diff))
    return dataclasses.replace(
        revision,
        created_at=revision.created_at.astimezone(UTC),
        message_ids=tuple(revision.message_ids),
        diff=diff,
    )
