"""Topic updates against their ceiling: ``python bench/topic_updates.py [--quick] [--json]``.

Throughput: ``ai-worker worker`` processes on PostgreSQL and Redis with the OpenAI-compatible
adapter talking to a model server of fixed 200 ms latency (``bench/fixed_latency_model.py``, its
own process). Groups of real IRC chat lines (``../shared/data/irc-dev``, generated text when
absent) get a first round of messages integrated (so that topics have provenance), then a second
round is recorded with production settings (threshold 10) and the worker drains it. Updates per
second come from the revisions' own commit times; the ceiling is ``WORKER_MAX_JOBS / 0.2 s`` per
worker process. Worker CPU per update is read from /proc.

The update path itself (``TopicUpdater.update`` in this process, with a model that answers at
once, so that only the product's own work is timed): CPU per update, connection checkouts and
SQL statements per update, and whether connections are pinged before use.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa
from dependency_injector import providers
from sqlalchemy import event

from bench import report
from bench.report import Figure
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from memory_domain.model import (
    ChatMessage,
    ModelUsage,
    Role,
    TopicDraft,
    TopicModelInput,
    TopicRewrite,
)
from memory_domain.recording import MessageRecorder
from memory_domain.topic_memory import TopicUpdater
from tests.support.databases import fresh_postgres_database
from tests.support.processes import service_env, start_worker, stop
from tests.support.redis_space import empty_redis, redis_test_url

LATENCY = 0.2
PER_ROUND = 20
START = datetime(2026, 11, 1, tzinfo=UTC)
IRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "irc-dev" / "messages.jsonl"
ROOT = Path(__file__).resolve().parents[1]


def chat_lines() -> list[tuple[str, str]]:
    """(speaker, text) pairs of real chat when the IRC excerpts are here, else generated ones."""
    if IRC.exists():
        rows = [json.loads(line) for line in IRC.read_text(encoding="utf-8").splitlines() if line.strip()]
        lines = [(row["sender_name"], row["content"]) for row in rows if row["sender_id"] != "system"]
        if len(lines) > 1_000:
            return lines
    words = [
        "deploy",
        "the",
        "database",
        "migration",
        "tonight",
        "数据库",
        "迁移",
        "上线",
        "周末",
        "rollback",
        "alert",
        "index",
    ]
    return [(f"user{i % 9}", " ".join(words[(i + k) % len(words)] for k in range(8))) for i in range(5_000)]


def round_of_messages(groups: int, round_number: int, lines: list[tuple[str, str]]) -> list[ChatMessage]:
    messages = []
    for group in range(groups):
        for i in range(PER_ROUND):
            n = round_number * PER_ROUND + i
            speaker, text = lines[(group * 7919 + n) % len(lines)]
            messages.append(
                ChatMessage(
                    message_id=f"m{n}",
                    group_id=f"group-{group}",
                    sender_id=speaker,
                    sender_name=speaker,
                    role=Role.USER,
                    content=text,
                    sent_at=START + timedelta(minutes=n, seconds=group % 60),
                )
            )
    return messages


async def record(recorder: MessageRecorder, messages: list[ChatMessage]) -> None:
    for start in range(0, len(messages), 2_000):
        await recorder.record_many(messages[start : start + 2_000])


async def pending_count(engine: Any) -> int:
    async with engine.connect() as connection:
        return int(
            await connection.scalar(sa.text("SELECT count(*) FROM chat_messages WHERE revision IS NULL"))
        )


async def wait_drained(engine: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await pending_count(engine):
        if time.monotonic() > deadline:
            raise SystemExit(f"the backlog did not drain within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def wait_idle(redis: Any, timeout: float) -> None:
    """Until no job is due in arq's queue and none is in progress (crons keep their in-progress
    keys for a while after they ran: they do not count)."""
    deadline = time.monotonic() + timeout
    while await redis.zcount("arq:queue", 0, time.time() * 1000) or [
        key
        async for key in redis.scan_iter("arq:in-progress:*")
        if not key.startswith(b"arq:in-progress:cron_")
    ]:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not go idle within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def model_server() -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "fixed_latency_model.py"),
        "--delay",
        str(LATENCY),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        yield f"http://127.0.0.1:{line.split()[-1]}/v1"
    finally:
        process.terminate()
        await process.wait()


async def throughput(
    max_jobs: int, workers: int, groups: int, lines: list[tuple[str, str]]
) -> tuple[float, float]:
    """Updates per second over all worker processes, and worker CPU milliseconds per update."""
    async with fresh_postgres_database() as url, empty_redis(), model_server() as model_url:
        values = dict(
            DATABASE_URL=url,
            REDIS_URL=redis_test_url(),
            LLM_BASE_URL=model_url,
            LLM_API_KEY="bench-key",
            LLM_MODEL="bench",
            WORKER_MAX_JOBS=str(max_jobs),
        )
        container = build_container(Settings(**values))
        await open_container(container)
        log = Path(tempfile.mkdtemp(prefix="bench-updates-")) / "worker.log"
        processes = [
            await start_worker(service_env(**values, PYTHONPATH=str(ROOT)), log) for _ in range(workers)
        ]
        try:
            engine = await resolve(container.engine)
            recorder: MessageRecorder = await resolve(container.recorder)
            await record(recorder, round_of_messages(groups, 0, lines))
            await wait_drained(engine, 60 + groups / 2)
            # The worker's start-up catch-up of the daily consensus may have found these groups
            # changed: their evolutions run now, not inside the measured round.
            await wait_idle(await resolve(container.redis), 120 + groups / 2)
            cpu_before = sum(cpu_seconds(p.pid) for p in processes)
            await record(recorder, round_of_messages(groups, 1, lines))
            await wait_drained(engine, 60 + groups / 2)
            cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        sa.text(
                            "SELECT created_at FROM topic_revisions WHERE revision > 1 ORDER BY created_at"
                        )
                    )
                ).all()
        finally:
            for process in processes:
                await stop(process)
            await close_container(container)
    span = (rows[-1].created_at - rows[0].created_at).total_seconds()
    return (len(rows) - 1) / span, cpu * 1000 / len(rows)


class InstantModel:
    """Answers at once with what the fixed-latency server would: nothing but the product is timed."""

    name = "instant"

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        new_ids = tuple(message.message_id for message in model_input.new_messages)
        if not model_input.topics:
            drafts: tuple[TopicDraft, ...] = (TopicDraft(None, "chat", "the chat", new_ids),)
        else:
            first, *rest = model_input.topics
            drafts = (
                TopicDraft(first.topic_id, first.title, first.summary, new_ids),
                *tuple(TopicDraft(topic.topic_id, topic.title, topic.summary) for topic in rest),
            )
        return TopicRewrite(drafts, ModelUsage("instant"))


async def update_path(groups: int, lines: list[tuple[str, str]]) -> dict[str, float]:
    """CPU, checkouts and statements per update of the in-process update path."""
    async with fresh_postgres_database() as url, empty_redis():
        container = build_container(Settings(DATABASE_URL=url, REDIS_URL=redis_test_url()))
        container.topic_model.override(providers.Object(InstantModel()))
        await open_container(container)
        try:
            engine = await resolve(container.engine)
            counts = {"checkouts": 0, "statements": 0}

            def on_checkout(*_: Any) -> None:
                counts["checkouts"] += 1

            def on_execute(*_: Any) -> None:
                counts["statements"] += 1

            event.listen(engine.sync_engine.pool, "checkout", on_checkout)
            event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
            recorder: MessageRecorder = await resolve(container.recorder)
            updater: TopicUpdater = await resolve(container.updater)
            for round_number in (0, 1):  # round 0: warm-up, and topics with provenance
                await record(recorder, round_of_messages(groups, round_number, lines))
                counts.update(checkouts=0, statements=0)
                cpu_started = time.process_time()
                for group in range(groups):
                    outcome = await updater.update(f"group-{group}")
                    assert outcome.integrated == PER_ROUND, outcome
                cpu = time.process_time() - cpu_started
            pre_ping = bool(getattr(engine.sync_engine.pool, "_pre_ping", False))
        finally:
            await close_container(container)
    return {
        "cpu_ms": cpu * 1000 / groups,
        "checkouts": counts["checkouts"] / groups,
        "statements": counts["statements"] / groups,
        "pre_ping": float(pre_ping),
    }


async def figures(quick: bool) -> list[Figure]:
    lines = chat_lines()
    path = await update_path(30 if quick else 300, lines)
    found = [
        Figure(
            "update path CPU per update (model answers at once)",
            path["cpu_ms"],
            "ms",
            target="<= 3 ms",
            met=path["cpu_ms"] <= 3,
            note=f"{path['statements']:.1f} SQL statements per update",
        ),
        Figure(
            "connection checkouts per update",
            path["checkouts"],
            "checkouts",
            target="<= 2",
            met=path["checkouts"] <= 2,
            note="connections pinged before use" if path["pre_ping"] else "no pre-ping",
        ),
    ]
    runs = [(10, 1, 40)] if quick else [(10, 1, 200), (50, 1, 1_000), (50, 2, 2_000)]
    for max_jobs, workers, groups in runs:
        rate, cpu_ms = await throughput(max_jobs, workers, groups, lines)
        ceiling = workers * max_jobs / LATENCY
        found.append(
            Figure(
                f"topic updates/s, WORKER_MAX_JOBS {max_jobs}, {workers} worker process(es), model 200 ms",
                rate,
                "updates/s",
                baseline=ceiling,
                target=">= 0.80 x ceiling (max_jobs / 0.2 s per process)",
                met=rate >= 0.8 * ceiling,
                note=f"worker CPU {cpu_ms:.1f} ms per update (OpenAI client included); {groups} groups",
            )
        )
    return found


if __name__ == "__main__":
    sys.exit(report.main(figures, "topic updates against their ceiling"))
