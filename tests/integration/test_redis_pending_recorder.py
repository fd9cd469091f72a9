"""The PendingRecorder on Redis: the contract, and jobs that arq runs as its own."""

from __future__ import annotations

import json

import pytest
from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix
from arq.jobs import Job, JobStatus, serialize_job
from redis.asyncio import ConnectionPool

from adapters.redis.arq_queue import UPDATE_FUNCTION, ArqUpdateQueue, update_job_id
from adapters.redis.pending_index import RedisPendingIndex
from adapters.redis.recording import RedisPendingRecorder
from adapters.redis.serialization import deserialize, serialize
from memory_domain.errors import IndexUnavailable
from tests.contracts.pending_recorder_contract import THRESHOLD, PendingRecorderContract, at

pytestmark = pytest.mark.integration


class TestRedisPendingRecorder(PendingRecorderContract):
    @pytest.fixture
    async def index(self, arq_pool: ArqRedis) -> RedisPendingIndex:
        self.pool = arq_pool
        return RedisPendingIndex(arq_pool, prefix="test")

    @pytest.fixture
    async def recorder(self, index: RedisPendingIndex, arq_pool: ArqRedis) -> RedisPendingRecorder:
        return RedisPendingRecorder(index, arq_pool)

    async def queued(self) -> list[str]:
        jobs = await self.pool.queued_jobs()
        return [job.args[0] for job in sorted(jobs, key=lambda job: job.score or 0)]

    async def finish(self, group_id: str) -> None:
        # What arq leaves when a job without a kept result finishes: no key, no queue entry.
        job_id = update_job_id(group_id)
        await self.pool.delete(job_key_prefix + job_id, in_progress_key_prefix + job_id)
        await self.pool.zrem(default_queue_name, job_id)


async def test_the_enqueued_job_is_the_one_arq_enqueue_job_makes(arq_pool: ArqRedis) -> None:
    recorder = RedisPendingRecorder(RedisPendingIndex(arq_pool, prefix="test"), arq_pool)
    assert await recorder.record_pending({"g1": THRESHOLD}, at(60), at(0), THRESHOLD) == ["g1"]
    assert await ArqUpdateQueue(arq_pool).enqueue_update("g2")

    ours = await Job(update_job_id("g1"), arq_pool, _deserializer=deserialize).info()
    theirs = await Job(update_job_id("g2"), arq_pool, _deserializer=deserialize).info()
    assert ours is not None and theirs is not None
    # JSON jobs: the arguments come back as a list, from either enqueue.
    assert (ours.function, ours.args, ours.kwargs, ours.job_try) == (UPDATE_FUNCTION, ["g1"], {}, None)
    assert (theirs.function, theirs.args, theirs.kwargs, theirs.job_try) == (
        UPDATE_FUNCTION,
        ["g2"],
        {},
        None,
    )
    assert await Job(update_job_id("g1"), arq_pool).status() == JobStatus.queued
    # Byte for byte what arq writes for this job, and queued at its enqueue time.
    raw = await arq_pool.get(job_key_prefix + update_job_id("g1"))
    enqueued_at = json.loads(raw)["et"]
    assert raw == serialize_job(UPDATE_FUNCTION, ("g1",), {}, None, enqueued_at, serializer=serialize)
    assert await arq_pool.zscore(default_queue_name, update_job_id("g1")) == enqueued_at
    ttl_ms = await arq_pool.pttl(job_key_prefix + update_job_id("g1"))
    assert 0.9 * arq_pool.expires_extra_ms < ttl_ms <= arq_pool.expires_extra_ms
    # arq's enqueue refuses the group whose job the recorder queued, and the reverse.
    assert not await ArqUpdateQueue(arq_pool).enqueue_update("g1")
    assert await recorder.record_pending({"g2": THRESHOLD}, at(60), at(0), THRESHOLD) == []


async def test_a_running_update_is_not_enqueued_again(arq_pool: ArqRedis) -> None:
    recorder = RedisPendingRecorder(RedisPendingIndex(arq_pool, prefix="test"), arq_pool)
    await arq_pool.set(in_progress_key_prefix + update_job_id("g1"), b"1")
    assert await recorder.record_pending({"g1": THRESHOLD}, at(60), at(0), THRESHOLD) == []
    assert await arq_pool.queued_jobs() == []


async def test_an_unreachable_redis_is_index_unavailable() -> None:
    pool = ArqRedis(
        connection_pool=ConnectionPool.from_url("redis://127.0.0.1:1/0"),
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    try:
        recorder = RedisPendingRecorder(RedisPendingIndex(pool, prefix="test"), pool)
        with pytest.raises(IndexUnavailable, match="recording pending messages"):
            await recorder.record_pending({"g1": 1}, at(60), at(0), THRESHOLD)
    finally:
        await pool.aclose(close_connection_pool=True)


async def test_a_pool_that_would_pickle_jobs_is_refused() -> None:
    pool = ArqRedis(connection_pool=ConnectionPool.from_url("redis://127.0.0.1:1/0"))
    try:
        with pytest.raises(ValueError, match="JSON"):
            RedisPendingRecorder(RedisPendingIndex(pool, prefix="test"), pool)
    finally:
        await pool.aclose(close_connection_pool=True)


async def test_a_group_id_that_json_would_escape_is_refused(arq_pool: ArqRedis) -> None:
    recorder = RedisPendingRecorder(RedisPendingIndex(arq_pool, prefix="test"), arq_pool)
    with pytest.raises(ValueError, match="cannot be put in a job"):
        await recorder.record_pending({'a"b': 10}, at(60), at(0), THRESHOLD)
