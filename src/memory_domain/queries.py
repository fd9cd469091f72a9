"""Read-side services: what other programs and operators read of a group's memory."""

from __future__ import annotations

from dataclasses import dataclass

from memory_domain.model import Topic, TopicRevision, UpdateFailure, validate_group_id
from memory_domain.ports import MemoryStore


@dataclass(frozen=True, slots=True)
class GroupMemoryView:
    """A group's topic memory as an operator sees it."""

    group_id: str
    version: int
    pending_messages: int
    topics: tuple[Topic, ...]
    last_failure: UpdateFailure | None


class MemoryQueries:
    """Reads a group's topic memory, its backlog and its history from the source of truth."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def show(self, group_id: str) -> GroupMemoryView:
        validate_group_id(group_id)
        memory = await self._store.get_topic_memory(group_id)
        state = await self._store.pending_state(group_id)
        failure = await self._store.last_failure(group_id)
        if failure is not None and memory.updated_at is not None and failure.created_at < memory.updated_at:
            failure = None  # a later update succeeded; the old error is history, not status
        return GroupMemoryView(
            group_id=group_id,
            version=memory.version,
            pending_messages=state.count,
            topics=memory.topics,
            last_failure=failure,
        )

    async def history(self, group_id: str, limit: int = 50) -> list[TopicRevision]:
        validate_group_id(group_id)
        return await self._store.list_revisions(group_id, limit)

    async def groups(self) -> list[str]:
        return await self._store.group_ids()
