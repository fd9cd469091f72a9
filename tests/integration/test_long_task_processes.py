"""Long tasks with ``ai-worker worker`` as real processes: two workers, a SIGKILL, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.postgres.engine import create_engine
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.service import TaskService
from tests.support.databases import fresh_postgres_database
from tests.support.processes import Completed, ai_worker, service_env, start_worker, stop, wait_until
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

REPO_ROOT = str(Path(__file__).resolve().parents[2])
HANDLERS = "tests.support.long_task_handlers"


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    return service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_test_url(),
        LONG_TASK_IMPORTS=HANDLERS,
        PYTHONPATH=pythonpath,
        **extra,
    )


@asynccontextmanager
async def task_service(database_url: str) -> AsyncIterator[TaskService]:
    container = build_container(
        Settings(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS)
    )
    await open_container(container)
    try:
        yield await resolve(container.task_service)
    finally:
        await close_container(container)


async def count_done(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            statement = sa.text("SELECT count(*) FROM long_tasks WHERE status = 'DONE'")
            return int((await connection.execute(statement)).scalar_one())
    finally:
        await engine.dispose()


def assert_no_long_task_errors(worker_log: Path, expected: str = "") -> None:
    """No long-task job failed and the executor logged no error (other jobs are not ours)."""
    errors = [
        line
        for line in worker_log.read_text().splitlines()
        if "[error" in line
        and ("long_task" in line or "long_tasks_domain" in line)
        and not (expected and expected in line)
    ]
    assert errors == []


def log_lines(path: Path) -> list[tuple[str, int, int]]:
    lines = path.read_text().split() if path.exists() else []
    return [(lines[i], int(lines[i + 1]), int(lines[i + 2])) for i in range(0, len(lines), 3)]


async def test_two_workers_run_200_tasks_each_step_once_and_each_checkpoint_committed_once(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = worker_env(database_url, WORKER_MAX_JOBS="10")
        workers = [await start_worker(env, tmp_path / f"worker{n}.log") for n in range(2)]
        log = tmp_path / "steps.log"
        try:
            async with task_service(database_url) as service:
                tasks = [
                    await service.submit("test.count", {"steps": 3, "log": str(log)}) for _ in range(200)
                ]

                async def all_done() -> bool:
                    return await count_done(database_url) == 200

                await wait_until(all_done, 90, "the 200 tasks to finish")
                results = [await service.get(task.id) for task in tasks]
                checkpoints = [await service.checkpoints(task.id) for task in tasks]
        finally:
            for worker in workers:
                await stop(worker)
    assert all(r.result == {"counted": 3, "seen": [1, 2, 3]} for r in results)
    assert all([c.step for c in cs] == [1, 2] for cs in checkpoints)
    runs = Counter((task, step) for task, step, _ in log_lines(log))
    assert len(runs) == 600 and set(runs.values()) == {1}, "a step ran twice or never"
    assert {pid for _, _, pid in log_lines(log)} == {w.pid for w in workers}, "one worker did everything"
    for n in range(2):
        assert_no_long_task_errors(tmp_path / f"worker{n}.log")


async def test_a_task_of_a_worker_killed_mid_step_is_resumed_by_the_other_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = worker_env(database_url, LONG_TASK_LEASE_SECONDS="3")
        workers = [await start_worker(env, tmp_path / f"worker{n}.log") for n in range(2)]
        log, marker = tmp_path / "steps.log", tmp_path / "hanging.pid"
        try:
            async with task_service(database_url) as service:
                payload = {"steps": 3, "log": str(log), "hang_at_step": 2, "hang_marker": str(marker)}
                task = await service.submit("test.count", payload)

                async def hanging() -> bool:
                    return marker.exists() and bool(marker.read_text())

                await wait_until(hanging, 30, "a worker to hang in step 2")
                doomed = next(w for w in workers if w.pid == int(marker.read_text()))
                doomed.send_signal(signal.SIGKILL)
                await doomed.wait()

                async def done() -> bool:
                    return (await service.get(task.id)).status is TaskStatus.DONE

                took = await wait_until(done, 45, "the other worker to take the task over")
                finished = await service.get(task.id)
                checkpoints = await service.checkpoints(task.id)
        finally:
            for worker in workers:
                await stop(worker)
    survivor = next(w for w in workers if w is not doomed)
    assert took < 30  # lease 3 s + a recovery poll every 15 s
    assert finished.result == {"counted": 3, "seen": [1, 2, 3]}
    assert [(c.step, c.state) for c in checkpoints] == [(1, {"seen": [1]}), (2, {"seen": [1, 2]})]
    steps = [(step, pid) for _, step, pid in log_lines(log)]
    assert steps == [(1, doomed.pid), (2, doomed.pid), (2, survivor.pid), (3, survivor.pid)]


async def test_the_tasks_commands_as_an_operator_runs_them(tmp_path: Path) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = worker_env(database_url)
        worker = await start_worker(env, tmp_path / "worker.log")
        try:
            async with task_service(database_url) as service:

                def cli(*args: str) -> Awaitable[Completed]:
                    return ai_worker("tasks", *args, env=env)

                async def reaches(task_id: str, status: TaskStatus) -> None:
                    async def check() -> bool:
                        return (await service.get(task_id)).status is status

                    await wait_until(check, 20, f"task {task_id} to be {status.value}")

                slow = await service.submit("test.count", {"steps": 50, "sleep": 0.2})
                failing = await service.submit("test.fail_once", {"marker": str(tmp_path / "failed-once")})
                # Each command is a process that takes a while to start: they run side by side.
                types, submitted, later, deduped, bad, not_json, unknown = await asyncio.gather(
                    cli("types"),
                    cli("submit", "test.count", "--payload", '{"steps": 3}'),
                    cli("submit", "test.count", "--payload", '{"steps": 1}', "--run-at", "2099-01-01T00:00"),
                    cli("submit", "test.count", "--payload", '{"steps": 1}', "--dedupe-key", "nightly"),
                    cli("submit", "test.count", "--payload", '{"steps": 0}'),
                    cli("submit", "test.count", "--payload", "{steps"),
                    cli("show", "no-such-task"),
                )
                assert types.returncode == 0 and "maintenance.prune_tasks" in types.stdout
                assert "test.count" in types.stdout
                assert submitted.returncode == 0, submitted.stderr
                task_id = submitted.stdout.strip()
                again = await service.submit("test.count", {"steps": 1}, dedupe_key="nightly")
                assert again.id == deduped.stdout.strip()
                assert bad.returncode == 1
                assert "steps: Input should be greater than or equal to 1" in bad.stdout + bad.stderr
                assert not_json.returncode == 2 and "not valid JSON" in not_json.stderr
                assert unknown.returncode == 1 and "no task 'no-such-task'" in unknown.stdout + unknown.stderr

                await reaches(task_id, TaskStatus.DONE)
                await reaches(slow.id, TaskStatus.RUNNING)
                await reaches(failing.id, TaskStatus.FAILED)
                shown, listed, cancel_waiting, cancel_running, retried = await asyncio.gather(
                    cli("show", task_id, "--json"),
                    cli("list", "--status", "DONE", "--json"),
                    cli("cancel", later.stdout.strip()),
                    cli("cancel", slow.id),
                    cli("retry", failing.id),
                )
                show = shown.json()
                keys = {"id", "type", "status", "progress", "retry_count", "error", "result", "checkpoints"}
                assert keys <= set(show)
                assert (show["id"], show["type"], show["status"], show["progress"], show["retry_count"]) == (
                    task_id, "test.count", "DONE", 1.0, 0,
                )  # fmt: skip
                assert show["result"] == {"counted": 3, "seen": [1, 2, 3]}
                assert [c["step"] for c in show["checkpoints"]] == [1, 2]
                assert task_id in [t["id"] for t in listed.json()["tasks"]]
                assert "is cancelled" in cancel_waiting.stdout
                # Running: it stops when its step ends; caught between two steps: at once.
                assert "will stop when its current step ends" in cancel_running.stdout or (
                    "is cancelled" in cancel_running.stdout
                )
                assert retried.returncode == 0, retried.stderr
                await reaches(slow.id, TaskStatus.CANCELLED)
                assert (await service.get(slow.id)).step < 50
                await reaches(failing.id, TaskStatus.DONE)
        finally:
            await stop(worker)
        assert_no_long_task_errors(tmp_path / "worker.log", expected="the first run always fails")
