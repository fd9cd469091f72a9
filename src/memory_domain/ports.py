"""Ports of the memory domain: what its services need from the outside world.

Every port has an in-memory adapter (``adapters.in_memory``) that passes the same contract
tests as the real one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from memory_domain.model import (
    ChatMessage,
    HistoryCursor,
    PendingState,
    QuarantinedMessage,
    Topic,
    TopicMemory,
    TopicModelInput,
    TopicRevision,
    TopicRewrite,
    UpdateFailure,
    UpdateInput,
)

# The ports of the derived state in Redis live in their own module; named here as well, so that
# every port of the domain is importable from this one.
from memory_domain.pending_ports import PendingIndex, PendingRecorder, UpdateLeases, UpdateQueue

__all__ = [
    "FAILURES_KEPT_PER_GROUP",
    "Clock",
    "IdGenerator",
    "MemoryStore",
    "MessageHistory",
    "PendingIndex",
    "PendingRecorder",
    "RebuildStaging",
    "TopicModel",
    "UpdateLeases",
    "UpdateQueue",
]

# Failed updates a store keeps per group, newest first: operators read the last one; a group
# failing for days would otherwise grow the table without end.
FAILURES_KEPT_PER_GROUP = 20


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique, opaque identifier."""
        ...


class MemoryStore(Protocol):
    """The source of truth: messages, topic memory and its revisions (Postgres in production)."""

    async def add_messages(self, messages: Sequence[ChatMessage], recorded_at: datetime) -> list[ChatMessage]:
        """Store the messages not stored yet (keyed by group and message id); return those.

        Recording the same message twice stores it once.
        """
        ...

    async def pending_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        """The group's oldest pending messages (by sent time, then message id), at most ``limit``.

        A message is pending from its recording until a revision integrates it, except while
        it is quarantined (see :meth:`quarantine_message`).
        """
        ...

    async def pending_state(self, group_id: str) -> PendingState:
        """How many messages of the group are pending, and when the oldest was recorded."""
        ...

    async def all_pending_states(self) -> list[PendingState]:
        """The pending state of every group that has pending messages."""
        ...

    async def messages_by_ids(self, group_id: str, message_ids: Sequence[str]) -> list[ChatMessage]:
        """The group's messages with these ids (those that exist), in no particular order."""
        ...

    async def recent_integrated_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        """The group's most recently sent integrated messages, oldest first, at most ``limit``."""
        ...

    async def get_topic_memory(self, group_id: str) -> TopicMemory:
        """The group's active topics and version (version 0 and no topics for a new group)."""
        ...

    async def read_update_input(self, group_id: str, limit: int, context_limit: int) -> UpdateInput:
        """Everything one topic update reads, in one go (one connection on SQL).

        The topic memory (as :meth:`get_topic_memory`, its version read first), the ``limit``
        oldest pending messages (as :meth:`pending_messages`) and their context: the
        ``context_limit`` most recently sent integrated messages (as
        :meth:`recent_integrated_messages`) plus the messages, neither pending nor among
        those, that a pending message replies to; the context oldest first.
        """
        ...

    async def commit_topic_update(
        self,
        group_id: str,
        expected_version: int,
        topics: Sequence[Topic],
        revision: TopicRevision,
        assignments: Mapping[str, Sequence[str]] | None = None,
    ) -> PendingState:
        """Atomically replace the group's topics, add the revision row, mark its messages
        integrated and file messages in topics; return the group's pending state as the commit
        left it.

        ``topics`` is every topic the update touched or archived (active and archived ones);
        topics not listed keep their rows, and each row keeps the topic's newest
        :data:`~memory_domain.model.RECENT_TOPIC_MESSAGE_IDS` ids. ``assignments`` (topic id ->
        message ids) files those messages in those topics; without it, every message a listed
        topic names is filed in it. Raises :class:`StaleVersion` when the stored version is not
        ``expected_version`` and :class:`MessagesNotPending` when any of
        ``revision.message_ids`` is not pending (a quarantined message is not); in both cases
        nothing is written.
        """
        ...

    async def list_revisions(self, group_id: str, limit: int) -> list[TopicRevision]:
        """The group's topic revisions, newest first."""
        ...

    async def record_failure(self, failure: UpdateFailure) -> None:
        """Keep the error of a failed update for operators, and forget the group's failures
        older than its newest :data:`FAILURES_KEPT_PER_GROUP`."""
        ...

    async def last_failure(self, group_id: str) -> UpdateFailure | None:
        """The most recent failure of the group's updates, if any."""
        ...

    async def group_ids(self) -> list[str]:
        """Every group that has at least one message, in id order (the cost grows with the groups
        and their pending messages, not with their history)."""
        ...

    async def count_solo_failure(self, group_id: str, message_id: str) -> int:
        """Count one more failed update whose batch held this pending message alone; return the
        message's count of such failures.

        The count stays with the message until :meth:`requeue_message` clears it. Returns 0
        and counts nothing when the message is not pending (integrated, quarantined, unknown).
        """
        ...

    async def quarantine_message(
        self, group_id: str, message_id: str, error: str, quarantined_at: datetime
    ) -> bool:
        """Set a pending message aside with the error it kept causing; True when it was.

        A quarantined message is not pending (the pending reads skip it and a commit refuses
        it) and not integrated; it is never deleted. False, and nothing written, when the
        message is not pending.
        """
        ...

    async def quarantined_messages(self, group_id: str, limit: int) -> list[QuarantinedMessage]:
        """The group's quarantined messages, first quarantined first (then by id), at most ``limit``."""
        ...

    async def quarantine_counts(self) -> dict[str, int]:
        """How many quarantined messages each group has (groups without any are left out)."""
        ...

    async def requeue_message(self, group_id: str, message_id: str) -> bool:
        """Make a quarantined message pending again, its failure count cleared; True when it was.

        False, and nothing written, when the message is not quarantined.
        """
        ...


class MessageHistory(Protocol):
    """A group's integrated messages in the order they were integrated (for rebuilding topics)."""

    async def integrated_after(
        self, group_id: str, after: HistoryCursor | None, limit: int
    ) -> list[tuple[HistoryCursor, ChatMessage]]:
        """The next ``limit`` integrated messages after ``after`` (from the start when None),
        each with its own cursor, ordered by (revision, sent time, message id)."""
        ...

    async def count_integrated(self, group_id: str) -> int:
        """How many of the group's messages are integrated."""
        ...


class RebuildStaging(Protocol):
    """Where a topic rebuild keeps which rebuilt topic each replayed message went to.

    Kept out of the rebuild's checkpoint so that the checkpoint stays small however long the
    group's history is. ``key`` names one rebuild (its task id).
    """

    async def stage(self, group_id: str, key: str, assignments: Sequence[tuple[str, str, int]]) -> None:
        """Record (message id, topic id, position) triples; recording one again overwrites it."""
        ...

    async def staged(self, group_id: str, key: str) -> dict[str, list[str]]:
        """Topic id -> its message ids in position order."""
        ...

    async def archive(self, group_id: str, key: str, position: int, topics: Sequence[Topic]) -> None:
        """Keep the topics archived by the replay step that began at ``position``, replacing
        whatever steps from ``position`` on kept before (a step that runs again after a crash).

        Their message ids are not kept here: they are in the assignments.
        """
        ...

    async def archived(self, group_id: str, key: str) -> list[Topic]:
        """The topics kept by :meth:`archive`, archived, without message ids, in position order."""
        ...

    async def discard(self, group_id: str, key: str) -> None:
        """Forget a rebuild's assignments and archived topics (after its swap, or to start over)."""
        ...


class TopicModel(Protocol):
    """A language model (or the offline model) that rewrites a group's topics."""

    @property
    def name(self) -> str:
        """The model's name, recorded on each revision."""
        ...

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        """Fold the new messages into the topics. Raises :class:`ModelError` on any failure."""
        ...
