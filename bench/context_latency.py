"""Memory-context latency against history size: ``python bench/context_latency.py [--quick] [--json]``.

One group on PostgreSQL (``TEST_DATABASE_URL``) is filled with N integrated messages through the
real store (each commit writes the search index, as the worker's updates do), with words drawn
from a Zipf-like vocabulary of 20,000 words (English and Chinese), then the real
``MemoryContextReader`` answers queries of 3-8 words at a 2,000-character budget. The target:
p95 under 50 ms at 100,000 messages, and about the same at 1,000 (the cost must not grow with
history: a query reads only the best postings of its own terms).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa

from adapters.postgres.engine import create_engine
from adapters.postgres.group_store import SqlGroupMemoryStore
from adapters.postgres.search_index import SqlSearchIndex
from adapters.postgres.store import SqlMemoryStore
from adapters.system import SystemClock
from bench import report
from bench.report import Figure
from memory_domain.memory_context import MemoryContextReader
from memory_domain.model import ChatMessage, Role, Topic, TopicRevision, TopicStatus
from tests.support.databases import fresh_postgres_database

START = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 1_000
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "do", "fu"]
HANZI = "数据库迁移上线周末爬山报表索引告警回滚测试部署会议晚饭电影天气"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = []
    for i in range(size):
        if i % 5 == 4:
            words.append("".join(rng.choice(HANZI) for _ in range(rng.randint(2, 4))))
        else:
            words.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return words


def sentence(words: list[str], weights: list[float], rng: random.Random) -> str:
    return " ".join(rng.choices(words, weights, k=rng.randint(5, 25)))


async def fill(
    store: SqlMemoryStore, total: int, words: list[str], weights: list[float], rng: random.Random
) -> None:
    for version, start in enumerate(range(0, total, BATCH)):
        messages = [
            ChatMessage(
                f"m{i:07d}",
                "big",
                f"u{i % 40}",
                f"User{i % 40}",
                Role.USER,
                sentence(words, weights, rng),
                START + timedelta(seconds=30 * i),
            )
            for i in range(start, min(total, start + BATCH))
        ]
        await store.add_messages(messages, START)
        ids = tuple(m.message_id for m in messages)
        # A fresh topic per batch, the previous one archived: at most one active topic, so that
        # what is measured is the search, not the topic rows (their cost is issue #8's).
        topics = [Topic(f"t{version}", f"topic {version}", "summary", ids, START, START)]
        if version:
            old = await store.get_topic_memory("big")
            topics += [replace(t, status=TopicStatus.ARCHIVED) for t in old.topics]
        revision = TopicRevision("big", version + 1, START, ids, "bench", 0, 0, 0, {})
        await store.commit_topic_update("big", version, topics, revision)


async def measure(total: int, queries: int) -> tuple[float, float]:
    """Fill one group with ``total`` messages; the median and p95 of ``queries`` contexts (s)."""
    rng = random.Random(7)
    words = vocabulary(20_000, rng)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    async with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            store = SqlMemoryStore(engine)
            await fill(store, total, words, weights, rng)
            # As autovacuum would have by now: planner statistics of the freshly filled tables
            # (without them PostgreSQL may scan a group's rows to find 60 of them by key).
            async with engine.begin() as connection:
                await connection.execute(sa.text("ANALYZE"))
            reader = MemoryContextReader(
                store, SqlGroupMemoryStore(engine), SqlSearchIndex(engine), SystemClock()
            )
            samples = []
            for _ in range(queries):
                query = " ".join(rng.choices(words, weights, k=rng.randint(3, 8)))
                asked = time.perf_counter()
                context = await reader.context("big", 2_000, query=query)
                samples.append(time.perf_counter() - asked)
                assert len(context.text) <= 2_000
            samples.sort()
            return statistics.median(samples), samples[int(len(samples) * 0.95)]
        finally:
            await engine.dispose()


async def figures(quick: bool) -> list[Figure]:
    small, large, queries = (200, 2_000, 30) if quick else (1_000, 100_000, 200)
    _, small_p95 = await measure(small, queries)
    median, large_p95 = await measure(large, queries)
    return [
        Figure(
            f"memory context p95, {large:,} messages",
            large_p95 * 1000,
            "ms",
            target="< 50 ms",
            met=large_p95 < 0.050,
            note=f"median {median * 1000:.1f} ms; 2,000-character budget",
        ),
        Figure(
            f"memory context p95, {large:,} vs {small:,} messages",
            large_p95 * 1000,
            "ms",
            baseline=small_p95 * 1000,
            target="<= 2 x baseline (flat with history)",
            met=large_p95 <= 2 * small_p95,
        ),
    ]


if __name__ == "__main__":
    sys.exit(report.main(figures, "memory context against history size"))
