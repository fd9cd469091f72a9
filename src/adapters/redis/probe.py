"""One quick look at a Redis server for a health check: PING, and read one key.

No retries and short socket timeouts: a health check must answer within seconds, and an
unreachable server is exactly what it is there to report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ResponseError


@dataclass(frozen=True, slots=True)
class RedisProbe:
    latency_ms: float
    value: str | None  # the key's value, None when it does not exist


def redis_target(url: str) -> str:
    """Where the URL points (host, port, database), without user name or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{parts.hostname or 'localhost'}:{port}{parts.path or '/0'}"


async def probe_redis(url: str, key: str, timeout: float) -> RedisProbe:
    """PING the server at ``url`` and read ``key``; redis-py's errors pass through."""
    client: Redis = Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    try:
        started = time.perf_counter()
        await client.ping()
        latency_ms = (time.perf_counter() - started) * 1000
        value = await client.get(key)
    finally:
        await client.aclose()
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return RedisProbe(latency_ms=latency_ms, value=text)


def redis_failure(url: str, error: BaseException) -> str:
    """One line saying why the Redis at ``url`` cannot be used, without its password."""
    detail = f"{type(error).__name__}: {error}"
    password = urlsplit(url).password
    if password:
        detail = detail.replace(password, "***")
    if _refused_credentials(error):
        return (
            f"Redis at {redis_target(url)} refused the password (REDIS_PASSWORD or the password "
            f"in REDIS_URL): {detail}"
        )
    return f"Redis at {redis_target(url)} is unreachable ({detail})"


def _refused_credentials(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, AuthenticationError) or (
        isinstance(error, ResponseError) and text.startswith(("NOAUTH", "WRONGPASS", "invalid password"))
    )
