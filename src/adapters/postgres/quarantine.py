"""The quarantine part of the SQL memory store: messages set aside after failing updates alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory_store_checks import require_aware
from adapters.postgres.engine import storage_errors
from adapters.postgres.tables import chat_messages
from adapters.postgres.topic_rows import message_from_row
from memory_domain.model import QuarantinedMessage

_messages = chat_messages.c

# What pending means: not integrated by a revision, and not quarantined.
PENDING = sa.and_(_messages.revision.is_(None), _messages.quarantined_at.is_(None))


def _message(group_id: str, message_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(_messages.group_id == group_id, _messages.message_id == message_id)


class SqlQuarantine:
    """The quarantine methods of :class:`~adapters.postgres.store.SqlMemoryStore`, which
    inherits them; each is one statement on ``chat_messages``, in its own transaction."""

    _engine: AsyncEngine

    async def count_solo_failure(self, group_id: str, message_id: str) -> int:
        statement = (
            sa.update(chat_messages)
            .where(_message(group_id, message_id), PENDING)
            .values(solo_failures=_messages.solo_failures + 1)
            .returning(_messages.solo_failures)
        )
        count = await self._write(statement, "count a failed update of a message")
        return count if isinstance(count, int) else 0

    async def quarantine_message(
        self, group_id: str, message_id: str, error: str, quarantined_at: datetime
    ) -> bool:
        require_aware(quarantined_at, "quarantined_at")
        statement = (
            sa.update(chat_messages)
            .where(_message(group_id, message_id), PENDING)
            .values(quarantined_at=quarantined_at, quarantine_error=error)
            .returning(_messages.message_id)
        )
        return await self._write(statement, "quarantine a message") is not None

    async def quarantined_messages(self, group_id: str, limit: int) -> list[QuarantinedMessage]:
        if limit <= 0:
            return []
        statement = (
            sa.select(chat_messages)
            .where(_messages.group_id == group_id, _messages.quarantined_at.is_not(None))
            .order_by(_messages.quarantined_at, _messages.message_id)
            .limit(limit)
        )
        with storage_errors(self._engine.url, "read quarantined messages"):
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        return [QuarantinedMessage(message_from_row(r), r.quarantined_at, r.quarantine_error) for r in rows]

    async def quarantine_counts(self) -> dict[str, int]:
        statement = (
            sa.select(_messages.group_id, sa.func.count().label("held"))
            .where(_messages.quarantined_at.is_not(None))
            .group_by(_messages.group_id)
        )
        with storage_errors(self._engine.url, "count quarantined messages"):
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        return {row.group_id: row.held for row in rows}

    async def requeue_message(self, group_id: str, message_id: str) -> bool:
        statement = (
            sa.update(chat_messages)
            .where(_message(group_id, message_id), _messages.quarantined_at.is_not(None))
            .values(quarantined_at=None, quarantine_error=None, solo_failures=0)
            .returning(_messages.message_id)
        )
        return await self._write(statement, "requeue a quarantined message") is not None

    async def _write(self, statement: sa.Executable, action: str) -> Any:
        """Run one UPDATE ... RETURNING of at most one row; its value, or None when none matched."""
        with storage_errors(self._engine.url, action):
            async with self._engine.begin() as connection:
                return (await connection.execute(statement)).scalar()
