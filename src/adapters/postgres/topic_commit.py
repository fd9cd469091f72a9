"""One topic update's transaction on SQL: every write of a commit, on the caller's connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.search_index import write_documents
from adapters.postgres.statements import batches as _batches
from adapters.postgres.tables import chat_messages, topic_memories
from adapters.postgres.topic_rows import message_from_row, revision_row, topic_row
from adapters.postgres.update_statements import UpdateStatements
from memory_domain.errors import MessagesNotPending, StaleVersion
from memory_domain.model import ChatMessage, PendingState, Topic, TopicRevision

# The topics of many messages in one statement: pairs of arrays, one text for any number.
_FILE_MESSAGES = sa.text(
    "UPDATE chat_messages AS m SET topic_id = a.topic_id "
    "FROM unnest(CAST(:ids AS text[]), CAST(:topics AS text[])) AS a(message_id, topic_id) "
    "WHERE m.group_id = :group AND m.message_id = a.message_id"
)


class TopicCommit:
    """The writes of one topic commit, in order, inside the transaction the caller opened.

    The version-guarded write comes first: on PostgreSQL its row lock serialises concurrent
    commits of one group, and the loser finds the version moved (:class:`StaleVersion`).
    """

    def __init__(
        self, connection: AsyncConnection, engine: AsyncEngine, sql: UpdateStatements, group_id: str
    ) -> None:
        self._connection = connection
        self._engine = engine
        self._sql = sql
        self._group_id = group_id

    async def run(
        self,
        expected_version: int,
        topics: Sequence[Topic],
        revision: TopicRevision,
        assignments: Mapping[str, Sequence[str]],
    ) -> PendingState:
        """Write the update; the group's backlog as the commit leaves it."""
        await self._advance_version(expected_version, revision.created_at)
        await self._connection.execute(self._sql.add_revision, revision_row(revision))
        integrated = await self._mark_integrated(revision)
        await self._upsert_topics(topics, revision.revision)
        await self._file_messages(assignments)
        await write_documents(self._connection, self._engine, self._group_id, integrated, revision.revision)
        # Read in the transaction: the caller settles the pending index without another checkout.
        state = (await self._connection.execute(self._sql.pending_state, {"group": self._group_id})).one()
        return PendingState(group_id=self._group_id, count=state.pending, oldest_recorded_at=state.oldest)

    async def _advance_version(self, expected_version: int, updated_at: datetime) -> None:
        if expected_version == 0:
            statement: sa.Executable = self._sql.create_memory
            params = {"group_id": self._group_id, "version": 1, "updated_at": updated_at}
        else:
            statement = self._sql.advance_memory
            params = {
                "group": self._group_id,
                "expected": expected_version,
                "new_version": expected_version + 1,
                "new_updated_at": updated_at,
            }
        if (await self._connection.execute(statement, params)).first() is None:
            current = await self._connection.scalar(
                sa.select(topic_memories.c.version).where(topic_memories.c.group_id == self._group_id)
            )
            raise StaleVersion(
                f"group {self._group_id!r}: the topic memory is at version {current or 0}, "
                f"not the expected {expected_version}"
            )

    async def _mark_integrated(self, revision: TopicRevision) -> list[ChatMessage]:
        """Mark the revision's messages integrated; return them (for the search index)."""
        message_ids = list(dict.fromkeys(revision.message_ids))
        marked: dict[str, ChatMessage] = {}
        for batch in _batches(message_ids):
            params = {"group": self._group_id, "ids": list(batch), "integrated_by": revision.revision}
            rows = await self._connection.execute(self._sql.mark_integrated, params)
            marked.update((row.message_id, message_from_row(row)) for row in rows)
        if len(marked) != len(message_ids):
            # Raising inside the transaction rolls back the version bump and the revision row.
            missing = [message_id for message_id in message_ids if message_id not in marked]
            raise MessagesNotPending(
                f"group {self._group_id!r}: {len(missing)} message(s) of revision {revision.revision} are not "
                f"pending (already integrated, quarantined or never recorded): {', '.join(missing[:5])}"
            )
        return [marked[message_id] for message_id in message_ids]

    async def _file_messages(self, assignments: Mapping[str, Sequence[str]]) -> None:
        """Set the topic of each assigned message (one statement on PostgreSQL)."""
        # A message named twice (an archived topic's newest ids, then the topic it moved to in
        # a rebuild) ends in the last topic that names it, as the in-memory store does.
        topic_of = {message_id: topic_id for topic_id, ids in assignments.items() for message_id in ids}
        if not topic_of:
            return
        if self._engine.dialect.name == "postgresql":
            await self._connection.execute(
                _FILE_MESSAGES,
                {"group": self._group_id, "ids": list(topic_of), "topics": list(topic_of.values())},
            )
            return
        for topic_id, ids in assignments.items():
            for batch in _batches(list(ids)):
                await self._connection.execute(
                    sa.update(chat_messages)
                    .where(
                        chat_messages.c.group_id == self._group_id,
                        chat_messages.c.message_id.in_(batch),
                    )
                    .values(topic_id=topic_id)
                )

    async def _upsert_topics(self, new_topics: Sequence[Topic], revision: int) -> None:
        rows = [topic_row(self._group_id, topic, revision) for topic in new_topics]
        if not rows:
            return
        # Executemany of one prepared upsert (SQLAlchemy sends the rows in multi-row batches),
        # where .values(rows) compiled a new statement for every update.
        await self._connection.execute(self._sql.upsert_topics, rows)
