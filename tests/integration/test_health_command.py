"""`ai-worker health` and `arq --check` as processes, the way a container's healthcheck runs them,
against the machine's PostgreSQL and Redis, with and without a worker running."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.processes import ai_worker, service_env, start_worker, stop, wait_until
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

ARQ = str(Path(sys.executable).with_name("arq"))
WORKER_SETTINGS = "entrypoints.unified_worker.UnifiedWorkerSettings"


async def arq_check(env: dict[str, str]) -> int:
    process = await asyncio.create_subprocess_exec(
        ARQ,
        "--check",
        WORKER_SETTINGS,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 60)


def checks(report: dict[str, object]) -> dict[str, dict[str, object]]:
    listed = report["checks"]
    assert isinstance(listed, list)
    return {check["name"]: check for check in listed}


async def test_health_names_the_missing_worker_then_passes_while_one_runs(tmp_path: Path) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url())

        started = time.monotonic()
        alone = await ai_worker("health", "--json", env=env)
        assert time.monotonic() - started < 10  # short timeouts, no retries
        assert alone.returncode == 1, alone.stderr
        report = alone.json()
        assert report["healthy"] is False and report["failed"] == ["worker"]
        assert "no worker alive" in checks(report)["worker"]["detail"]
        assert all(checks(report)[name]["ok"] for name in ("redis", "database", "migrations"))
        assert await arq_check(env) != 0

        worker = await start_worker(env, tmp_path / "worker.log")
        try:

            async def healthy() -> bool:
                return (await ai_worker("health", "--json", env=env)).returncode == 0

            await wait_until(healthy, 30, "ai-worker health to see the worker")
            running = await ai_worker("health", env=env)
            assert running.returncode == 0, running.stdout
            assert running.stdout.splitlines()[-1] == "healthy"
            assert "alive: " in running.stdout and "j_complete=" in running.stdout
            assert await arq_check(env) == 0
        finally:
            await stop(worker)

        # A worker that stops cleanly deletes arq's key: both checks fail at once.
        assert await arq_check(env) != 0
        after = await ai_worker("health", "--json", env=env)
        assert after.returncode == 1 and after.json()["failed"] == ["worker"]


async def test_health_names_a_database_that_was_never_migrated() -> None:
    async with fresh_postgres_database(migrate=False) as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url())

        result = await ai_worker("health", "--json", env=env)

        assert result.returncode == 1
        report = result.json()
        assert report["failed"] == ["migrations", "worker"]
        assert "run ai-worker migrate" in checks(report)["migrations"]["detail"]


async def test_unreachable_services_are_named_within_seconds_and_no_password_is_shown() -> None:
    env = service_env(
        DATABASE_URL="postgresql://ai:db-secret-91f3@127.0.0.1:9/ai_service",
        REDIS_URL="redis://:redis-secret-5c2e@127.0.0.1:9/0",
    )

    started = time.monotonic()
    result = await ai_worker("health", "--timeout", "2", env=env)

    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "unhealthy: redis, database, migrations, worker"
    assert "127.0.0.1:9" in result.stdout
    assert "db-secret-91f3" not in result.stdout + result.stderr
    assert "redis-secret-5c2e" not in result.stdout + result.stderr
