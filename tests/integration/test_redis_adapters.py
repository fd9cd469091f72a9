from __future__ import annotations

import json
import pickle

import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix

from adapters.redis.arq_queue import ArqEvolutionQueue, ArqUpdateQueue, evolve_job_id, update_job_id
from adapters.redis.pending_index import RedisPendingIndex, RedisUpdateLeases
from adapters.redis.serialization import PickledJobRefused, deserialize, serialize
from memory_domain.errors import IndexUnavailable
from memory_domain.ports import UpdateQueue
from tests.contracts.pending_index_contract import T0, PendingIndexContract, UpdateLeasesContract
from tests.contracts.update_queue_contract import UpdateQueueContract

pytestmark = pytest.mark.integration


class TestArqUpdateQueue(UpdateQueueContract):
    @pytest.fixture
    async def queue(self, arq_pool: ArqRedis) -> ArqUpdateQueue:
        self.pool = arq_pool
        return ArqUpdateQueue(arq_pool)

    async def queued(self, queue: UpdateQueue) -> list[str]:
        jobs = await self.pool.queued_jobs()
        return sorted(job.args[0] for job in jobs)


class TestRedisPendingIndex(PendingIndexContract):
    @pytest.fixture
    async def index(self, arq_pool: ArqRedis) -> RedisPendingIndex:
        return RedisPendingIndex(arq_pool, prefix="test")


class TestRedisUpdateLeases(UpdateLeasesContract):
    @pytest.fixture
    async def leases(self, arq_pool: ArqRedis) -> RedisUpdateLeases:
        return RedisUpdateLeases(arq_pool, prefix="test")


async def test_a_whole_batch_is_counted_in_one_round_trip(arq_pool: ArqRedis) -> None:
    index = RedisPendingIndex(arq_pool, prefix="test")
    counts = {f"group-{i}": i + 1 for i in range(50)}
    sent: list[object] = []
    original = arq_pool.execute_command

    async def counting(*args: object, **kwargs: object) -> object:
        sent.append(args[0])
        return await original(*args, **kwargs)

    arq_pool.execute_command = counting  # type: ignore[method-assign]
    try:
        result = await index.add_pending(counts, due_at=T0)
    finally:
        arq_pool.execute_command = original  # type: ignore[method-assign]
    assert result == counts
    assert len(sent) == 1, f"expected one round trip, saw {sent}"


async def test_one_job_per_group_and_no_kept_result_blocks_the_next(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    assert await queue.enqueue_update("g1")
    assert not await queue.enqueue_update("g1")
    assert await queue.enqueue_update("g2")
    raw = await arq_pool.get(job_key_prefix + update_job_id("g1"))
    job = json.loads(raw)
    assert (job["f"], job["a"]) == ("task_update_topic_memory", ["g1"])


async def test_a_batch_is_one_round_trip_and_writes_the_jobs_arq_would(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    await queue.enqueue_updates(["warm-up"])  # loads the script, as any first call does
    sent: list[object] = []
    original = arq_pool.execute_command

    async def counting(*args: object, **kwargs: object) -> object:
        sent.append(args[0])
        return await original(*args, **kwargs)

    arq_pool.execute_command = counting  # type: ignore[method-assign]
    try:
        added = await queue.enqueue_updates([f"g{i}" for i in range(100)])
    finally:
        arq_pool.execute_command = original  # type: ignore[method-assign]
    assert added == [f"g{i}" for i in range(100)]
    assert len(sent) == 1, f"expected one round trip, saw {sent}"
    jobs = {job.job_id: job for job in await arq_pool.queued_jobs()}
    job = jobs[update_job_id("g7")]
    assert (job.function, list(job.args), job.kwargs) == ("task_update_topic_memory", ["g7"], {})
    assert await arq_pool.pttl(job_key_prefix + update_job_id("g7")) > 0  # expires as arq's jobs do


async def test_a_batch_leaves_a_running_update_alone(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    job_id = update_job_id("g1")
    await arq_pool.set(in_progress_key_prefix + job_id, b"1", px=60_000)  # a worker runs it
    assert await queue.enqueue_updates(["g1", "g2"]) == ["g2"]
    assert await arq_pool.zscore("arq:queue", job_id) is None


async def test_evolutions_of_a_page_of_groups_are_enqueued_together_once_each(arq_pool: ArqRedis) -> None:
    queue = ArqEvolutionQueue(arq_pool)
    assert await queue.enqueue_evolution("g1")
    assert await queue.enqueue_evolutions(["g1", "g2", "g2", "g3"]) == ["g2", "g3"]
    jobs = {job.job_id: job for job in await arq_pool.queued_jobs()}
    assert sorted(jobs) == [evolve_job_id(g) for g in ("g1", "g2", "g3")]
    assert jobs[evolve_job_id("g3")].function == "task_evolve_memory"


async def test_revive_lets_a_dead_run_go_again_at_once(arq_pool: ArqRedis) -> None:
    queue = ArqUpdateQueue(arq_pool)
    assert await queue.enqueue_update("g1")
    job_id = update_job_id("g1")
    await arq_pool.set(in_progress_key_prefix + job_id, b"1", px=3_600_000)  # a worker died holding it
    await queue.revive_update("g1")
    assert not await arq_pool.exists(in_progress_key_prefix + job_id)
    assert await arq_pool.zscore("arq:queue", job_id) is not None
    await arq_pool.delete(job_key_prefix + job_id)  # the job itself is gone: revive enqueues anew
    await queue.revive_update("g1")
    assert await arq_pool.exists(job_key_prefix + job_id)


async def test_an_unreachable_redis_is_reported_as_the_index_being_unavailable() -> None:
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    index = RedisPendingIndex(dead, prefix="test")
    with pytest.raises(IndexUnavailable, match="unreachable"):
        await index.add_pending({"g": 1}, due_at=T0)
    await dead.aclose()


def test_jobs_are_json_and_a_pickled_job_is_refused_with_how_to_enqueue() -> None:
    job = {"f": "task_update_topic_memory", "a": ["群"], "k": {}, "t": 1, "et": 1}
    assert deserialize(serialize(job)) == job
    with pytest.raises(PickledJobRefused, match="create_pool"):
        deserialize(pickle.dumps(job))
    with pytest.raises(PickledJobRefused, match="not JSON"):
        deserialize(b"\x00garbage")
    assert json.loads(serialize({"r": ValueError("bad")}))["r"] == {"error": "ValueError", "message": "bad"}
