"""An in-memory world: the memory domain's services wired to the in-memory adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters.in_memory.pending_index import InMemoryPendingIndex, InMemoryUpdateLeases
from adapters.in_memory.queue import InMemoryUpdateQueue
from adapters.in_memory.recording import InMemoryPendingRecorder
from adapters.in_memory.store import InMemoryMemoryStore
from adapters.system import ManualClock, SequentialIds
from memory_domain.model import ChatMessage, ModelUsage, Role, TopicDraft, TopicModelInput, TopicRewrite
from memory_domain.ports import TopicModel
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from memory_domain.scheduling import UpdateScheduler
from memory_domain.topic_memory import TopicUpdater, UpdaterOptions
from memory_domain.trigger_policy import TriggerPolicy

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def message(
    message_id: str,
    group_id: str = "g1",
    content: str | None = None,
    *,
    sender: str = "alice",
    minutes: float = 0,
    reply_to: str | None = None,
) -> ChatMessage:
    return ChatMessage(
        message_id=message_id,
        group_id=group_id,
        sender_id=sender,
        sender_name=sender.title(),
        role=Role.USER,
        content=content or f"message {message_id} about the database migration",
        sent_at=START + timedelta(minutes=minutes),
        reply_to=reply_to,
    )


def messages(count: int, group_id: str = "g1", prefix: str = "m", start: int = 0) -> list[ChatMessage]:
    return [message(f"{prefix}{i:04d}", group_id, minutes=i) for i in range(start, start + count)]


class OneTopicModel:
    """A scripted model: every new message goes to the first topic (or a new one)."""

    def __init__(self) -> None:
        self.calls: list[TopicModelInput] = []

    @property
    def name(self) -> str:
        return "one-topic"

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        self.calls.append(model_input)
        ids = tuple(m.message_id for m in model_input.new_messages)
        usage = ModelUsage(self.name, prompt_tokens=len(ids) * 10, completion_tokens=5)
        if model_input.topics:
            first, *rest = model_input.topics
            drafts = [TopicDraft(first.topic_id, first.title, f"{first.summary} +{len(ids)}", ids)]
            drafts += [TopicDraft(t.topic_id, t.title, t.summary) for t in rest]
            return TopicRewrite(tuple(drafts), usage)
        return TopicRewrite((TopicDraft(None, "Everything", f"{len(ids)} messages", ids),), usage)


@dataclass
class World:
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    store: InMemoryMemoryStore = field(default_factory=InMemoryMemoryStore)
    queue: InMemoryUpdateQueue = field(default_factory=InMemoryUpdateQueue)
    policy: TriggerPolicy = field(default_factory=lambda: TriggerPolicy(10, timedelta(minutes=60), 200))
    model: TopicModel = field(default_factory=OneTopicModel)
    options: UpdaterOptions = field(default_factory=lambda: UpdaterOptions(lease_seconds=5, model_attempts=2))

    def __post_init__(self) -> None:
        self.index = InMemoryPendingIndex(self.clock.now)
        self.leases = InMemoryUpdateLeases(self.clock.now)
        self.ids = SequentialIds("t")
        self.pending = InMemoryPendingRecorder(self.index, self.queue)
        self.recorder = MessageRecorder(self.store, self.pending, self.policy, self.clock)
        self.scheduler = UpdateScheduler(
            self.store, self.index, self.leases, self.queue, self.policy, self.clock
        )
        self.queries = MemoryQueries(self.store)
        self.rewire()

    def rewire(self) -> None:
        """Build the updater again (after replacing the model, the store or the options)."""
        self.updater = TopicUpdater(
            self.store, self.index, self.leases, self.model, self.policy, self.clock, self.ids, self.options
        )

    async def record(self, batch: Sequence[ChatMessage]) -> None:
        await self.recorder.record_many(batch)

    async def drain(self, limit: int = 100) -> int:
        """Run queued updates (as a worker would, follow-ups included); return how many ran."""
        ran = 0
        while (group_id := self.queue.take()) is not None and ran < limit:
            try:
                outcome = await self.updater.update(group_id)
            finally:
                self.queue.done(group_id)
            ran += 1
            if outcome.follow_up:
                await self.scheduler.enqueue_if_due(group_id)
        return ran
