"""Evolving a group's long-term memory (L3) from the topics that changed since its last evolution."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from memory_domain.errors import LeaseLost, ModelError, StaleVersion
from memory_domain.evolution_merge import merge_distillation
from memory_domain.evolution_rules import validate_distillation
from memory_domain.evolution_window import CURSOR_KEY, Cursor, choose_topics, read_cursor
from memory_domain.group_model import (
    Distillation,
    DistillInput,
    EvolutionFailure,
    EvolutionOutcome,
    EvolutionStatus,
    GroupMemory,
    GroupMemoryRevision,
    RevisionAction,
)
from memory_domain.group_ports import GroupMemoryStore, MemoryDistiller
from memory_domain.heartbeat import heartbeat
from memory_domain.model import validate_group_id
from memory_domain.ports import Clock, IdGenerator, UpdateLeases

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvolverOptions:
    lease_seconds: float = 20.0
    model_attempts: int = 2
    conflict_attempts: int = 3
    # The newest messages integrated since the last evolution that the distiller reads; the
    # changed topics' summaries cover the older ones.
    message_limit: int = 400
    # Changed topics one evolution reads at most, in the order of the revisions that wrote them
    # (see memory_domain.evolution_window); the rest are left to a follow-up evolution. Only a
    # first evolution of a long-lived group, or one after a rebuild of its topics, meets more.
    topic_limit: int = 100


@dataclass(slots=True)
class _Spent:
    """What the model calls of one evolution cost, summed over its attempts."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0


class MemoryEvolver:
    """Runs one evolution of a group's memory: read, ask the distiller outside any transaction, commit.

    Only the topics changed since the last evolution are read, with the messages integrated
    since. The answer is validated (a degenerate one, empty or ending or rewriting most live items,
    is refused) before anything is written; the new item readings, the revision row and the
    version bump commit in one transaction guarded by the version. One evolution per group
    runs at a time: the arq job id says so, and a renewed lease makes direct calls agree.
    """

    def __init__(
        self,
        store: GroupMemoryStore,
        leases: UpdateLeases,
        distiller: MemoryDistiller,
        clock: Clock,
        ids: IdGenerator,
        options: EvolverOptions | None = None,
    ) -> None:
        self._store = store
        self._leases = leases
        self._distiller = distiller
        self._clock = clock
        self._ids = ids
        self._options = options or EvolverOptions()

    async def evolve(self, group_id: str) -> EvolutionOutcome:
        """Distil the group's changed topics into a new version of its memory, if any changed."""
        validate_group_id(group_id)
        holder = self._ids.new_id()
        ttl = self._options.lease_seconds
        if not await self._leases.acquire(group_id, holder, ttl):
            return EvolutionOutcome(group_id, EvolutionStatus.BUSY)
        try:
            async with heartbeat(self._leases, group_id, holder, ttl) as lost:
                return await self._evolve_with_retries(group_id, lost)
        finally:
            await self._leases.release(group_id, holder)

    async def _evolve_with_retries(self, group_id: str, lost: asyncio.Event) -> EvolutionOutcome:
        attempts = self._options.conflict_attempts
        spent = _Spent()  # every model call of this evolution, those redone after a conflict too
        for attempt in range(1, attempts + 1):
            try:
                return await self._evolve_once(group_id, lost, spent)
            except StaleVersion as conflict:
                # A rollback (or a direct call) committed meanwhile; redo the work on fresh state.
                if attempt == attempts:
                    raise
                logger.info("group %s: %s; retrying (%d/%d)", group_id, conflict, attempt, attempts)
        raise AssertionError("unreachable")

    async def _evolve_once(self, group_id: str, lost: asyncio.Event, spent: _Spent) -> EvolutionOutcome:
        memory = await self._store.get_group_memory(group_id)
        cursor = await self._cursor(group_id, memory)
        since = memory.topic_version
        limit = self._options.message_limit
        changes = await self._store.topic_changes(group_id, since, limit)
        window = choose_topics(changes, since, cursor, self._options.topic_limit)
        if not window.topics:
            return EvolutionOutcome(group_id, EvolutionStatus.UNCHANGED)
        if window.messages_until < changes.topic_version:
            changes = await self._store.topic_changes(group_id, since, limit, window.messages_until)
        messages, topic_of = changes.messages, changes.message_topics
        if not window.whole:
            # Only the messages of the topics read now: the others come with their own topics.
            shown = {topic.topic_id for topic in window.topics}
            messages = tuple(message for message in messages if topic_of.get(message.message_id) in shown)
        distil_input = DistillInput(
            group_id=group_id,
            items=memory.live_items,
            topics=window.topics,
            messages=messages,
            message_topics={
                m.message_id: topic_of[m.message_id] for m in messages if m.message_id in topic_of
            },
        )
        started = time.monotonic()
        try:
            answer = await self._ask(distil_input, spent)
        except ModelError as error:
            await self._record_failure(group_id, error)
            raise
        finally:
            spent.duration_ms += int((time.monotonic() - started) * 1000)
        now = self._clock.now()
        items, diff = merge_distillation(distil_input, answer, now, self._ids)
        if window.cursor is not None:
            diff[CURSOR_KEY] = list(window.cursor)
        revision = GroupMemoryRevision(
            group_id=group_id,
            revision=memory.version + 1,
            created_at=now,
            action=RevisionAction.EVOLVE,
            topic_version=window.topic_version,
            topic_ids=tuple(topic.topic_id for topic in distil_input.topics),
            message_ids=tuple(message.message_id for message in messages),
            model=answer.usage.model,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            duration_ms=spent.duration_ms,
            diff=diff,
        )
        if lost.is_set():
            raise LeaseLost(f"group {group_id}: the evolution lost its lease before committing")
        await self._store.commit_group_memory(group_id, memory.version, items, revision)
        outcome = EvolutionOutcome(
            group_id,
            EvolutionStatus.EVOLVED,
            revision=revision.revision,
            added=len(diff["added"]),
            updated=len(diff["updated"]),
            superseded=len(diff["superseded"]),
            more=window.more,
        )
        logger.info(
            "group %s: group memory revision %d from %d topics: %d added, %d updated, %d superseded",
            group_id,
            revision.revision,
            len(distil_input.topics),
            outcome.added,
            outcome.updated,
            outcome.superseded,
        )
        if window.more:
            logger.info("group %s: more changed topics remain for a follow-up evolution", group_id)
        return outcome

    async def _cursor(self, group_id: str, memory: GroupMemory) -> Cursor | None:
        """Where the last evolution stopped inside a topic revision it read only in part."""
        if memory.version == 0:
            return None
        latest = await self._store.list_group_memory_revisions(group_id, 1)
        if not latest or latest[0].revision != memory.version:
            return None  # a commit raced this read: the commit of this evolution will be stale
        return read_cursor(latest[0].diff, memory.topic_version)

    async def _ask(self, distil_input: DistillInput, spent: _Spent) -> Distillation:
        attempts = max(1, self._options.model_attempts)
        last_error: ModelError | None = None
        for attempt in range(1, attempts + 1):
            try:
                answer = await self._distiller.distil(distil_input)
                spent.prompt_tokens += answer.usage.prompt_tokens
                spent.completion_tokens += answer.usage.completion_tokens
                validate_distillation(distil_input, answer)
                return answer
            except ModelError as error:
                last_error = error
                logger.warning(
                    "group %s: distiller %s answer unusable (%d/%d): %s",
                    distil_input.group_id,
                    self._distiller.name,
                    attempt,
                    attempts,
                    error,
                )
        assert last_error is not None
        raise last_error

    async def _record_failure(self, group_id: str, error: Exception) -> None:
        failure = EvolutionFailure(
            group_id=group_id, created_at=self._clock.now(), error=f"{type(error).__name__}: {error}"[:4000]
        )
        try:
            await self._store.record_evolution_failure(failure)
        except Exception:
            logger.exception("group %s: could not record the failed evolution", group_id)
