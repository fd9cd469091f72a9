"""Opening the Redis pool the worker and the services share: a real server or an in-process one."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import fakeredis
from arq import connections as arq_connections
from arq import worker as arq_worker
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job
from redis.exceptions import RedisError, ResponseError

from adapters.redis.probe import redis_failure
from adapters.redis.serialization import check_job, deserialize, serialize
from memory_domain.errors import IndexUnavailable

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
    # arq keeps the URL's user and password percent-encoded (a password with "@" or "/" is
    # written encoded in a URL); the server wants them decoded.
    settings.username = unquote(settings.username) if settings.username else None
    settings.password = unquote(settings.password) if settings.password else None
    # TLS options of rediss:// URLs, named as redis-py's from_url names them.
    query = parse_qs(urlsplit(url).query)
    if "ssl_ca_certs" in query:
        settings.ssl_ca_certs = query["ssl_ca_certs"][0]
    if "ssl_cert_reqs" in query:
        settings.ssl_cert_reqs = query["ssl_cert_reqs"][0]
    settings.conn_retries = 10
    settings.conn_retry_delay = 1
    return settings


async def open_real_pool(url: str) -> ArqRedis:
    """Connect to a Redis server; the pool serialises jobs as JSON.

    After arq's retries, a server unreachable or refusing the password raises
    :class:`IndexUnavailable` naming the server, not the password (one line, not a traceback).
    """
    settings = redis_settings(url)
    try:
        return await arq_connections.create_pool(
            settings, job_serializer=serialize, job_deserializer=deserialize
        )
    except (RedisError, OSError, TimeoutError) as error:
        raise IndexUnavailable(redis_failure(url, error)) from None


# The keyword arguments of arq's enqueue_job that are its options, not the job function's.
_ENQUEUE_OPTIONS = frozenset({"_job_id", "_queue_name", "_defer_until", "_defer_by", "_expires", "_job_try"})


class CheckedJobPool(ArqRedis):
    """An arq pool for other programs: jobs the worker would refuse are refused at enqueue.

    An unknown function name, or an argument that is not JSON, raises
    :class:`~adapters.redis.serialization.JobRefused` in the caller, instead of a line in the
    worker's log. The pools of the worker and of the container do not check: they enqueue
    their own functions (crons included) with arguments of their own making.
    """

    known_functions: frozenset[str] = frozenset()

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Job | None:
        job_kwargs = {name: value for name, value in kwargs.items() if name not in _ENQUEUE_OPTIONS}
        check_job(function, args, job_kwargs, self.known_functions)
        job: Job | None = await super().enqueue_job(function, *args, **kwargs)
        return job


async def open_checked_pool(url: str | None, known_functions: frozenset[str]) -> CheckedJobPool:
    """A :class:`CheckedJobPool` on the Redis at ``url``, or on the in-process one when None."""
    plain = open_embedded_pool() if url is None else await open_real_pool(url)
    pool = CheckedJobPool(plain.connection_pool, job_serializer=serialize, job_deserializer=deserialize)
    # The checked pool takes the connection pool over, and closes it when it is closed.
    pool.auto_close_connection_pool = True
    pool.known_functions = known_functions
    return pool


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
