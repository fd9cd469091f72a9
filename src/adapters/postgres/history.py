"""The :class:`memory_domain.ports.MessageHistory` port on the SQL store's tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import async_url, storage_errors
from adapters.postgres.rebuild_tables import topic_rebuild_assignments
from adapters.postgres.statements import batches, dialect_insert
from adapters.postgres.tables import chat_messages
from adapters.postgres.topic_rows import message_from_row
from memory_domain.model import ChatMessage, HistoryCursor


class SqlMessageHistory:
    """Pages through a group's integrated messages by (revision, sent_at, message_id)."""

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

    async def stage(self, group_id: str, key: str, assignments: Sequence[tuple[str, str, int]]) -> None:
        rows = [
            {"group_id": group_id, "rebuild_key": key, "message_id": m, "topic_id": t, "position": p}
            for m, t, p in assignments
        ]
        if not rows:
            return
        with storage_errors(self._url, "stage a topic rebuild"):
            async with self._engine.begin() as connection:
                for batch in batches(rows):
                    insert = dialect_insert(self._engine, topic_rebuild_assignments).values(list(batch))
                    await connection.execute(
                        insert.on_conflict_do_update(
                            index_elements=["group_id", "rebuild_key", "message_id"],
                            set_={"topic_id": insert.excluded.topic_id, "position": insert.excluded.position},
                        )
                    )

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

    async def discard(self, group_id: str, key: str) -> None:
        t = topic_rebuild_assignments.c
        with storage_errors(self._url, "discard a topic rebuild"):
            async with self._engine.begin() as connection:
                await connection.execute(
                    sa.delete(topic_rebuild_assignments).where(t.group_id == group_id, t.rebuild_key == key)
                )
