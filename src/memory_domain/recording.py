"""Recording chat messages: the entry point other programs call for every message."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from memory_domain.errors import IndexUnavailable, InvalidMessage
from memory_domain.model import ChatMessage, RecordResult
from memory_domain.ports import Clock, MemoryStore, PendingRecorder
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)

MAX_BATCH = 5_000


class MessageRecorder:
    """Stores messages in the source of truth, then updates the derived pending state.

    Postgres first: once :meth:`record_many` returns, or raises :class:`IndexUnavailable`, the
    messages are stored and will be integrated. A batch costs one statement in the store and
    one round trip to the pending state: counters, due index, and the enqueue of the updates
    of the groups that reached the trigger threshold.
    """

    def __init__(
        self,
        store: MemoryStore,
        pending: PendingRecorder,
        policy: TriggerPolicy,
        clock: Clock,
    ) -> None:
        self._store = store
        self._pending = pending
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
            # A group whose last update failed waits out its backoff (the recorder skips it):
            # during a model outage every new message would otherwise start another doomed update.
            enqueued = await self._pending.record_pending(
                dict(per_group), self._policy.due_at(now), now, self._policy.threshold
            )
        except IndexUnavailable:
            logger.warning(
                "messages stored but the pending index is unavailable; the scan rebuilds it",
                extra={"groups": sorted(per_group)},
            )
            raise
        return RecordResult(recorded=len(stored), duplicates=duplicates, enqueued_groups=tuple(enqueued))
