"""Statement helpers the SQL adapters share: dialect inserts and batching."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

# Rows per statement: far below the bind-parameter limits of asyncpg (32767) and SQLite (32766).
BATCH = 500

_T = TypeVar("_T")


def dialect_insert(engine: AsyncEngine, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the ON CONFLICT clauses of the engine's dialect (both have the same signature)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def batches(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
