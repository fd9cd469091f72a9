"""Recording throughput against its floor: ``python bench/recording.py [--quick] [--json]``.

The product is the production recorder (``CountingRecorder`` on ``SqlMemoryStore`` and the Redis
``RedisPendingRecorder``, with the engine, trigger policy and key prefix the container makes from
default settings: the threshold of 10 is reached, so updates are enqueued as arq jobs) on
PostgreSQL (``TEST_DATABASE_URL``) and Redis. The floor, measured in the same run on the same
table and Redis, in slices alternating with the product's:

- one message a call: one asyncpg ``INSERT`` and one Redis ``HINCRBY``;
- batches: asyncpg ``COPY`` of the batch and one pipelined Redis round trip (``HINCRBY`` and
  ``ZADD NX`` per group).

The text is real chat: the lines of ``../shared/data/irc-dev`` (senders and contents), dealt
to groups of about 20 messages each. Targets: at least 0.70 of the floor everywhere, and at
least 20,000 messages/s in batches of 1,000.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import asyncpg
from arq.connections import ArqRedis
from sqlalchemy.engine import make_url

from adapters.postgres.store import SqlMemoryStore
from adapters.redis.connection import open_real_pool
from adapters.redis.pending_index import RedisPendingIndex, to_ms
from adapters.redis.recording import RedisPendingRecorder
from adapters.system import SystemClock
from bench import report
from bench.report import Figure
from entrypoints.container import open_engine, trigger_policy
from entrypoints.metered_ports import CountingRecorder
from entrypoints.settings import Settings
from memory_domain.model import ChatMessage, Role
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "irc-dev" / "messages.jsonl"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PER_GROUP = 20  # messages per group: each group crosses the threshold of 10 once
RATIO_TARGET = 0.70
BATCH_TARGET = 20_000
SLICES = 10  # product and floor alternate this many times within one run
COLUMNS = [
    "group_id",
    "message_id",
    "sender_id",
    "sender_name",
    "role",
    "content",
    "sent_at",
    "reply_to",
    "recorded_at",
]
RAW_INSERT = (
    "INSERT INTO chat_messages (group_id, message_id, sender_id, sender_name, role, content, sent_at, "
    "reply_to, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)

T = TypeVar("T")
Lines = list[tuple[str, str, str]]


def chat_lines() -> Lines:
    """(sender id, sender name, content) of the IRC lines; generated text when the data is absent."""
    if not DATA.is_file():
        return [
            (f"user{i % 37}", f"User {i % 37}", f"line {i} about the deploy and the db migration")
            for i in range(2500)
        ]
    lines = []
    for raw in DATA.read_text(encoding="utf-8").splitlines():
        item = json.loads(raw)
        lines.append((item["sender_id"], item["sender_name"], item["content"]))
    return lines


class Messages:
    """Fresh messages for each run (new ids and groups), in groups of ``PER_GROUP``."""

    def __init__(self, lines: Lines) -> None:
        self._lines = lines
        self._runs = 0
        self._dealt = 0

    def make(self, count: int) -> list[ChatMessage]:
        self._runs += 1
        made = []
        for i in range(count):
            sender_id, sender_name, content = self._lines[(self._dealt + i) % len(self._lines)]
            made.append(
                ChatMessage(
                    message_id=f"r{self._runs}-{i}",
                    group_id=f"bench-{self._runs}-{i // PER_GROUP}",
                    sender_id=sender_id,
                    sender_name=sender_name,
                    role=Role.USER,
                    content=content,
                    sent_at=START + timedelta(seconds=self._dealt + i),
                )
            )
        self._dealt += count
        return made


async def drive(call: Callable[[T], Awaitable[Any]], items: Iterable[T], concurrency: int) -> float:
    """Run ``call`` over ``items`` with ``concurrency`` callers; the seconds it took."""
    remaining = iter(items)

    async def caller() -> None:
        for item in remaining:
            await call(item)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - started


async def measure(
    rates: tuple[list[float], list[float]],
    runs: list[tuple[Callable[[Any], Awaitable[Any]], Sequence[Any], int]],
    concurrency: int,
) -> None:
    """Run the product's and the floor's run in alternating slices; append messages/s to each.

    The machine's load changes by the second (other processes, disk flushes): slices taken in
    turn, each side going first every other time, make both sides meet the same conditions.
    """
    seconds = [0.0, 0.0]
    for slice_number in range(SLICES):
        for which in (0, 1) if slice_number % 2 == 0 else (1, 0):
            items = runs[which][1]
            size = -(-len(items) // SLICES)
            part = items[slice_number * size : (slice_number + 1) * size]
            if part:
                seconds[which] += await drive(runs[which][0], part, concurrency)
    for which in (0, 1):
        rates[which].append(runs[which][2] / seconds[which])


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class Floor:
    """The raw floor: asyncpg and redis-py with nothing of the product in between."""

    def __init__(self, pg: asyncpg.Pool, redis: ArqRedis, index: RedisPendingIndex) -> None:
        self._pg = pg
        self._redis = redis
        self._counts = index.counts_key
        self._due = index.due_key

    async def one(self, message: ChatMessage) -> None:
        now = datetime.now(UTC)
        async with self._pg.acquire() as connection:
            await connection.execute(RAW_INSERT, *_record(message, now))
        await self._redis.hincrby(self._counts, message.group_id, 1)

    async def batch(self, messages: Sequence[ChatMessage]) -> None:
        now = datetime.now(UTC)
        async with self._pg.acquire() as connection:
            await connection.copy_records_to_table(
                "chat_messages", records=[_record(m, now) for m in messages], columns=COLUMNS
            )
        due = to_ms(now + timedelta(minutes=60))
        async with self._redis.pipeline(transaction=False) as pipe:
            for group_id, count in Counter(m.group_id for m in messages).items():
                pipe.hincrby(self._counts, group_id, count)
                pipe.zadd(self._due, {group_id: due}, nx=True)
            await pipe.execute()


def _record(message: ChatMessage, now: datetime) -> tuple[Any, ...]:
    return (
        message.group_id,
        message.message_id,
        message.sender_id,
        message.sender_name,
        message.role.value,
        message.content,
        message.sent_at,
        message.reply_to,
        now,
    )


async def figures(quick: bool) -> list[Figure]:
    rounds = 1 if quick else 5
    singles = (400, 800) if quick else (4_000, 10_000)
    batches = ((100, 10), (1_000, 3)) if quick else ((100, 300), (1_000, 40))
    messages = Messages(chat_lines())
    async with fresh_postgres_database() as url, empty_redis():
        # The engine, the trigger policy and the key prefix as the container makes them.
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis_test_url())
        policy = trigger_policy(settings)
        engine_resource = asynccontextmanager(open_engine)(settings)
        engine = await engine_resource.__aenter__()
        redis = await open_real_pool(redis_test_url())
        pg = await asyncpg.create_pool(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            min_size=16,
            max_size=16,
        )
        try:
            index = RedisPendingIndex(redis, prefix=settings.redis_key_prefix)
            recorder = CountingRecorder(
                SqlMemoryStore(engine), RedisPendingRecorder(index, redis), policy, SystemClock()
            )
            floor = Floor(pg, redis, index)
            # Warm both paths up: connections opened, statements prepared, scripts loaded.
            for message in messages.make(40):
                await recorder.record(message)
                await floor.one(messages.make(1)[0])
            rates: dict[str, tuple[list[float], list[float]]] = {}
            enqueued = 0
            for _ in range(rounds):
                for concurrency, count in zip((1, 16), singles, strict=True):
                    name = f"recording, 1 message a call, concurrency {concurrency}"
                    runs = [
                        (recorder.record, messages.make(count), count),
                        (floor.one, messages.make(count), count),
                    ]
                    await measure(rates.setdefault(name, ([], [])), runs, concurrency)
                for size, count in batches:
                    name = f"recording, batches of {size:,}"
                    runs = [
                        (recorder.record_many, chunks(messages.make(size * count), size), size * count),
                        (floor.batch, chunks(messages.make(size * count), size), size * count),
                    ]
                    await measure(rates.setdefault(name, ([], [])), runs, 1)
            enqueued = len(await redis.queued_jobs())
        finally:
            await pg.close()
            await redis.aclose()
            await engine_resource.__aexit__(None, None, None)
    found = []
    for name, (ours, theirs) in rates.items():
        value, baseline = statistics.median(ours), statistics.median(theirs)
        found.append(
            Figure(
                name,
                value,
                "msg/s",
                baseline=baseline,
                target=f">= {RATIO_TARGET:.2f} x baseline",
                met=value >= RATIO_TARGET * baseline,
                note=f"median of {rounds} run(s), each in {SLICES} slices alternating with the floor",
            )
        )
        if name.endswith("1,000"):
            found.append(
                Figure(
                    name + ", absolute",
                    value,
                    "msg/s",
                    target=f">= {BATCH_TARGET:,} msg/s",
                    met=value >= BATCH_TARGET,
                    note=f"{enqueued:,} topic updates enqueued in the run (threshold {policy.threshold})",
                )
            )
    return found


if __name__ == "__main__":
    sys.exit(report.main(figures, "recording throughput against the asyncpg + Redis floor"))
