"""Group memory (L3) on the in-memory adapters, on top of the topic-memory :class:`World`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.in_memory.group_store import InMemoryConsensusSlots, InMemoryGroupMemoryStore
from adapters.in_memory.pending_index import InMemoryUpdateLeases
from adapters.in_memory.queue import InMemoryEvolutionQueue
from adapters.llm.offline_distill import OfflineMemoryDistiller
from adapters.system import SequentialIds
from memory_domain.consensus import ConsensusSchedule, ConsensusScheduler
from memory_domain.group_memory import EvolverOptions, MemoryEvolver
from memory_domain.group_model import Distillation, DistillInput, ItemDraft, ItemKind
from memory_domain.group_ports import MemoryDistiller
from memory_domain.group_rollback import GroupMemoryRollback
from memory_domain.memory_context import MemoryContextReader
from memory_domain.model import ChatMessage, ModelUsage
from tests.support.world import World

Answer = Callable[[DistillInput], "Sequence[ItemDraft] | Retiring"]


@dataclass(frozen=True)
class Retiring:
    """A scripted answer that also retires live items (ends them with no successor)."""

    items: Sequence[ItemDraft]
    retired: Sequence[str]


class ScriptedDistiller:
    """A distiller that answers what each test scripts; by default one fact per changed topic."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or keep_all_and_one_fact_per_topic
        self.calls: list[DistillInput] = []

    @property
    def name(self) -> str:
        return "scripted"

    async def distil(self, distil_input: DistillInput) -> Distillation:
        self.calls.append(distil_input)
        answer = self.answer(distil_input)
        retired: tuple[str, ...] = ()
        if isinstance(answer, Retiring):
            answer, retired = answer.items, tuple(answer.retired)
        items = tuple(answer)
        usage = ModelUsage(self.name, prompt_tokens=100, completion_tokens=10 * len(items))
        return Distillation(items, usage, retired)


def keep_all_and_one_fact_per_topic(distil_input: DistillInput) -> list[ItemDraft]:
    drafts = [ItemDraft(item.item_id, None, None) for item in distil_input.items]
    drafts += [
        ItemDraft(None, ItemKind.FACT, f"fact of {t.title}", (t.topic_id,), t.message_ids[:2])
        for t in distil_input.topics
    ]
    return drafts


@dataclass
class GroupWorld:
    """The topic world plus everything of group memory, each port on its in-memory adapter."""

    world: World = field(default_factory=World)
    distiller: MemoryDistiller = field(default_factory=ScriptedDistiller)
    schedule: ConsensusSchedule = field(default_factory=lambda: ConsensusSchedule(hour=2, timezone="UTC"))

    def __post_init__(self) -> None:
        self.clock = self.world.clock
        self.store = InMemoryGroupMemoryStore(self.world.store)
        self.leases = InMemoryUpdateLeases(self.clock.now)
        self.slots = InMemoryConsensusSlots()
        self.evolutions = InMemoryEvolutionQueue()
        self.ids = SequentialIds("i")
        self.rewire()

    def rewire(self) -> None:
        self.evolver = MemoryEvolver(
            self.store,
            self.leases,
            self.distiller,
            self.clock,
            self.ids,
            EvolverOptions(lease_seconds=5, model_attempts=1),
        )
        self.consensus = self.scheduler_for(self.slots)
        self.rollback = GroupMemoryRollback(self.store, self.clock)
        self.context = MemoryContextReader(
            self.world.store, self.store, self.world.store.search_index, self.clock
        )

    def scheduler_for(self, slots: InMemoryConsensusSlots, **options: Any) -> ConsensusScheduler:
        return ConsensusScheduler(
            self.store, slots, self.evolutions, self.leases, self.schedule, self.clock, self.ids, **options
        )

    async def chat(self, batch: Sequence[ChatMessage]) -> None:
        """Record messages and fold them into topics at once (as `memory update` would)."""
        await self.world.record(batch)
        for group_id in sorted({m.group_id for m in batch}):
            await self.world.scheduler.enqueue(group_id)
        await self.world.drain()

    async def run_evolutions(self) -> int:
        ran = 0
        while (group_id := self.evolutions.take()) is not None:
            try:
                await self.evolver.evolve(group_id)
            finally:
                self.evolutions.done(group_id)
            ran += 1
        return ran


def offline_world() -> GroupWorld:
    return GroupWorld(distiller=OfflineMemoryDistiller())
