"""The part of the MemoryStore contract that serves one topic update: its read and its commit."""

from __future__ import annotations

from dataclasses import replace

from memory_domain.model import RECENT_TOPIC_MESSAGE_IDS, PendingState
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_builders import T0, at, commit, ids, msg, revision, topic


class MemoryStoreUpdateInputContract:
    """Mixed into the MemoryStore contract; the subclass provides the ``store`` fixture."""

    async def test_the_update_input_holds_the_memory_the_oldest_pending_and_their_context(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1), msg("m3", minute=2)], T0)
        await commit(store, 0, ["m1", "m2", "m3"], [topic("t1")])
        await store.add_messages(
            [
                replace(msg("m4", minute=3), reply_to="m1"),  # an earlier, integrated message
                replace(msg("m5", minute=4), reply_to="m3"),  # already among the recent ones
                replace(msg("m6", minute=5), reply_to="m7"),  # pending: no context
                replace(msg("m7", minute=6), reply_to="nowhere"),
            ],
            at(10),
        )
        read = await store.read_update_input("g1", limit=3, context_limit=1)
        assert read.memory == await store.get_topic_memory("g1")
        assert read.memory.version == 1 and [t.topic_id for t in read.memory.topics] == ["t1"]
        assert ids(read.pending) == ["m4", "m5", "m6"]
        assert list(read.pending) == await store.pending_messages("g1", 3)
        # The one most recent integrated message, and the earlier one that m4 replies to.
        assert ids(read.context) == ["m1", "m3"]

    async def test_the_update_input_of_an_unknown_group_is_empty(self, store: MemoryStore) -> None:
        read = await store.read_update_input("nobody", limit=10, context_limit=10)
        assert read.memory.version == 0 and read.pending == () and read.context == ()

    async def test_a_commit_returns_the_backlog_it_leaves(self, store: MemoryStore) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
        await store.add_messages([msg("m3", minute=2)], at(5))
        left = await store.commit_topic_update("g1", 0, [topic("t1")], revision(1, ["m1", "m2"]))
        assert left == PendingState("g1", 1, at(5)) == await store.pending_state("g1")

    async def test_a_topic_keeps_its_newest_ids_and_each_message_knows_its_topic(
        self, store: MemoryStore
    ) -> None:
        ids = [f"m{i:03d}" for i in range(80)]
        await store.add_messages([msg(m, minute=i) for i, m in enumerate(ids)], T0)
        big = replace(topic("t1"), message_ids=tuple(ids))
        await store.commit_topic_update("g1", 0, [big], revision(1, ids), assignments={"t1": ids})
        (stored,) = (await store.get_topic_memory("g1")).topics
        assert stored.message_ids == tuple(ids[-RECENT_TOPIC_MESSAGE_IDS:]) and stored.message_count == 80
        read = await store.read_update_input("g1", limit=10, context_limit=100)
        assert read.context_topics == dict.fromkeys(ids, "t1")
        more = [f"n{i}" for i in range(10)]
        await store.add_messages([msg(m, minute=100 + i) for i, m in enumerate(more)], at(200))
        grown = stored.with_messages(tuple(more))
        await store.commit_topic_update("g1", 1, [grown], revision(2, more), assignments={"t1": more})
        (stored,) = (await store.get_topic_memory("g1")).topics
        assert stored.message_count == 90 and stored.message_ids == tuple(
            [*ids, *more][-RECENT_TOPIC_MESSAGE_IDS:]
        )

    async def test_assignments_file_only_the_messages_they_name(self, store: MemoryStore) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1), msg("m3", minute=2)], T0)
        await commit(store, 0, ["m1"], [replace(topic("t1"), message_ids=("m1",))])
        await store.add_messages([msg("m4", minute=3)], at(5))
        t1, t2 = (
            replace(topic("t1"), message_ids=("m1", "m2")),
            replace(topic("t2"), message_ids=("m3", "m4")),
        )
        await store.commit_topic_update(
            "g1", 1, [t1, t2], revision(2, ["m2", "m3", "m4"]), assignments={"t1": ["m2"], "t2": ["m3", "m4"]}
        )
        read = await store.read_update_input("g1", limit=10, context_limit=10)
        assert read.context_topics == {"m1": "t1", "m2": "t1", "m3": "t2", "m4": "t2"}
        counts = {t.topic_id: t.message_count for t in (await store.get_topic_memory("g1")).topics}
        assert counts == {"t1": 2, "t2": 2}
