"""A queue of topic updates in a list, for tests and for running updates inline."""

from __future__ import annotations

from collections.abc import Sequence


class InMemoryUpdateQueue:
    """The :class:`memory_domain.ports.UpdateQueue` port: one queued update per group, FIFO."""

    def __init__(self) -> None:
        self.queued: list[str] = []
        self.running: set[str] = set()
        self.revived: list[str] = []
        self.batches: list[list[str]] = []  # each call of enqueue_updates, as given

    async def enqueue_update(self, group_id: str) -> bool:
        if group_id in self.queued or group_id in self.running:
            return False
        self.queued.append(group_id)
        return True

    async def enqueue_updates(self, group_ids: Sequence[str]) -> list[str]:
        self.batches.append(list(group_ids))
        return [group_id for group_id in dict.fromkeys(group_ids) if await self.enqueue_update(group_id)]

    async def revive_update(self, group_id: str) -> None:
        self.running.discard(group_id)
        self.revived.append(group_id)
        if group_id not in self.queued:
            self.queued.append(group_id)

    def take(self) -> str | None:
        """Hand the next queued group to a (test) worker, which marks it running."""
        if not self.queued:
            return None
        group_id = self.queued.pop(0)
        self.running.add(group_id)
        return group_id

    def done(self, group_id: str) -> None:
        self.running.discard(group_id)


class InMemoryEvolutionQueue(InMemoryUpdateQueue):
    """The :class:`memory_domain.group_ports.EvolutionQueue` port, with the same bookkeeping."""

    async def enqueue_evolution(self, group_id: str) -> bool:
        return await self.enqueue_update(group_id)

    async def enqueue_evolutions(self, group_ids: Sequence[str]) -> list[str]:
        return await self.enqueue_updates(group_ids)

    async def revive_evolution(self, group_id: str) -> None:
        await self.revive_update(group_id)
