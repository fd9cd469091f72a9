"""Opening the Redis pool the worker and the services share: a real server or an in-process one."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

import fakeredis
from arq import connections as arq_connections
from arq import worker as arq_worker
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import ResponseError

from adapters.redis.serialization import deserialize, serialize

logger = logging.getLogger(__name__)

# One in-process Redis per process: every pool of the embedded mode talks to it.
_EMBEDDED_SERVER: fakeredis.FakeServer | None = None


class MaskedRedisSettings(RedisSettings):
    """arq's connection settings with the password kept out of reprs (and so out of logs)."""

    def __repr__(self) -> str:
        password = "" if self.password is None else ", password='***'"
        return f"RedisSettings(host={self.host!r}, port={self.port}, database={self.database}{password})"

    __str__ = __repr__


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings from a Redis URL; retries cover a Redis that restarts."""
    parsed = RedisSettings.from_dsn(url)
    settings = MaskedRedisSettings(**{field.name: getattr(parsed, field.name) for field in fields(parsed)})
    settings.conn_retries = 10
    settings.conn_retry_delay = 1
    return settings


async def open_real_pool(url: str) -> ArqRedis:
    """Connect to a Redis server; the pool serialises jobs as JSON."""
    return await arq_connections.create_pool(
        redis_settings(url), job_serializer=serialize, job_deserializer=deserialize
    )


def embedded_server() -> fakeredis.FakeServer:
    global _EMBEDDED_SERVER
    if _EMBEDDED_SERVER is None:
        _EMBEDDED_SERVER = fakeredis.FakeServer()
        _tolerate_missing_info()
    return _EMBEDDED_SERVER


def open_embedded_pool() -> ArqRedis:
    """A pool on the in-process Redis, for the demo and single-process embedding."""
    fake = fakeredis.FakeAsyncRedis(server=embedded_server())
    return ArqRedis(
        connection_pool=fake.connection_pool, job_serializer=serialize, job_deserializer=deserialize
    )


def _tolerate_missing_info() -> None:
    """arq logs the server's INFO at worker start; the in-process Redis has no INFO command.

    Only the log line is lost, so the embedded mode wraps arq's helper to skip it instead of
    failing the worker's start. Real Redis servers are not affected.
    """
    original = arq_connections.log_redis_info
    if getattr(original, "_tolerant", False):
        return

    async def tolerant(redis: Any, log_func: Any) -> None:
        try:
            await original(redis, log_func)
        except ResponseError:
            log_func("in-process Redis (fakeredis): no INFO to log")

    tolerant._tolerant = True  # type: ignore[attr-defined]
    arq_worker.log_redis_info = tolerant  # type: ignore[attr-defined]
