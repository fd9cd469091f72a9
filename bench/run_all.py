"""Benchmarks of the topic-memory pipeline: `make bench` (needs local PostgreSQL and Redis).

- due lookup: time to find the due groups among N groups in the Redis due index, for growing N
  (the scan must cost O(log N + due), not O(N));
- recording: messages per second through MessageRecorder on PostgreSQL + Redis;
- offline model: one rewrite of 200 new messages against 50 topics;
- long tasks: submit → first step on an idle worker process (``bench/long_task_latency.py``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from adapters.llm.offline import OfflineTopicModel
from adapters.redis.connection import open_real_pool
from adapters.redis.pending_index import RedisPendingIndex
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from memory_domain.model import ChatMessage, IndexEntry, Role, Topic, TopicModelInput
from memory_domain.recording import MessageRecorder
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WORDS = ["数据库", "迁移", "deploy", "rollback", "告警", "hiking", "trail", "weather", "报表", "索引"]


async def bench_due_lookup() -> None:
    print("due lookup (ZRANGEBYSCORE on the due index), 20 due groups among N:")
    async with empty_redis():
        pool = await open_real_pool(redis_test_url())
        index = RedisPendingIndex(pool, prefix="bench")
        for total in (1_000, 10_000, 100_000, 1_000_000):
            await pool.flushdb()
            entries = [
                IndexEntry(f"g{i}", 1, NOW - timedelta(minutes=1) if i < 20 else NOW + timedelta(hours=1))
                for i in range(total)
            ]
            await index.rebuild(entries, keep_due_after=NOW, valid_for=timedelta(hours=1))
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                due = await index.due_groups(NOW, 1000)
                samples.append(time.perf_counter() - started)
            assert len(due) == 20
            print(f"  N={total:>9,}: median {statistics.median(samples) * 1e6:7.0f} µs")
        await pool.aclose()


def message(group: int, i: int) -> ChatMessage:
    return ChatMessage(
        message_id=f"m{i}",
        group_id=f"group-{group}",
        sender_id=f"u{i % 7}",
        sender_name=f"U{i % 7}",
        role=Role.USER,
        content=" ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)),
        sent_at=NOW + timedelta(seconds=i),
    )


async def bench_recording() -> None:
    async with fresh_postgres_database() as url, empty_redis():
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis_test_url(), L2_QUEUE_TRIGGER_THRESHOLD=10_000)
        container = build_container(settings)
        await open_container(container)
        recorder: MessageRecorder = await resolve(container.recorder)
        for batch_size in (1, 100):
            total = 2_000
            started = time.perf_counter()
            for start in range(0, total, batch_size):
                batch = [
                    message(i % 50, batch_size * 1_000_000 + i) for i in range(start, start + batch_size)
                ]
                await recorder.record_many(batch)
            elapsed = time.perf_counter() - started
            print(f"recording, batches of {batch_size:>3}: {total / elapsed:8.0f} messages/s")
        await close_container(container)


async def bench_offline_model() -> None:
    model = OfflineTopicModel()
    topics = tuple(
        Topic(f"t{k}", f"{WORDS[k % 10]} · {WORDS[(k + 3) % 10]}", "summary " * 10, (f"old{k}",), NOW, NOW)
        for k in range(50)
    )
    news = tuple(message(1, i) for i in range(200))
    model_input = TopicModelInput("group-1", topics, news)
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        await model.rewrite_topics(model_input)
        samples.append(time.perf_counter() - started)
    print(f"offline model, 200 messages x 50 topics: median {statistics.median(samples) * 1000:.1f} ms")


async def main() -> None:
    from bench import long_task_latency

    await bench_due_lookup()
    await bench_recording()
    await bench_offline_model()
    await long_task_latency.main()


if __name__ == "__main__":
    asyncio.run(main())
