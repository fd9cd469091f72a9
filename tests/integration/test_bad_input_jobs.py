"""Jobs that other programs enqueue wrongly, and long-task handlers that misbehave, sent to a real
``ai-worker worker`` process: each fails alone, its log line says why, and the worker keeps
serving the good work beside it (docs/RELIABILITY.md, the bad-input table)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from arq.connections import create_pool as arq_create_pool

from adapters.redis.connection import open_real_pool, redis_settings
from entrypoints import create_pool
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.service import TaskService
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from tests.support.databases import fresh_postgres_database
from tests.support.processes import service_env, start_worker, stop, wait_until
from tests.support.redis_space import empty_redis, redis_test_url
from tests.support.world import messages

pytestmark = pytest.mark.integration

REPO_ROOT = str(Path(__file__).resolve().parents[2])
HANDLERS = "tests.support.bad_task_handlers,tests.support.long_task_handlers"

# (function, arguments): what another program could put on the queue with a plain arq pool.
BAD_JOBS = [
    ("task_drop_every_topic", ["g-good"]),
    ("task_update_topic_memory", [42]),
    ("task_update_topic_memory", [["g-good"]]),
    ("task_update_topic_memory", ["g good; DROP TABLE topics"]),
    ("task_update_topic_memory", []),
    ("task_update_topic_memory", ["g-good", "extra"]),
    ("task_evolve_memory", [{"group_id": "g-good"}]),
    ("task_run_long_task", [17]),
    ("task_run_long_task", ["x" * 5_000]),
    ("task_run_long_task", ["no-such-task"]),
]
# (task type, what its recorded error says)
BAD_HANDLERS = [
    ("bad.not_json", "holds a set, which is not JSON"),
    ("bad.raises", "the report service answered 503"),
    ("bad.hangs", "step 1 ran longer than 2 s (LONG_TASK_LOCK_TIMEOUT_SECONDS) and was cancelled"),
    ("bad.never_checkpoints", "step 1 ran longer than 2 s (LONG_TASK_LOCK_TIMEOUT_SECONDS)"),
]


def worker_env(database_url: str) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    return service_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_test_url(),
        LONG_TASK_IMPORTS=HANDLERS,
        PYTHONPATH=pythonpath,
        LONG_TASK_LOCK_TIMEOUT_SECONDS="2",
        LONG_TASK_LEASE_SECONDS="2",
        LONG_TASK_MAX_RETRIES="1",
        LONG_TASK_RETRY_BACKOFF_SECONDS="0",
        L2_QUEUE_TRIGGER_THRESHOLD="10",
    )


async def enqueue_bad_jobs() -> None:
    plain = await open_real_pool(redis_test_url())  # JSON, but unchecked: as another program's pool
    try:
        for number, (function, args) in enumerate(BAD_JOBS):
            await plain.enqueue_job(function, *args, _job_id=f"bad-{number}")
        # Garbage where a job should be: neither JSON nor a pickle.
        await plain.set("arq:job:bad-garbage", b"\x00\xffnot a job")
        await plain.zadd("arq:queue", {"bad-garbage": 1})  # arq skips a score of 0
    finally:
        await plain.aclose()
    pickling = await arq_create_pool(redis_settings(redis_test_url()))  # arq's default serializer: pickle
    try:
        await pickling.enqueue_job("task_update_topic_memory", "g-good", _job_id="bad-pickled")
    finally:
        await pickling.aclose()


@pytest.mark.timeout(360)  # a loaded machine: the waits, not the work, are long
async def test_bad_jobs_and_bad_handlers_fail_alone_and_the_worker_goes_on(tmp_path: Path) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = worker_env(database_url)
        settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS=HANDLERS)
        container = build_container(settings)
        await open_container(container)
        log = tmp_path / "worker.log"
        worker = await start_worker(env, log)
        try:
            await enqueue_bad_jobs()
            service: TaskService = await resolve(container.task_service)
            bad_tasks = {kind: await service.submit(kind) for kind, _ in BAD_HANDLERS}
            good_task = await service.submit("test.count", {"steps": 2})
            recorder: MessageRecorder = await resolve(container.recorder)
            await recorder.record_many(messages(25, "g-good"))
            queries: MemoryQueries = await resolve(container.queries)

            async def good_work_done() -> bool:
                return (await queries.show("g-good")).pending_messages == 0 and (
                    await service.get(good_task.id)
                ).status is TaskStatus.DONE

            async def bad_tasks_failed() -> bool:
                statuses = [(await service.get(t.id)).status for t in bad_tasks.values()]
                return statuses == [TaskStatus.FAILED] * len(bad_tasks)

            await wait_until(good_work_done, 120, "the good messages and task to be done")
            await wait_until(bad_tasks_failed, 120, "every misbehaving task to fail")
            errors = {kind: (await service.get(task.id)).error or "" for kind, task in bad_tasks.items()}
            assert worker.returncode is None, "the worker died"
            # Still serving after all that: one more good task runs.
            last = await service.submit("test.count", {"steps": 1})

            async def last_done() -> bool:
                return (await service.get(last.id)).status is TaskStatus.DONE

            await wait_until(last_done, 30, "a task submitted after the bad ones")
        finally:
            await stop(worker)
            await close_container(container)
    for kind, expected in BAD_HANDLERS:
        assert expected in errors[kind], (kind, errors[kind])
    text = log.read_text()
    assert "x" * 200 not in text  # an id of 5,000 characters is cut in the log
    for needle in (
        "task_drop_every_topic",  # arq: the function is not found
        "task_update_topic_memory: bad group_id argument",
        "task_run_long_task: bad task_id argument: bad task id: a string is needed, got int",
        "bad task id 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx': 1-128",  # cut, not echoed whole
        "missing 1 required positional argument: 'group_id'",
        "takes 2 positional arguments but 3 were given",
        "task_evolve_memory: bad group_id argument: group_id must be a string, got dict",
        "refused a pickled job",
        "refused a job that is not JSON",
    ):
        assert needle in text, needle


async def test_create_pool_refuses_the_same_bad_jobs_before_they_reach_the_queue() -> None:
    async with empty_redis():
        pool = await create_pool(Settings(REDIS_URL=redis_test_url()))
        try:
            with pytest.raises(ValueError, match="the worker has no such function"):
                await pool.enqueue_job("task_drop_every_topic", "g-good")
            with pytest.raises(ValueError, match=r"argument 1 is of type bytes"):
                await pool.enqueue_job("task_update_topic_memory", b"g-good")
            with pytest.raises(ValueError, match=r"argument 1 is of type set"):
                await pool.enqueue_job("task_evolve_memory", {"g-good"})
            assert await pool.zcard("arq:queue") == 0
        finally:
            await pool.aclose()
