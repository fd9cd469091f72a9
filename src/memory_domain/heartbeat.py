"""Keeping a group's lease alive while a long piece of work (an update, an evolution) runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from memory_domain.ports import UpdateLeases

logger = logging.getLogger(__name__)


@asynccontextmanager
async def heartbeat(
    leases: UpdateLeases, group_id: str, holder: str, ttl_seconds: float
) -> AsyncIterator[asyncio.Event]:
    """Renew ``holder``'s lease every ``ttl_seconds / 3`` inside the block.

    Yields an event that is set once the lease was lost (another holder took it after it ran
    out): work that sees it set must not commit.
    """
    lost = asyncio.Event()

    async def beat() -> None:
        while True:
            await asyncio.sleep(ttl_seconds / 3)
            try:
                if not await leases.renew(group_id, holder, ttl_seconds):
                    lost.set()
                    return
            except Exception:
                # A blip in Redis must not kill the work; the lease has slack for two misses.
                logger.warning("lease renewal failed for group %s", group_id, exc_info=True)

    task = asyncio.create_task(beat())
    try:
        yield lost
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
