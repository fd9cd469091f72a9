"""The two queues ``bench/dispatch.py`` drives the same way: ours (``ai-worker worker``
processes) and procrastinate's, each on a fresh PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

import sqlalchemy as sa
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import serialize_job
from sqlalchemy.engine import make_url

from adapters.postgres.engine import create_engine
from adapters.postgres.long_task_rows import task_row
from adapters.postgres.long_task_tables import long_task_checkpoints, long_tasks
from adapters.redis.arq_task_dispatcher import RUN_FUNCTION, dispatch_job_id
from adapters.redis.serialization import serialize
from adapters.redis.wake_up import wake_channel
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from long_tasks_domain.model import LongTask, TaskStatus
from long_tasks_domain.service import TaskService
from tests.support.databases import fresh_postgres_database
from tests.support.processes import AI_WORKER, service_env, stop
from tests.support.redis_space import empty_redis, redis_test_url

ROOT = str(Path(__file__).resolve().parents[1])
HANDLERS = "bench.dispatch:registry"
TICKS = os.sysconf("SC_CLK_TCK")
POLL = 0.002


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def spawn(command: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            *command, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT
        )


def read_log(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


class Queue(Protocol):
    async def start_workers(self, count: int) -> None: ...
    async def submit_to_start(self) -> float: ...
    async def step_gap(self, steps: int) -> float: ...
    async def throughput(self, tasks: int) -> tuple[float, float]: ...


class _Processes:
    def __init__(self) -> None:
        self.workers: list[asyncio.subprocess.Process] = []
        self.stack = AsyncExitStack()
        self.logs = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))

    def cpu(self) -> float:
        return sum(cpu_seconds(worker.pid) for worker in self.workers)

    async def stop_all(self) -> None:
        for worker in self.workers:
            await stop(worker)

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop_all()
        finally:
            await self.stack.aclose()

    async def _drain(self, count_done: Any, total: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while await count_done() < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {await count_done()} of {total} tasks done after {timeout:.0f} s")
            await asyncio.sleep(0.02)


class OurQueue(_Processes):
    """``ai-worker worker`` processes, tasks submitted through the real ``TaskService``."""

    async def __aenter__(self) -> Self:
        database_url = await self.stack.enter_async_context(fresh_postgres_database())
        await self.stack.enter_async_context(empty_redis())
        self.env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS, PYTHONPATH=ROOT
        )
        settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS)
        self.slots = settings.long_task_slots
        container = build_container(settings)
        await open_container(container)
        self.stack.push_async_callback(close_container, container)
        self.service: TaskService = await resolve(container.task_service)
        self.engine = await resolve(container.engine)
        self.redis = await resolve(container.redis)
        return self

    async def start_workers(self, count: int) -> None:
        while len(self.workers) < count:
            log = self.logs / f"worker-{len(self.workers)}.log"
            self.workers.append(await spawn([AI_WORKER, "worker"], self.env, log))
            deadline = time.monotonic() + 60
            while b"worker started" not in await asyncio.to_thread(read_log, log):
                if time.monotonic() > deadline or self.workers[-1].returncode is not None:
                    raise SystemExit(f"the worker did not start; see {log}")
                await asyncio.sleep(0.05)
            await self._started(await self.service.submit("bench.steps", {"steps": 1}))

    async def _started(self, task: LongTask, timeout: float = 60) -> datetime:
        deadline = time.monotonic() + timeout
        while True:
            found = await self.service.get(task.id)
            if found.started_at is not None and found.status is not TaskStatus.PENDING:
                return found.started_at
            if time.monotonic() > deadline:
                raise SystemExit(f"task {task.id} did not start within {timeout:.0f} s")
            await asyncio.sleep(POLL)

    async def submit_to_start(self) -> float:
        submitted = datetime.now(UTC)
        task = await self.service.submit("bench.steps", {"steps": 1})
        return (await self._started(task, 30) - submitted).total_seconds()

    async def step_gap(self, steps: int) -> float:
        task = await self.service.submit("bench.steps", {"steps": steps})
        await self._drain(lambda: self._done([task.id]), 1, 120)
        query = sa.select(long_task_checkpoints.c.created_at).where(
            long_task_checkpoints.c.task_id == task.id
        )
        async with self.engine.connect() as connection:
            times = sorted((await connection.execute(query)).scalars())
        return statistics.median([(b - a).total_seconds() for a, b in itertools.pairwise(times)])

    async def _done(self, ids: list[str]) -> int:
        query = sa.select(sa.func.count()).where(long_tasks.c.id.in_(ids), long_tasks.c.status == "DONE")
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def throughput(self, tasks: int) -> tuple[float, float]:
        """N tasks stored and their jobs queued in one go (one INSERT, one Redis pipeline)."""
        now = datetime.now(UTC)
        rows = [
            task_row(
                LongTask(uuid.uuid4().hex, "bench.steps", TaskStatus.PENDING, {"steps": 1}, now, now, now, 3)
            )
            for _ in range(tasks)
        ]
        ids = [row["id"] for row in rows]
        cpu = self.cpu()
        async with self.engine.begin() as connection:
            await connection.execute(sa.insert(long_tasks), rows)
        enqueued_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for task_id in ids:
                job_id = dispatch_job_id(task_id)
                job = serialize_job(RUN_FUNCTION, (task_id,), {}, None, enqueued_ms, serializer=serialize)
                pipe.psetex(job_key_prefix + job_id, 86_400_000, job)
                pipe.zadd(default_queue_name, {job_id: enqueued_ms})
            pipe.publish(wake_channel(default_queue_name), b"1")
            await pipe.execute()
        await self._drain(lambda: self._done(ids), tasks, 300)
        query = sa.select(sa.func.max(long_tasks.c.finished_at)).where(long_tasks.c.id.in_(ids))
        async with self.engine.connect() as connection:
            last: datetime = (await connection.execute(query)).scalar_one()
        return tasks / (last - now).total_seconds(), (self.cpu() - cpu) / tasks


class ProcrastinateQueue(_Processes):
    """procrastinate worker processes (``--concurrency`` as our long-task slots) on its schema."""

    def __init__(self, concurrency: int) -> None:
        super().__init__()
        self.concurrency = concurrency

    async def __aenter__(self) -> Self:
        database_url = await self.stack.enter_async_context(fresh_postgres_database(migrate=False))
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        # Read when the module is imported (so by the worker processes too).
        os.environ["BENCH_PROCRASTINATE_DSN"] = dsn
        from bench import procrastinate_baseline

        self.env = service_env(BENCH_PROCRASTINATE_DSN=dsn, PYTHONPATH=ROOT)
        self.app = procrastinate_baseline.app
        await self.stack.enter_async_context(self.app.open_async())
        await self.app.schema_manager.apply_schema_async()
        self.engine = create_engine(database_url)
        self.stack.push_async_callback(self.engine.dispose)
        return self

    async def start_workers(self, count: int) -> None:
        while len(self.workers) < count:
            log = self.logs / f"procrastinate-{len(self.workers)}.log"
            command = [
                sys.executable, "-m", "procrastinate", "--app=bench.procrastinate_baseline.app",
                "worker", f"--concurrency={self.concurrency}", "--queues=bench",
            ]  # fmt: skip
            self.workers.append(await spawn(command, self.env, log))
            job = await self.app.configure_task("noop").defer_async(n=0)
            await self._drain(lambda job=job: self._succeeded([job]), 1, 60)

    async def _fetch(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(sa.text(sql), params)).one()

    async def _succeeded(self, ids: list[int]) -> int:
        sql = "SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:ids) AND status = 'succeeded'"
        return int((await self._fetch(sql, ids=ids))[0])

    async def submit_to_start(self) -> float:
        submitted = datetime.now(UTC)
        job = await self.app.configure_task("noop").defer_async(n=0)
        sql = "SELECT min(at) FROM procrastinate_events WHERE job_id = :job AND type = 'started'"
        deadline = time.monotonic() + 30
        while (started := (await self._fetch(sql, job=job))[0]) is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"procrastinate job {job} did not start within 30 s")
            await asyncio.sleep(POLL)
        return max(timedelta(0), started - submitted).total_seconds()

    async def step_gap(self, steps: int) -> float:
        first = await self.app.configure_task("chain").defer_async(left=steps)
        sql = "SELECT count(*) FROM procrastinate_jobs WHERE id >= :first AND status = 'succeeded'"
        # A chain that runs slowly (seen under heavy load: ~0.5 s a link) is measured on the
        # links that ran within a minute: the median does not need them all.
        deadline = time.monotonic() + 60
        while int((await self._fetch(sql, first=first))[0]) < steps and time.monotonic() < deadline:  # noqa: ASYNC110 - the jobs live in PostgreSQL
            await asyncio.sleep(0.02)
        async with self.engine.connect() as connection:
            times = list(
                (
                    await connection.execute(
                        sa.text(
                            "SELECT at FROM procrastinate_events WHERE job_id >= :first AND type = 'started' "
                            "ORDER BY at"
                        ),
                        {"first": first},
                    )
                ).scalars()
            )
        return statistics.median([(b - a).total_seconds() for a, b in itertools.pairwise(times)])

    async def throughput(self, tasks: int) -> tuple[float, float]:
        cpu = self.cpu()
        submitted = datetime.now(UTC)
        ids = await self.app.configure_task("noop").batch_defer_async(*({"n": i} for i in range(tasks)))
        await self._drain(lambda: self._succeeded(ids), tasks, 300)
        sql = "SELECT max(at) FROM procrastinate_events WHERE job_id = ANY(:ids) AND type = 'succeeded'"
        last: datetime = (await self._fetch(sql, ids=ids))[0]
        return tasks / (last - submitted).total_seconds(), (self.cpu() - cpu) / tasks
