"""How long a submitted long task waits for its first step on an idle worker.

``python -m bench.long_task_latency`` (needs the local PostgreSQL and Redis: TEST_DATABASE_URL,
TEST_REDIS_URL, whose Redis database it empties). It starts one ``ai-worker worker`` process,
then submits tasks one at a time at random moments, and measures from just before
``TaskService.submit`` to the task's ``started_at`` (stamped by the claim, right before the
first step runs); both times come from this machine's clock.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from adapters.system import SystemClock
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.service import TaskService
from tests.support.databases import fresh_postgres_database
from tests.support.processes import service_env, start_worker, stop
from tests.support.redis_space import empty_redis, redis_test_url

SAMPLES = 40
HANDLERS = "tests.support.long_task_handlers"
ROOT = str(Path(__file__).resolve().parents[1])


async def wait_started(service: TaskService, task_id: str) -> datetime:
    while True:
        task = await service.get(task_id)
        if task.started_at is not None and task.status is not TaskStatus.PENDING:
            return task.started_at
        await asyncio.sleep(0.005)


async def main() -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS, PYTHONPATH=ROOT
        )
        log = Path(tempfile.mkdtemp(prefix="bench-")) / "worker.log"
        worker = await start_worker(env, log)
        settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS)
        container = build_container(settings)
        await open_container(container)
        try:
            service: TaskService = await resolve(container.task_service)
            warm_up = await service.submit("test.count", {"steps": 1})
            await asyncio.wait_for(wait_started(service, warm_up.id), 60)
            await asyncio.sleep(1)
            clock, samples = SystemClock(), []
            for _ in range(SAMPLES):
                await asyncio.sleep(random.uniform(0.3, 1.0))  # land anywhere in arq's poll cycle
                submitted = clock.now()
                task = await service.submit("test.count", {"steps": 1})
                started = await asyncio.wait_for(wait_started(service, task.id), 10)
                samples.append((started - submitted).total_seconds())
        finally:
            await close_container(container)
            await stop(worker)
    samples.sort()
    print(
        f"submit -> first step starts, idle worker, {SAMPLES} tasks: median {statistics.median(samples) * 1000:.0f} ms, "
        f"p90 {samples[int(len(samples) * 0.9) - 1] * 1000:.0f} ms, max {samples[-1] * 1000:.0f} ms "
        f"({datetime.now(UTC):%Y-%m-%d}, python {sys.version_info.major}.{sys.version_info.minor}, "
        f"{os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    asyncio.run(main())
