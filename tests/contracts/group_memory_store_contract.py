"""The contract of every GroupMemoryStore and ConsensusSlots adapter: one suite each, subclassed per adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from memory_domain.errors import StaleVersion
from memory_domain.group_model import (
    EvolutionFailure,
    GroupMemoryRevision,
    ItemKind,
    MemoryItem,
    RevisionAction,
)
from memory_domain.group_ports import ConsensusSlots, GroupMemoryStore
from memory_domain.model import TopicStatus
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_builders import BEIJING, T0, at, commit, msg, topic

Stores = tuple[MemoryStore, GroupMemoryStore]


def item(item_id: str, *, minute: float = 0, text: str | None = None, **changes: object) -> MemoryItem:
    built = MemoryItem(
        item_id=item_id,
        kind=ItemKind.DECISION,
        text=text or f"decision {item_id}",
        topic_ids=("t1",),
        message_ids=("m1", "m2"),
        valid_from=T0,
        updated_at=at(minute),
    )
    return replace(built, **changes)  # type: ignore[arg-type]


def revision(number: int, *, topic_version: int = 1, group: str = "g1") -> GroupMemoryRevision:
    return GroupMemoryRevision(
        group_id=group,
        revision=number,
        created_at=at(100 + number),
        action=RevisionAction.EVOLVE,
        topic_version=topic_version,
        topic_ids=("t1",),
        message_ids=("m1", "m2"),
        model="offline",
        prompt_tokens=10 * number,
        completion_tokens=number,
        duration_ms=7,
        diff={"added": [f"i{number}"], "superseded_by": {"a": "b"}},
    )


class GroupMemoryStoreContract:
    """Tests every GroupMemoryStore passes; a subclass provides ``stores`` (topic and group store)."""

    @pytest.fixture
    def stores(self) -> Stores:
        raise NotImplementedError("a subclass provides the topic store and the group store under test")

    async def test_a_group_never_evolved_has_version_zero_and_no_items(self, stores: Stores) -> None:
        _, store = stores
        memory = await store.get_group_memory("g1")
        assert (memory.version, memory.topic_version, memory.items, memory.updated_at) == (0, 0, (), None)
        assert (await store.group_memory_at("g1", 0)).items == ()
        assert await store.list_group_memory_revisions("g1", 10) == []

    async def test_a_commit_writes_items_and_revision_and_bumps_both_versions(self, stores: Stores) -> None:
        _, store = stores
        items = [item("b", minute=1), item("c", minute=2), item("a", minute=1)]
        await store.commit_group_memory("g1", 0, items, revision(1, topic_version=3))
        memory = await store.get_group_memory("g1")
        assert (memory.version, memory.topic_version, memory.updated_at) == (1, 3, at(101))
        # Newest updated first, then by id.
        assert [i.item_id for i in memory.items] == ["c", "a", "b"]
        assert memory.items[0] == item("c", minute=2)
        assert await store.list_group_memory_revisions("g1", 10) == [revision(1, topic_version=3)]

    async def test_times_come_back_in_utc_and_the_diff_as_json(self, stores: Stores) -> None:
        _, store = stores
        local = item("a", valid_from=T0.astimezone(BEIJING), updated_at=at(1).astimezone(BEIJING))
        stored = revision(1)
        await store.commit_group_memory(
            "g1", 0, [local], replace(stored, created_at=at(101).astimezone(BEIJING))
        )
        [back] = (await store.get_group_memory("g1")).items
        assert back == item("a", minute=1) and back.valid_from.utcoffset() == timedelta(0)
        [rev] = await store.list_group_memory_revisions("g1", 1)
        assert rev.diff == {"added": ["i1"], "superseded_by": {"a": "b"}} and rev.created_at == at(101)

    async def test_a_commit_on_a_stale_version_is_refused_and_writes_nothing(self, stores: Stores) -> None:
        _, store = stores
        await store.commit_group_memory("g1", 0, [item("a")], revision(1))
        for stale in (0, 2):
            with pytest.raises(StaleVersion):
                await store.commit_group_memory(
                    "g1", stale, [item("a", text="changed"), item("b")], revision(stale + 1, topic_version=9)
                )
        memory = await store.get_group_memory("g1")
        assert (memory.version, memory.topic_version, memory.items) == (1, 1, (item("a"),))
        assert [r.revision for r in await store.list_group_memory_revisions("g1", 10)] == [1]

    async def test_malformed_commits_are_refused_before_anything_is_written(self, stores: Stores) -> None:
        _, store = stores
        with pytest.raises(ValueError, match="must be 1"):
            await store.commit_group_memory("g1", 0, [], revision(2))
        with pytest.raises(ValueError, match="g2"):
            await store.commit_group_memory("g1", 0, [], revision(1, group="g2"))
        with pytest.raises(ValueError, match="more than once"):
            await store.commit_group_memory("g1", 0, [item("a"), item("a")], revision(1))
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.commit_group_memory(
                "g1", 0, [item("a", invalid_at=at(5).replace(tzinfo=None))], revision(1)
            )
        assert (await store.get_group_memory("g1")).version == 0

    async def test_superseded_items_leave_the_live_memory_but_keep_their_rows(self, stores: Stores) -> None:
        _, store = stores
        await store.commit_group_memory("g1", 0, [item("a"), item("b")], revision(1))
        gone = item("a", minute=5, invalid_at=at(5), superseded_by="c")
        await store.commit_group_memory("g1", 1, [gone, item("c", minute=5)], revision(2))
        assert [i.item_id for i in (await store.get_group_memory("g1")).items] == ["c", "b"]
        everything = await store.get_group_memory("g1", include_superseded=True)
        assert [i.item_id for i in everything.items] == ["a", "c", "b"]
        assert everything.items[0] == gone and not gone.live

    async def test_every_earlier_reading_of_an_item_can_be_read_back(self, stores: Stores) -> None:
        _, store = stores
        await store.commit_group_memory("g1", 0, [item("a"), item("b")], revision(1, topic_version=1))
        await store.commit_group_memory(
            "g1", 1, [item("a", minute=3, text="revised")], revision(2, topic_version=4)
        )
        await store.commit_group_memory("g1", 2, [item("b", minute=4, invalid_at=at(4))], revision(3))
        first = await store.group_memory_at("g1", 1)
        assert (first.version, first.topic_version, first.updated_at) == (1, 1, at(101))
        assert set(first.items) == {item("a"), item("b")}
        second = await store.group_memory_at("g1", 2)
        assert set(second.items) == {item("a", minute=3, text="revised"), item("b")}
        assert second.topic_version == 4
        assert (await store.group_memory_at("g1", 3)).items == (item("a", minute=3, text="revised"),)
        missing = await store.group_memory_at("g1", 9)
        assert (missing.version, missing.items) == (0, ())

    async def test_topic_changes_are_the_topics_and_messages_written_after_a_topic_version(
        self, stores: Stores
    ) -> None:
        topics, store = stores
        await topics.add_messages([msg(f"m{i}", minute=i) for i in range(1, 7)], T0)
        await commit(topics, 0, ["m1", "m2"], [topic("t1", minute=1), topic("t2", minute=2)])
        await commit(
            topics, 1, ["m3", "m4", "m5"], [topic("t2", minute=5, title="renamed"), topic("t3", minute=4)]
        )
        await commit(topics, 2, ["m6"], [topic("t3", minute=6, status=TopicStatus.ARCHIVED)])
        changes = await store.topic_changes("g1", 1, 2)
        assert changes.topic_version == 3
        assert [(t.topic_id, t.status) for t in changes.topics] == [
            ("t3", TopicStatus.ARCHIVED),
            ("t2", TopicStatus.ACTIVE),
        ]
        assert [m.message_id for m in changes.messages] == ["m5", "m6"]  # the latest two, oldest first
        everything = await store.topic_changes("g1", 0, 100)
        assert [m.message_id for m in everything.messages] == ["m1", "m2", "m3", "m4", "m5", "m6"]
        assert (await store.topic_changes("g1", 3, 100)).topics == ()
        nothing = await store.topic_changes("nobody", 0, 10)
        assert (nothing.topic_version, nothing.topics, nothing.messages) == (0, (), ())

    async def test_topic_changes_are_read_as_of_one_topic_version_with_each_topics_revision(
        self, stores: Stores
    ) -> None:
        topics, store = stores
        await topics.add_messages([msg(f"m{i}", minute=i) for i in range(1, 6)], T0)
        await commit(topics, 0, ["m1", "m2"], [topic("t1", minute=1), topic("t2", minute=2)])
        await commit(topics, 1, ["m3"], [topic("t3", minute=3)])
        await commit(topics, 2, ["m4", "m5"], [topic("t1", minute=5), topic("t4", minute=4)])
        bounded = await store.topic_changes("g1", 0, 100, until_topic_version=2)
        # t1 was written again by revision 3: it is left whole for the next read, with m4 and m5.
        assert bounded.topic_version == 2
        assert [t.topic_id for t in bounded.topics] == ["t3", "t2"]
        assert [m.message_id for m in bounded.messages] == ["m1", "m2", "m3"]
        assert bounded.topic_revisions == {"t2": 1, "t3": 2}
        rest = await store.topic_changes("g1", 2, 100)
        assert (rest.topic_version, rest.topic_revisions) == (3, {"t1": 3, "t4": 3})
        assert [m.message_id for m in rest.messages] == ["m4", "m5"]
        beyond = await store.topic_changes("g1", 0, 100, until_topic_version=9)
        assert beyond.topic_version == 3 and len(beyond.topics) == 4

    async def test_groups_to_evolve_are_those_whose_topics_moved_past_their_group_memory(
        self, stores: Stores
    ) -> None:
        topics, store = stores
        for group in ("g1", "g2", "g3"):
            await topics.add_messages([msg("m1", group=group), msg("m2", group=group)], T0)
            await commit(topics, 0, ["m1"], [topic("t1")], group=group)
        await topics.add_messages([msg("m1", group="g4")], T0)  # pending only: no topics yet
        await store.commit_group_memory("g2", 0, [item("a")], revision(1, topic_version=1, group="g2"))
        await store.commit_group_memory("g3", 0, [item("a")], revision(1, topic_version=1, group="g3"))
        await commit(topics, 1, ["m2"], [topic("t1", minute=1)], group="g3")
        assert await store.groups_to_evolve(10) == ["g1", "g3"]
        assert await store.groups_to_evolve(1) == ["g1"]
        # The next page starts after the last group of the previous one.
        assert await store.groups_to_evolve(1, after="g1") == ["g3"]
        assert await store.groups_to_evolve(10, after="g3") == []

    async def test_revisions_are_listed_newest_first_and_limited(self, stores: Stores) -> None:
        _, store = stores
        for number in (1, 2, 3):
            await store.commit_group_memory("g1", number - 1, [], revision(number))
        assert [r.revision for r in await store.list_group_memory_revisions("g1", 2)] == [3, 2]
        assert await store.list_group_memory_revisions("g1", 0) == []

    async def test_the_last_evolution_failure_is_the_most_recent_one_of_its_group(
        self, stores: Stores
    ) -> None:
        _, store = stores
        assert await store.last_evolution_failure("g1") is None
        failures = [EvolutionFailure("g1", at(m), f"error at {m}") for m in (1, 5, 3)]
        for failure in [*failures, EvolutionFailure("g2", at(9), "other group")]:
            await store.record_evolution_failure(failure)
        assert await store.last_evolution_failure("g1") == failures[1]


class ConsensusSlotsContract:
    """Tests every ConsensusSlots adapter passes; a subclass provides ``slots``."""

    @pytest.fixture
    def slots(self) -> ConsensusSlots:
        raise NotImplementedError("a subclass provides the slots under test")

    async def test_a_slot_is_claimed_by_one_holder_and_completed_by_it_only(
        self, slots: ConsensusSlots
    ) -> None:
        assert await slots.last_completed_slot() is None
        assert await slots.claim_slot(at(0), "w1", at(1), at(-10))
        assert not await slots.claim_slot(at(0), "w2", at(2), at(-10))
        assert not await slots.complete_slot(at(0), "w2", at(3), 5)
        assert await slots.last_completed_slot() is None
        assert await slots.complete_slot(at(0), "w1", at(3), 5)
        assert not await slots.complete_slot(at(0), "w1", at(4), 5)
        assert await slots.last_completed_slot() == at(0)
        assert not await slots.claim_slot(at(0), "w2", at(60), at(50))  # completed: never again

    async def test_the_last_completed_slot_ignores_slots_only_claimed(self, slots: ConsensusSlots) -> None:
        for minute in (0, 1440):
            assert await slots.claim_slot(at(minute), "w1", at(minute), at(minute - 10))
            assert await slots.complete_slot(at(minute), "w1", at(minute), 0)
        assert await slots.claim_slot(at(2880), "w1", at(2880), at(2870))
        assert await slots.last_completed_slot() == at(1440)

    async def test_a_stale_claim_is_taken_over_and_its_holder_cannot_complete(
        self, slots: ConsensusSlots
    ) -> None:
        assert await slots.claim_slot(at(0), "dead", at(1), at(-10))
        assert not await slots.claim_slot(at(0), "w2", at(5), at(0))  # claimed at 1, not before 0
        assert await slots.claim_slot(at(0), "w2", at(20), at(10))
        assert not await slots.complete_slot(at(0), "dead", at(21), 1)
        assert await slots.complete_slot(at(0), "w2", at(21), 1)

    async def test_times_in_any_zone_name_the_same_slot(self, slots: ConsensusSlots) -> None:
        assert await slots.claim_slot(at(0).astimezone(BEIJING), "w1", at(1), at(-10))
        assert not await slots.claim_slot(at(0), "w2", at(2), at(-10))
        assert await slots.complete_slot(at(0), "w1", at(3).astimezone(BEIJING), 0)
        completed = await slots.last_completed_slot()
        assert completed == at(0) and completed is not None and completed.utcoffset() == timedelta(0)

    async def test_naive_times_are_refused(self, slots: ConsensusSlots) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await slots.claim_slot(at(0).replace(tzinfo=None), "w1", at(1), at(-10))
        with pytest.raises(ValueError, match="timezone-aware"):
            await slots.complete_slot(at(0).replace(tzinfo=None), "w1", at(1), 0)
