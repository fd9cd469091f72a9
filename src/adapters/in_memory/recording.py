"""The pending bookkeeping of recording, composed of a pending index and an update queue."""

from __future__ import annotations

from datetime import datetime

from memory_domain.ports import PendingIndex, UpdateQueue


class InMemoryPendingRecorder:
    """The :class:`memory_domain.ports.PendingRecorder` port over any index and queue.

    In memory a call is no round trip, so the three steps are plain calls of the two ports;
    the Redis adapter does the same steps in one script.
    """

    def __init__(self, index: PendingIndex, queue: UpdateQueue) -> None:
        self._index = index
        self._queue = queue

    async def record_pending(
        self, counts: dict[str, int], due_at: datetime, now: datetime, threshold: int
    ) -> list[str]:
        totals = await self._index.add_pending(counts, due_at)
        ready = sorted(group_id for group_id, total in totals.items() if total >= threshold)
        if not ready:
            return []
        waiting = await self._index.in_backoff(ready, now)
        return sorted(await self._queue.enqueue_updates([g for g in ready if g not in waiting]))
