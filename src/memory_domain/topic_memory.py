"""Folding a group's pending messages into its rolling topic memory (one L2 update)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from memory_domain.errors import InvalidRewrite, LeaseLost, MessagesNotPending, StaleVersion
from memory_domain.heartbeat import heartbeat
from memory_domain.model import (
    ChatMessage,
    PendingState,
    TopicModelInput,
    TopicRevision,
    TopicRewrite,
    UpdateFailure,
    UpdateOutcome,
    UpdateStatus,
    validate_group_id,
)
from memory_domain.ports import Clock, IdGenerator, MemoryStore, PendingIndex, TopicModel, UpdateLeases
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
    (up to ``max_backoff``), so that one bad message cannot hold its whole group up.
    """

    lease_seconds: float = 20.0
    model_attempts: int = 2
    context_messages: int = 60
    conflict_attempts: int = 3
    failure_backoff: timedelta = timedelta(minutes=5)
    max_backoff: timedelta = timedelta(hours=1)
    batch_chars: int = 60_000


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
        self._options = options or UpdaterOptions()

    async def update(self, group_id: str) -> UpdateOutcome:
        """Integrate up to ``policy.max_batch`` of the group's oldest pending messages."""
        validate_group_id(group_id)
        holder = self._ids.new_id()
        ttl = self._options.lease_seconds
        if not await self._leases.acquire(group_id, holder, ttl):
            return UpdateOutcome(group_id=group_id, status=UpdateStatus.BUSY)
        attempted: list[ChatMessage] = []
        try:
            async with heartbeat(self._leases, group_id, holder, ttl) as lost:
                return await self._update_with_retries(group_id, lost, attempted)
        except BaseException as error:
            # Whatever failed (the model, Postgres, Redis, a lost lease, arq's timeout), the
            # messages stay pending; the error is kept and the group is tried again later.
            await self._record_failure(group_id, attempted, error)
            raise
        finally:
            await self._leases.release(group_id, holder)

    async def _update_with_retries(
        self, group_id: str, lost: asyncio.Event, attempted: list[ChatMessage]
    ) -> UpdateOutcome:
        attempts = self._options.conflict_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._update_once(group_id, lost, attempted)
            except (StaleVersion, MessagesNotPending) as conflict:
                # Another writer got there first; re-read and redo the work on fresh state.
                if attempt == attempts:
                    raise
                logger.info("group %s: %s; retrying (%d/%d)", group_id, conflict, attempt, attempts)
        raise AssertionError("unreachable")

    async def _update_once(
        self, group_id: str, lost: asyncio.Event, attempted: list[ChatMessage]
    ) -> UpdateOutcome:
        memory = await self._store.get_topic_memory(group_id)
        pending = await self._batch(group_id)
        attempted[:] = pending
        if not pending:
            state = await self._settle(group_id, integrated=0)
            return UpdateOutcome(group_id, UpdateStatus.NOTHING_PENDING, remaining=state.count)
        model_input = TopicModelInput(
            group_id=group_id,
            topics=memory.topics,
            new_messages=tuple(pending),
            context_messages=tuple(await self._context(group_id, pending)),
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
        await self._store.commit_topic_update(group_id, memory.version, topics, revision)
        state = await self._settle(group_id, integrated=len(pending))
        follow_up = self._policy.is_due(state.count, state.oldest_recorded_at, self._clock.now())
        logger.info(
            "group %s: revision %d integrated %d messages, %d pending",
            group_id,
            revision.revision,
            len(pending),
            state.count,
        )
        return UpdateOutcome(
            group_id,
            UpdateStatus.UPDATED,
            revision=revision.revision,
            integrated=len(pending),
            remaining=state.count,
            follow_up=follow_up,
        )

    async def _batch(self, group_id: str) -> list[ChatMessage]:
        """The oldest pending messages: at most max_batch, halved per failure in a row, within batch_chars."""
        streak = await self._index.failure_streak(group_id)
        limit = max(1, self._policy.max_batch >> min(streak, 30))
        pending = await self._store.pending_messages(group_id, limit)
        batch: list[ChatMessage] = []
        chars = 0
        for message in pending:
            chars += len(message.content)
            if batch and chars > self._options.batch_chars:
                break
            batch.append(message)
        return batch

    async def _context(self, group_id: str, pending: list[ChatMessage]) -> list[ChatMessage]:
        """Recent integrated messages plus the earlier messages that new ones reply to."""
        recent = await self._store.recent_integrated_messages(group_id, self._options.context_messages)
        known = {message.message_id for message in recent} | {message.message_id for message in pending}
        wanted = sorted({m.reply_to for m in pending if m.reply_to and m.reply_to not in known})
        replied = await self._store.messages_by_ids(group_id, wanted) if wanted else []
        return sorted([*replied, *recent], key=lambda m: (m.sent_at, m.message_id))

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

    async def _record_failure(self, group_id: str, pending: list[ChatMessage], error: BaseException) -> None:
        """Keep the error and schedule the retry; never raises (the original error matters)."""
        now = self._clock.now()
        described = str(error) or "the update was cancelled (job timeout or worker shutdown)"
        failure = UpdateFailure(
            group_id=group_id,
            created_at=now,
            error=f"{type(error).__name__}: {described}"[:4000],
            message_ids=tuple(message.message_id for message in pending),
        )
        try:
            streak = await self._index.failure_streak(group_id)
            backoff = min(self._options.failure_backoff * (2 ** min(streak, 20)), self._options.max_backoff)
            await self._index.defer(group_id, now + backoff)
        except Exception:
            logger.exception("group %s: could not schedule the retry of a failed update", group_id)
        try:
            await self._store.record_failure(failure)
        except Exception:
            logger.exception("group %s: could not record the failed update", group_id)

    async def _settle(self, group_id: str, integrated: int) -> PendingState:
        """Bring the group's derived pending state in line with the store after an update."""
        state = await self._store.pending_state(group_id)
        next_due = None
        if state.count and state.oldest_recorded_at is not None:
            next_due = self._policy.due_at(state.oldest_recorded_at)
            if state.count >= self._policy.threshold:
                next_due = min(next_due, self._clock.now())
        await self._index.settle(
            group_id,
            integrated=integrated,
            remaining=state.count,
            next_due_at=next_due,
            fallback_due_at=self._policy.due_at(self._clock.now()),
        )
        return state
