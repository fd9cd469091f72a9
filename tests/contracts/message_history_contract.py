"""One contract for the MessageHistory port: integrated messages in integration order."""

from __future__ import annotations

from memory_domain.model import HistoryCursor
from memory_domain.ports import MemoryStore, MessageHistory
from tests.contracts.memory_store_builders import T0, commit, msg, topic


class MessageHistoryContract:
    """Subclasses provide async fixtures ``store`` (an empty MemoryStore) and ``history`` on it."""

    async def test_messages_come_in_integration_order_and_page_by_cursor(
        self, store: MemoryStore, history: MessageHistory
    ) -> None:
        await store.add_messages(
            [
                msg("late", minute=9),
                msg("a", minute=1),
                msg("b", minute=2),
                msg("early", minute=0),
                msg("p", minute=5),
            ],
            T0,
        )
        await commit(store, 0, ["a", "b", "late"], [topic("t1")])
        await commit(store, 1, ["early"], [topic("t1")])  # sent first, integrated last
        rows = await history.integrated_after("g1", None, 10)
        assert [m.message_id for _, m in rows] == ["a", "b", "late", "early"]  # "p" is pending
        assert [c.revision for c, _ in rows] == [1, 1, 1, 2]
        first = await history.integrated_after("g1", None, 2)
        rest = await history.integrated_after("g1", first[-1][0], 10)
        assert [m.message_id for _, m in first + rest] == ["a", "b", "late", "early"]
        assert await history.integrated_after("g1", rest[-1][0], 10) == []
        assert await history.count_integrated("g1") == 4

    async def test_a_cursor_round_trips_and_other_groups_stay_apart(
        self, store: MemoryStore, history: MessageHistory
    ) -> None:
        await store.add_messages([msg("x", group="g2"), msg("a")], T0)
        await commit(store, 0, ["a"], [topic("t1")])
        [(cursor, message)] = await history.integrated_after("g1", None, 5)
        assert cursor == HistoryCursor(1, message.sent_at, "a") and message.sent_at.tzinfo is not None
        assert await history.integrated_after("g2", None, 5) == []
        assert await history.count_integrated("g2") == 0
        assert await history.integrated_after("g1", None, 0) == []
