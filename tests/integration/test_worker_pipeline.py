"""The real arq worker on the machine's PostgreSQL and Redis, in this process (burst mode)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.settings import Settings
from memory_domain.model import ChatMessage, Role
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from memory_domain.scheduling import UpdateScheduler
from tests.support.redis_space import redis_test_url
from tests.support.services import live_services

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TOPICS = [
    "数据库 迁移 今晚 执行，先备份 主库 再切换 读写",
    "the hiking trip on saturday, bring water boots and a rain jacket",
    "线上 告警 连接池 耗尽，订单 服务 超时，需要 回滚",
]


def chat(group_id: str, count: int) -> list[ChatMessage]:
    return [
        ChatMessage(
            message_id=f"{group_id}-{i:04d}",
            group_id=group_id,
            sender_id=f"u{i % 4}",
            sender_name=f"User {i % 4}",
            role=Role.USER,
            content=f"{TOPICS[i % len(TOPICS)]} ({i})",
            sent_at=START + timedelta(minutes=i),
        )
        for i in range(count)
    ]


@pytest.fixture
async def services() -> AsyncIterator[tuple[Settings, Container, Redis]]:
    async with live_services(L2_QUEUE_TRIGGER_THRESHOLD=10, L2_QUEUE_MAX_LEN=40) as services:
        yield services


async def test_messages_of_several_groups_become_topics_through_the_real_worker(
    services: tuple[Settings, Container, Redis],
) -> None:
    settings, container, _ = services
    recorder: MessageRecorder = await resolve(container.recorder)
    queries: MemoryQueries = await resolve(container.queries)
    groups = {"team-a": 95, "team-b": 30, "team-c": 7}
    result = await recorder.record_many([m for g, n in groups.items() for m in chat(g, n)])
    assert set(result.enqueued_groups) == {"team-a", "team-b"}  # team-c is below the threshold
    await run_worker_until_idle(settings, container)
    for group_id, count in groups.items():
        view = await queries.show(group_id)
        revisions = await queries.history(group_id, 100)
        integrated = Counter(m for r in revisions for m in r.message_ids)
        if group_id == "team-c":
            assert view.pending_messages == 7 and not revisions
            continue
        # team-a: 95 messages in batches of at most 40, worked off by follow-up updates.
        assert view.pending_messages == 0
        assert len(integrated) == count and max(integrated.values()) == 1
        assert all(len(r.message_ids) <= 40 for r in revisions)
        assert sum(len(t.message_ids) for t in view.topics) == count
        assert any("数据库" in t.title or "迁移" in t.title for t in view.topics)


async def test_after_redis_lost_everything_the_worker_rebuilds_and_nothing_is_lost(
    services: tuple[Settings, Container, Redis],
) -> None:
    settings, container, redis = services
    recorder: MessageRecorder = await resolve(container.recorder)
    scheduler: UpdateScheduler = await resolve(container.scheduler)
    queries: MemoryQueries = await resolve(container.queries)
    await recorder.record_many(chat("g-flush", 25))
    await redis.flushdb()  # the queued job, the counters and the due index are gone
    await run_worker_until_idle(settings, container)  # worker start rebuilds; the scan enqueues
    report = await scheduler.scan()
    await run_worker_until_idle(settings, container)
    view = await queries.show("g-flush")
    assert view.pending_messages == 0, report
    assert sum(len(t.message_ids) for t in view.topics) == 25


async def test_a_bad_job_argument_fails_that_job_alone(services: tuple[Settings, Container, Redis]) -> None:
    settings, container, _ = services
    from entrypoints import create_pool

    pool = await create_pool(settings)
    try:
        await pool.enqueue_job("task_update_topic_memory", "bad group id!")
        await pool.enqueue_job("task_update_topic_memory", {"not": "a string"})
    finally:
        await pool.aclose()
    recorder: MessageRecorder = await resolve(container.recorder)
    await recorder.record_many(chat("g-ok", 10))
    await run_worker_until_idle(settings, container)
    queries: MemoryQueries = await resolve(container.queries)
    assert (await queries.show("g-ok")).pending_messages == 0


async def test_a_pickled_job_is_refused_and_the_worker_keeps_running(
    services: tuple[Settings, Container, Redis], caplog: pytest.LogCaptureFixture
) -> None:
    settings, container, _ = services
    from arq.connections import create_pool as arq_create_pool

    from adapters.redis.connection import redis_settings

    pickling_pool = await arq_create_pool(redis_settings(redis_test_url()))  # arq's default: pickle
    try:
        await pickling_pool.enqueue_job("task_update_topic_memory", "g-pickled")
    finally:
        await pickling_pool.aclose()
    recorder: MessageRecorder = await resolve(container.recorder)
    await recorder.record_many(chat("g-after", 10))
    with caplog.at_level("ERROR"):
        await run_worker_until_idle(settings, container)
    queries: MemoryQueries = await resolve(container.queries)
    assert (await queries.show("g-after")).pending_messages == 0
    assert "deserializ" in caplog.text.lower()


async def test_different_groups_are_updated_concurrently(services: tuple[Settings, Container, Redis]) -> None:
    import asyncio
    import time

    from tests.support.openai_server import ScriptedResponse, running_openai_server

    database_url = services[0].database_dsn()  # the fixture's fresh database, with a slow model
    with running_openai_server() as server:
        settings = Settings(
            DATABASE_URL=database_url,
            REDIS_URL=redis_test_url(),
            LLM_BASE_URL=server.base_url,
            LLM_MODEL="slow-model",
            LLM_API_KEY="k",
            LLM_MAX_ATTEMPTS=1,
            L2_FAILURE_BACKOFF_MINUTES=60,
        )
        container = build_container(settings)
        await open_container(container)
        try:
            server.enqueue(*(ScriptedResponse.slow(2.0) for _ in range(6)))
            recorder: MessageRecorder = await resolve(container.recorder)
            await recorder.record_many([m for g in ("p1", "p2", "p3") for m in chat(g, 10)])
            arrivals: list[float] = []
            worker = asyncio.create_task(run_worker_until_idle(settings, container, max_rounds=1))
            started = time.monotonic()
            while len(server.requests) < 3 and time.monotonic() - started < 10:
                if len(server.requests) > len(arrivals):
                    arrivals.append(time.monotonic())
                await asyncio.sleep(0.01)
            arrivals.append(time.monotonic())
            await worker
        finally:
            await close_container(container)
    assert len(server.requests) >= 3
    # Three model calls were in flight at once: the third arrived before the first could answer.
    assert arrivals[-1] - arrivals[0] < 2.0
