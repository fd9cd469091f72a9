"""A batch of arq jobs is made of exactly the bytes arq's own enqueue_job would write."""

from __future__ import annotations

import json

import fakeredis
import pytest
from arq.connections import ArqRedis
from arq.jobs import serialize_job

from adapters.redis.arq_queue import ArqUpdateQueue, update_job_id
from adapters.redis.serialization import deserialize, serialize


def private_pool(json_jobs: bool = True) -> ArqRedis:
    """An arq pool on an in-process Redis of this test's own."""
    fake = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    if not json_jobs:
        return ArqRedis(connection_pool=fake.connection_pool)
    return ArqRedis(
        connection_pool=fake.connection_pool, job_serializer=serialize, job_deserializer=deserialize
    )


@pytest.mark.parametrize("group_id", ["g1", "#ubuntu", "team:backend@cn", 'quote"and\\slash', "群组-一"])
def test_each_job_of_a_batch_is_what_the_serializer_makes(group_id: str) -> None:
    queue = ArqUpdateQueue(private_pool())
    make = queue._jobs._job_maker(1_733_420_000_000)
    expected = serialize_job(
        "task_update_topic_memory", (group_id,), {}, None, 1_733_420_000_000, serializer=serialize
    )
    assert make(group_id) == expected


def test_a_pool_without_a_serializer_still_gets_json_jobs() -> None:
    pool = private_pool(json_jobs=False)  # arq's default serializer: pickle
    job = ArqUpdateQueue(pool)._jobs._job_maker(1)("g1")
    assert json.loads(job)["a"] == ["g1"]


async def test_a_batch_on_the_in_process_redis_queues_each_group_once() -> None:
    pool = private_pool()
    queue = ArqUpdateQueue(pool)
    assert await queue.enqueue_updates(["a", "b", "a"]) == ["a", "b"]
    assert await queue.enqueue_updates(["b", "c"]) == ["c"]
    jobs = await pool.queued_jobs()
    assert sorted(job.job_id for job in jobs) == [update_job_id(g) for g in "abc"]
    assert all(job.function == "task_update_topic_memory" for job in jobs)
