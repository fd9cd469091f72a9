"""One contract for the PendingRecorder port: counts, due times and enqueues of a recorded batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory_domain.ports import PendingIndex, PendingRecorder

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
THRESHOLD = 10


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class PendingRecorderContract:
    """Subclasses provide async fixtures ``recorder`` and ``index`` (sharing one empty state)
    and the methods ``queued()`` (the groups whose update is queued) and ``finish(group)``
    (the group's queued update ran and finished, as a worker would leave it)."""

    async def queued(self) -> list[str]:
        raise AssertionError("subclasses say which groups are queued")

    async def finish(self, group_id: str) -> None:
        raise AssertionError("subclasses finish a group's update")

    async def test_counts_are_added_and_the_first_due_time_kept_without_enqueuing_below_the_threshold(
        self, recorder: PendingRecorder, index: PendingIndex
    ) -> None:
        assert await recorder.record_pending({"a": 3, "b": 1}, at(60), at(0), THRESHOLD) == []
        assert await recorder.record_pending({"a": 6}, at(90), at(30), THRESHOLD) == []
        assert (await index.pending_count("a"), await index.pending_count("b")) == (9, 1)
        assert await index.due_at("a") == at(60)
        assert await self.queued() == []

    async def test_a_group_reaching_the_threshold_is_enqueued_once_while_its_update_is_queued(
        self, recorder: PendingRecorder, index: PendingIndex
    ) -> None:
        assert await recorder.record_pending({"a": 9}, at(60), at(0), THRESHOLD) == []
        assert await recorder.record_pending({"a": 1}, at(60), at(1), THRESHOLD) == ["a"]
        assert await recorder.record_pending({"a": 1}, at(60), at(2), THRESHOLD) == []
        assert await self.queued() == ["a"]
        await self.finish("a")
        assert await recorder.record_pending({"a": 1}, at(60), at(3), THRESHOLD) == ["a"]
        assert await index.pending_count("a") == 12

    async def test_a_batch_enqueues_exactly_its_ready_groups_sorted(
        self, recorder: PendingRecorder, index: PendingIndex
    ) -> None:
        await recorder.record_pending({"c": 9, "a": 9}, at(60), at(0), THRESHOLD)
        enqueued = await recorder.record_pending({"c": 1, "b": 12, "a": 1, "d": 2}, at(60), at(1), THRESHOLD)
        assert enqueued == ["a", "b", "c"]
        assert sorted(await self.queued()) == ["a", "b", "c"]
        assert await index.pending_count("d") == 2

    async def test_a_group_in_failure_backoff_is_enqueued_only_once_its_retry_time_has_come(
        self, recorder: PendingRecorder, index: PendingIndex
    ) -> None:
        await recorder.record_pending({"a": 10, "b": 10}, at(60), at(0), THRESHOLD)
        for group_id in ("a", "b"):
            await self.finish(group_id)
        await index.defer("a", at(5))  # a's update failed: retry at minute 5
        assert await recorder.record_pending({"a": 1, "b": 1}, at(60), at(1), THRESHOLD) == ["b"]
        assert await recorder.record_pending({"a": 1}, at(60), at(6), THRESHOLD) == ["a"]

    async def test_nothing_recorded_changes_nothing(
        self, recorder: PendingRecorder, index: PendingIndex
    ) -> None:
        assert await recorder.record_pending({}, at(60), at(0), THRESHOLD) == []
        assert await index.due_groups(at(1000), limit=10) == []
