"""The :class:`memory_domain.ports.MessageHistory` port on the SQL store's tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import async_url, storage_errors
from adapters.postgres.rebuild_tables import topic_rebuild_assignments, topic_rebuild_topics
from adapters.postgres.statements import dialect_insert
from adapters.postgres.tables import chat_messages
from adapters.postgres.topic_rows import message_from_row
from memory_domain.model import ChatMessage, HistoryCursor, Topic, TopicStatus


class SqlMessageHistory:
    """Pages through a group's integrated messages by (revision, sent_at, message_id).

    Each page is a keyset read on the partial index ``ix_chat_messages_integrated``: its cost
    does not grow with the pages read before it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._url = async_url(engine.url)

    async def _rows(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        with storage_errors(self._url, "read the message history"):
            async with self._engine.connect() as connection:
                return list((await connection.execute(statement)).all())

    async def integrated_after(
        self, group_id: str, after: HistoryCursor | None, limit: int
    ) -> list[tuple[HistoryCursor, ChatMessage]]:
        if limit <= 0:
            return []
        c = chat_messages.c
        statement = sa.select(chat_messages).where(c.group_id == group_id, c.revision.is_not(None))
        if after is not None:
            statement = statement.where(
                sa.tuple_(c.revision, c.sent_at, c.message_id)
                > sa.tuple_(
                    sa.literal(after.revision),
                    sa.literal(after.sent_at, type_=c.sent_at.type),
                    sa.literal(after.message_id, type_=c.message_id.type),
                )
            )
        statement = statement.order_by(c.revision, c.sent_at, c.message_id).limit(limit)
        result = []
        for row in await self._rows(statement):
            message = message_from_row(row)
            result.append((HistoryCursor(row.revision, message.sent_at, message.message_id), message))
        return result

    async def count_integrated(self, group_id: str) -> int:
        c = chat_messages.c
        statement = sa.select(sa.func.count()).where(c.group_id == group_id, c.revision.is_not(None))
        rows = await self._rows(statement)
        return int(rows[0][0])


class SqlRebuildStaging:
    """The :class:`memory_domain.ports.RebuildStaging` port on ``topic_rebuild_assignments``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._url = async_url(engine.url)
        insert = dialect_insert(engine, topic_rebuild_assignments)
        self._upsert = insert.on_conflict_do_update(
            index_elements=["group_id", "rebuild_key", "message_id"],
            set_={"topic_id": insert.excluded.topic_id, "position": insert.excluded.position},
        )

    async def stage(self, group_id: str, key: str, assignments: Sequence[tuple[str, str, int]]) -> None:
        rows = [
            {"group_id": group_id, "rebuild_key": key, "message_id": m, "topic_id": t, "position": p}
            for m, t, p in assignments
        ]
        if not rows:
            return
        with storage_errors(self._url, "stage a topic rebuild"):
            async with self._engine.begin() as connection:
                # One statement compiled once and given every row (SQLAlchemy batches them into
                # multi-row VALUES): a ``values(rows)`` statement is compiled anew on every step.
                await connection.execute(self._upsert, rows)

    async def staged(self, group_id: str, key: str) -> dict[str, list[str]]:
        t = topic_rebuild_assignments.c
        statement = (
            sa.select(t.topic_id, t.message_id)
            .where(t.group_id == group_id, t.rebuild_key == key)
            .order_by(t.position, t.message_id)
        )
        result: dict[str, list[str]] = {}
        with storage_errors(self._url, "read a topic rebuild"):
            async with self._engine.connect() as connection:
                for row in await connection.execute(statement):
                    result.setdefault(row.topic_id, []).append(row.message_id)
        return result

    async def archive(self, group_id: str, key: str, position: int, topics: Sequence[Topic]) -> None:
        a = topic_rebuild_topics.c
        rows = [
            {
                "group_id": group_id,
                "rebuild_key": key,
                "topic_id": topic.topic_id,
                "position": position,
                "title": topic.title,
                "summary": topic.summary,
                "created_at": topic.created_at,
                "updated_at": topic.updated_at,
            }
            for topic in topics
        ]
        with storage_errors(self._url, "stage a topic rebuild"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.delete(topic_rebuild_topics).where(
                        a.group_id == group_id, a.rebuild_key == key, a.position >= position
                    )
                )
                if rows:
                    await connection.execute(sa.insert(topic_rebuild_topics), rows)

    async def archived(self, group_id: str, key: str) -> list[Topic]:
        a = topic_rebuild_topics.c
        statement = (
            sa.select(topic_rebuild_topics)
            .where(a.group_id == group_id, a.rebuild_key == key)
            .order_by(a.position, a.topic_id)
        )
        with storage_errors(self._url, "read a topic rebuild"):
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        return [
            Topic(
                topic_id=row.topic_id,
                title=row.title,
                summary=row.summary,
                message_ids=(),
                created_at=row.created_at,
                updated_at=row.updated_at,
                status=TopicStatus.ARCHIVED,
            )
            for row in rows
        ]

    async def discard(self, group_id: str, key: str) -> None:
        t = topic_rebuild_assignments.c
        a = topic_rebuild_topics.c
        with storage_errors(self._url, "discard a topic rebuild"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.delete(topic_rebuild_assignments).where(t.group_id == group_id, t.rebuild_key == key)
                )
                await connection.execute(
                    sa.delete(topic_rebuild_topics).where(a.group_id == group_id, a.rebuild_key == key)
                )
