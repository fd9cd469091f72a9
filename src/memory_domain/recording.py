"""Recording chat messages: the entry point other programs call for every message."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from memory_domain.errors import IndexUnavailable, InvalidMessage
from memory_domain.model import ChatMessage, RecordResult
from memory_domain.ports import Clock, MemoryStore, PendingIndex, UpdateQueue
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)

MAX_BATCH = 5_000


class MessageRecorder:
    """Stores messages in the source of truth, then updates the derived pending state.

    Postgres first: once :meth:`record_many` returns, or raises :class:`IndexUnavailable`, the
    messages are stored and will be integrated. The pending counters and the due index are
    updated in one round trip for the whole batch; a group that reaches the trigger threshold
    has its update enqueued at once.
    """

    def __init__(
        self,
        store: MemoryStore,
        index: PendingIndex,
        queue: UpdateQueue,
        policy: TriggerPolicy,
        clock: Clock,
    ) -> None:
        self._store = store
        self._index = index
        self._queue = queue
        self._policy = policy
        self._clock = clock

    async def record(self, message: ChatMessage) -> RecordResult:
        """Record one message (idempotent on its group and message id)."""
        return await self.record_many([message])

    async def record_many(self, messages: Iterable[ChatMessage]) -> RecordResult:
        """Record a batch of messages; messages already recorded are counted as duplicates.

        A message id given twice (in the batch, or recorded before) keeps its first message.
        """
        batch = list(messages)
        if len(batch) > MAX_BATCH:
            raise InvalidMessage(f"a batch holds at most {MAX_BATCH} messages, got {len(batch)}")
        for message in batch:
            if not isinstance(message, ChatMessage):
                raise InvalidMessage(f"expected ChatMessage, got {type(message).__name__}")
        # The first of two messages under one id wins, as the store keeps the first recording.
        first: dict[tuple[str, str], ChatMessage] = {}
        for message in batch:
            first.setdefault((message.group_id, message.message_id), message)
        unique = list(first.values())
        if not unique:
            return RecordResult(recorded=0, duplicates=0, enqueued_groups=())
        now = self._clock.now()
        stored = await self._store.add_messages(unique, recorded_at=now)
        duplicates = len(batch) - len(stored)
        if not stored:
            return RecordResult(recorded=0, duplicates=duplicates, enqueued_groups=())
        per_group = Counter(message.group_id for message in stored)
        try:
            counts = await self._index.add_pending(dict(per_group), due_at=self._policy.due_at(now))
        except IndexUnavailable:
            logger.warning(
                "messages stored but the pending index is unavailable; the scan rebuilds it",
                extra={"groups": sorted(per_group)},
            )
            raise
        enqueued: list[str] = []
        ready = sorted(group_id for group_id, count in counts.items() if count >= self._policy.threshold)
        # A group whose last update failed waits out its backoff: during a model outage every
        # new message would otherwise start another doomed update.
        waiting = await self._index.in_backoff(ready, now) if ready else set()
        for group_id in ready:
            if group_id not in waiting and await self._queue.enqueue_update(group_id):
                enqueued.append(group_id)
        return RecordResult(recorded=len(stored), duplicates=duplicates, enqueued_groups=tuple(enqueued))
