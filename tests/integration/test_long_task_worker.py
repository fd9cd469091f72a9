"""Long tasks through the real arq worker (in this process, burst mode) on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.postgres.long_task_repository import SqlTaskRepository
from adapters.system import SystemClock
from entrypoints import create_pool
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.settings import Settings
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.service import TaskService
from tests.support.databases import fresh_postgres_database, migrated_sqlite_url
from tests.support.redis_space import empty_redis, redis_test_url
from tests.support.services import live_services

pytestmark = pytest.mark.integration

HANDLERS = "tests.support.long_task_handlers"


@pytest.fixture
async def services() -> AsyncIterator[tuple[Settings, Container]]:
    async with live_services(LONG_TASK_IMPORTS=HANDLERS) as (settings, container, _):
        yield settings, container


async def test_submitted_tasks_run_to_the_end_through_the_worker(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    service: TaskService = await resolve(container.task_service)
    tasks = [await service.submit("test.count", {"steps": n}) for n in (1, 3, 5)]
    await run_worker_until_idle(settings, container)
    for task, steps in zip(tasks, (1, 3, 5), strict=True):
        done = await service.get(task.id)
        assert done.status is TaskStatus.DONE, done
        assert done.result == {"counted": steps, "seen": list(range(1, steps + 1))}
        assert [c.step for c in await service.checkpoints(task.id)] == list(range(1, steps))


async def test_bad_input_fails_that_task_or_job_alone_and_the_worker_keeps_running(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    service: TaskService = await resolve(container.task_service)
    repository: SqlTaskRepository = await resolve(container.task_repository)
    good = await service.submit("test.count", {"steps": 2})
    # Written by another program or by hand: the worker finds out when it runs them. A type it
    # does not know is left for a worker that knows it (here long past the time to hand it back).
    long_ago = good.run_at - timedelta(minutes=5)
    unknown = replace(good, id="unknown-type", task_type="gone.away", run_at=long_ago)
    bad_payload = replace(good, id="bad-payload", payload={"steps": -1})
    for task in (unknown, bad_payload):
        await repository.add(task)
    pool = await create_pool(settings)
    try:
        for argument in ("unknown-type", "bad-payload", {"not": "an id"}, "../../etc"):
            await pool.enqueue_job("task_run_long_task", argument)
    finally:
        await pool.aclose()
    await run_worker_until_idle(settings, container)
    assert (await service.get(good.id)).status is TaskStatus.DONE
    left = await service.get("unknown-type")
    assert (left.status, left.retry_count, left.error) == (TaskStatus.PENDING, 0, None)
    failed = await service.get("bad-payload")
    assert failed.status is TaskStatus.FAILED
    assert "steps: Input should be greater than or equal to 1" in str(failed.error)


async def test_a_task_with_a_start_time_waits_for_it(services: tuple[Settings, Container]) -> None:
    settings, container = services
    service: TaskService = await resolve(container.task_service)
    task = await service.submit(
        "test.count", {"steps": 1}, run_at=SystemClock().now() + timedelta(seconds=1.5)
    )
    # A burst worker runs what is due now: before its time the task stays PENDING.
    await run_worker_until_idle(settings, container)
    if SystemClock().now() < task.run_at:
        assert (await service.get(task.id)).status is TaskStatus.PENDING
    await asyncio.sleep(max(0.0, (task.run_at - SystemClock().now()).total_seconds()) + 0.1)
    await run_worker_until_idle(settings, container)
    done = await service.get(task.id)
    assert done.status is TaskStatus.DONE and done.started_at is not None and done.started_at >= task.run_at


async def test_the_embedded_default_runs_tasks_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(DATABASE_URL=await migrated_sqlite_url(tmp_path), LONG_TASK_IMPORTS=HANDLERS)
    container = build_container(settings)
    await open_container(container)
    try:
        service: TaskService = await resolve(container.task_service)
        tasks = [await service.submit("test.count", {"steps": 3}) for _ in range(4)]
        await run_worker_until_idle(settings, container)
        assert [(await service.get(t.id)).status for t in tasks] == [TaskStatus.DONE] * 4
    finally:
        await close_container(container)


async def test_a_worker_runs_no_more_long_tasks_at_once_than_its_share(tmp_path: Path) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        settings = Settings(
            DATABASE_URL=database_url,
            REDIS_URL=redis_test_url(),
            LONG_TASK_IMPORTS=HANDLERS,
            WORKER_MAX_JOBS=4,
            LONG_TASK_CONCURRENCY=2,
        )
        container = build_container(settings)
        await open_container(container)
        try:
            service: TaskService = await resolve(container.task_service)
            tasks = [await service.submit("test.count", {"steps": 1, "sleep": 1.0}) for _ in range(4)]
            # A task handed back is dispatched again 2 s later, and a burst worker stops when
            # nothing is due now: it is run again until every task ended (or 30 s passed).
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                await run_worker_until_idle(settings, container)
                done = [await service.get(task.id) for task in tasks]
                finished = all(task.status is TaskStatus.DONE for task in done)
                if finished or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
        finally:
            await close_container(container)
    assert [task.status for task in done] == [TaskStatus.DONE] * 4
    assert all(task.retry_count == 0 for task in done)
    starts = sorted(task.started_at for task in done if task.started_at is not None)
    # Two run at once; the other two were handed back and started once a slot was free.
    assert (starts[2] - starts[0]).total_seconds() >= 0.9
