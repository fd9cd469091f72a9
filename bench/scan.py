"""The L2 scan and the work over every group: ``python bench/scan.py [--quick] [--json]``.

N groups (100,000; ``--quick``: 5,000) on PostgreSQL, each with 3 pending messages of real IRC
chat text (``../shared/data/irc-dev``); 1 % of them waited over ``L2_FORCE_UPDATE_AFTER_MINUTES``
and are due. The worker's own objects (the container, production settings) are measured:

- the due lookup (``ZRANGEBYSCORE`` on the due index) against the seed's way, ``SCAN l2:queue:*``
  with an ``LLEN`` and a ``GET`` per group, on the same Redis;
- the whole scan cron (``cron_scan_topic_memory``: the built check, the lookup, the enqueue of
  every due group's update, the recovery of dead updates) with every due group to enqueue, against
  the lookup followed by one ``enqueue_job`` per group (the enqueue path before this change);
- the same cron when the due groups' updates are already queued (every scan until they run);
- the reconcile of the index with PostgreSQL, from a flushed Redis and over a built index, and
  how many of 4 workers reconciling at once actually do it (the lock lets one);
- ``group_ids()`` (``topic_memories`` and the pending partial index) against the ``SELECT
  DISTINCT`` over every message.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa
from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.redis.arq_queue import ArqUpdateQueue, update_job_id
from adapters.redis.pending_index import RedisPendingIndex
from bench import report
from bench.report import Figure
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from entrypoints.unified_worker import cron_scan_topic_memory
from memory_domain.scheduling import UpdateScheduler
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url

IRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "irc-dev" / "messages.jsonl"
PER_GROUP = 3
DUE_EVERY = 100  # 1 % of the groups are due


def chat_lines() -> list[str]:
    if IRC.exists():
        lines = [json.loads(line)["content"] for line in IRC.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if line.strip()]
    return [f"generated chat line {i} about the deploy and the weekend hike" for i in range(500)]


def group_name(number: int) -> str:
    return f"group-{number:06d}"


async def fill(engine: AsyncEngine, groups: int, now: datetime) -> None:
    """N groups of 3 pending messages; every 100th recorded 2 hours ago (due), the rest 1 minute ago."""
    statement = sa.text(
        "INSERT INTO chat_messages (group_id, message_id, sender_id, sender_name, role, content,"
        " sent_at, recorded_at)"
        " SELECT 'group-' || lpad(g::text, 6, '0'), 'm' || k, 'u' || ((g + k) % 40), 'User', 'user',"
        " (:texts)[1 + (g * 3 + k) % cardinality(CAST(:texts AS text[]))],"
        " CAST(:now AS timestamptz) - make_interval(mins => 150 - k),"
        " CASE WHEN g % :due_every = 0 THEN CAST(:now AS timestamptz) - interval '2 hours' ELSE CAST(:now AS timestamptz) - interval '1 minute' END"
        " FROM generate_series(0, :groups - 1) AS g, generate_series(0, :per_group - 1) AS k"
    ).bindparams(sa.bindparam("texts", type_=postgresql.ARRAY(sa.Text())))
    async with engine.begin() as connection:
        await connection.execute(
            statement,
            {
                "texts": chat_lines(),
                "now": now,
                "due_every": DUE_EVERY,
                "groups": groups,
                "per_group": PER_GROUP,
            },
        )
        await connection.execute(sa.text("ANALYZE chat_messages"))


async def seed_keys(pool: ArqRedis, groups: int, now: datetime) -> None:
    """The seed's layout: a list of pending messages and the first one's time, per group."""
    for start in range(0, groups, 5_000):
        async with pool.pipeline(transaction=False) as pipe:
            for number in range(start, min(groups, start + 5_000)):
                recorded = now - (timedelta(hours=2) if number % DUE_EVERY == 0 else timedelta(minutes=1))
                pipe.rpush(f"l2:queue:{group_name(number)}", *[f"m{k}" for k in range(PER_GROUP)])
                pipe.set(f"l2:first:{group_name(number)}", recorded.timestamp())
            await pipe.execute()


async def seed_due_lookup(pool: ArqRedis, now: datetime, threshold: int, force_after: timedelta) -> list[str]:
    """The seed's scan: walk every queue key, read its length and first time."""
    due = []
    cursor = 0
    while True:
        cursor, keys = await pool.scan(cursor, match="l2:queue:*", count=1_000)
        if keys:
            async with pool.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.llen(key)
                    pipe.get(key.replace(b"l2:queue:", b"l2:first:"))
                answers = await pipe.execute()
            for key, length, first in zip(keys, answers[::2], answers[1::2], strict=True):
                waited = now - datetime.fromtimestamp(float(first), tz=UTC)
                if length >= threshold or waited >= force_after:
                    due.append(key.decode().removeprefix("l2:queue:"))
        if cursor == 0:
            return due


async def timed(
    action: Callable[[], Awaitable[Any]], runs: int, before: Callable[[], Awaitable[Any]] | None = None
) -> float:
    """The median seconds of ``runs`` calls; ``before`` (not timed) runs ahead of each."""
    samples = []
    for _ in range(runs):
        if before is not None:
            await before()
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def measure(groups: int) -> list[Figure]:
    now = datetime.now(UTC)
    due_count = len(range(0, groups, DUE_EVERY))
    async with fresh_postgres_database() as url, empty_redis():
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis_test_url())
        container: Container = build_container(settings)
        await open_container(container)
        try:
            engine: AsyncEngine = await resolve(container.engine)
            pool: ArqRedis = await resolve(container.redis)
            scheduler: UpdateScheduler = await resolve(container.scheduler)
            index: RedisPendingIndex = await resolve(container.index)
            await fill(engine, groups, now)
            return await _figures(container, engine, pool, scheduler, index, groups, due_count, now)
        finally:
            await close_container(container)


async def _figures(
    container: Container,
    engine: AsyncEngine,
    pool: ArqRedis,
    scheduler: UpdateScheduler,
    index: RedisPendingIndex,
    groups: int,
    due_count: int,
    now: datetime,
) -> list[Figure]:
    size = f"{groups:,} groups"
    figures = []

    async def flush_index() -> None:
        await pool.delete(index.counts_key, index.due_key, index.built_key, index.streaks_key)

    reconcile_flushed = await timed(scheduler.rebuild, 3, flush_index)
    reconcile_built = await timed(scheduler.rebuild, 3)
    others = [
        UpdateScheduler(
            await resolve(container.store),
            index,
            await resolve(container.leases),
            await resolve(container.queue),
            await resolve(container.policy),
            await resolve(container.clock),
        )
        for _ in range(4)
    ]
    ran = await asyncio.gather(*(other.rebuild() for other in others))
    figures += [
        Figure(
            f"reconcile with PostgreSQL, {size}, flushed Redis",
            reconcile_flushed * 1000,
            "ms",
            note="one worker at a time (a Redis lock); Redis read in pages of 1,000 (ZSCAN/HSCAN)",
        ),
        Figure(f"reconcile with PostgreSQL, {size}, index built (hourly)", reconcile_built * 1000, "ms"),
        Figure(
            "workers that reconcile when 4 try at once",
            sum(r is not None for r in ran),
            "workers",
            target="1",
            met=sum(r is not None for r in ran) == 1,
        ),
    ]

    lookup = await timed(lambda: index.due_groups(now, 1_000), 200)
    await seed_keys(pool, groups, now)
    seed = await timed(lambda: seed_due_lookup(pool, now, 10, timedelta(minutes=60)), 3)
    assert len(await index.due_groups(now, 1_000)) == min(due_count, 1_000)
    figures.append(
        Figure(
            f"due lookup, {size}, 1 % due",
            lookup * 1000,
            "ms",
            baseline=seed * 1000,
            target="<= 0.01 x the seed's SCAN + LLEN + GET",
            met=lookup <= seed / 100,
        )
    )

    due = await index.due_groups(now, 1_000)
    job_keys = [job_key_prefix + update_job_id(group_id) for group_id in due]

    async def empty_queue() -> None:
        await pool.delete(default_queue_name, *job_keys)

    ctx = {"scheduler": scheduler}
    cron = await timed(lambda: cron_scan_topic_memory(ctx), 20, empty_queue)
    assert await pool.zcard(default_queue_name) == len(due)
    queued = await timed(lambda: cron_scan_topic_memory(ctx), 20)
    one_by_one_queue = ArqUpdateQueue(pool)

    async def one_by_one() -> None:
        for group_id in await index.due_groups(now, 1_000):
            await one_by_one_queue.enqueue_update(group_id)

    before = await timed(one_by_one, 5, empty_queue)
    figures += [
        Figure(
            f"scan cron, {size}, {len(due):,} due to enqueue",
            cron * 1000,
            "ms",
            baseline=before * 1000,
            target="< 50 ms",
            met=cron < 0.050,
            note="baseline: the lookup, then one enqueue_job per due group (the path before)",
        ),
        Figure(
            f"scan cron, {size}, {len(due):,} due already queued",
            queued * 1000,
            "ms",
            target="< 50 ms",
            met=queued < 0.050,
        ),
    ]

    store = await resolve(container.store)
    loose = await timed(store.group_ids, 5)
    distinct_statement = sa.text("SELECT DISTINCT group_id FROM chat_messages ORDER BY group_id")

    async def distinct() -> None:
        async with engine.connect() as connection:
            # Rows made into the list group_ids() returns, as it does.
            listed = [row.group_id for row in (await connection.execute(distinct_statement)).all()]
        assert len(listed) == groups

    distinct_time = await timed(distinct, 5)
    assert len(await store.group_ids()) == groups
    figures.append(
        Figure(
            f"group_ids(), {size}, {groups * PER_GROUP:,} messages",
            loose * 1000,
            "ms",
            baseline=distinct_time * 1000,
            note="topic_memories rows and the pending partial index; here every message is pending, its"
            " worst case (it reads no integrated message); baseline: SELECT DISTINCT over every message",
        )
    )
    return figures


async def figures(quick: bool) -> list[Figure]:
    return await measure(5_000 if quick else 100_000)


if __name__ == "__main__":
    sys.exit(report.main(figures, "The L2 scan and the reconcile at many groups"))
