"""``ai-worker health``: is everything the worker needs there, and is a worker running?

Four checks, run at once, each bounded by a timeout of a few seconds: Redis answers PING, the
database answers ``SELECT 1``, its schema is at the newest migration, and a worker is alive.
A worker is alive while arq's health-check key exists: every worker rewrites it every
``HEALTH_CHECK_SECONDS`` with a time to live one second longer, and deletes it when it stops.
The key is shared by the workers of one Redis database, so it says that *a* worker is alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

from arq.constants import default_queue_name, health_check_key_suffix

from memory_domain.errors import MemoryDomainError

HEALTH_CHECK_SECONDS = 30
WORKER_HEALTH_KEY = default_queue_name + health_check_key_suffix
DEFAULT_TIMEOUT_SECONDS = 3.0

REDIS, DATABASE, MIGRATIONS, WORKER = "redis", "database", "migrations", "worker"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "failed": self.failed, "checks": [asdict(c) for c in self.checks]}

    def lines(self) -> list[str]:
        width = max(len(check.name) for check in self.checks)
        rows = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        verdict = "healthy" if self.healthy else "unhealthy: " + ", ".join(self.failed)
        return [*rows, verdict]


@dataclass(frozen=True, slots=True)
class RedisAnswer:
    latency_ms: float
    worker_info: str | None  # what the live worker wrote in arq's health-check key


@dataclass(frozen=True, slots=True)
class DatabaseAnswer:
    latency_ms: float
    revision: str | None


class HealthProbes(Protocol):
    """What the checks look at: the real services, or fakes in the unit tests."""

    @property
    def redis_target(self) -> str | None:
        """Where Redis is (no password), or None when no shared Redis is configured."""
        ...

    @property
    def database_target(self) -> str:
        """Where the database is (password masked)."""
        ...

    async def redis(self) -> RedisAnswer: ...

    async def database(self) -> DatabaseAnswer: ...

    def head_revision(self) -> str: ...


async def check_health(probes: HealthProbes, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> HealthReport:
    """Run the four checks at once; the whole report takes at most about ``timeout`` seconds."""
    redis_checks, database_checks = await asyncio.gather(
        _redis_checks(probes, timeout), _database_checks(probes, timeout)
    )
    return HealthReport((redis_checks[0], database_checks[0], database_checks[1], redis_checks[1]))


async def _redis_checks(probes: HealthProbes, timeout: float) -> tuple[Check, Check]:
    target = probes.redis_target
    if target is None:
        reason = (
            "no Redis configured (REDIS_URL or REDIS_HOST): an in-process Redis is private to its process"
        )
        return Check(REDIS, False, reason), Check(WORKER, False, "cannot be seen without a shared Redis")
    try:
        answer = await _within(probes.redis(), timeout)
    except Exception as error:
        return (
            Check(REDIS, False, _describe(error, timeout, target)),
            Check(WORKER, False, "unknown: Redis cannot be read"),
        )
    redis = Check(REDIS, True, f"{target} answered PING in {answer.latency_ms:.0f} ms")
    if answer.worker_info is None:
        return redis, Check(
            WORKER,
            False,
            f"no worker alive: arq's health-check key {WORKER_HEALTH_KEY} is missing "
            f"(a running worker rewrites it every {HEALTH_CHECK_SECONDS} s)",
        )
    return redis, Check(WORKER, True, f"alive: {answer.worker_info}")


async def _database_checks(probes: HealthProbes, timeout: float) -> tuple[Check, Check]:
    target = probes.database_target
    try:
        answer = await _within(probes.database(), timeout)
    except Exception as error:
        return (
            Check(DATABASE, False, _describe(error, timeout, target)),
            Check(MIGRATIONS, False, "unknown: the database cannot be read"),
        )
    database = Check(DATABASE, True, f"{target} answered SELECT 1 in {answer.latency_ms:.0f} ms")
    try:
        head = probes.head_revision()
    except Exception as error:
        return database, Check(MIGRATIONS, False, f"the shipped migrations cannot be read: {error}")
    if answer.revision == head:
        return database, Check(MIGRATIONS, True, f"at head ({head})")
    if answer.revision is None:
        return database, Check(MIGRATIONS, False, f"never migrated (head is {head}): run ai-worker migrate")
    return database, Check(MIGRATIONS, False, f"at {answer.revision}, head is {head}: run ai-worker migrate")


async def _within(awaitable: Awaitable[T], timeout: float) -> T:
    return await asyncio.wait_for(awaitable, timeout)


def _describe(error: BaseException, timeout: float, target: str) -> str:
    if isinstance(error, TimeoutError):
        return f"{target}: no answer within {timeout:g} s"
    if isinstance(error, MemoryDomainError) and str(error):
        return str(error)  # it names the database itself, the password masked
    return f"{target}: {type(error).__name__}: {error}"
