"""The chaos run's load, done as other programs do it: through the product's own services.

Messages are recorded at a steady rate, long tasks submitted, evolutions enqueued, and the
memory versions sampled, all while the services under them come and go. A client whose call
fails tries again (recording is idempotent on the message id, a submit on its dedupe key), as
a well-behaved caller does; a recording whose messages were stored but whose Redis bookkeeping
failed (``IndexUnavailable``) is done: the scan rebuilds the counters from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from long_tasks_domain.service import TaskService
from memory_domain.consensus import ConsensusScheduler
from memory_domain.errors import IndexUnavailable
from memory_domain.model import ChatMessage, Role
from memory_domain.recording import MessageRecorder

logger = logging.getLogger("chaos")
T = TypeVar("T")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
THEMES = [
    "database migration plan index rollback",
    "weekend hiking trip weather train tickets",
    "release checklist changelog deploy friday",
    "数据库 迁移 上线 回滚 索引",
    "周末 爬山 天气 火车票 集合",
    "budget report quarterly numbers finance",
    "movie night pizza snacks cinema",
    "报表 告警 监控 值班 排查",
]
RETRY_PAUSE_SECONDS = 0.5


async def persist(what: str, call: Callable[[], Awaitable[T]], deadline: float = 300) -> T:
    """``call()`` until it succeeds (the services may be down for a while); give up at ``deadline`` s."""
    started = time.monotonic()
    while True:
        try:
            return await call()
        except Exception as error:
            if time.monotonic() - started > deadline:
                raise RuntimeError(f"{what}: still failing after {deadline:.0f} s: {error}") from error
            await asyncio.sleep(RETRY_PAUSE_SECONDS)


@dataclass(frozen=True)
class Size:
    messages: int
    groups: int
    tasks: int
    kills: int
    load_seconds: float
    task_steps: tuple[int, int]
    step_seconds: tuple[float, float]
    shuffle: bool  # the faults in a random order (else the service faults first, then the kills)


def group_name(index: int) -> str:
    return f"chaos-g{index:03d}"


def plan_messages(size: Size, rng: random.Random) -> list[ChatMessage]:
    """Every message of the run, in the order they are recorded (groups interleaved at random)."""
    per_group = [
        size.messages // size.groups + (1 if g < size.messages % size.groups else 0)
        for g in range(size.groups)
    ]
    order = [g for g, count in enumerate(per_group) for _ in range(count)]
    rng.shuffle(order)
    seen = [0] * size.groups
    planned = []
    for g in order:
        i = seen[g]
        seen[g] += 1
        theme = THEMES[(g + i // 7) % len(THEMES)]
        words = theme.split()
        planned.append(
            ChatMessage(
                message_id=f"{group_name(g)}-m{i:04d}",
                group_id=group_name(g),
                sender_id=f"u{(g + i) % 5}",
                sender_name=f"user{(g + i) % 5}",
                role=Role.USER,
                content=f"{' '.join(rng.sample(words, k=min(3, len(words))))} (note {i})",
                sent_at=START + timedelta(minutes=i),
            )
        )
    return planned


@dataclass
class LoadLog:
    recorded: int = 0
    record_retries: int = 0
    index_unavailable: int = 0
    tasks: list[str] = field(default_factory=list)
    submit_retries: int = 0
    evolutions_enqueued: int = 0
    last_record_at: float = 0.0


async def record_steadily(
    recorder: MessageRecorder, planned: list[ChatMessage], seconds: float, log: LoadLog
) -> None:
    """Record ``planned`` evenly over ``seconds``, ten batches a second."""
    ticks = max(1, int(seconds * 10))
    started = time.monotonic()
    for tick in range(ticks):
        batch = planned[tick * len(planned) // ticks : (tick + 1) * len(planned) // ticks]
        if batch:

            async def record(batch: list[ChatMessage] = batch) -> None:
                try:
                    await recorder.record_many(batch)
                except IndexUnavailable:
                    log.index_unavailable += 1  # stored; the counters are Redis's to rebuild
                except Exception:
                    log.record_retries += 1
                    raise

            await persist("recording messages", record)
            log.recorded += len(batch)
            log.last_record_at = time.time()
        await asyncio.sleep(max(0.0, started + (tick + 1) / 10 - time.monotonic()))


async def submit_steadily(
    service: TaskService, size: Size, steps_log: str, rng: random.Random, log: LoadLog
) -> None:
    """Submit ``size.tasks`` long tasks evenly over the load, each under its own dedupe key."""
    gap = size.load_seconds / max(1, size.tasks)
    for number in range(size.tasks):
        payload = {
            "steps": rng.randint(*size.task_steps),
            "sleep": round(rng.uniform(*size.step_seconds), 2),
            "log": steps_log,
        }

        async def submit(payload: dict[str, Any] = payload, number: int = number) -> str:
            try:
                task, _ = await service.submit_or_get("chaos.steps", payload, dedupe_key=f"chaos-{number}")
            except Exception:
                log.submit_retries += 1
                raise
            return task.id

        log.tasks.append(await persist("submitting a task", submit))
        await asyncio.sleep(gap)


async def evolve_steadily(consensus: ConsensusScheduler, size: Size, log: LoadLog) -> None:
    """Enqueue each group's evolution twice during the load (a third comes when it drains)."""
    rounds = [size.load_seconds / 3, size.load_seconds * 2 / 3]
    started = time.monotonic()
    for at in rounds:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        for g in range(size.groups):
            if await persist("enqueueing an evolution", functools.partial(consensus.enqueue, group_name(g))):
                log.evolutions_enqueued += 1


@dataclass
class VersionWatch:
    """Samples of every group's topic and group-memory versions; a version going down is a regression."""

    samples: int = 0
    failed_samples: int = 0
    regressions: list[str] = field(default_factory=list)
    last: dict[tuple[str, str], int] = field(default_factory=dict)

    async def sample(self, engine: AsyncEngine) -> None:
        query = sa.text(
            "SELECT 'topics', group_id, version FROM topic_memories "
            "UNION ALL SELECT 'group', group_id, version FROM group_memories"
        )
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(query)).all()
        except Exception:
            self.failed_samples += 1  # PostgreSQL is down: this sample is skipped
            return
        self.samples += 1
        for kind, group_id, version in rows:
            before = self.last.get((kind, group_id))
            if before is not None and version < before:
                self.regressions.append(f"{kind} memory of {group_id}: version {before} -> {version}")
            self.last[(kind, group_id)] = version

    async def run(self, engine: AsyncEngine, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            await self.sample(engine)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
