"""Turning redis-py failures into the domain's own error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from memory_domain.errors import IndexUnavailable


@asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Raise :class:`IndexUnavailable` naming ``what`` failed when Redis does."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise IndexUnavailable(f"Redis is unreachable while {what}: {error}") from error
    except RedisError as error:
        raise IndexUnavailable(f"Redis refused {what}: {error}") from error
