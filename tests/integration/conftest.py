"""Fixtures the integration tests share: migrated SQL engines on SQLite and PostgreSQL, and an
arq pool on the tests' emptied Redis database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import create_engine
from adapters.redis.connection import open_real_pool
from tests.support.databases import fresh_postgres_database, migrated_sqlite_url
from tests.support.redis_space import empty_redis, redis_test_url


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a new SQLite file, migrated to head."""
    engine = create_engine(await migrated_sqlite_url(tmp_path))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    """An engine on a new PostgreSQL database, migrated to head and dropped afterwards."""
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture
async def arq_pool() -> AsyncIterator[ArqRedis]:
    """An arq pool on the tests' Redis database, emptied before and after."""
    async with empty_redis():
        pool = await open_real_pool(redis_test_url())
        try:
            yield pool
        finally:
            await pool.aclose()
