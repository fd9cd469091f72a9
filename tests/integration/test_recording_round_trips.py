"""Recording costs one PostgreSQL statement and one Redis round trip, whatever the batch size.

Counted on the client side: every query the asyncpg connections run (BEGIN, COMMIT and pings
included) through asyncpg's query loggers, every COPY (which the loggers do not see), and every
write to a Redis socket (a pipeline or a script is one) through a counting connection class.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Connection, ConnectionPool
from sqlalchemy import event

from adapters.postgres.engine import create_engine
from adapters.postgres.store import SqlMemoryStore
from adapters.redis.pending_index import RedisPendingIndex
from adapters.redis.recording import RedisPendingRecorder
from adapters.redis.serialization import deserialize, serialize
from adapters.system import SystemClock
from memory_domain.recording import MessageRecorder
from memory_domain.trigger_policy import TriggerPolicy
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url
from tests.support.world import message, messages

pytestmark = pytest.mark.integration

REDIS_WRITES: list[int] = []


class CountingConnection(Connection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        REDIS_WRITES.append(1)
        await super().send_packed_command(command, check_health)


@dataclass
class Counted:
    recorder: MessageRecorder
    engine: sa.ext.asyncio.AsyncEngine
    pool: ArqRedis
    queries: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.queries.clear()
        REDIS_WRITES.clear()

    async def trips(self) -> tuple[list[str], int]:
        await asyncio.sleep(0)  # asyncpg hands its query logs to the loop with call_soon
        return [" ".join(query.split())[:40] for query in self.queries], len(REDIS_WRITES)


@pytest.fixture
async def counted(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Counted]:
    async with fresh_postgres_database() as url, empty_redis():
        engine = create_engine(url)
        pool = ArqRedis(
            connection_pool=ConnectionPool.from_url(redis_test_url(), connection_class=CountingConnection),
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        policy = TriggerPolicy(threshold=10, force_after=timedelta(minutes=60), max_batch=200)
        pending = RedisPendingRecorder(RedisPendingIndex(pool, prefix="test"), pool)
        found = Counted(MessageRecorder(SqlMemoryStore(engine), pending, policy, SystemClock()), engine, pool)

        @event.listens_for(engine.sync_engine, "connect")
        def _log_queries(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(
                lambda logged: found.queries.append(logged.query)
            )

        copy = asyncpg.Connection.copy_records_to_table

        async def counted_copy(self: asyncpg.Connection, table: str, **options: Any) -> Any:
            found.queries.append(f"COPY {table}")
            return await copy(self, table, **options)

        monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", counted_copy)
        try:
            # The first call of a connection prepares the statement and loads the script.
            await found.recorder.record(message("warm-up", "warm"))
            found.reset()
            yield found
        finally:
            await pool.aclose(close_connection_pool=True)
            await engine.dispose()


async def test_the_counters_see_begin_and_commit_when_a_transaction_is_used(counted: Counted) -> None:
    async with counted.engine.begin() as connection:
        await connection.execute(sa.text("SELECT 1"))
    await counted.pool.ping()
    queries, redis_trips = await counted.trips()
    assert "BEGIN" in " ".join(queries).upper() and "COMMIT" in " ".join(queries).upper()
    assert redis_trips == 1


async def test_one_message_is_one_statement_and_one_redis_round_trip(counted: Counted) -> None:
    result = await counted.recorder.record(message("m1"))
    queries, redis_trips = await counted.trips()
    assert result.recorded == 1
    assert len(queries) == 1 and queries[0].startswith("INSERT INTO chat_messages")
    assert redis_trips == 1


async def test_a_batch_that_enqueues_groups_is_one_statement_and_one_redis_round_trip(
    counted: Counted,
) -> None:
    batch = [m for group in ("g1", "g2", "g3") for m in messages(400, group)] + messages(5, "g4")
    result = await counted.recorder.record_many(batch)
    queries, redis_trips = await counted.trips()
    assert (result.recorded, result.enqueued_groups) == (1_205, ("g1", "g2", "g3"))
    assert queries == ["COPY chat_messages"] and redis_trips == 1
    assert len(await counted.pool.queued_jobs()) == 3


async def test_a_batch_of_repeats_stops_after_the_statement(counted: Counted) -> None:
    await counted.recorder.record_many(messages(3))
    counted.reset()
    result = await counted.recorder.record_many(messages(3))
    queries, redis_trips = await counted.trips()
    assert (result.recorded, result.duplicates) == (0, 3)
    assert (len(queries), redis_trips) == (1, 0)
