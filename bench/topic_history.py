"""Cost against a topic's history: ``python bench/topic_history.py [--quick] [--json]``.

One group on PostgreSQL whose one topic holds 10, then 20,000 messages (integrated through the
real updater, batches of ``L2_QUEUE_MAX_LEN``), then: a topic update of 20 new messages (the
model answers at once, so the product's own work is timed) and ``memory show`` (the read behind
``ai-worker memory show``). Each must cost the same, within 10 %, whatever the history: nothing
on those paths may read or write a topic's whole provenance.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa
from dependency_injector import providers

from bench import report
from bench.report import Figure
from bench.topic_updates import START, InstantModel, chat_lines
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from memory_domain.model import ChatMessage, Role
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from memory_domain.topic_memory import TopicUpdater
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url


def messages(group: str, start: int, count: int, lines: list[tuple[str, str]]) -> list[ChatMessage]:
    return [
        ChatMessage(
            message_id=f"m{n:07d}",
            group_id=group,
            sender_id=lines[n % len(lines)][0],
            sender_name=lines[n % len(lines)][0],
            role=Role.USER,
            content=lines[n % len(lines)][1],
            sent_at=START + timedelta(seconds=30 * n),
        )
        for n in range(start, start + count)
    ]


async def costs(
    histories: dict[str, int], samples: int, lines: list[tuple[str, str]]
) -> dict[str, tuple[float, float, int]]:
    """Per group: median ms of one update and of one show, and its topic's message count.

    The groups live in one database and are measured in turn, update by update, so that both
    see the same machine (other load, caches) and only their histories differ.
    """
    async with fresh_postgres_database() as url, empty_redis():
        container = build_container(Settings(DATABASE_URL=url, REDIS_URL=redis_test_url()))
        container.topic_model.override(providers.Object(InstantModel()))
        await open_container(container)
        try:
            recorder: MessageRecorder = await resolve(container.recorder)
            updater: TopicUpdater = await resolve(container.updater)
            queries: MemoryQueries = await resolve(container.queries)
            for group, history in histories.items():
                for start in range(0, history, 2_000):
                    await recorder.record_many(messages(group, start, min(2_000, history - start), lines))
                while (await updater.update(group)).remaining:
                    pass
            # As autovacuum would have by now: planner statistics of the freshly filled tables.
            engine = await resolve(container.engine)
            async with engine.begin() as connection:
                await connection.execute(sa.text("ANALYZE"))
            times: dict[str, tuple[list[float], list[float]]] = {group: ([], []) for group in histories}
            for sample in range(samples):
                for group, history in histories.items():
                    await recorder.record_many(messages(group, history + 20 * sample, 20, lines))
                    started = time.perf_counter()
                    outcome = await updater.update(group)
                    times[group][0].append(time.perf_counter() - started)
                    assert outcome.integrated == 20, outcome
                    started = time.perf_counter()
                    await queries.show(group)
                    times[group][1].append(time.perf_counter() - started)
            counts = {group: (await queries.show(group)).topics[0].message_count for group in histories}
        finally:
            await close_container(container)
    return {
        group: (statistics.median(updates) * 1000, statistics.median(shows) * 1000, counts[group])
        for group, (updates, shows) in times.items()
    }


async def figures(quick: bool) -> list[Figure]:
    lines = chat_lines()
    small, large, samples = (10, 2_000, 20) if quick else (10, 20_000, 100)
    found = await costs({"short": small, "long": large}, samples, lines)
    small_update, small_show, _ = found["short"]
    large_update, large_show, count = found["long"]
    return [
        Figure(
            f"topic update, topic of {large:,} vs {small} messages",
            large_update,
            "ms",
            baseline=small_update,
            target="<= 1.10 x baseline",
            met=large_update <= 1.10 * small_update,
            note=f"medians of {samples}, measured in turn; 20 new messages each; the long topic counted {count:,}",
        ),
        Figure(
            f"memory show, topic of {large:,} vs {small} messages",
            large_show,
            "ms",
            baseline=small_show,
            target="<= 1.10 x baseline",
            met=large_show <= 1.10 * small_show,
        ),
    ]


if __name__ == "__main__":
    sys.exit(report.main(figures, "cost against a topic's history"))
