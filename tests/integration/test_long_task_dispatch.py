"""Dispatch through the real worker on PostgreSQL and Redis: a submit wakes an idle worker, a
job lost with Redis is run by the poll, and the holder's writes are one statement each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
import sqlalchemy as sa
from arq.worker import Worker, get_kwargs

from adapters.postgres.engine import create_engine
from adapters.postgres.long_task_repository import SqlTaskRepository
from adapters.redis.wake_up import WakeUpListener
from entrypoints.container import Container, resolve
from entrypoints.long_task_jobs import WAKE_UP_KEY
from entrypoints.settings import Settings
from entrypoints.unified_worker import build_worker_settings
from long_tasks_domain.model import Settlement, TaskStatus
from long_tasks_domain.service import TaskService
from tests.contracts.task_repository_base import at, checkpoint, new_task
from tests.support.databases import fresh_postgres_database
from tests.support.services import live_services

pytestmark = pytest.mark.integration

HANDLERS = "tests.support.long_task_handlers"
AN_HOUR = 3600.0


@asynccontextmanager
async def running_worker(
    settings: Settings, container: Container, poll_delay: float
) -> AsyncIterator[Worker]:
    kwargs: dict[str, Any] = get_kwargs(build_worker_settings(settings))
    kwargs.update(
        poll_delay=poll_delay, handle_signals=False, ctx={"settings": settings, "container": container}
    )
    worker = Worker(**kwargs)
    main = asyncio.create_task(worker.main())
    worker.ctx["test_main_task"] = main
    try:
        yield worker
    finally:
        if not main.done():
            main.cancel()
        with suppress(asyncio.CancelledError):
            await main
        # Let the jobs in flight (a cron that just fired) end: close() cancels what still runs,
        # and its gather would then raise CancelledError before the shutdown hook ran.
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await worker.close()


async def until(check: Callable[[], Any], timeout: float = 90, worker: Worker | None = None) -> None:
    """Wait for ``check``; a worker that stopped meanwhile fails the test with its error."""
    async with asyncio.timeout(timeout):
        while not await check():
            main = worker.ctx["test_main_task"] if worker is not None else None
            if main is not None and main.done():
                raise AssertionError(
                    f"the worker stopped: {main.exception() if not main.cancelled() else 'cancelled'}"
                )
            await asyncio.sleep(0.02)


async def test_a_submit_wakes_the_idle_worker_without_waiting_for_its_poll() -> None:
    async with live_services(LONG_TASK_IMPORTS=HANDLERS) as (settings, container, _):
        service: TaskService = await resolve(container.task_service)
        # It reads its queue once an hour: only the wake-up can bring it the job in time.
        async with running_worker(settings, container, AN_HOUR) as worker:

            async def listening() -> bool:
                listener = worker.ctx.get(WAKE_UP_KEY)
                return isinstance(listener, WakeUpListener) and listener.subscribed.is_set()

            await until(listening, worker=worker)
            await asyncio.sleep(0.5)  # the start's crons have run; it waits for its next poll
            task = await service.submit("test.count", {"steps": 2})

            async def done() -> bool:
                return (await service.get(task.id)).status is TaskStatus.DONE

            await until(done, worker=worker)
            assert worker.ctx[WAKE_UP_KEY].received >= 1


async def test_a_task_whose_job_was_lost_with_redis_is_run_by_the_poll() -> None:
    async with live_services(LONG_TASK_IMPORTS=HANDLERS) as (settings, container, redis):
        service: TaskService = await resolve(container.task_service)
        task = await service.submit("test.count", {"steps": 1})
        await redis.flushdb()  # the job and its wake-up are gone; the task is in PostgreSQL
        async with running_worker(settings, container, 0.5) as worker:

            async def done() -> bool:
                return (await service.get(task.id)).status is TaskStatus.DONE

            await until(done, worker=worker)


async def test_a_claim_and_the_holders_writes_are_one_autocommitted_statement_each() -> None:
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        statements: list[tuple[str, object]] = []

        @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(connection: sa.Connection, _c: Any, sql: str, *_: Any) -> None:
            statements.append((sql.split()[0], connection.get_execution_options().get("isolation_level")))

        try:
            repository = SqlTaskRepository(engine, database_clock=False)
            await repository.add(new_task("t1"))
            statements.clear()
            [claimed] = await repository.claim(at(1), at(31), "w1", 1, task_id="t1")
            held = await repository.settle(
                "t1", "w1", Settlement(TaskStatus.COMMIT, at(2), checkpoint=checkpoint("t1", 1, 2), hold=True)
            )
            started = await repository.start_step("t1", "w1", at(3), at(33))
            done = await repository.settle("t1", "w1", Settlement(TaskStatus.DONE, at(4), result={"n": 2}))
            assert [isolation for _, isolation in statements] == ["AUTOCOMMIT"] * 4
            assert claimed.status is TaskStatus.RUNNING and held.status is TaskStatus.COMMIT
            assert started.status is TaskStatus.RUNNING and started.lease_expires_at == at(33)
            assert done == await repository.get("t1") and done.result == {"n": 2}
            assert [c.step for c in await repository.checkpoints("t1")] == [1]
        finally:
            await engine.dispose()
