"""Folding a group's pending messages into its rolling topic memory (one L2 update)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from memory_domain.backlog import BacklogSettler
from memory_domain.errors import InvalidRewrite, LeaseLost, MessagesNotPending, StaleVersion
from memory_domain.heartbeat import heartbeat
from memory_domain.model import (
    ChatMessage,
    TopicModelInput,
    TopicRevision,
    TopicRewrite,
    UpdateOutcome,
    UpdateStatus,
    validate_group_id,
)
from memory_domain.ports import Clock, IdGenerator, MemoryStore, PendingIndex, TopicModel, UpdateLeases
from memory_domain.quarantine import FailedUpdates
from memory_domain.rewrite_rules import validate_rewrite
from memory_domain.topic_merge import merge_rewrite
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UpdaterOptions:
    """Tuning of the updater.

    ``model_attempts`` counts answers that break the rewrite rules (a model adapter retries its
    own transport); ``batch_chars`` bounds the text of one batch so that a prompt stays within
    a model's context. After each failure in a row the batch is halved and the backoff doubled
    (up to ``max_backoff``); a message whose batch failed with it alone ``quarantine_after``
    times is quarantined, so that one bad message cannot hold its whole group up.
    """

    lease_seconds: float = 20.0
    model_attempts: int = 2
    context_messages: int = 60
    conflict_attempts: int = 3
    failure_backoff: timedelta = timedelta(minutes=5)
    max_backoff: timedelta = timedelta(hours=1)
    batch_chars: int = 60_000
    quarantine_after: int = 3


@dataclass(slots=True)
class _Attempt:
    """What an update tried, and whether its revision committed: past that boundary nothing
    fails the update any more (no failure recorded, no backoff, no smaller batch)."""

    batch: list[ChatMessage] = field(default_factory=list)
    committed: bool = False


class TopicUpdater:
    """Runs one topic update of a group: read, ask the model outside any transaction, commit.

    The update holds the group's lease while it runs and renews it (a heartbeat), so that a
    worker that dies mid-update is noticed within one lease. Safety does not rest on the lease:
    the commit is guarded by the memory's version and by the messages still being pending.
    """

    def __init__(
        self,
        store: MemoryStore,
        index: PendingIndex,
        leases: UpdateLeases,
        model: TopicModel,
        policy: TriggerPolicy,
        clock: Clock,
        ids: IdGenerator,
        options: UpdaterOptions | None = None,
    ) -> None:
        self._store = store
        self._index = index
        self._leases = leases
        self._model = model
        self._policy = policy
        self._clock = clock
        self._ids = ids
        self._options = options = options or UpdaterOptions()
        self._settler = BacklogSettler(store, index, policy, clock)
        self._failures = FailedUpdates(
            store,
            index,
            self._settler,
            clock,
            backoff=options.failure_backoff,
            max_backoff=options.max_backoff,
            quarantine_after=options.quarantine_after,
        )

    async def update(self, group_id: str) -> UpdateOutcome:
        """Integrate up to ``policy.max_batch`` of the group's oldest pending messages."""
        validate_group_id(group_id)
        holder = self._ids.new_id()
        ttl = self._options.lease_seconds
        if not await self._leases.acquire(group_id, holder, ttl):
            return UpdateOutcome(group_id=group_id, status=UpdateStatus.BUSY)
        attempt = _Attempt()
        try:
            async with heartbeat(self._leases, group_id, holder, ttl) as lost:
                return await self._update_with_retries(group_id, lost, attempt)
        except BaseException as error:
            if attempt.committed:
                # Only a cancellation gets here after the commit (settle_after logs whatever
                # else fails then): the revision stands, and nothing failed.
                raise
            # Whatever failed (the model, Postgres, Redis, a lost lease, arq's timeout), the
            # messages stay pending; the error is kept and the group is tried again later,
            # unless the one message of the batch failed alone too often: it is quarantined.
            quarantined = await self._failures.handle(group_id, attempt.batch, error)
            if quarantined is None:
                raise
            return quarantined
        finally:
            try:
                await self._leases.release(group_id, holder)
            except Exception:
                # The lease runs out by itself; the outcome or the error above is what counts.
                logger.warning("group %s: could not release the update lease", group_id, exc_info=True)

    async def _update_with_retries(
        self, group_id: str, lost: asyncio.Event, attempt: _Attempt
    ) -> UpdateOutcome:
        attempts = self._options.conflict_attempts
        for number in range(1, attempts + 1):
            try:
                return await self._update_once(group_id, lost, attempt)
            except (StaleVersion, MessagesNotPending) as conflict:
                # Another writer got there first; re-read and redo the work on fresh state.
                if number == attempts:
                    raise
                logger.info("group %s: %s; retrying (%d/%d)", group_id, conflict, number, attempts)
        raise AssertionError("unreachable")

    async def _update_once(self, group_id: str, lost: asyncio.Event, attempt: _Attempt) -> UpdateOutcome:
        # At most max_batch messages, halved per failure in a row, and within batch_chars.
        streak = await self._index.failure_streak(group_id)
        limit = max(1, self._policy.max_batch >> min(streak, 30))
        read = await self._store.read_update_input(group_id, limit, self._options.context_messages)
        memory, pending = read.memory, self._within_chars(read.pending)
        attempt.batch = pending
        if not pending:
            state = await self._settler.settle(group_id, left=0)
            return UpdateOutcome(group_id, UpdateStatus.NOTHING_PENDING, remaining=state.count)
        model_input = TopicModelInput(
            group_id=group_id,
            topics=memory.topics,
            new_messages=tuple(pending),
            context_messages=read.context,
            context_topics=read.context_topics,
        )
        started = time.monotonic()
        rewrite = await self._ask_model(model_input)
        duration_ms = int((time.monotonic() - started) * 1000)
        now = self._clock.now()
        topics, diff = merge_rewrite(memory.topics, rewrite, now, self._ids)
        revision = TopicRevision(
            group_id=group_id,
            revision=memory.version + 1,
            created_at=now,
            message_ids=tuple(message.message_id for message in pending),
            model=rewrite.usage.model,
            prompt_tokens=rewrite.usage.prompt_tokens,
            completion_tokens=rewrite.usage.completion_tokens,
            duration_ms=duration_ms,
            diff=diff,
        )
        if lost.is_set():
            raise LeaseLost(f"group {group_id}: the update lost its lease before committing")
        state = await self._store.commit_topic_update(
            group_id, memory.version, topics, revision, assignments=diff["assignments"]
        )
        # The boundary: the revision stands from here on, whatever fails later. Settling the
        # derived state logs its failures; none is a failed update (no backoff, no smaller batch).
        attempt.committed = True
        remaining, follow_up = await self._settler.settle_after(group_id, left=len(pending), state=state)
        logger.info(
            "group %s: revision %d integrated %d messages, %d pending",
            group_id,
            revision.revision,
            len(pending),
            remaining,
        )
        return UpdateOutcome(
            group_id,
            UpdateStatus.UPDATED,
            revision=revision.revision,
            integrated=len(pending),
            remaining=remaining,
            follow_up=follow_up,
        )

    def _within_chars(self, pending: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The oldest of ``pending`` whose text fits in ``batch_chars`` (at least one)."""
        batch: list[ChatMessage] = []
        chars = 0
        for message in pending:
            chars += len(message.content)
            if batch and chars > self._options.batch_chars:
                break
            batch.append(message)
        return batch

    async def _ask_model(self, model_input: TopicModelInput) -> TopicRewrite:
        attempts = max(1, self._options.model_attempts)
        last_error: InvalidRewrite | None = None
        for attempt in range(1, attempts + 1):
            try:
                rewrite = await self._model.rewrite_topics(model_input)
                validate_rewrite(model_input, rewrite)
                return rewrite
            except InvalidRewrite as error:
                last_error = error
                logger.warning(
                    "group %s: model %s answer unusable (%d/%d): %s",
                    model_input.group_id,
                    self._model.name,
                    attempt,
                    attempts,
                    error,
                )
        assert last_error is not None
        raise last_error
