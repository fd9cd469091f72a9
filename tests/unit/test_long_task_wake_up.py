"""A submit wakes an idle arq worker through the queue's wake-up channel, instead of waiting for
its next poll; a lost wake-up only leaves the job to the poll (in-process Redis, real arq Worker).

Every worker here polls once an hour: a job that runs did so because it was woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import func
from arq import worker as arq_worker
from arq.connections import ArqRedis
from arq.worker import Worker

from adapters.redis.arq_task_dispatcher import RUN_FUNCTION, ArqTaskDispatcher
from adapters.redis.connection import open_embedded_pool
from adapters.redis.serialization import deserialize, serialize
from adapters.redis.wake_up import (
    WakeUpListener,
    install_wakeable_poll,
    wake_channel,
    wake_event,
    wakeable_poll,
)

QUEUE = "test:wake-up"
AN_HOUR = 3600.0


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    pool = open_embedded_pool()
    await pool.flushall()
    try:
        yield pool
    finally:
        await pool.flushall()
        await pool.aclose()


async def test_the_poll_wait_ends_at_a_wake_up_and_not_before() -> None:
    polls = wakeable_poll(AN_HOUR)
    await anext(polls)
    second = asyncio.create_task(anext(polls))
    await asyncio.sleep(0.05)
    assert not second.done()  # without a wake-up it waits its whole poll_delay
    wake_event().set()
    await asyncio.wait_for(second, 5)
    await polls.aclose()


async def test_a_wake_up_during_a_read_of_the_queue_is_kept_for_the_next_wait() -> None:
    polls = wakeable_poll(AN_HOUR)
    await anext(polls)
    wake_event().set()  # as if a job was enqueued while the worker read its queue
    await asyncio.wait_for(anext(polls), 5)
    await polls.aclose()


async def test_the_dispatcher_announces_due_tasks_on_the_wake_up_channel_only(pool: ArqRedis) -> None:
    dispatcher = ArqTaskDispatcher(pool, QUEUE)
    async with pool.pubsub() as pubsub:
        await pubsub.subscribe(wake_channel(QUEUE))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        await dispatcher.dispatch("later", datetime.now(UTC) + timedelta(hours=1))
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
        await dispatcher.dispatch("now")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None and message["channel"] == wake_channel(QUEUE).encode()
    assert await pool.zcard(QUEUE) == 2  # both jobs are queued: the wake-up is only a hint


@asynccontextmanager
async def idle_worker(pool: ArqRedis, ran: list[str]) -> AsyncIterator[WakeUpListener]:
    """A real arq worker polling once an hour, and the wake-up listener of its queue (not yet
    started: the test starts it)."""

    async def run(ctx: dict[str, Any], task_id: str) -> None:
        ran.append(task_id)

    install_wakeable_poll()
    assert arq_worker.poll is wakeable_poll  # type: ignore[attr-defined]
    worker = Worker(
        functions=[func(run, name=RUN_FUNCTION)],
        redis_pool=pool,
        queue_name=QUEUE,
        poll_delay=AN_HOUR,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    listener = WakeUpListener(pool, QUEUE)
    main = asyncio.create_task(worker.main())
    try:
        await until(lambda: worker.ctx.get("redis") is not None)
        await asyncio.sleep(0.05)  # its first read of the queue is over: it waits for the next poll
        yield listener
    finally:
        await listener.close()
        main.cancel()
        with suppress(asyncio.CancelledError):
            await main
        await worker.close()


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - what is awaited is another task's side effect
            await asyncio.sleep(0.01)


async def test_a_submit_wakes_an_idle_worker_without_waiting_for_its_poll(pool: ArqRedis) -> None:
    ran: list[str] = []
    async with idle_worker(pool, ran) as listener:
        listener.start()
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        await ArqTaskDispatcher(pool, QUEUE).dispatch("t1")
        await until(lambda: ran == ["t1"])
        assert listener.received >= 1


async def test_a_wake_up_lost_before_the_listener_subscribed_is_made_up_for(pool: ArqRedis) -> None:
    ran: list[str] = []
    async with idle_worker(pool, ran) as listener:
        # Published while nobody listened: the message is lost, the job stays queued.
        await ArqTaskDispatcher(pool, QUEUE).dispatch("t1")
        await asyncio.sleep(0.1)
        assert ran == [] and listener.received == 0
        # Subscribing wakes the worker once: whatever was announced meanwhile is read now.
        listener.start()
        await until(lambda: ran == ["t1"])
