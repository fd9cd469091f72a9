"""The quarantine part of the MemoryStore contract: set aside, listed, counted, requeued."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from memory_domain.errors import MessagesNotPending
from memory_domain.model import PendingState, QuarantinedMessage
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_builders import BEIJING, T0, at, commit, ids, msg


async def three_messages(store: MemoryStore) -> None:
    """m1, m2, m3 of g1, sent a minute apart and recorded at minutes 1, 2 and 3."""
    for minute in (1, 2, 3):
        await store.add_messages([msg(f"m{minute}", minute=minute)], at(minute))


class MemoryStoreQuarantineContract:
    """Tests every MemoryStore adapter passes about quarantined messages."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        raise NotImplementedError("a subclass provides the store under test")

    async def test_a_quarantined_message_is_not_pending_not_integrated_and_still_stored(
        self, store: MemoryStore
    ) -> None:
        await three_messages(store)
        assert await store.quarantine_message("g1", "m1", "ModelError: 模型拒绝了这条消息", at(10))
        assert ids(await store.pending_messages("g1", 10)) == ["m2", "m3"]
        assert await store.pending_state("g1") == PendingState("g1", 2, at(2))
        assert await store.all_pending_states() == [PendingState("g1", 2, at(2))]
        assert await store.recent_integrated_messages("g1", 10) == []
        assert ids(await store.messages_by_ids("g1", ["m1"])) == ["m1"]
        assert await store.group_ids() == ["g1"]
        assert await store.quarantined_messages("g1", 10) == [
            QuarantinedMessage(msg("m1", minute=1), at(10), "ModelError: 模型拒绝了这条消息")
        ]
        assert await store.quarantine_counts() == {"g1": 1}

    async def test_a_commit_refuses_a_quarantined_message_and_writes_nothing(
        self, store: MemoryStore
    ) -> None:
        await three_messages(store)
        await store.quarantine_message("g1", "m1", "boom", at(10))
        with pytest.raises(MessagesNotPending, match="m1"):
            await commit(store, 0, ["m2", "m1"])
        assert (await store.get_topic_memory("g1")).version == 0
        assert ids(await store.pending_messages("g1", 10)) == ["m2", "m3"]

    async def test_only_a_pending_message_is_quarantined(self, store: MemoryStore) -> None:
        await three_messages(store)
        await store.add_messages([msg("m9", group="g2")], T0)
        await commit(store, 0, ["m2"])
        assert await store.quarantine_message("g1", "m3", "first", at(10))
        for message_id in ("m2", "m3", "m9", "ghost"):  # integrated, quarantined, other group, unknown
            assert not await store.quarantine_message("g1", message_id, "again", at(20))
        [held] = await store.quarantined_messages("g1", 10)
        assert (held.message.message_id, held.quarantined_at, held.error) == ("m3", at(10), "first")
        assert ids(await store.pending_messages("g1", 10)) == ["m1"]

    async def test_failures_alone_are_counted_per_pending_message_until_it_is_requeued(
        self, store: MemoryStore
    ) -> None:
        await three_messages(store)
        await commit(store, 0, ["m3"])
        assert [await store.count_solo_failure("g1", "m1") for _ in range(2)] == [1, 2]
        assert await store.count_solo_failure("g1", "m2") == 1
        assert await store.count_solo_failure("g1", "m3") == 0  # integrated
        assert await store.count_solo_failure("g1", "ghost") == 0
        await store.quarantine_message("g1", "m1", "boom", at(10))
        assert await store.count_solo_failure("g1", "m1") == 0  # quarantined: not counted
        assert await store.requeue_message("g1", "m1")
        assert await store.count_solo_failure("g1", "m1") == 1  # counted from zero again

    async def test_a_requeued_message_is_pending_again_in_its_place(self, store: MemoryStore) -> None:
        await three_messages(store)
        await store.quarantine_message("g1", "m1", "boom", at(10))
        assert await store.requeue_message("g1", "m1")
        assert ids(await store.pending_messages("g1", 10)) == ["m1", "m2", "m3"]
        assert await store.pending_state("g1") == PendingState("g1", 3, at(1))
        assert await store.quarantined_messages("g1", 10) == []
        assert await store.quarantine_counts() == {}
        await commit(store, 0, ["m1"])
        assert ids(await store.recent_integrated_messages("g1", 10)) == ["m1"]

    async def test_only_a_quarantined_message_is_requeued(self, store: MemoryStore) -> None:
        await three_messages(store)
        await commit(store, 0, ["m2"])
        await store.quarantine_message("g1", "m3", "boom", at(10))
        for message_id in ("m1", "m2", "ghost"):  # pending, integrated, unknown
            assert not await store.requeue_message("g1", message_id)
        assert not await store.requeue_message("g2", "m3")
        assert await store.quarantine_counts() == {"g1": 1}

    async def test_quarantined_messages_are_listed_first_quarantined_first_and_counted_per_group(
        self, store: MemoryStore
    ) -> None:
        await three_messages(store)
        await store.add_messages([msg("m1", group="g2"), msg("m2", group="g2")], T0)
        await store.quarantine_message("g1", "m3", "third", at(10))
        await store.quarantine_message("g1", "m1", "first", at(20))
        await store.quarantine_message("g1", "m2", "second", at(20))
        await store.quarantine_message("g2", "m1", "other group", at(5))
        assert [q.message.message_id for q in await store.quarantined_messages("g1", 10)] == [
            "m3",
            "m1",
            "m2",
        ]
        assert [q.message.message_id for q in await store.quarantined_messages("g1", 2)] == ["m3", "m1"]
        assert await store.quarantined_messages("g1", 0) == []
        assert await store.quarantined_messages("nobody", 10) == []
        assert await store.quarantine_counts() == {"g1": 3, "g2": 1}

    async def test_the_quarantine_time_comes_back_in_utc_and_a_naive_one_is_refused(
        self, store: MemoryStore
    ) -> None:
        await three_messages(store)
        local = datetime(2024, 5, 1, 16, 30, 15, 123456, tzinfo=BEIJING)
        await store.quarantine_message("g1", "m1", "boom", local)
        [held] = await store.quarantined_messages("g1", 1)
        assert held.quarantined_at == local and held.quarantined_at.utcoffset() == timedelta(0)
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.quarantine_message("g1", "m2", "boom", datetime(2024, 5, 1))
        assert ids(await store.pending_messages("g1", 10)) == ["m2", "m3"]
