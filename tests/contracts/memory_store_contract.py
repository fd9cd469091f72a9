"""The contract every MemoryStore adapter keeps: one suite, subclassed once per adapter."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from memory_domain.errors import MessagesNotPending, StaleVersion
from memory_domain.model import (
    ChatMessage,
    PendingState,
    Role,
    Topic,
    TopicRevision,
    TopicStatus,
    UpdateFailure,
)
from memory_domain.ports import MemoryStore
from tests.contracts.memory_store_builders import BEIJING, T0, at, commit, ids, msg, revision, topic
from tests.contracts.memory_store_quarantine_contract import MemoryStoreQuarantineContract
from tests.contracts.memory_store_update_input_contract import MemoryStoreUpdateInputContract


class MemoryStoreContract(MemoryStoreQuarantineContract, MemoryStoreUpdateInputContract):
    """Tests every MemoryStore adapter passes; a subclass provides the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        raise NotImplementedError("a subclass of MemoryStoreContract provides the store under test")

    async def assert_unchanged_after_refusal(
        self, store: MemoryStore, version: int, pending: list[str]
    ) -> None:
        memory = await store.get_topic_memory("g1")
        assert memory.version == version
        assert ids(await store.pending_messages("g1", 100)) == pending
        assert [r.revision for r in await store.list_revisions("g1", 100)] == list(range(version, 0, -1))

    async def test_recording_a_message_twice_stores_it_once_and_returns_only_new_ones(
        self, store: MemoryStore
    ) -> None:
        first = await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
        again = await store.add_messages([msg("m2", minute=1), msg("m3", minute=2)], at(5))
        assert ids(first) == ["m1", "m2"]
        assert ids(again) == ["m3"]
        assert ids(await store.pending_messages("g1", 10)) == ["m1", "m2", "m3"]
        assert (await store.pending_state("g1")).count == 3

    async def test_a_duplicate_keeps_the_first_recording(self, store: MemoryStore) -> None:
        added = await store.add_messages([msg("m1", content="first"), msg("m1", content="second")], T0)
        await store.add_messages([msg("m1", content="third")], at(30))
        assert [m.content for m in added] == ["first"]
        assert [m.content for m in await store.pending_messages("g1", 10)] == ["first"]
        assert (await store.pending_state("g1")).oldest_recorded_at == T0

    async def test_one_message_id_in_two_groups_is_two_messages(self, store: MemoryStore) -> None:
        added = await store.add_messages([msg("m1", group="g1"), msg("m1", group="g2")], T0)
        assert len(added) == 2
        assert ids(await store.pending_messages("g2", 10)) == ["m1"]

    async def test_pending_messages_are_oldest_sent_first_then_by_id_in_code_point_order(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages(
            [msg("b", minute=1), msg("d", minute=2), msg("a", minute=1), msg("c"), msg("B", minute=1)], T0
        )
        await store.add_messages([msg("x", group="g2")], T0)
        assert ids(await store.pending_messages("g1", 10)) == ["c", "B", "a", "b", "d"]
        assert ids(await store.pending_messages("g1", 2)) == ["c", "B"]
        assert await store.pending_messages("g1", 0) == []

    async def test_pending_state_counts_pending_messages_and_names_the_oldest_recording(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1")], at(5))
        await store.add_messages([msg("m2")], at(10))
        await store.add_messages([msg("m3")], at(20))
        await commit(store, 0, ["m1"])
        assert await store.pending_state("g1") == PendingState("g1", 2, at(10))
        assert await store.pending_state("nobody") == PendingState("nobody", 0, None)

    async def test_all_pending_states_lists_only_groups_with_pending_messages(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1", group="g3"), msg("m1"), msg("m2")], T0)
        await store.add_messages([msg("m1", group="g2")], at(1))
        await commit(store, 0, ["m1"], group="g2")
        states = sorted(await store.all_pending_states(), key=lambda state: state.group_id)
        assert states == [PendingState("g1", 2, T0), PendingState("g3", 1, T0)]

    async def test_a_new_group_has_version_zero_and_no_topics(self, store: MemoryStore) -> None:
        memory = await store.get_topic_memory("g1")
        assert (memory.group_id, memory.version, memory.topics, memory.updated_at) == ("g1", 0, (), None)

    async def test_a_commit_marks_exactly_its_messages_and_bumps_the_version(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg(f"m{i}", minute=i) for i in range(1, 5)], T0)
        await commit(store, 0, ["m1", "m2"], [topic("t1")])
        memory = await store.get_topic_memory("g1")
        assert (memory.version, memory.topics, memory.updated_at) == (
            1,
            (topic("t1"),),
            revision(1, []).created_at,
        )
        assert ids(await store.pending_messages("g1", 10)) == ["m3", "m4"]
        await commit(store, 1, ["m4"])
        assert (await store.get_topic_memory("g1")).version == 2
        assert ids(await store.pending_messages("g1", 10)) == ["m3"]
        assert (await store.pending_state("g1")).count == 1

    async def test_a_first_commit_on_a_stale_version_zero_is_refused_and_writes_nothing(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
        await commit(store, 0, ["m1"], [topic("t1")])
        with pytest.raises(StaleVersion):
            await commit(store, 0, ["m2"], [topic("t1", title="changed"), topic("t2")])
        await self.assert_unchanged_after_refusal(store, 1, ["m2"])
        assert (await store.get_topic_memory("g1")).topics == (topic("t1"),)

    async def test_a_commit_on_a_stale_version_is_refused_and_writes_nothing(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
        await commit(store, 0, ["m1"], [topic("t1")])
        with pytest.raises(StaleVersion):
            await commit(store, 2, ["m2"], [topic("t1", title="changed")])
        await self.assert_unchanged_after_refusal(store, 1, ["m2"])
        assert (await store.get_topic_memory("g1")).topics == (topic("t1"),)

    async def test_a_commit_with_an_integrated_message_is_refused_and_writes_nothing(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1), msg("m3", minute=2)], T0)
        await commit(store, 0, ["m1"], [topic("t1")])
        with pytest.raises(MessagesNotPending, match="m1"):
            await commit(store, 1, ["m2", "m1"], [topic("t1", title="changed"), topic("t2")])
        await self.assert_unchanged_after_refusal(store, 1, ["m2", "m3"])
        assert (await store.get_topic_memory("g1")).topics == (topic("t1"),)

    async def test_a_first_commit_with_an_unknown_message_is_refused_and_writes_nothing(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m9", group="g2")], T0)
        for unknown in ("ghost", "m9"):  # never recorded; recorded in another group
            with pytest.raises(MessagesNotPending, match=unknown):
                await commit(store, 0, ["m1", unknown], [topic("t1")])
            await self.assert_unchanged_after_refusal(store, 0, ["m1"])
        assert (await store.get_topic_memory("g1")).topics == ()

    async def test_a_revision_that_does_not_follow_the_expected_version_is_refused(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1")], T0)
        with pytest.raises(ValueError, match="must be 1"):
            await store.commit_topic_update("g1", 0, [], revision(2, ["m1"]))
        with pytest.raises(ValueError, match="g2"):
            await store.commit_topic_update("g1", 0, [], revision(1, ["m1"], group="g2"))
        await self.assert_unchanged_after_refusal(store, 0, ["m1"])

    async def test_archived_topics_leave_the_memory_and_unlisted_topics_keep_theirs(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1)], T0)
        await commit(store, 0, ["m1"], [topic("t1"), topic("t2"), topic("t3")])
        renamed = topic("t2", minute=5, title="renamed")
        await commit(store, 1, ["m2"], [topic("t1", minute=5, status=TopicStatus.ARCHIVED), renamed])
        assert (await store.get_topic_memory("g1")).topics == (renamed, topic("t3"))

    async def test_active_topics_are_listed_newest_updated_first_then_by_id(self, store: MemoryStore) -> None:
        await store.add_messages([msg("m1")], T0)
        await commit(store, 0, ["m1"], [topic("tb", minute=1), topic("tc", minute=2), topic("ta", minute=1)])
        assert [t.topic_id for t in (await store.get_topic_memory("g1")).topics] == ["tc", "ta", "tb"]

    async def test_revisions_are_listed_newest_first_and_limited(self, store: MemoryStore) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1), msg("m3", minute=2)], T0)
        for version, message_id in enumerate(["m1", "m2", "m3"]):
            await commit(store, version, [message_id])
        assert await store.list_revisions("g1", 10) == [
            revision(3, ["m3"]),
            revision(2, ["m2"]),
            revision(1, ["m1"]),
        ]
        assert [r.revision for r in await store.list_revisions("g1", 2)] == [3, 2]
        assert await store.list_revisions("g2", 10) == []

    async def test_the_last_failure_is_the_most_recent_one_of_its_group(self, store: MemoryStore) -> None:
        assert await store.last_failure("g1") is None
        failures = [UpdateFailure("g1", at(m), f"error at {m}", ("m1", "m2")) for m in (1, 5, 3)]
        for failure in [*failures, UpdateFailure("g2", at(9), "other group", ())]:
            await store.record_failure(failure)
        assert await store.last_failure("g1") == failures[1]

    async def test_recent_integrated_messages_are_the_latest_sent_oldest_first(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg(f"m{i}", minute=i) for i in range(1, 6)], T0)
        await commit(store, 0, ["m1", "m3"])
        await commit(store, 1, ["m4", "m2"])
        assert ids(await store.recent_integrated_messages("g1", 2)) == ["m3", "m4"]
        assert ids(await store.recent_integrated_messages("g1", 10)) == ["m1", "m2", "m3", "m4"]
        assert await store.recent_integrated_messages("g2", 10) == []

    async def test_messages_by_ids_returns_the_existing_messages_of_that_group(
        self, store: MemoryStore
    ) -> None:
        await store.add_messages([msg("m1"), msg("m2", minute=1), msg("m3", group="g2")], T0)
        await commit(store, 0, ["m1"])
        found = await store.messages_by_ids("g1", ["m2", "m1", "m3", "ghost", "m1"])
        assert sorted(found, key=lambda m: m.message_id) == [msg("m1"), msg("m2", minute=1)]

    async def test_group_ids_lists_every_group_with_messages(self, store: MemoryStore) -> None:
        await store.add_messages([msg("m1", group="g2"), msg("m1", group="g1")], T0)
        await store.record_failure(UpdateFailure("g3", T0, "no messages here", ()))
        assert sorted(await store.group_ids()) == ["g1", "g2"]

    async def test_every_field_and_chinese_text_round_trip(self, store: MemoryStore) -> None:
        message = ChatMessage(
            message_id="消息-1",
            group_id="g1",
            sender_id="用户7",
            sender_name="张伟",
            role=Role.ASSISTANT,
            content="周末去爬山吗？⛰️ 记得带水",
            sent_at=T0,
            reply_to="消息-0",
        )
        chinese_topic = Topic("话题-1", "周末爬山", "大家计划周六去香山", ("消息-1",), T0, at(1))
        chinese_revision = TopicRevision(
            "g1", 1, at(2), ("消息-1",), "qwen-本地", 7, 3, 40, {"新话题": ["周末爬山"], "n": 1}
        )
        await store.add_messages([message], T0)
        assert await store.pending_messages("g1", 1) == [message]
        await store.commit_topic_update("g1", 0, [chinese_topic], chinese_revision)
        await store.record_failure(UpdateFailure("g1", at(3), "模型超时", ("消息-1",)))
        assert await store.messages_by_ids("g1", ["消息-1"]) == [message]
        assert (await store.get_topic_memory("g1")).topics == (chinese_topic,)
        assert await store.list_revisions("g1", 1) == [chinese_revision]
        assert await store.last_failure("g1") == UpdateFailure("g1", at(3), "模型超时", ("消息-1",))

    async def test_datetimes_come_back_timezone_aware_in_utc(self, store: MemoryStore) -> None:
        sent = datetime(2024, 5, 1, 16, 30, 15, 123456, tzinfo=BEIJING)
        message = ChatMessage("m1", "g1", "u1", "Alice", Role.USER, "hi", sent)
        await store.add_messages([message], sent + timedelta(seconds=1))
        local_topic = Topic("t1", "title", "summary", ("m1",), sent, sent + timedelta(hours=1))
        await store.commit_topic_update("g1", 0, [local_topic], revision(1, ["m1"]))
        await store.record_failure(UpdateFailure("g1", sent, "boom", ()))
        memory = await store.get_topic_memory("g1")
        stamps = {
            "sent_at": (await store.messages_by_ids("g1", ["m1"]))[0].sent_at,
            "topic.created_at": memory.topics[0].created_at,
            "topic.updated_at": memory.topics[0].updated_at,
            "memory.updated_at": memory.updated_at,
            "revision.created_at": (await store.list_revisions("g1", 1))[0].created_at,
            "failure.created_at": (await store.last_failure("g1") or pytest.fail("no failure")).created_at,
        }
        for name, stamp in stamps.items():
            assert stamp is not None and stamp.utcoffset() == timedelta(0), name
        assert stamps["sent_at"] == sent
        assert stamps["sent_at"].replace(tzinfo=None) == datetime(2024, 5, 1, 8, 30, 15, 123456)
        assert stamps["topic.updated_at"] == sent + timedelta(hours=1)

    async def test_naive_datetimes_are_refused(self, store: MemoryStore) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.add_messages([msg("m1")], datetime(2024, 5, 1))
        assert await store.group_ids() == []

    async def test_large_batches_are_recorded_and_integrated_whole(self, store: MemoryStore) -> None:
        messages = [msg(f"m{i:04d}", minute=i) for i in range(1_100)]
        assert len(await store.add_messages(messages, T0)) == 1_100
        await commit(store, 0, [m.message_id for m in messages[:600]])
        assert (await store.pending_state("g1")).count == 500
        assert len(await store.messages_by_ids("g1", [m.message_id for m in messages])) == 1_100

    async def test_concurrent_commits_at_one_version_let_exactly_one_win(self, store: MemoryStore) -> None:
        await store.add_messages([msg(f"m{i}", minute=i) for i in range(1, 7)], T0)
        for version, (left, right) in enumerate([(["m1"], ["m2"]), (["m3", "m4"], ["m5", "m6"])]):
            outcomes = await asyncio.gather(
                commit(store, version, left, [topic("ta")]),
                commit(store, version, right, [topic("tb")]),
                return_exceptions=True,
            )
            assert sorted(type(outcome).__name__ for outcome in outcomes) == ["NoneType", "StaleVersion"]
            assert (await store.get_topic_memory("g1")).version == version + 1
        assert (await store.pending_state("g1")).count == 3
        assert len(await store.list_revisions("g1", 10)) == 2
