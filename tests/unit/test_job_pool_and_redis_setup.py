"""Where jobs go: PostgreSQL needs a shared Redis, and ``create_pool`` refuses jobs the worker would."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis

from adapters.redis.serialization import deserialize
from entrypoints import JOB_FUNCTIONS, JobRefused, create_pool
from entrypoints.settings import Settings, SettingsError
from entrypoints.unified_worker import build_worker_settings

POSTGRES_URL = "postgresql+asyncpg://worker@db.example:5432/memory"
QUEUE = "test:job-pool"


@pytest.mark.parametrize(
    "setup",
    [{"DATABASE_URL": POSTGRES_URL}, {"POSTGRES_HOST": "db.example"}, {"POSTGRES_PASSWORD": "pw"}],
)
def test_postgresql_without_redis_is_refused_naming_the_reason(setup: dict[str, Any]) -> None:
    with pytest.raises(
        SettingsError, match=r"PostgreSQL is configured .* but Redis is not: set REDIS_URL"
    ) as refused:
        Settings(**setup).require_shared_redis()
    assert "dies with this process" in str(refused.value) and "all-embedded default (SQLite)" in str(
        refused.value
    )


@pytest.mark.parametrize(
    "setup",
    [
        {},  # the all-embedded default: SQLite and an in-process Redis
        {"DATABASE_URL": "sqlite+aiosqlite:///memory.db"},
        {"DATABASE_URL": POSTGRES_URL, "REDIS_URL": "redis://cache.example:6379/0"},
        {"POSTGRES_HOST": "db.example", "REDIS_HOST": "cache.example"},
    ],
)
def test_the_all_embedded_default_and_postgresql_with_redis_are_accepted(setup: dict[str, Any]) -> None:
    Settings(**setup).require_shared_redis()


async def test_create_pool_refuses_postgresql_without_redis() -> None:
    with pytest.raises(SettingsError, match="Redis is not"):
        await create_pool(Settings(DATABASE_URL=POSTGRES_URL))


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    pool = await create_pool(Settings())  # the in-process Redis: jobs go to a queue of this test's own
    try:
        yield pool
    finally:
        await pool.delete(QUEUE)
        await pool.aclose()


async def test_create_pool_refuses_a_function_the_worker_does_not_have(pool: ArqRedis) -> None:
    with pytest.raises(
        JobRefused, match="refused to enqueue 'task_update_topics': the worker has no such"
    ) as refused:
        await pool.enqueue_job("task_update_topics", "g1", _queue_name=QUEUE)
    assert "task_update_topic_memory" in str(refused.value)  # the names it does have
    assert await pool.zcard(QUEUE) == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        ((b"g1",), {}, "argument 1 is of type bytes"),
        (({"g1"},), {}, "argument 1 is of type set"),
        (("g1", [1, {"at": math.nan}]), {}, r"argument 2\[1\]\['at'\] is nan, which JSON cannot hold"),
        ((), {"group_id": {1: "g1"}}, r"argument 'group_id' has a key that is not a string \(1\)"),
        ((object(),), {}, "argument 1 is of type object"),
    ],
)
async def test_create_pool_refuses_arguments_that_are_not_json_naming_the_argument(
    pool: ArqRedis, args: tuple[Any, ...], kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(
        JobRefused, match=f"^refused to enqueue task_update_topic_memory: {problem}; job arguments are JSON: "
    ):
        await pool.enqueue_job("task_update_topic_memory", *args, _queue_name=QUEUE, **kwargs)
    assert await pool.zcard(QUEUE) == 0


async def test_create_pool_enqueues_a_good_job_as_the_json_it_was_given(pool: ArqRedis) -> None:
    job = await pool.enqueue_job("task_evolve_memory", "g1", _queue_name=QUEUE, _job_id="test-job-pool")
    assert job is not None and await pool.zcard(QUEUE) == 1
    stored = deserialize(await pool.get("arq:job:test-job-pool"))
    assert (stored["f"], stored["a"], stored["k"]) == ("task_evolve_memory", ["g1"], {})
    await pool.delete("arq:job:test-job-pool")


def test_the_functions_create_pool_accepts_are_the_workers_job_functions() -> None:
    worker_settings: Any = build_worker_settings(Settings())
    assert {function.name for function in worker_settings.functions} == JOB_FUNCTIONS
