"""Waking an idle arq worker when a job is enqueued, instead of leaving the job to its next poll.

arq's worker reads its queue every ``poll_delay`` (0.5 s), so a job enqueued on an idle worker
waited 250 ms on average for its first poll. Here a submitter publishes on the queue's wake-up
channel (:func:`wake_channel`) with the job; every worker subscribes to that channel
(:class:`WakeUpListener`) and its poll loop waits on the event the subscriber sets instead of
sleeping the whole ``poll_delay`` (:func:`install_wakeable_poll`).

The wake-up only shortens a wait. The job itself is in arq's queue as before, so a lost message
(a subscriber reconnecting, a flushed Redis, a worker started later) leaves the job to the next
poll, and a job lost with Redis is left to the long-task poll cron, as before.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator
from contextlib import suppress

from arq import worker as arq_worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# How long the listener waits before subscribing again after Redis failed it.
RESUBSCRIBE_SECONDS = 1.0
# A read of the subscription returns at least this often (so a dead connection is noticed).
LISTEN_TIMEOUT_SECONDS = 30.0

_EVENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = weakref.WeakKeyDictionary()


def wake_channel(queue_name: str) -> str:
    """The pub/sub channel that wakes the workers of ``queue_name`` (channels are not keys)."""
    return f"{queue_name}:wake-up"


def wake_event() -> asyncio.Event:
    """The event that ends the poll wait of the arq workers on the running event loop."""
    loop = asyncio.get_running_loop()
    event = _EVENTS.get(loop)
    if event is None:
        event = _EVENTS[loop] = asyncio.Event()
    return event


def wake_workers() -> None:
    """Make the arq workers of this event loop read their queue now (a slot just came free)."""
    wake_event().set()


def wake_workers_after_job() -> None:
    """Called at a job's end (arq's ``after_job_end``): its slot comes free when its task
    completes, right after this; the worker then reads its queue at once, not at its next poll
    (arq starts no more than ``max_jobs`` jobs per read, so a backlog waited for each poll)."""
    asyncio.get_running_loop().call_soon(wake_workers)


async def wakeable_poll(step: float = 0.5) -> AsyncGenerator[float, None]:
    """arq's ``poll`` (``arq.utils.poll``), whose wait between two reads ends at a wake-up.

    The event is cleared before each read of the queue, not after it: a wake-up that arrives
    while the worker is reading or starting jobs makes the next read follow at once.
    """
    loop = asyncio.get_running_loop()
    event = wake_event()
    start = loop.time()
    while True:
        before = loop.time()
        event.clear()
        yield before - start
        wait = step - (loop.time() - before)
        if wait > 0 and not event.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await event.wait()


def install_wakeable_poll() -> None:
    """Make arq's ``Worker.main`` wait with :func:`wakeable_poll` (idempotent).

    arq builds its ``Worker`` itself (``arq module.Settings`` and ``run_worker`` take no worker
    class), and its main loop calls the module's ``poll``; that one name is replaced. Without a
    wake-up it waits exactly as arq's own: ``poll_delay`` between two reads of the queue.
    """
    if getattr(arq_worker, "poll", None) is not wakeable_poll:
        arq_worker.poll = wakeable_poll  # type: ignore[attr-defined]


class WakeUpListener:
    """Subscribes to the wake-up channel of a queue and wakes this loop's workers on a message.

    After every (re)subscription it wakes them once too: a message published while it was not
    subscribed is lost, and the job it announced may be due already.
    """

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self._redis = redis
        self._channel = wake_channel(queue_name)
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.received = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"wake-up listener {self._channel}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        event = wake_event()
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.subscribed.set()
                    event.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=LISTEN_TIMEOUT_SECONDS
                        )
                        if message is None:
                            # A connection that died silently would wait here for ever.
                            await pubsub.ping()
                        elif message.get("type") == "message":
                            self.received += 1
                            event.set()
            except (RedisError, OSError) as error:
                self.subscribed.clear()
                # The poll still reads the queue every poll_delay: jobs wait longer, none is lost.
                logger.warning("wake-up channel %s: %s; subscribing again", self._channel, error)
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
