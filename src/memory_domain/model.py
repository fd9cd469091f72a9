"""The memory domain's value objects: chat messages, topics, revisions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from memory_domain.errors import InvalidMessage

# Chat channels are named "#ubuntu" or "##linux": leading "#"s are allowed ("#" is as safe as ":"
# in a Redis key or an arq job id), then a letter or digit; 128 characters in all.
GROUP_ID_PATTERN = re.compile(r"^(?=.{1,128}$)#*[A-Za-z0-9][A-Za-z0-9_.:@\-]*$", re.DOTALL)
MAX_ID_LENGTH = 128
MAX_CONTENT_LENGTH = 32_000
MAX_NAME_LENGTH = 200
# A topic keeps the ids of its newest messages only (the rest of its provenance is on the
# messages themselves): what a topic row holds must not grow with the topic's history.
RECENT_TOPIC_MESSAGE_IDS = 50
EARLIEST_SENT_AT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_SENT_AT = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


def validate_group_id(group_id: object) -> str:
    """Return ``group_id`` if it is a well-formed group id, else raise :class:`InvalidMessage`.

    Group ids become parts of Redis keys and arq job ids, so they are restricted to a safe
    alphabet instead of being escaped everywhere they are used.
    """
    if not isinstance(group_id, str):
        raise InvalidMessage(f"group_id must be a string, got {type(group_id).__name__}")
    if not GROUP_ID_PATTERN.fullmatch(group_id):
        raise InvalidMessage(
            f"group_id {group_id[:40]!r} is invalid: 1-128 characters of letters, digits "
            "and _ . : @ -, starting with a letter or digit (after any leading #, as in #channel)"
        )
    return group_id


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a group chat, as recorded."""

    message_id: str
    group_id: str
    sender_id: str
    sender_name: str
    role: Role
    content: str
    sent_at: datetime
    reply_to: str | None = None

    def __post_init__(self) -> None:
        validate_group_id(self.group_id)
        for name in ("message_id", "sender_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidMessage(f"{name} must be a non-empty string")
            if len(value) > MAX_ID_LENGTH:
                raise InvalidMessage(f"{name} is longer than {MAX_ID_LENGTH} characters")
            if value != value.strip():
                # Ids travel through prompts and JSON answers, where surrounding blanks get lost.
                raise InvalidMessage(f"{name} {value!r} has leading or trailing whitespace")
        if not isinstance(self.sender_name, str) or len(self.sender_name) > MAX_NAME_LENGTH:
            raise InvalidMessage(f"sender_name must be a string of at most {MAX_NAME_LENGTH} characters")
        if not isinstance(self.role, Role):
            raise InvalidMessage(f"role must be one of {', '.join(r.value for r in Role)}")
        if not isinstance(self.content, str) or not self.content.strip():
            raise InvalidMessage(f"message {self.message_id!r}: content must be a non-empty string")
        if len(self.content) > MAX_CONTENT_LENGTH:
            raise InvalidMessage(
                f"message {self.message_id!r}: content is longer than {MAX_CONTENT_LENGTH} characters"
            )
        if not isinstance(self.sent_at, datetime) or self.sent_at.tzinfo is None:
            raise InvalidMessage(f"message {self.message_id!r}: sent_at must be a timezone-aware datetime")
        try:
            utc = self.sent_at.astimezone(UTC)
        except OverflowError:
            raise InvalidMessage(
                f"message {self.message_id!r}: sent_at {self.sent_at} is out of range"
            ) from None
        if not EARLIEST_SENT_AT <= utc <= LATEST_SENT_AT:
            # No chat was sent then; and days computed from such a time (in another zone, or
            # "yesterday" of year 1) would overflow the calendar.
            raise InvalidMessage(
                f"message {self.message_id!r}: sent_at {self.sent_at} is out of range "
                f"({EARLIEST_SENT_AT.year} to {LATEST_SENT_AT.year})"
            )
        if self.reply_to is not None and (
            not isinstance(self.reply_to, str) or not self.reply_to or len(self.reply_to) > MAX_ID_LENGTH
        ):
            raise InvalidMessage(f"message {self.message_id!r}: reply_to must be a message id or None")
        for name in ("message_id", "sender_id", "sender_name", "content", "reply_to"):
            value = getattr(self, name)
            if value is None:
                continue
            if "\x00" in value:
                # PostgreSQL cannot store NUL characters in text; refuse them everywhere alike.
                raise InvalidMessage(f"message {self.message_id!r}: {name} contains a NUL character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidMessage(
                    f"message {self.message_id!r}: {name} is not valid Unicode (a lone surrogate)"
                ) from None


class TopicStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic of a group's rolling memory.

    ``message_ids`` are the ids of its newest messages, oldest first (a store keeps at most
    :data:`RECENT_TOPIC_MESSAGE_IDS` of them); ``message_count`` counts every message ever
    filed into it, and is never less than ``len(message_ids)`` (it defaults to that). Which
    topic holds an older message is kept with the message, not here: a topic costs the same
    to read and write whatever its history.
    """

    topic_id: str
    title: str
    summary: str
    message_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    status: TopicStatus = TopicStatus.ACTIVE
    message_count: int = 0

    def __post_init__(self) -> None:
        if self.message_count < len(self.message_ids):
            object.__setattr__(self, "message_count", len(self.message_ids))

    def with_messages(self, new_ids: tuple[str, ...], **changes: Any) -> Topic:
        """This topic with ``new_ids`` filed into it (the newest ids kept, the count grown)."""
        return replace(
            self,
            message_ids=(self.message_ids + new_ids)[-RECENT_TOPIC_MESSAGE_IDS:],
            message_count=self.message_count + len(new_ids),
            **changes,
        )


@dataclass(frozen=True, slots=True)
class TopicMemory:
    """The active topics of one group at one version (version 0: nothing integrated yet)."""

    group_id: str
    version: int
    topics: tuple[Topic, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TopicDraft:
    """One topic as the model proposes it.

    ``topic_id`` is an existing topic's id, or None for a new topic. ``new_message_ids`` are the
    ids of the messages of this update that the model assigns to the topic.
    """

    topic_id: str | None
    title: str
    summary: str
    new_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TopicRewrite:
    """The model's answer: the full new set of active topics (existing ones it omits are archived)."""

    topics: tuple[TopicDraft, ...]
    usage: ModelUsage


@dataclass(frozen=True, slots=True)
class TopicModelInput:
    """What a topic model sees: the current topics, the new messages and some earlier context."""

    group_id: str
    topics: tuple[Topic, ...]
    new_messages: tuple[ChatMessage, ...]
    context_messages: tuple[ChatMessage, ...] = ()
    # The topic each context message is filed in (by message id), where the store knows it.
    context_topics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicRevision:
    """The record of one committed topic update."""

    group_id: str
    revision: int
    created_at: datetime
    message_ids: tuple[str, ...]
    model: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int
    diff: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingState:
    """A group's pending backlog as Postgres knows it."""

    group_id: str
    count: int
    oldest_recorded_at: datetime | None


@dataclass(frozen=True, slots=True)
class UpdateInput:
    """What one topic update reads before it asks the model, read in one go.

    ``memory`` is the group's topic memory (its version read first); ``pending`` its oldest
    pending messages; ``context`` the earlier, integrated messages shown beside them (the most
    recently sent ones and those that pending messages reply to), oldest first, and
    ``context_topics`` the topic each of those is filed in (by message id).
    """

    memory: TopicMemory
    pending: tuple[ChatMessage, ...]
    context: tuple[ChatMessage, ...]
    context_topics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, order=True)
class HistoryCursor:
    """A place in a group's integrated history: messages sort by the revision that integrated
    them, then by sent time and id, so messages integrated later always come after it."""

    revision: int
    sent_at: datetime
    message_id: str


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A group's place in the derived pending index: its count and when it becomes due."""

    group_id: str
    count: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class UpdateFailure:
    group_id: str
    created_at: datetime
    error: str
    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A message set aside after updates kept failing with it alone in their batch.

    It is neither pending nor integrated, and never deleted: ``ai-worker memory requeue``
    makes it pending again. ``error`` is the failure that quarantined it.
    """

    message: ChatMessage
    quarantined_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What recording did: how many messages were new, and which groups were enqueued."""

    recorded: int
    duplicates: int
    enqueued_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What one scan of the due index did."""

    rebuilt: bool
    due: tuple[str, ...]
    enqueued: tuple[str, ...]
    revived: tuple[str, ...]


class UpdateStatus(StrEnum):
    UPDATED = "updated"
    NOTHING_PENDING = "nothing_pending"
    BUSY = "busy"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """What one update did. QUARANTINED: it failed, and ``quarantined`` names the message that
    failed alone too often and was set aside; the rest of the backlog goes on."""

    group_id: str
    status: UpdateStatus
    revision: int | None = None
    integrated: int = 0
    remaining: int = 0
    follow_up: bool = False
    quarantined: tuple[str, ...] = ()
