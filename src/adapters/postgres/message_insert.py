"""Storing new chat messages in one statement, at the speed of the driver.

Recording is the hottest write of the product: every chat message of every group passes here.
On PostgreSQL one statement stores a whole call, on the pool's asyncpg connection: no
SQLAlchemy compilation, no BEGIN/COMMIT (one statement is atomic in autocommit).

- A few messages: one prepared ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING
  RETURNING``, one round trip (for one message, the same with ``VALUES``: no arrays to build).
- A batch of ``COPY_FROM`` messages or more: ``COPY`` straight into the table, which takes a
  batch of 1,000 in about two thirds of the time of the INSERT (whose conflict check costs a
  quarter of it). The batch is new in the common case; when one of its messages was stored
  before, the COPY fails whole (it is one statement) and the INSERT stores the rest.

On SQLite one cached statement runs as an executemany.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import asyncpg  # type: ignore[import-untyped]  # no stubs; its errors and Connection only
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from adapters.postgres.engine import storage_errors
from adapters.postgres.tables import chat_messages
from adapters.postgres.topic_rows import message_row
from memory_domain.model import ChatMessage

Key = tuple[str, str]

# asyncpg prepares it once per connection (its statement cache) and then only binds arrays.
# ``unnest`` of several arrays zips them; the conflict target keeps the first recording.
_PG_INSERT = """
INSERT INTO chat_messages
    (group_id, message_id, sender_id, sender_name, role, content, sent_at, reply_to, recorded_at)
SELECT m.*, $9::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[], $8::text[]) AS m
ON CONFLICT (group_id, message_id) DO NOTHING
RETURNING group_id, message_id
"""

_PG_INSERT_ONE = """
INSERT INTO chat_messages
    (group_id, message_id, sender_id, sender_name, role, content, sent_at, reply_to, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (group_id, message_id) DO NOTHING
RETURNING group_id, message_id
"""

# Measured on PostgreSQL 15 over loopback, the INSERT against COPY: even at 10 rows, COPY
# 1.3-1.6x faster from 30 rows on (and the COPY protocol's go-ahead exchange no longer shows).
COPY_FROM = 32
_COLUMNS = ["group_id", "message_id", "sender_id", "sender_name", "role", "content", "sent_at", "reply_to"]

# Built once: SQLAlchemy compiles it on first use and finds it in its cache afterwards.
_SQLITE_INSERT = (
    sqlite.insert(chat_messages)
    .on_conflict_do_nothing(index_elements=["group_id", "message_id"])
    .returning(chat_messages.c.group_id, chat_messages.c.message_id)
)


async def insert_messages(
    engine: AsyncEngine, messages: Sequence[ChatMessage], recorded_at: datetime
) -> set[Key]:
    """Insert ``messages`` (unique keys) unless already stored; the keys of those inserted."""
    with storage_errors(engine.url, "record messages"):
        if engine.dialect.name == "postgresql":
            return await _insert_postgres(engine, messages, recorded_at)
        async with engine.begin() as connection:
            rows = [message_row(message, recorded_at) for message in messages]
            result = await connection.execute(_SQLITE_INSERT, rows)
            return {(row.group_id, row.message_id) for row in result}


async def _insert_postgres(
    engine: AsyncEngine, messages: Sequence[ChatMessage], recorded_at: datetime
) -> set[Key]:
    arrays = (
        [m.group_id for m in messages],
        [m.message_id for m in messages],
        [m.sender_id for m in messages],
        [m.sender_name for m in messages],
        [m.role.value for m in messages],
        [m.content for m in messages],
        [m.sent_at for m in messages],
        [m.reply_to for m in messages],
    )
    # The pool's connection itself, without a SQLAlchemy Connection around it: that wrapper's
    # bookkeeping cost more CPU than the statement on this path (it is not needed for one
    # autocommitted statement). The pool's checkout events still run.
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        pooled = await engine.raw_connection()
    except dbapi_error as error:
        # A Connection would wrap a failed connect in SQLAlchemy's DBAPIError; done here alike.
        raise sa_exc.DBAPIError.instance(None, None, error, dbapi_error) from error
    try:
        driver: asyncpg.Connection = pooled.driver_connection
        with _as_dbapi_errors():
            try:
                if len(messages) >= COPY_FROM and await _copied(driver, arrays, recorded_at):
                    return {(m.group_id, m.message_id) for m in messages}
                if len(messages) == 1:
                    rows = await driver.fetch(_PG_INSERT_ONE, *(array[0] for array in arrays), recorded_at)
                else:
                    rows = await driver.fetch(_PG_INSERT, *arrays, recorded_at)
            except BaseException as error:
                if driver.is_closed() or not isinstance(error, asyncpg.PostgresError):
                    # Closed, or left mid-protocol (cancelled, timed out): never handed on.
                    await greenlet_spawn(pooled.invalidate)
                raise
    finally:
        await greenlet_spawn(pooled.close)
    return {(row[0], row[1]) for row in rows}


async def _copied(
    driver: asyncpg.Connection, arrays: Sequence[Sequence[object]], recorded_at: datetime
) -> bool:
    """COPY the rows in; False (nothing stored) when one of them is already stored."""
    records = [(*row, recorded_at) for row in zip(*arrays, strict=True)]
    try:
        await driver.copy_records_to_table(
            "chat_messages", records=records, columns=[*_COLUMNS, "recorded_at"]
        )
    except asyncpg.UniqueViolationError:
        return False
    return True


@contextmanager
def _as_dbapi_errors() -> Iterator[None]:
    """Raise asyncpg's errors as SQLAlchemy's, as the engine's own statements would raise them.

    :func:`storage_errors` then maps them alike: integrity and data errors pass through (they
    are bugs), anything else becomes :class:`StorageUnavailable` with the driver's message.
    """
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        raise sa_exc.IntegrityError(None, None, error) from error
    except asyncpg.DataError as error:
        raise sa_exc.DataError(None, None, error) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise sa_exc.OperationalError(None, None, error) from error
