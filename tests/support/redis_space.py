"""The Redis key space of the integration tests: one database of TEST_REDIS_URL, emptied around each use.

Without TEST_REDIS_URL: a testcontainers Redis when Docker is reachable, else the local server
(see :mod:`tests.support.service_choice`).
"""

from __future__ import annotations

import fcntl
import functools
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.service_choice import choose_service, docker_reachable, redis_container_base

# Databases 15 down to 8 of the local server are kept for these tests: each test process (a
# pytest run, a benchmark) claims one of them with a lock file, so two suites running at once on
# one machine never empty each other's database. The databases are emptied before and after use.
DEFAULT_TEST_REDIS_BASE = "redis://127.0.0.1:6379"
TEST_REDIS_DATABASES = range(15, 7, -1)


def redis_test_url() -> str:
    choice = choose_service(os.environ.get("TEST_REDIS_URL"), docker_reachable, DEFAULT_TEST_REDIS_BASE)
    if choice.source == "env" and choice.url:
        return choice.url
    return f"{choice.url or redis_container_base()}/{_claimed_database()}"


@functools.cache
def _claimed_database() -> int:
    """Claim a test database for this process; the lock is held until the process ends."""
    for database in TEST_REDIS_DATABASES:
        path = Path(tempfile.gettempdir()) / f"ai-service-worker-test-redis-{database}.lock"
        handle = path.open("a")  # kept open (and locked) for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held_locks.append(handle)
        return database
    raise RuntimeError(
        f"every Redis test database {TEST_REDIS_DATABASES.start}..{TEST_REDIS_DATABASES.stop + 1} is in "
        "use by another test process; set TEST_REDIS_URL"
    )


_held_locks: list[object] = []


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
