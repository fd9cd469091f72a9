"""The health report: what each check says, what counts as a failure, and that it answers in time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from entrypoints.health import DatabaseAnswer, HealthReport, RedisAnswer, check_health
from memory_domain.errors import StorageUnavailable

HEAD = "0007"
WORKER_INFO = "Nov-02 09:00:00 j_complete=3 j_failed=0 j_retried=0 j_ongoing=0 queued=0"


@dataclass
class FakeProbes:
    """Services as a test wants them: each answer, error or hang is set per test."""

    redis_target: str | None = "redis.internal:6379/0"
    database_target: str = "postgresql://ai@db.internal/ai_service"
    worker_info: str | None = WORKER_INFO
    revision: str | None = HEAD
    redis_error: Exception | None = None
    database_error: Exception | None = None
    hang: set[str] = field(default_factory=set)

    async def redis(self) -> RedisAnswer:
        if "redis" in self.hang:
            await asyncio.sleep(60)
        if self.redis_error is not None:
            raise self.redis_error
        return RedisAnswer(latency_ms=1.0, worker_info=self.worker_info)

    async def database(self) -> DatabaseAnswer:
        if "database" in self.hang:
            await asyncio.sleep(60)
        if self.database_error is not None:
            raise self.database_error
        return DatabaseAnswer(latency_ms=2.0, revision=self.revision)

    def head_revision(self) -> str:
        return HEAD


def detail(report: HealthReport, name: str) -> str:
    return next(check.detail for check in report.checks if check.name == name)


async def test_all_four_checks_pass_when_the_services_answer_and_a_worker_is_alive() -> None:
    report = await check_health(FakeProbes())

    assert report.healthy and report.failed == []
    assert [check.name for check in report.checks] == ["redis", "database", "migrations", "worker"]
    assert detail(report, "worker") == f"alive: {WORKER_INFO}"
    assert detail(report, "migrations") == f"at head ({HEAD})"
    assert report.lines()[-1] == "healthy"


async def test_without_a_worker_only_the_worker_fails_and_the_report_says_why() -> None:
    report = await check_health(FakeProbes(worker_info=None))

    assert not report.healthy
    assert report.failed == ["worker"]
    assert "no worker alive" in detail(report, "worker")
    assert "arq:queue:health-check" in detail(report, "worker")
    assert report.lines()[-1] == "unhealthy: worker"
    assert report.as_dict()["failed"] == ["worker"]


async def test_a_schema_behind_the_shipped_migrations_fails_naming_both_revisions() -> None:
    report = await check_health(FakeProbes(revision="0005"))

    assert report.failed == ["migrations"]
    assert detail(report, "migrations") == f"at 0005, head is {HEAD}: run ai-worker migrate"


async def test_a_database_never_migrated_is_told_to_run_migrate() -> None:
    report = await check_health(FakeProbes(revision=None))

    assert report.failed == ["migrations"]
    assert "never migrated" in detail(report, "migrations")


async def test_an_unreachable_redis_fails_redis_and_leaves_the_worker_unknown() -> None:
    report = await check_health(FakeProbes(redis_error=ConnectionError("Error 111 connecting")))

    assert report.failed == ["redis", "worker"]
    assert detail(report, "redis") == "redis.internal:6379/0: ConnectionError: Error 111 connecting"
    assert detail(report, "worker") == "unknown: Redis cannot be read"


async def test_an_unreachable_database_fails_database_and_migrations_with_its_own_message() -> None:
    error = StorageUnavailable("database postgresql://ai@db.internal/ai_service is unreachable")
    report = await check_health(FakeProbes(database_error=error))

    assert report.failed == ["database", "migrations"]
    assert detail(report, "database") == str(error)


async def test_without_a_shared_redis_the_worker_cannot_be_seen() -> None:
    report = await check_health(FakeProbes(redis_target=None))

    assert report.failed == ["redis", "worker"]
    assert "REDIS_URL or REDIS_HOST" in detail(report, "redis")


async def test_services_that_hang_are_reported_within_the_timeout_not_waited_for() -> None:
    started = time.monotonic()

    report = await check_health(FakeProbes(hang={"redis", "database"}), timeout=0.2)

    # The checks run at once: both hangs cost one timeout, not two.
    assert time.monotonic() - started < 1.0
    assert report.failed == ["redis", "database", "migrations", "worker"]
    assert detail(report, "redis") == "redis.internal:6379/0: no answer within 0.2 s"
    assert detail(report, "database").endswith("no answer within 0.2 s")
