"""The worker's real services for a test: a fresh PostgreSQL database, an empty Redis key space,
settings pointing at them, and the container opened on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from entrypoints.container import Container, build_container, close_container, open_container
from entrypoints.settings import Settings
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url


@asynccontextmanager
async def live_services(**overrides: Any) -> AsyncIterator[tuple[Settings, Container, Redis]]:
    """``overrides`` are settings by their variable names (``L2_QUEUE_MAX_LEN=20``)."""
    async with fresh_postgres_database() as database_url, empty_redis() as redis:
        settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), **overrides)
        container = build_container(settings)
        await open_container(container)
        try:
            yield settings, container, redis
        finally:
            await close_container(container)
