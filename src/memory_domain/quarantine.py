"""Quarantine: a message that keeps failing updates alone is set aside, so its group goes on.

Each failed update halves the next batch of its group, so a message that the model cannot
digest soon fails alone. After ``UpdaterOptions.quarantine_after`` such failures it is
quarantined: kept with its error, neither pending nor integrated, listed by ``memory show``,
until an operator requeues it. Failures that say nothing about the messages never count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from memory_domain.backlog import BacklogSettler
from memory_domain.errors import (
    IndexUnavailable,
    LeaseLost,
    MessagesNotPending,
    ModelUnavailable,
    NotQuarantined,
    StaleVersion,
    StorageUnavailable,
)
from memory_domain.model import ChatMessage, UpdateFailure, UpdateOutcome, UpdateStatus, validate_group_id
from memory_domain.ports import Clock, MemoryStore, PendingIndex, UpdateQueue

logger = logging.getLogger(__name__)

# The services failing (the model server, the database, Redis), a lost lease, another writer:
# none of them is the fault of the messages an update held.
_NOT_THE_MESSAGES = (
    ModelUnavailable,
    StorageUnavailable,
    IndexUnavailable,
    LeaseLost,
    StaleVersion,
    MessagesNotPending,
)


def blames_the_batch(error: BaseException) -> bool:
    """Whether a failed update may be the fault of the messages it held.

    Yes for an answer the model could not make valid, a request it refused or timed out on,
    an error of our own code on that input. No for the failures in ``_NOT_THE_MESSAGES`` and
    for cancellations (a job timeout, a worker shutting down).
    """
    return isinstance(error, Exception) and not isinstance(error, _NOT_THE_MESSAGES)


class FailedUpdates:
    """What follows a failed topic update: the error is kept, and either the batch's one message
    is quarantined or the group backs off (doubling per failure in a row, which also halves its
    next batch)."""

    def __init__(
        self,
        store: MemoryStore,
        index: PendingIndex,
        settler: BacklogSettler,
        clock: Clock,
        *,
        backoff: timedelta,
        max_backoff: timedelta,
        quarantine_after: int,
    ) -> None:
        self._store = store
        self._index = index
        self._settler = settler
        self._clock = clock
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._quarantine_after = max(1, quarantine_after)

    async def handle(
        self, group_id: str, batch: Sequence[ChatMessage], error: BaseException
    ) -> UpdateOutcome | None:
        """Keep the error; the outcome when the batch's message was quarantined, else None.

        Never raises: the error that failed the update is what its caller must see.
        """
        now = self._clock.now()
        described = str(error) or "the update was cancelled (job timeout or worker shutdown)"
        failure = UpdateFailure(
            group_id=group_id,
            created_at=now,
            error=f"{type(error).__name__}: {described}"[:4000],
            message_ids=tuple(message.message_id for message in batch),
        )
        outcome = None
        if len(batch) == 1 and blames_the_batch(error):
            outcome = await self._quarantine_if_poison(group_id, batch[0].message_id, failure)
        if outcome is None:
            await self._defer(group_id, now)
        try:
            await self._store.record_failure(failure)
        except Exception:
            logger.exception("group %s: could not record the failed update", group_id)
        return outcome

    async def _quarantine_if_poison(
        self, group_id: str, message_id: str, failure: UpdateFailure
    ) -> UpdateOutcome | None:
        try:
            failures = await self._store.count_solo_failure(group_id, message_id)
            if failures < self._quarantine_after:
                return None
            if not await self._store.quarantine_message(
                group_id, message_id, failure.error, failure.created_at
            ):
                return None
        except Exception:
            logger.exception("group %s: could not count the failure of message %s", group_id, message_id)
            return None
        logger.warning(
            "group %s: message %s quarantined after %d failed updates with it alone "
            "(ai-worker memory requeue re-admits it); last error: %s",
            group_id,
            message_id,
            failures,
            failure.error,
        )
        # It left the backlog: off the count, and the failure streak ends, so that the messages
        # behind it go on at once and at full batch size.
        remaining, follow_up = await self._settler.settle_after(group_id, left=1)
        return UpdateOutcome(
            group_id,
            UpdateStatus.QUARANTINED,
            remaining=remaining,
            follow_up=follow_up,
            quarantined=(message_id,),
        )

    async def _defer(self, group_id: str, now: datetime) -> None:
        try:
            streak = await self._index.failure_streak(group_id)
            backoff = min(self._backoff * (2 ** min(streak, 20)), self._max_backoff)
            await self._index.defer(group_id, now + backoff)
        except Exception:
            logger.exception("group %s: could not schedule the retry of a failed update", group_id)


class MessageQuarantine:
    """What operators do with quarantined messages: re-admit one into its group's backlog."""

    def __init__(self, store: MemoryStore, index: PendingIndex, queue: UpdateQueue, clock: Clock) -> None:
        self._store = store
        self._index = index
        self._queue = queue
        self._clock = clock

    async def requeue(self, group_id: str, message_id: str) -> bool:
        """Make the quarantined message pending again and enqueue its group's update.

        Returns whether the update was enqueued (False: one is queued or running already).
        Raises :class:`NotQuarantined` when the group has no such message, or it is not
        quarantined. The next failures of the message count from zero again.
        """
        validate_group_id(group_id)
        if not await self._store.requeue_message(group_id, message_id):
            known = await self._store.messages_by_ids(group_id, [message_id])
            state = "is not quarantined (it is pending or integrated)" if known else "does not exist"
            raise NotQuarantined(f"message {message_id!r} of group {group_id!r} {state}")
        # Back on the count, due now: the operator asked for it to be tried.
        await self._index.add_pending({group_id: 1}, self._clock.now())
        logger.info("group %s: quarantined message %s requeued", group_id, message_id)
        return await self._queue.enqueue_update(group_id)
