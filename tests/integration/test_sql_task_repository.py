"""The SQL TaskRepository keeps the contract on SQLite and PostgreSQL, claims skip locked rows,
and on PostgreSQL leases follow the database's clock, not the workers'."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.in_memory.long_tasks import InMemoryTaskDispatcher
from adapters.postgres.engine import create_engine
from adapters.postgres.long_task_repository import SqlTaskRepository
from adapters.system import SystemClock, UuidIds
from long_tasks_domain.errors import TaskStorageUnavailable
from long_tasks_domain.executor import RunOutcome, TaskExecutor
from long_tasks_domain.model import LongTask, Settlement, TaskStatus
from long_tasks_domain.ports import TaskRepository
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep
from long_tasks_domain.service import TaskService
from tests.contracts.task_repository_contract import TaskRepositoryContract, at, checkpoint, new_task
from tests.support.task_world import Empty

pytestmark = pytest.mark.integration


class TestSqliteTaskRepository(TaskRepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_engine: AsyncEngine) -> TaskRepository:
        return SqlTaskRepository(sqlite_engine)


class TestPostgresTaskRepository(TaskRepositoryContract):
    @pytest.fixture
    def repository(self, postgres_engine: AsyncEngine) -> TaskRepository:
        # The contract moves time by hand; the database's clock (the tests below) cannot be.
        return SqlTaskRepository(postgres_engine, database_clock=False)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def lease_of(task: LongTask | None) -> datetime:
    assert task is not None and task.lease_expires_at is not None
    return task.lease_expires_at


async def test_on_postgres_a_worker_whose_clock_runs_ahead_cannot_take_a_live_lease_over(
    postgres_engine: AsyncEngine,
) -> None:
    repository = SqlTaskRepository(postgres_engine)  # the database's clock: the default
    await repository.add(new_task("t1"))
    now = SystemClock().now()  # the database runs on this machine: the same clock
    [held] = await repository.claim(now, now + seconds(30), "right", 1)
    assert abs(lease_of(held) - (now + seconds(30))) < seconds(2)
    ahead = now + seconds(45)
    assert await repository.claim(ahead, ahead + seconds(30), "ahead", 5) == []
    assert await repository.claim(ahead, ahead + seconds(30), "ahead", 5, expired_only=True) == []
    flagged = await repository.request_cancel("t1", ahead)
    assert (flagged.status, flagged.cancel_requested) == (TaskStatus.RUNNING, True)
    # A clock that runs behind neither shortens the leases it takes nor the ones it renews.
    behind = now - seconds(3600)
    assert await repository.renew("t1", "right", behind, behind + seconds(30))
    assert lease_of(await repository.get("t1")) > now + seconds(25)
    await repository.settle(
        "t1", "right", Settlement(TaskStatus.COMMIT, now, checkpoint=checkpoint("t1", 1), hold=True)
    )
    started = await repository.start_step("t1", "right", behind, behind + seconds(30))
    assert lease_of(started) > now + seconds(25)


async def test_on_postgres_a_lease_ends_when_the_databases_clock_says_so(
    postgres_engine: AsyncEngine,
) -> None:
    repository = SqlTaskRepository(postgres_engine)
    await repository.add(new_task("t1"))
    now = SystemClock().now()
    ahead = now + seconds(3600)  # a lease of 1 s, by a clock an hour ahead
    [held] = await repository.claim(ahead, ahead + seconds(1), "ahead", 1)
    assert lease_of(held) < now + seconds(5)
    await asyncio.sleep(1.2)
    behind = SystemClock().now() - seconds(3600)  # taken over by a clock an hour behind
    [taken] = await repository.claim(behind, behind + seconds(30), "behind", 5, expired_only=True)
    assert (taken.id, taken.lease_token, taken.retry_count) == ("t1", "behind", 1)


def test_only_postgres_offers_its_clock_for_leases(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="only PostgreSQL"):
        SqlTaskRepository(engine, database_clock=True)


async def test_a_claim_skips_a_row_another_transaction_holds_instead_of_waiting(
    postgres_engine: AsyncEngine,
) -> None:
    repository = SqlTaskRepository(postgres_engine)
    await repository.add(new_task("locked", run_at=0))
    await repository.add(new_task("free", run_at=1))
    async with postgres_engine.connect() as rival:
        await rival.execute(sa.text("SELECT id FROM long_tasks WHERE id = 'locked' FOR UPDATE"))
        claimed = await asyncio.wait_for(repository.claim(at(5), at(35), "w1", 5), 5)
        assert [t.id for t in claimed] == ["free"]
        await rival.rollback()
    assert [t.id for t in await repository.claim(at(5), at(35), "w2", 5)] == ["locked"]


async def test_an_unreachable_database_is_a_task_storage_error_without_the_password() -> None:
    engine = create_engine("postgresql://worker:s3cret-pw@127.0.0.1:1/tasks")
    try:
        with pytest.raises(TaskStorageUnavailable) as unavailable:
            await SqlTaskRepository(engine).get("t1")
    finally:
        await engine.dispose()
    assert "read a task" in str(unavailable.value) and "s3cret-pw" not in str(unavailable.value)


async def test_on_postgres_what_it_cannot_store_is_cleaned_or_refused_and_no_task_is_left_running(
    postgres_engine: AsyncEngine,
) -> None:
    repository = SqlTaskRepository(postgres_engine)
    registry = TaskRegistry()

    async def nul(step: TaskStep[Empty]) -> Checkpoint | Completed:
        await step.report_progress(0.5, "reading a\x00b")
        raise RuntimeError("bad input: a\x00b")

    async def half(step: TaskStep[Empty]) -> Checkpoint | Completed:
        return Checkpoint({}, progress="half")  # type: ignore[arg-type]

    registry.register("t.nul", Empty, nul)
    registry.register("t.half", Empty, half)
    dispatcher = InMemoryTaskDispatcher()
    service = TaskService(repository, registry, dispatcher, SystemClock(), UuidIds())
    executor = TaskExecutor(repository, registry, dispatcher, SystemClock(), UuidIds())
    nul_task, half_task = await service.submit("t.nul"), await service.submit("t.half")
    assert (await executor.run(nul_task.id)).outcome is RunOutcome.RETRY_SCHEDULED
    assert (await executor.run(half_task.id)).outcome is RunOutcome.FAILED
    retried, failed = await service.get(nul_task.id), await service.get(half_task.id)
    assert (retried.status, retried.error, retried.progress_message) == (
        TaskStatus.PENDING, "RuntimeError: bad input: a\\x00b", "reading a\\x00b",
    )  # fmt: skip
    assert retried.error_traceback is not None and "a\\x00b" in retried.error_traceback
    assert str(failed.error).startswith("InvalidProgress: a progress is a number between 0 and 1")
    with pytest.raises(ValueError, match="a dedupe key cannot hold NUL"):
        await service.submit("t.nul", dedupe_key="k\x00")
