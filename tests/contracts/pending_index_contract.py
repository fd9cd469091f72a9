"""One contract for the derived pending state, run against every adapter of the two ports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from memory_domain.model import IndexEntry
from memory_domain.ports import PendingIndex, UpdateLeases

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class PendingIndexContract:
    """Subclasses provide an async fixture ``index`` (a fresh, empty PendingIndex)."""

    async def test_add_pending_counts_per_group_and_keeps_the_first_due_time(
        self, index: PendingIndex
    ) -> None:
        assert await index.add_pending({"a": 2, "b": 1}, due_at=at(60)) == {"a": 2, "b": 1}
        assert await index.add_pending({"a": 3}, due_at=at(90)) == {"a": 5}
        assert await index.pending_count("a") == 5
        assert await index.due_at("a") == at(60)
        assert await index.pending_count("nobody") == 0
        assert await index.due_at("nobody") is None

    async def test_due_groups_are_those_due_by_now_earliest_first_and_limited(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({"late": 1}, due_at=at(30))
        await index.add_pending({"early": 1}, due_at=at(10))
        await index.add_pending({"future": 1}, due_at=at(100))
        assert await index.due_groups(at(50), limit=10) == ["early", "late"]
        assert await index.due_groups(at(50), limit=1) == ["early"]
        assert await index.due_groups(at(5), limit=10) == []

    async def test_settle_subtracts_what_was_integrated_and_moves_the_due_time(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({"a": 25}, due_at=at(60))
        assert (
            await index.settle("a", integrated=20, remaining=5, next_due_at=at(80), fallback_due_at=at(99))
            == 5
        )
        assert await index.due_at("a") == at(80)
        assert (
            await index.settle("a", integrated=5, remaining=0, next_due_at=None, fallback_due_at=at(99)) == 0
        )
        assert await index.pending_count("a") == 0
        assert await index.due_at("a") is None

    async def test_settle_keeps_increments_of_messages_recorded_during_the_update(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({"a": 10}, due_at=at(60))
        await index.add_pending({"a": 2}, due_at=at(70))  # recorded while the update ran
        assert (
            await index.settle("a", integrated=10, remaining=0, next_due_at=None, fallback_due_at=at(99)) == 2
        )
        assert await index.due_at("a") == at(60)

    async def test_settle_trusts_the_store_when_the_counter_drifted_low(self, index: PendingIndex) -> None:
        await index.add_pending({"a": 1}, due_at=at(60))
        assert (
            await index.settle("a", integrated=4, remaining=3, next_due_at=at(75), fallback_due_at=at(99))
            == 3
        )
        assert await index.due_at("a") == at(75)

    async def test_failure_streaks_count_up_and_a_successful_settle_clears_them(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({"a": 12}, due_at=at(60))
        assert await index.failure_streak("a") == 0
        assert await index.defer("a", at(5)) == 1
        assert await index.defer("a", at(10)) == 2
        assert await index.failure_streak("a") == 2
        assert await index.in_backoff(["a", "other"], at(7)) == {"a"}
        assert await index.in_backoff(["a"], at(11)) == set()
        await index.settle("a", integrated=12, remaining=0, next_due_at=None, fallback_due_at=at(99))
        assert await index.failure_streak("a") == 0

    async def test_defer_sets_when_a_failed_group_is_tried_again(self, index: PendingIndex) -> None:
        await index.add_pending({"a": 12}, due_at=at(60))
        await index.defer("a", at(5))
        assert await index.due_at("a") == at(5)

    async def test_rebuild_replaces_the_index_and_marks_it_built(self, index: PendingIndex) -> None:
        assert not await index.is_built()
        await index.add_pending({"stale": 4}, due_at=at(10))
        await index.add_pending({"a": 1}, due_at=at(10))
        await index.rebuild(
            [IndexEntry("a", 7, at(20)), IndexEntry("b", 2, at(30))],
            keep_due_after=at(60),
            valid_for=timedelta(minutes=5),
        )
        assert await index.is_built()
        assert await index.pending_count("stale") == 0 and await index.due_at("stale") is None
        assert await index.pending_count("a") == 7 and await index.due_at("a") == at(20)
        assert await index.due_groups(at(100), 10) == ["a", "b"]

    async def test_rebuild_keeps_groups_that_entered_while_the_store_was_read(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({"new": 1}, due_at=at(61))
        await index.rebuild([], keep_due_after=at(60), valid_for=timedelta(minutes=5))
        assert await index.pending_count("new") == 1

    async def test_the_built_mark_expires(self, index: PendingIndex) -> None:
        await index.rebuild([], keep_due_after=at(0), valid_for=timedelta(milliseconds=50))
        assert await index.is_built()
        await asyncio.sleep(0.12)
        assert not await index.is_built()

    async def test_group_ids_in_any_script_round_trip(self, index: PendingIndex) -> None:
        await index.add_pending({"群-1": 1, "group:a@b": 2}, due_at=at(1))
        assert sorted(await index.due_groups(at(2), 10)) == sorted(["群-1", "group:a@b"])

    async def test_a_rebuild_of_more_groups_than_a_page_removes_every_stale_one(
        self, index: PendingIndex
    ) -> None:
        await index.add_pending({f"stale-{i}": 1 for i in range(2_500)}, due_at=at(10))
        await index.add_pending({f"live-{i}": 1 for i in range(1_500)}, due_at=at(10))
        entries = [IndexEntry(f"live-{i}", 3, at(20)) for i in range(1_500)]
        await index.rebuild(entries, keep_due_after=at(60), valid_for=timedelta(minutes=5))
        due = await index.due_groups(at(100), 10_000)
        assert sorted(due) == sorted(f"live-{i}" for i in range(1_500))
        assert await index.pending_count("stale-2499") == 0 and await index.pending_count("live-7") == 3

    async def test_one_rebuild_lock_holder_at_a_time_until_released(self, index: PendingIndex) -> None:
        assert await index.claim_rebuild("w1", 60)
        assert not await index.claim_rebuild("w2", 60)
        await index.release_rebuild("w2")  # not its lock: nothing happens
        assert not await index.claim_rebuild("w2", 60)
        await index.release_rebuild("w1")
        assert await index.claim_rebuild("w2", 60)

    async def test_a_rebuild_lock_whose_holder_died_runs_out(self, index: PendingIndex) -> None:
        assert await index.claim_rebuild("dead", 0.05)
        await asyncio.sleep(0.12)
        assert await index.claim_rebuild("w2", 60)


class UpdateLeasesContract:
    """Subclasses provide an async fixture ``leases`` (fresh UpdateLeases on the real clock)."""

    async def test_one_holder_at_a_time_and_the_holder_may_renew(self, leases: UpdateLeases) -> None:
        assert await leases.acquire("g", "w1", 5)
        assert not await leases.acquire("g", "w2", 5)
        assert await leases.renew("g", "w1", 5)
        assert not await leases.renew("g", "w2", 5)
        assert await leases.acquire("other", "w2", 5)

    async def test_a_released_lease_is_free_and_not_expired(self, leases: UpdateLeases) -> None:
        assert await leases.acquire("g", "w1", 5)
        await leases.release("g", "w2")  # not the holder: no effect
        assert not await leases.acquire("g", "w2", 5)
        await leases.release("g", "w1")
        assert await leases.acquire("g", "w2", 5)
        await leases.release("g", "w2")
        assert await leases.expired(datetime.now(UTC) + timedelta(hours=1), 10) == []

    async def test_a_lease_not_renewed_expires_and_can_be_taken_over(self, leases: UpdateLeases) -> None:
        assert await leases.acquire("g", "dead", 0.05)
        assert await leases.expired(datetime.now(UTC), 10) == []
        await asyncio.sleep(0.12)
        assert await leases.expired(datetime.now(UTC), 10) == ["g"]
        assert not await leases.renew("g", "dead", 5)
        assert await leases.forget("g")
        assert await leases.expired(datetime.now(UTC), 10) == []
        assert await leases.acquire("g", "alive", 5)

    async def test_forget_keeps_a_lease_that_was_taken_over(self, leases: UpdateLeases) -> None:
        assert await leases.acquire("g", "dead", 0.05)
        await asyncio.sleep(0.12)
        assert await leases.acquire("g", "alive", 5)
        assert not await leases.forget("g")
        assert not await leases.acquire("g", "third", 5)

    async def test_only_one_caller_forgets_an_expired_lease(self, leases: UpdateLeases) -> None:
        assert await leases.acquire("g", "dead", 0.05)
        await asyncio.sleep(0.12)
        assert [await leases.forget("g"), await leases.forget("g")] == [True, False]
