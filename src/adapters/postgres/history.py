"""The :class:`memory_domain.ports.MessageHistory` port on the SQL store's tables."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import async_url, storage_errors
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
