"""The :class:`~memory_domain.ports.MemoryStore` on PostgreSQL (production) or SQLite (embedded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory_store_checks import check_topic_update, require_aware
from adapters.postgres.engine import storage_errors
from adapters.postgres.quarantine import PENDING, SqlQuarantine
from adapters.postgres.search_index import write_documents
from adapters.postgres.statements import batches as _batches
from adapters.postgres.statements import dialect_insert
from adapters.postgres.tables import (
    chat_messages,
    topic_memories,
    topic_revisions,
    topic_update_failures,
    topics,
)
from adapters.postgres.topic_rows import (
    failure_from_row,
    message_from_row,
    message_row,
    revision_from_row,
    revision_row,
    topic_from_row,
    topic_row,
)
from memory_domain.errors import MessagesNotPending, StaleVersion
from memory_domain.model import (
    ChatMessage,
    PendingState,
    Topic,
    TopicMemory,
    TopicRevision,
    TopicStatus,
    UpdateFailure,
)

_PENDING_COLUMNS = (
    sa.func.count().label("pending"),
    sa.func.min(chat_messages.c.recorded_at).label("oldest"),
)


class SqlMemoryStore(SqlQuarantine):
    """The source of truth in SQL, through one async engine.

    The same statements serve PostgreSQL and SQLite. A topic update commits in one transaction
    whose first statement is a version-guarded write on the group's ``topic_memories`` row: on
    PostgreSQL that row lock serialises concurrent commits of one group, and the loser finds
    the version moved and gets :class:`StaleVersion`. Driver errors become
    :class:`StorageUnavailable`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_messages(self, messages: Sequence[ChatMessage], recorded_at: datetime) -> list[ChatMessage]:
        require_aware(recorded_at, "recorded_at")
        unique: dict[tuple[str, str], ChatMessage] = {}
        for message in messages:
            unique.setdefault((message.group_id, message.message_id), message)
        rows = [message_row(message, recorded_at) for message in unique.values()]
        stored: set[tuple[str, str]] = set()
        with storage_errors(self._engine.url, "record messages"):
            async with self._engine.begin() as connection:
                for batch in _batches(rows):
                    statement = (
                        self._insert(chat_messages)
                        .values(batch)
                        .on_conflict_do_nothing(index_elements=["group_id", "message_id"])
                        .returning(chat_messages.c.group_id, chat_messages.c.message_id)
                    )
                    result = await connection.execute(statement)
                    stored.update((row.group_id, row.message_id) for row in result)
        return [message for key, message in unique.items() if key in stored]

    async def pending_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        if limit <= 0:
            return []
        statement = (
            sa.select(chat_messages)
            .where(chat_messages.c.group_id == group_id, PENDING)
            .order_by(chat_messages.c.sent_at, chat_messages.c.message_id)
            .limit(limit)
        )
        return [message_from_row(row) for row in await self._fetch(statement, "read pending messages")]

    async def pending_state(self, group_id: str) -> PendingState:
        statement = sa.select(*_PENDING_COLUMNS).where(chat_messages.c.group_id == group_id, PENDING)
        row = (await self._fetch(statement, "read the pending state"))[0]
        return PendingState(group_id=group_id, count=row.pending, oldest_recorded_at=row.oldest)

    async def all_pending_states(self) -> list[PendingState]:
        statement = (
            sa.select(chat_messages.c.group_id, *_PENDING_COLUMNS)
            .where(PENDING)
            .group_by(chat_messages.c.group_id)
            .order_by(chat_messages.c.group_id)
        )
        rows = await self._fetch(statement, "read the pending states")
        return [
            PendingState(group_id=row.group_id, count=row.pending, oldest_recorded_at=row.oldest)
            for row in rows
        ]

    async def messages_by_ids(self, group_id: str, message_ids: Sequence[str]) -> list[ChatMessage]:
        found: list[ChatMessage] = []
        for batch in _batches(list(dict.fromkeys(message_ids))):
            statement = (
                sa.select(chat_messages)
                .where(chat_messages.c.group_id == group_id, chat_messages.c.message_id.in_(batch))
                .order_by(chat_messages.c.sent_at, chat_messages.c.message_id)
            )
            found.extend(message_from_row(row) for row in await self._fetch(statement, "read messages"))
        return found

    async def recent_integrated_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        if limit <= 0:
            return []
        statement = (
            sa.select(chat_messages)
            .where(chat_messages.c.group_id == group_id, chat_messages.c.revision.is_not(None))
            .order_by(chat_messages.c.sent_at.desc(), chat_messages.c.message_id.desc())
            .limit(limit)
        )
        rows = await self._fetch(statement, "read integrated messages")
        return [message_from_row(row) for row in reversed(rows)]

    async def get_topic_memory(self, group_id: str) -> TopicMemory:
        memory_statement = sa.select(topic_memories.c.version, topic_memories.c.updated_at).where(
            topic_memories.c.group_id == group_id
        )
        topics_statement = (
            sa.select(topics)
            .where(topics.c.group_id == group_id, topics.c.status == TopicStatus.ACTIVE.value)
            .order_by(topics.c.updated_at.desc(), topics.c.topic_id)
        )
        with storage_errors(self._engine.url, "read the topic memory"):
            async with self._engine.connect() as connection:
                # The version is read before the topics: topics newer than the version only
                # make the next commit stale, whereas the other order could pair old topics
                # with a newer version and lose an update.
                memory = (await connection.execute(memory_statement)).first()
                rows = (await connection.execute(topics_statement)).all()
        if memory is None:
            return TopicMemory(group_id=group_id, version=0)
        return TopicMemory(
            group_id=group_id,
            version=memory.version,
            topics=tuple(topic_from_row(row) for row in rows),
            updated_at=memory.updated_at,
        )

    async def commit_topic_update(
        self, group_id: str, expected_version: int, topics: Sequence[Topic], revision: TopicRevision
    ) -> None:
        check_topic_update(group_id, expected_version, topics, revision)
        with storage_errors(self._engine.url, "commit the topic update"):
            async with self._engine.begin() as connection:
                await self._advance_version(connection, group_id, expected_version, revision.created_at)
                await connection.execute(sa.insert(topic_revisions).values(revision_row(revision)))
                integrated = await self._mark_integrated(connection, group_id, revision)
                await self._upsert_topics(connection, group_id, topics, revision.revision)
                await write_documents(connection, self._engine, group_id, integrated, revision.revision)

    async def list_revisions(self, group_id: str, limit: int) -> list[TopicRevision]:
        if limit <= 0:
            return []
        statement = (
            sa.select(topic_revisions)
            .where(topic_revisions.c.group_id == group_id)
            .order_by(topic_revisions.c.revision.desc())
            .limit(limit)
        )
        return [revision_from_row(row) for row in await self._fetch(statement, "read topic revisions")]

    async def record_failure(self, failure: UpdateFailure) -> None:
        require_aware(failure.created_at, "created_at")
        with storage_errors(self._engine.url, "record the update failure"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.insert(topic_update_failures).values(
                        group_id=failure.group_id,
                        created_at=failure.created_at,
                        error=failure.error,
                        message_ids=list(failure.message_ids),
                    )
                )

    async def last_failure(self, group_id: str) -> UpdateFailure | None:
        statement = (
            sa.select(topic_update_failures)
            .where(topic_update_failures.c.group_id == group_id)
            .order_by(topic_update_failures.c.created_at.desc(), topic_update_failures.c.id.desc())
            .limit(1)
        )
        rows = await self._fetch(statement, "read the last update failure")
        if not rows:
            return None
        return failure_from_row(rows[0])

    async def group_ids(self) -> list[str]:
        statement = sa.select(chat_messages.c.group_id).distinct().order_by(chat_messages.c.group_id)
        return [row.group_id for row in await self._fetch(statement, "list groups")]

    async def _fetch(self, statement: sa.Executable, action: str) -> Sequence[sa.Row[Any]]:
        with storage_errors(self._engine.url, action):
            async with self._engine.connect() as connection:
                return (await connection.execute(statement)).all()

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        return dialect_insert(self._engine, table)

    async def _advance_version(
        self, connection: AsyncConnection, group_id: str, expected_version: int, updated_at: datetime
    ) -> None:
        new_version = expected_version + 1
        statement: sa.Executable
        if expected_version == 0:
            # The first update creates the row; a concurrent first update that won the race
            # makes this insert a no-op, which is the stale case.
            statement = (
                self._insert(topic_memories)
                .values(group_id=group_id, version=new_version, updated_at=updated_at)
                .on_conflict_do_nothing(index_elements=["group_id"])
                .returning(topic_memories.c.group_id)
            )
        else:
            statement = (
                sa.update(topic_memories)
                .where(topic_memories.c.group_id == group_id, topic_memories.c.version == expected_version)
                .values(version=new_version, updated_at=updated_at)
                .returning(topic_memories.c.group_id)
            )
        if (await connection.execute(statement)).first() is None:
            current = await connection.scalar(
                sa.select(topic_memories.c.version).where(topic_memories.c.group_id == group_id)
            )
            raise StaleVersion(
                f"group {group_id!r}: the topic memory is at version {current or 0}, "
                f"not the expected {expected_version}"
            )

    async def _mark_integrated(
        self, connection: AsyncConnection, group_id: str, revision: TopicRevision
    ) -> list[ChatMessage]:
        """Mark the revision's messages integrated; return them (for the search index)."""
        message_ids = list(dict.fromkeys(revision.message_ids))
        marked: dict[str, ChatMessage] = {}
        for batch in _batches(message_ids):
            statement = (
                sa.update(chat_messages)
                .where(
                    chat_messages.c.group_id == group_id,
                    chat_messages.c.message_id.in_(batch),
                    PENDING,
                )
                .values(revision=revision.revision)
                .returning(*chat_messages.c)
            )
            marked.update(
                (row.message_id, message_from_row(row)) for row in await connection.execute(statement)
            )
        if len(marked) != len(message_ids):
            # Raising inside the transaction rolls back the version bump and the revision row.
            missing = [message_id for message_id in message_ids if message_id not in marked]
            raise MessagesNotPending(
                f"group {group_id!r}: {len(missing)} message(s) of revision {revision.revision} are not "
                f"pending (already integrated, quarantined or never recorded): {', '.join(missing[:5])}"
            )
        return [marked[message_id] for message_id in message_ids]

    async def _upsert_topics(
        self, connection: AsyncConnection, group_id: str, new_topics: Sequence[Topic], revision: int
    ) -> None:
        rows = [topic_row(group_id, topic, revision) for topic in new_topics]
        for batch in _batches(rows):
            insert = self._insert(topics).values(batch)
            replaced = ("title", "summary", "message_ids", "status", "created_at", "updated_at", "revision")
            await connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["group_id", "topic_id"],
                    set_={name: insert.excluded[name] for name in replaced},
                )
            )
