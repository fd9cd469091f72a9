"""What the in-memory memory store keeps per message and per group (its "rows")."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from memory_domain.model import ChatMessage, QuarantinedMessage, Topic, TopicRevision, UpdateFailure


@dataclass(slots=True)
class StoredMessage:
    message: ChatMessage
    recorded_at: datetime
    revision: int | None = None
    solo_failures: int = 0
    quarantine: QuarantinedMessage | None = None
    topic_id: str | None = None

    @property
    def pending(self) -> bool:
        return self.revision is None and self.quarantine is None


@dataclass(slots=True)
class Group:
    messages: dict[str, StoredMessage] = dataclasses.field(default_factory=dict)
    version: int = 0
    updated_at: datetime | None = None
    topics: dict[str, Topic] = dataclasses.field(default_factory=dict)
    # The revision that last wrote each topic, as the SQL store's ``topics.revision`` column.
    topic_revisions: dict[str, int] = dataclasses.field(default_factory=dict)
    revisions: list[TopicRevision] = dataclasses.field(default_factory=list)
    failures: list[UpdateFailure] = dataclasses.field(default_factory=list)
