"""The :class:`memory_domain.ports.MessageHistory` port over an :class:`InMemoryMemoryStore`."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.in_memory.store import InMemoryMemoryStore
from memory_domain.model import ChatMessage, HistoryCursor, Topic, TopicStatus


class InMemoryMessageHistory:
    """Reads the integrated messages of the in-memory store it is given (same package: it may
    look at the store's rows, as a second query on the same tables would)."""

    def __init__(self, store: InMemoryMemoryStore) -> None:
        self._store = store

    def _integrated(self, group_id: str) -> list[tuple[HistoryCursor, ChatMessage]]:
        group = self._store._groups.get(group_id)
        if group is None:
            return []
        rows = [
            (
                HistoryCursor(stored.revision, stored.message.sent_at, stored.message.message_id),
                stored.message,
            )
            for stored in group.messages.values()
            if stored.revision is not None
        ]
        return sorted(rows, key=lambda row: row[0])

    async def integrated_after(
        self, group_id: str, after: HistoryCursor | None, limit: int
    ) -> list[tuple[HistoryCursor, ChatMessage]]:
        if limit <= 0:
            return []
        rows = self._integrated(group_id)
        if after is not None:
            rows = [row for row in rows if row[0] > after]
        return rows[:limit]

    async def count_integrated(self, group_id: str) -> int:
        return len(self._integrated(group_id))


class InMemoryRebuildStaging:
    """The :class:`memory_domain.ports.RebuildStaging` port in a dict."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}
        self._archived: dict[tuple[str, str], dict[str, tuple[int, Topic]]] = {}

    async def stage(self, group_id: str, key: str, assignments: Sequence[tuple[str, str, int]]) -> None:
        rows = self._rows.setdefault((group_id, key), {})
        for message_id, topic_id, position in assignments:
            rows[message_id] = (topic_id, position)

    async def staged(self, group_id: str, key: str) -> dict[str, list[str]]:
        rows = self._rows.get((group_id, key), {})
        result: dict[str, list[str]] = {}
        for message_id, (topic_id, _) in sorted(rows.items(), key=lambda item: (item[1][1], item[0])):
            result.setdefault(topic_id, []).append(message_id)
        return result

    async def archive(self, group_id: str, key: str, position: int, topics: Sequence[Topic]) -> None:
        kept = self._archived.setdefault((group_id, key), {})
        for topic_id in [t for t, (at, _) in kept.items() if at >= position]:
            del kept[topic_id]
        for topic in topics:
            # Kept as the SQL staging keeps it: no message ids, no count (the assignments hold them).
            kept[topic.topic_id] = (
                position,
                Topic(
                    topic.topic_id,
                    topic.title,
                    topic.summary,
                    (),
                    topic.created_at,
                    topic.updated_at,
                    TopicStatus.ARCHIVED,
                ),
            )

    async def archived(self, group_id: str, key: str) -> list[Topic]:
        kept = self._archived.get((group_id, key), {})
        return [topic for _, topic in sorted(kept.values(), key=lambda item: (item[0], item[1].topic_id))]

    async def discard(self, group_id: str, key: str) -> None:
        self._rows.pop((group_id, key), None)
        self._archived.pop((group_id, key), None)
