"""The :class:`~memory_domain.ports.MemoryStore` on PostgreSQL (production) or SQLite (embedded)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.memory_store_checks import check_topic_update, require_aware
from adapters.postgres.engine import storage_errors
from adapters.postgres.message_insert import insert_messages
from adapters.postgres.quarantine import PENDING, SqlQuarantine
from adapters.postgres.statements import batches as _batches
from adapters.postgres.tables import (
    chat_messages,
    topic_revisions,
    topic_update_failures,
)
from adapters.postgres.topic_commit import TopicCommit
from adapters.postgres.topic_rows import (
    failure_from_row,
    message_from_row,
    revision_from_row,
    topic_from_row,
)
from adapters.postgres.update_statements import UpdateStatements, update_statements
from memory_domain.model import (
    ChatMessage,
    PendingState,
    Topic,
    TopicMemory,
    TopicRevision,
    UpdateFailure,
    UpdateInput,
)
from memory_domain.ports import FAILURES_KEPT_PER_GROUP
from memory_domain.update_input import replied_ids, update_context

# Every group with a message: a group whose messages were ever integrated has its topic_memories
# row (the messages' foreign key goes through its revisions), the others have pending or
# quarantined messages (revision NULL, on the pending partial index). Neither read grows with
# the history, where SELECT DISTINCT over chat_messages reads every message ever recorded.
_GROUP_IDS = sa.text(
    "SELECT group_id FROM topic_memories"
    " UNION SELECT group_id FROM chat_messages WHERE revision IS NULL"
    " ORDER BY group_id"
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
        # Reads run without BEGIN and ROLLBACK on PostgreSQL (two round trips saved per read):
        # each statement sees what was committed when it started, as in READ COMMITTED.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._sql = update_statements(engine.dialect.name)

    async def add_messages(self, messages: Sequence[ChatMessage], recorded_at: datetime) -> list[ChatMessage]:
        require_aware(recorded_at, "recorded_at")
        unique: dict[tuple[str, str], ChatMessage] = {}
        for message in messages:
            unique.setdefault((message.group_id, message.message_id), message)
        if not unique:
            return []
        # One statement for the whole batch (see message_insert): the hot path of every message.
        stored = await insert_messages(self._engine, list(unique.values()), recorded_at)
        return [message for key, message in unique.items() if key in stored]

    async def pending_messages(self, group_id: str, limit: int) -> list[ChatMessage]:
        if limit <= 0:
            return []
        rows = await self._fetch(self._sql.pending, "read pending messages", group=group_id, limit=limit)
        return [message_from_row(row) for row in rows]

    async def pending_state(self, group_id: str) -> PendingState:
        row = (await self._fetch(self._sql.pending_state, "read the pending state", group=group_id))[0]
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
        rows = await self._fetch(self._sql.recent, "read integrated messages", group=group_id, limit=limit)
        return [message_from_row(row) for row in reversed(rows)]

    async def get_topic_memory(self, group_id: str) -> TopicMemory:
        with storage_errors(self._engine.url, "read the topic memory"):
            async with self._reader.connect() as connection:
                return await _read_memory(connection, self._sql, group_id)

    async def read_update_input(self, group_id: str, limit: int, context_limit: int) -> UpdateInput:
        with storage_errors(self._engine.url, "read the update input"):
            async with self._reader.connect() as connection:
                sql = self._sql
                memory = await _read_memory(connection, sql, group_id)
                rows = await connection.execute(sql.pending, {"group": group_id, "limit": max(0, limit)})
                pending = [message_from_row(row) for row in rows]
                rows = await connection.execute(
                    sql.recent, {"group": group_id, "limit": max(0, context_limit)}
                )
                filed = list(rows)[::-1]
                recent = [message_from_row(row) for row in filed]
                wanted = replied_ids(pending, recent)
                if wanted:
                    rows = await connection.execute(sql.filed_by_ids, {"group": group_id, "ids": wanted})
                    filed.extend(rows)
        context = update_context([message_from_row(row) for row in filed], [])
        topic_of = {row.message_id: row.topic_id for row in filed if row.topic_id is not None}
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
        if assignments is None:
            assignments = {topic.topic_id: topic.message_ids for topic in topics}
        with storage_errors(self._engine.url, "commit the topic update"):
            async with self._engine.begin() as connection:
                return await TopicCommit(connection, self._engine, self._sql, group_id).run(
                    expected_version, topics, revision, assignments
                )

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
                failures = topic_update_failures.c
                kept = (
                    sa.select(failures.id)
                    .where(failures.group_id == failure.group_id)
                    .order_by(failures.created_at.desc(), failures.id.desc())
                    .limit(FAILURES_KEPT_PER_GROUP)
                )
                # Through the (group_id, created_at) index: a group's failures stay few.
                await connection.execute(
                    sa.delete(topic_update_failures).where(
                        failures.group_id == failure.group_id, failures.id.not_in(kept.scalar_subquery())
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
        return [row.group_id for row in await self._fetch(_GROUP_IDS, "list groups")]

    async def _fetch(self, statement: sa.Executable, action: str, **params: Any) -> Sequence[sa.Row[Any]]:
        with storage_errors(self._engine.url, action):
            async with self._reader.connect() as connection:
                return (await connection.execute(statement, params or None)).all()


async def _read_memory(connection: AsyncConnection, sql: UpdateStatements, group_id: str) -> TopicMemory:
    # The version is read before the topics: topics newer than the version only make the next
    # commit stale, whereas the other order could pair old topics with a newer version and
    # lose an update.
    memory = (await connection.execute(sql.memory, {"group": group_id})).first()
    if memory is None:
        return TopicMemory(group_id=group_id, version=0)
    rows = await connection.execute(sql.active_topics, {"group": group_id})
    return TopicMemory(
        group_id=group_id,
        version=memory.version,
        topics=tuple(topic_from_row(row) for row in rows),
        updated_at=memory.updated_at,
    )
