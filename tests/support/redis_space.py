"""The Redis key space of the integration tests: one database of TEST_REDIS_URL, emptied around each use."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

# Database 15 of the local server, kept for these tests: they empty it before and after use.
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_test_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL


@asynccontextmanager
async def empty_redis() -> AsyncIterator[Redis]:
    """A client on the tests' Redis database, empty at the start and emptied at the end."""
    url = redis_test_url()
    client: Redis = Redis.from_url(url)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        await client.aclose()
        pytest.skip(f"Redis is unreachable at {url.split('@')[-1]} (TEST_REDIS_URL): {error}")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()
