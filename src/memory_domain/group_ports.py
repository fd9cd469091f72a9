"""Ports of group memory (L3), beside the topic-memory ports of :mod:`memory_domain.ports`.

Group memory has ports of its own (its store, the distiller, the daily slots, the evolution
queue) so that neither module grows past what one reader can hold. Leases are the same
:class:`~memory_domain.ports.UpdateLeases` port, in a key space of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from memory_domain.group_model import (
    Distillation,
    DistillInput,
    EvolutionFailure,
    GroupMemory,
    GroupMemoryRevision,
    MemoryItem,
    TopicChanges,
)


class GroupMemoryStore(Protocol):
    """Group memory in the source of truth (Postgres in production), beside the topic memory."""

    async def get_group_memory(self, group_id: str, *, include_superseded: bool = False) -> GroupMemory:
        """The group's memory: its live items (and superseded ones when asked), newest first.

        Version 0, topic version 0 and no items for a group never evolved.
        """
        ...

    async def group_memory_at(self, group_id: str, version: int) -> GroupMemory:
        """The items that were live right after revision ``version`` committed, as they read then.

        ``topic_version`` and ``updated_at`` are those of that revision. For version 0, or a
        revision that does not exist, an empty memory at version 0.
        """
        ...

    async def topic_changes(
        self,
        group_id: str,
        since_topic_version: int,
        message_limit: int,
        until_topic_version: int | None = None,
    ) -> TopicChanges:
        """The topics written after topic version ``since_topic_version`` and their new messages.

        Read as of one topic version: ``until_topic_version`` when given (and not beyond the
        current one), else the current version, which is the result's ``topic_version``. Only
        topics last written and messages integrated by revisions up to it are returned, so an
        update committing meanwhile is left whole for the next evolution. ``messages`` are the
        latest ``message_limit`` of those messages.
        """
        ...

    async def groups_to_evolve(self, limit: int, after: str | None = None) -> list[str]:
        """Groups whose topic memory moved past the topic version their group memory holds.

        At most ``limit``, in group id order, those after ``after`` when given: a page of a
        keyset walk through every such group.
        """
        ...

    async def commit_group_memory(
        self,
        group_id: str,
        expected_version: int,
        items: Sequence[MemoryItem],
        revision: GroupMemoryRevision,
    ) -> None:
        """Atomically write the items' new readings and the revision row, and bump the version.

        ``items`` are the items this revision changes (new, updated, superseded or restored);
        their previous readings are kept as history. The version becomes ``revision.revision``
        and the topic version ``revision.topic_version``. Raises :class:`StaleVersion` when the
        stored version is not ``expected_version``; then nothing is written.
        """
        ...

    async def list_group_memory_revisions(self, group_id: str, limit: int) -> list[GroupMemoryRevision]:
        """The group memory's revisions, newest first."""
        ...

    async def record_evolution_failure(self, failure: EvolutionFailure) -> None:
        """Keep the error of a failed evolution for operators."""
        ...

    async def last_evolution_failure(self, group_id: str) -> EvolutionFailure | None:
        """The most recent failure of the group's evolutions, if any."""
        ...


class MemoryDistiller(Protocol):
    """A language model (or the offline distiller) that evolves a group's memory from its topics."""

    @property
    def name(self) -> str:
        """The model's name, recorded on each revision."""
        ...

    async def distil(self, distil_input: DistillInput) -> Distillation:
        """The items this evolution keeps, refines, adds and ends. Raises :class:`ModelError`."""
        ...


class ConsensusSlots(Protocol):
    """The record of the daily consensus slots: which ran, and which worker holds one now.

    Shared by every worker (a table in Postgres), so that each slot runs exactly once.
    """

    async def last_completed_slot(self) -> datetime | None:
        """The latest slot whose evolutions were enqueued, or None before the first one."""
        ...

    async def claim_slot(self, slot_at: datetime, holder: str, now: datetime, stale_before: datetime) -> bool:
        """Take the slot for ``holder``; False when it is completed or claimed since ``stale_before``.

        A claim older than ``stale_before`` that never completed belonged to a worker that
        died: it is taken over.
        """
        ...

    async def complete_slot(self, slot_at: datetime, holder: str, now: datetime, groups: int) -> bool:
        """Mark the slot done (``groups`` evolutions enqueued); False when ``holder`` lost it."""
        ...


class EvolutionQueue(Protocol):
    """Hands evolutions to workers (arq in production). One queued evolution per group."""

    async def enqueue_evolution(self, group_id: str) -> bool:
        """Queue the group's evolution; False when one is already queued or running."""
        ...

    async def enqueue_evolutions(self, group_ids: Sequence[str]) -> list[str]:
        """Queue the evolutions of these groups in one round trip; return the groups newly
        queued, in input order (those already queued or running are left as they are)."""
        ...

    async def revive_evolution(self, group_id: str) -> None:
        """Make the group's evolution run again now: its previous run died with its worker."""
        ...
