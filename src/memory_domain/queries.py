"""Read-side services: what other programs and operators read of a group's memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memory_domain.group_model import EvolutionFailure, GroupMemory, RevisionAction
from memory_domain.group_ports import GroupMemoryStore
from memory_domain.model import QuarantinedMessage, Topic, TopicRevision, UpdateFailure, validate_group_id
from memory_domain.ports import MemoryStore


@dataclass(frozen=True, slots=True)
class GroupMemoryView:
    """A group's topic memory (and group memory, when the store has it) as an operator sees it."""

    group_id: str
    version: int
    pending_messages: int
    topics: tuple[Topic, ...]
    last_failure: UpdateFailure | None
    group_memory: GroupMemory | None = None
    last_evolution_failure: EvolutionFailure | None = None
    # Messages set aside after failing updates alone (the first QUARANTINE_SHOWN of them).
    quarantined: tuple[QuarantinedMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One revision of either memory: ``kind`` is ``topics`` or ``group_memory``."""

    kind: str
    revision: int
    created_at: datetime
    action: str
    message_ids: tuple[str, ...]
    model: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    diff: dict[str, Any] = field(default_factory=dict)


# How many quarantined messages a view lists; quarantine_counts() counts them all.
QUARANTINE_SHOWN = 100

# How many of the latest group-memory revisions are searched for the last evolution; a group
# rolled back more often than this in a row shows its last evolution error anyway.
_EVOLVE_LOOKBACK = 100


class MemoryQueries:
    """Reads a group's memories, its backlog and its history from the source of truth."""

    def __init__(self, store: MemoryStore, group_store: GroupMemoryStore | None = None) -> None:
        self._store = store
        self._group_store = group_store

    async def show(self, group_id: str, *, include_superseded: bool = False) -> GroupMemoryView:
        validate_group_id(group_id)
        memory = await self._store.get_topic_memory(group_id)
        state = await self._store.pending_state(group_id)
        failure = await self._store.last_failure(group_id)
        quarantined = await self._store.quarantined_messages(group_id, QUARANTINE_SHOWN)
        if failure is not None and memory.updated_at is not None and failure.created_at < memory.updated_at:
            failure = None  # a later update succeeded; the old error is history, not status
        group_memory = evolution_failure = None
        if self._group_store is not None:
            group_memory = await self._group_store.get_group_memory(
                group_id, include_superseded=include_superseded
            )
            evolution_failure = await self._group_store.last_evolution_failure(group_id)
            if evolution_failure is not None:
                # Only a later evolution clears the error: a rollback since does not mean the
                # evolution works again.
                revisions = await self._group_store.list_group_memory_revisions(group_id, _EVOLVE_LOOKBACK)
                evolved = next((r for r in revisions if r.action is RevisionAction.EVOLVE), None)
                if evolved is not None and evolution_failure.created_at < evolved.created_at:
                    evolution_failure = None
        return GroupMemoryView(
            group_id=group_id,
            version=memory.version,
            pending_messages=state.count,
            topics=memory.topics,
            last_failure=failure,
            group_memory=group_memory,
            last_evolution_failure=evolution_failure,
            quarantined=tuple(quarantined),
        )

    async def history(self, group_id: str, limit: int = 50) -> list[TopicRevision]:
        """The topic revisions, newest first."""
        validate_group_id(group_id)
        return await self._store.list_revisions(group_id, limit)

    async def timeline(self, group_id: str, limit: int = 50) -> list[HistoryEntry]:
        """The revisions of both memories, newest first (topic revisions first at equal times)."""
        validate_group_id(group_id)
        entries = [
            HistoryEntry(
                kind="topics",
                revision=r.revision,
                created_at=r.created_at,
                action="update",
                message_ids=r.message_ids,
                model=r.model,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                duration_ms=r.duration_ms,
                diff=r.diff,
            )
            for r in await self._store.list_revisions(group_id, limit)
        ]
        if self._group_store is not None:
            entries += [
                HistoryEntry(
                    kind="group_memory",
                    revision=r.revision,
                    created_at=r.created_at,
                    action=r.action.value,
                    message_ids=r.message_ids,
                    model=r.model,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    duration_ms=r.duration_ms,
                    diff={**r.diff, "topic_version": r.topic_version, "topic_ids": list(r.topic_ids)},
                )
                for r in await self._group_store.list_group_memory_revisions(group_id, limit)
            ]
        entries.sort(key=_order, reverse=True)
        return entries[:limit]

    async def groups(self) -> list[str]:
        return await self._store.group_ids()

    async def quarantine_counts(self) -> dict[str, int]:
        """How many quarantined messages each group has (groups without any are left out)."""
        return await self._store.quarantine_counts()

    async def exists(self, group_id: str) -> bool:
        """Whether any message of the group was ever recorded."""
        validate_group_id(group_id)
        # A message is pending, integrated by a revision (version 1 and up) or quarantined:
        # three reads by key, none of which lists the groups.
        if (await self._store.pending_state(group_id)).count:
            return True
        if (await self._store.get_topic_memory(group_id)).version:
            return True
        return bool(await self._store.quarantined_messages(group_id, 1))


def _order(entry: HistoryEntry) -> tuple[datetime, float, int]:
    """By time; at equal times (a coarse clock) an evolution sits right after the topic revision it read."""
    if entry.kind == "group_memory":
        return (entry.created_at, entry.diff.get("topic_version", 0) + 0.5, entry.revision)
    return (entry.created_at, float(entry.revision), entry.revision)
