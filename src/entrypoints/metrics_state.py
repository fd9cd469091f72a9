"""The worker's metrics endpoint, and the gauges of the shared state it keeps fresh.

With ``METRICS_PORT`` set, the worker serves prometheus-client's registry on
``http://METRICS_HOST:METRICS_PORT/metrics`` from a daemon thread, and reads the shared state
every ``REFRESH_SECONDS`` in its event loop: one COUNT on the pending partial index, one GROUP BY
on the status index of the unfinished long tasks, and three O(log N) Redis reads. A scrape never
waits on Redis or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import disable_created_metrics, start_http_server

from adapters.postgres.stats import UNFINISHED, SqlStoreStats
from adapters.redis.index_stats import RedisIndexStats
from entrypoints import metrics
from entrypoints.container import Container, resolve
from entrypoints.settings import Settings
from memory_domain.ports import Clock

logger = logging.getLogger("ai_worker")

REFRESH_SECONDS = 15.0


class MetricsUnavailable(RuntimeError):
    """The metrics endpoint could not be opened (the port is taken, the host is not this machine's)."""


class StateGauges:
    """Sets the shared-state gauges from the stores; a failed read keeps the last values."""

    def __init__(self, store: SqlStoreStats, index: RedisIndexStats, clock: Clock) -> None:
        self._store = store
        self._index = index
        self._clock = clock
        self._failing: set[str] = set()

    async def refresh(self) -> None:
        """Read both sources; a source that fails is counted and logged once per outage."""
        await self._read("database", self._read_store)
        await self._read("redis", lambda: self._read_index(self._clock.now()))
        metrics.STATE_REFRESHED.set(time.time())

    async def _read_store(self) -> None:
        counts = await self._store.counts()
        metrics.PENDING_MESSAGES.set(counts.pending_messages)
        for status, count in counts.unfinished_tasks.items():
            metrics.LONG_TASKS.labels(status).set(count)

    async def _read_index(self, now: datetime) -> None:
        sizes = await self._index.sizes(now)
        metrics.GROUPS_WITH_PENDING.set(sizes.groups_with_pending)
        metrics.GROUPS_DUE.set(sizes.groups_due)
        metrics.GROUPS_IN_BACKOFF.set(sizes.groups_failing)

    async def _read(self, source: str, read: Callable[[], Awaitable[None]]) -> None:
        try:
            await read()
        except Exception as error:
            metrics.STATE_REFRESH_ERRORS.labels(source).inc()
            if source not in self._failing:
                self._failing.add(source)
                logger.warning("metrics: cannot read the %s: %s (keeping the last values)", source, error)
            return
        if source in self._failing:
            self._failing.discard(source)
            logger.info("metrics: the %s can be read again", source)

    async def run(self, every: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(every)


@dataclass
class MetricsEndpoint:
    """The running endpoint: its HTTP server, the thread serving it, the refresh task."""

    server: WSGIServer
    thread: threading.Thread
    refresher: asyncio.Task[None]

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    async def close(self) -> None:
        self.refresher.cancel()
        with suppress(asyncio.CancelledError):
            await self.refresher
        # shutdown() waits for the serving loop to notice (up to half a second): not in the loop.
        await asyncio.to_thread(self.server.shutdown)
        self.server.server_close()
        self.thread.join(timeout=5)


async def start_metrics(settings: Settings, container: Container) -> MetricsEndpoint | None:
    """Serve the metrics when ``METRICS_PORT`` is set; None when it is not."""
    if settings.metrics_port is None:
        return None
    host, port = settings.metrics_host, settings.metrics_port
    gauges = StateGauges(
        SqlStoreStats(await resolve(container.engine)),
        RedisIndexStats(await resolve(container.redis), settings.redis_key_prefix),
        await resolve(container.clock),
    )
    # The *_created series would double what a scrape carries, for nothing a rate() needs.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
    metrics.prepare(status.value for status in UNFINISHED)
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as error:
        raise MetricsUnavailable(
            f"cannot serve metrics on {host}:{port} (METRICS_HOST, METRICS_PORT): {error.strerror or error}"
        ) from None
    refresher = asyncio.create_task(gauges.run(REFRESH_SECONDS), name="metrics-state-refresh")
    logger.info("metrics served on http://%s:%d/metrics", host, port)
    return MetricsEndpoint(server=server, thread=thread, refresher=refresher)
