"""The :class:`~memory_domain.group_ports.GroupMemoryStore` on PostgreSQL (production) or SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.group_memory_checks import check_group_memory_commit
from adapters.memory_store_checks import require_aware
from adapters.postgres.engine import storage_errors
from adapters.postgres.group_memory_rows import (
    failure_from_row,
    item_from_row,
    item_row,
    revision_from_row,
    revision_row,
)
from adapters.postgres.group_memory_tables import (
    group_memories,
    group_memory_failures,
    group_memory_items,
    group_memory_revisions,
)
from adapters.postgres.statements import batches, dialect_insert
from adapters.postgres.tables import chat_messages, topic_memories, topics
from adapters.postgres.topic_rows import message_from_row, topic_from_row
from memory_domain.errors import StaleVersion
from memory_domain.group_model import (
    EvolutionFailure,
    GroupMemory,
    GroupMemoryRevision,
    MemoryItem,
    TopicChanges,
)

_items = group_memory_items.c


class SqlGroupMemoryStore:
    """Group memory in SQL, through the engine the topic memory uses.

    A commit is one transaction whose first statement is a version-guarded write on the
    group's ``group_memories`` row (on PostgreSQL a row lock that serialises commits of one
    group); it then adds the revision row, closes the current readings of the items it
    changes and inserts their new readings. Driver errors become :class:`StorageUnavailable`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get_group_memory(self, group_id: str, *, include_superseded: bool = False) -> GroupMemory:
        memory_statement = sa.select(group_memories).where(group_memories.c.group_id == group_id)
        conditions = [_items.group_id == group_id, _items.until_revision.is_(None)]
        if not include_superseded:
            conditions.append(_items.invalid_at.is_(None))
        items_statement = (
            sa.select(group_memory_items)
            .where(*conditions)
            .order_by(_items.updated_at.desc(), _items.item_id)
        )
        with storage_errors(self._engine.url, "read the group memory"):
            async with self._engine.connect() as connection:
                # The version first: items newer than it only make the next commit stale.
                memory = (await connection.execute(memory_statement)).first()
                rows = (await connection.execute(items_statement)).all()
        if memory is None:
            return GroupMemory(group_id=group_id, version=0)
        return GroupMemory(
            group_id=group_id,
            version=memory.version,
            topic_version=memory.topic_version,
            items=tuple(item_from_row(row) for row in rows),
            updated_at=memory.updated_at,
        )

    async def group_memory_at(self, group_id: str, version: int) -> GroupMemory:
        revision_statement = sa.select(group_memory_revisions).where(
            group_memory_revisions.c.group_id == group_id, group_memory_revisions.c.revision == version
        )
        items_statement = (
            sa.select(group_memory_items)
            .where(
                _items.group_id == group_id,
                _items.since_revision <= version,
                sa.or_(_items.until_revision.is_(None), _items.until_revision > version),
                _items.invalid_at.is_(None),
            )
            .order_by(_items.updated_at.desc(), _items.item_id)
        )
        with storage_errors(self._engine.url, "read an earlier group memory"):
            async with self._engine.connect() as connection:
                revision = (await connection.execute(revision_statement)).first()
                rows = (await connection.execute(items_statement)).all() if revision is not None else []
        if revision is None:
            return GroupMemory(group_id=group_id, version=0)
        return GroupMemory(
            group_id=group_id,
            version=version,
            topic_version=revision.topic_version,
            items=tuple(item_from_row(row) for row in rows),
            updated_at=revision.created_at,
        )

    async def topic_changes(
        self,
        group_id: str,
        since_topic_version: int,
        message_limit: int,
        until_topic_version: int | None = None,
    ) -> TopicChanges:
        version_statement = sa.select(topic_memories.c.version).where(topic_memories.c.group_id == group_id)
        with storage_errors(self._engine.url, "read the changed topics"):
            async with self._engine.connect() as connection:
                # Each statement sees its own snapshot: bounding both reads by the version read
                # first leaves an update that commits in between whole for the next evolution.
                until = await connection.scalar(version_statement) or 0
                if until_topic_version is not None:
                    until = min(until, until_topic_version)
                topic_rows = (
                    await connection.execute(_changed_topics(group_id, since_topic_version, until))
                ).all()
                message_rows = (
                    await connection.execute(
                        _new_messages(group_id, since_topic_version, until, message_limit)
                    )
                ).all()
        return TopicChanges(
            group_id=group_id,
            topic_version=until,
            topics=tuple(topic_from_row(row) for row in topic_rows),
            messages=tuple(message_from_row(row) for row in reversed(message_rows)),
            topic_revisions={row.topic_id: row.revision for row in topic_rows},
            message_topics={row.message_id: row.topic_id for row in message_rows if row.topic_id is not None},
        )

    async def groups_to_evolve(self, limit: int, after: str | None = None) -> list[str]:
        conditions = [topic_memories.c.version > sa.func.coalesce(group_memories.c.topic_version, 0)]
        if after is not None:
            conditions.append(topic_memories.c.group_id > after)
        statement = (
            sa.select(topic_memories.c.group_id)
            .select_from(
                topic_memories.outerjoin(
                    group_memories, group_memories.c.group_id == topic_memories.c.group_id
                )
            )
            .where(*conditions)
            .order_by(topic_memories.c.group_id)
            .limit(max(0, limit))
        )
        return [row.group_id for row in await self._fetch(statement, "list the groups to evolve")]

    async def commit_group_memory(
        self,
        group_id: str,
        expected_version: int,
        items: Sequence[MemoryItem],
        revision: GroupMemoryRevision,
    ) -> None:
        check_group_memory_commit(group_id, expected_version, items, revision)
        with storage_errors(self._engine.url, "commit the group memory"):
            async with self._engine.begin() as connection:
                await self._advance_version(connection, group_id, expected_version, revision)
                await connection.execute(sa.insert(group_memory_revisions).values(revision_row(revision)))
                for batch in batches([item.item_id for item in items]):
                    await connection.execute(
                        sa.update(group_memory_items)
                        .where(
                            _items.group_id == group_id,
                            _items.item_id.in_(batch),
                            _items.until_revision.is_(None),
                        )
                        .values(until_revision=revision.revision)
                    )
                rows = [item_row(group_id, item, revision.revision) for item in items]
                for row_batch in batches(rows):
                    await connection.execute(sa.insert(group_memory_items).values(list(row_batch)))

    async def list_group_memory_revisions(self, group_id: str, limit: int) -> list[GroupMemoryRevision]:
        if limit <= 0:
            return []
        statement = (
            sa.select(group_memory_revisions)
            .where(group_memory_revisions.c.group_id == group_id)
            .order_by(group_memory_revisions.c.revision.desc())
            .limit(limit)
        )
        rows = await self._fetch(statement, "read group memory revisions")
        return [revision_from_row(row) for row in rows]

    async def record_evolution_failure(self, failure: EvolutionFailure) -> None:
        require_aware(failure.created_at, "created_at")
        with storage_errors(self._engine.url, "record the evolution failure"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.insert(group_memory_failures).values(
                        group_id=failure.group_id, created_at=failure.created_at, error=failure.error
                    )
                )

    async def last_evolution_failure(self, group_id: str) -> EvolutionFailure | None:
        failures = group_memory_failures.c
        statement = (
            sa.select(group_memory_failures)
            .where(failures.group_id == group_id)
            .order_by(failures.created_at.desc(), failures.id.desc())
            .limit(1)
        )
        rows = await self._fetch(statement, "read the last evolution failure")
        return failure_from_row(rows[0]) if rows else None

    async def _fetch(self, statement: sa.Executable, action: str) -> Sequence[sa.Row[Any]]:
        with storage_errors(self._engine.url, action):
            async with self._engine.connect() as connection:
                return (await connection.execute(statement)).all()

    async def _advance_version(
        self, connection: AsyncConnection, group_id: str, expected_version: int, revision: GroupMemoryRevision
    ) -> None:
        values = {
            "version": revision.revision,
            "topic_version": revision.topic_version,
            "updated_at": revision.created_at,
        }
        statement: sa.Executable
        if expected_version == 0:
            # The first evolution creates the row; a rival first evolution that won makes it a no-op.
            statement = (
                dialect_insert(self._engine, group_memories)
                .values(group_id=group_id, **values)
                .on_conflict_do_nothing(index_elements=["group_id"])
                .returning(group_memories.c.group_id)
            )
        else:
            statement = (
                sa.update(group_memories)
                .where(group_memories.c.group_id == group_id, group_memories.c.version == expected_version)
                .values(**values)
                .returning(group_memories.c.group_id)
            )
        if (await connection.execute(statement)).first() is None:
            current = await connection.scalar(
                sa.select(group_memories.c.version).where(group_memories.c.group_id == group_id)
            )
            raise StaleVersion(
                f"group {group_id!r}: the group memory is at version {current or 0}, "
                f"not the expected {expected_version}"
            )


def _changed_topics(group_id: str, after: int, until: int) -> sa.Select[Any]:
    return (
        sa.select(topics)
        .where(topics.c.group_id == group_id, topics.c.revision > after, topics.c.revision <= until)
        .order_by(topics.c.updated_at.desc(), topics.c.topic_id)
    )


def _new_messages(group_id: str, after: int, until: int, limit: int) -> sa.Select[Any]:
    return (
        sa.select(chat_messages)
        .where(
            chat_messages.c.group_id == group_id,
            chat_messages.c.revision > after,
            chat_messages.c.revision <= until,
        )
        .order_by(chat_messages.c.sent_at.desc(), chat_messages.c.message_id.desc())
        .limit(max(0, limit))
    )
