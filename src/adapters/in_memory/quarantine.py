"""The quarantine methods of :class:`~adapters.in_memory.store.InMemoryMemoryStore`, which
inherits them (as the SQL store inherits ``SqlQuarantine``)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.in_memory.store_rows import Group, StoredMessage
from adapters.memory_store_checks import require_aware
from memory_domain.model import QuarantinedMessage


class InMemoryQuarantine:
    _groups: dict[str, Group]

    async def count_solo_failure(self, group_id: str, message_id: str) -> int:
        stored = self._stored(group_id, message_id)
        if stored is None or not stored.pending:
            return 0
        stored.solo_failures += 1
        return stored.solo_failures

    async def quarantine_message(
        self, group_id: str, message_id: str, error: str, quarantined_at: datetime
    ) -> bool:
        require_aware(quarantined_at, "quarantined_at")
        stored = self._stored(group_id, message_id)
        if stored is None or not stored.pending:
            return False
        stored.quarantine = QuarantinedMessage(stored.message, quarantined_at.astimezone(UTC), error)
        return True

    async def quarantined_messages(self, group_id: str, limit: int) -> list[QuarantinedMessage]:
        group = self._groups.get(group_id)
        if group is None or limit <= 0:
            return []
        held = [stored.quarantine for stored in group.messages.values() if stored.quarantine is not None]
        return sorted(held, key=lambda q: (q.quarantined_at, q.message.message_id))[:limit]

    async def quarantine_counts(self) -> dict[str, int]:
        counts = {
            group_id: sum(stored.quarantine is not None for stored in group.messages.values())
            for group_id, group in self._groups.items()
        }
        return {group_id: count for group_id, count in counts.items() if count}

    async def requeue_message(self, group_id: str, message_id: str) -> bool:
        stored = self._stored(group_id, message_id)
        if stored is None or stored.quarantine is None:
            return False
        stored.quarantine, stored.solo_failures = None, 0
        return True

    def _stored(self, group_id: str, message_id: str) -> StoredMessage | None:
        group = self._groups.get(group_id)
        return None if group is None else group.messages.get(message_id)
