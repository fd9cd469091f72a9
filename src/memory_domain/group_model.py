"""Value objects of group memory (L3): what a group has settled over time, and its revisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from memory_domain.model import ChatMessage, ModelUsage, Topic


class ItemKind(StrEnum):
    CONSENSUS = "consensus"
    DECISION = "decision"
    FACT = "fact"
    PREFERENCE = "preference"
    OPEN_QUESTION = "open_question"


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One item of a group's memory, as it currently reads.

    ``topic_ids`` and ``message_ids`` are its provenance. ``valid_from`` is when it became true
    (the newest message it was distilled from); ``invalid_at`` is set once a later evolution
    (or a rollback) superseded it, and ``superseded_by`` names the item that replaced it, if
    one did. ``updated_at`` is when this reading of the item was written. Items are never
    deleted: a superseded item keeps its row, and every earlier reading stays in the history.
    """

    item_id: str
    kind: ItemKind
    text: str
    topic_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    valid_from: datetime
    updated_at: datetime
    invalid_at: datetime | None = None
    superseded_by: str | None = None

    @property
    def live(self) -> bool:
        return self.invalid_at is None


@dataclass(frozen=True, slots=True)
class GroupMemory:
    """A group's memory at one version (version 0: never evolved).

    ``topic_version`` is the version of the group's topic memory it was distilled up to: topics
    changed after it are what the next evolution reads.
    """

    group_id: str
    version: int
    topic_version: int = 0
    items: tuple[MemoryItem, ...] = ()
    updated_at: datetime | None = None

    @property
    def live_items(self) -> tuple[MemoryItem, ...]:
        return tuple(item for item in self.items if item.live)


@dataclass(frozen=True, slots=True)
class TopicChanges:
    """What changed in a group's topic memory between two versions, read as of the later one.

    ``topic_version`` is that later version (the current one unless a bound was asked);
    ``topics`` the topics (active or archived) whose last write lies between the two, newest
    first, and ``topic_revisions`` the revision of each one's last write; ``messages`` the most
    recent of the messages integrated between the two, oldest first.
    """

    group_id: str
    topic_version: int
    topics: tuple[Topic, ...] = ()
    messages: tuple[ChatMessage, ...] = ()
    topic_revisions: dict[str, int] = field(default_factory=dict)
    # The topic each of ``messages`` is filed in, by message id.
    message_topics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DistillInput:
    """What a distiller sees: the live items, the changed topics and their new messages."""

    group_id: str
    items: tuple[MemoryItem, ...]
    topics: tuple[Topic, ...]
    messages: tuple[ChatMessage, ...] = ()
    # The topic each of ``messages`` is filed in, by message id (where known).
    message_topics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """One live item as the distiller proposes it.

    ``item_id`` is a live item's id (kept; ``kind`` and ``text`` None mean unchanged) or None
    for a new item. ``topic_ids`` and ``message_ids`` are the provenance this evolution adds;
    ``supersedes`` names live items this one replaces.
    """

    item_id: str | None
    kind: ItemKind | None
    text: str | None
    topic_ids: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Distillation:
    """The distiller's answer: the live items it keeps, refines or adds, and those it ends.

    An item ends only when the answer names it: in the ``supersedes`` of the item that
    replaces it, or in ``retired`` when nothing replaces it (an answered open question, a
    fact no longer true). A live item the answer leaves out without naming it is kept as it
    is: a model that forgets to repeat an item must not end it. An ended item is recorded
    with ``invalid_at``, never deleted.
    """

    items: tuple[ItemDraft, ...]
    usage: ModelUsage
    retired: tuple[str, ...] = ()


class RevisionAction(StrEnum):
    EVOLVE = "evolve"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class GroupMemoryRevision:
    """The record of one committed change of a group's memory: an evolution or a rollback.

    ``diff`` holds the ids of the items ``added``, ``updated`` and ``superseded`` (and, for a
    rollback, ``restored_from``: the revision it restored).
    """

    group_id: str
    revision: int
    created_at: datetime
    action: RevisionAction
    topic_version: int
    topic_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    model: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    diff: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvolutionFailure:
    group_id: str
    created_at: datetime
    error: str


class EvolutionStatus(StrEnum):
    EVOLVED = "evolved"
    UNCHANGED = "unchanged"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class EvolutionOutcome:
    """What one evolution did; ``more`` says changed topics remain for a follow-up evolution."""

    group_id: str
    status: EvolutionStatus
    revision: int | None = None
    added: int = 0
    updated: int = 0
    superseded: int = 0
    more: bool = False


@dataclass(frozen=True, slots=True)
class ConsensusReport:
    """What one consensus check did: the slots due, those this worker ran, the groups enqueued."""

    due: tuple[datetime, ...]
    claimed: tuple[datetime, ...]
    groups: tuple[str, ...] = ()
    enqueued: tuple[str, ...] = ()
    revived: tuple[str, ...] = ()
