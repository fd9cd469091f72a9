from __future__ import annotations

from datetime import timedelta

from memory_domain.scheduling import UpdateScheduler
from tests.support.world import World, message, messages


async def test_the_scan_enqueues_only_groups_whose_oldest_message_waited_long_enough() -> None:
    world = World()
    await world.record(messages(3, "old"))
    world.clock.advance(timedelta(minutes=30))
    await world.record(messages(3, "young", prefix="y"))
    world.clock.advance(timedelta(minutes=31))
    report = await world.scheduler.scan()
    assert report.due == ("old",) and report.enqueued == ("old",)
    assert world.queue.queued == ["old"]


async def test_the_scan_does_not_enqueue_a_group_twice() -> None:
    world = World()
    await world.record(messages(3))
    world.clock.advance(timedelta(minutes=61))
    await world.scheduler.scan()
    second = await world.scheduler.scan()
    assert second.due == ("g1",) and second.enqueued == ()
    assert world.queue.queued == ["g1"]


async def test_a_flushed_index_is_rebuilt_from_the_store_by_the_next_scan() -> None:
    world = World()
    await world.scheduler.rebuild()
    await world.record(messages(12, "big") + messages(2, "small", prefix="s"))
    world.queue.queued.clear()
    world.index.flush()
    report = await world.scheduler.scan()
    assert report.rebuilt
    assert world.index.counts == {"big": 12, "small": 2}
    # A group over the threshold is due at once after a rebuild; the small one waits its age.
    assert report.enqueued == ("big",)
    world.clock.advance(timedelta(minutes=61))
    assert (await world.scheduler.scan()).enqueued == ("small",)


async def test_a_rebuild_keeps_groups_recorded_while_it_read_the_store() -> None:
    world = World()
    await world.record([message("a1", "early")])
    states = await world.store.all_pending_states()
    world.clock.advance(timedelta(seconds=5))
    await world.record([message("b1", "meanwhile")])  # arrives during the rebuild
    world.store.all_pending_states = lambda: _ready(states)  # type: ignore[method-assign]
    world.clock.advance(timedelta(seconds=-5))
    await world.scheduler.rebuild()
    assert set(world.index.due) == {"early", "meanwhile"}


async def _ready(value: object) -> object:
    return value


async def test_an_update_whose_worker_died_is_revived_once_its_lease_expires() -> None:
    world = World()
    await world.record(messages(10))
    group_id = world.queue.take()
    assert group_id == "g1"
    assert await world.leases.acquire("g1", "dead-worker", 20)  # ...and the worker dies here
    assert await world.scheduler.recover() == []
    world.clock.advance(timedelta(seconds=21))
    assert await world.scheduler.recover() == ["g1"]
    assert world.queue.revived == ["g1"] and world.queue.queued == ["g1"]
    assert world.leases.leases == {}
    await world.drain()
    assert (await world.store.pending_state("g1")).count == 0


async def test_enqueue_if_due_follows_the_index() -> None:
    world = World()
    await world.record(messages(3))
    assert not await world.scheduler.enqueue_if_due("g1")
    world.clock.advance(timedelta(minutes=60))
    assert await world.scheduler.enqueue_if_due("g1")
    assert not await world.scheduler.enqueue_if_due("unknown")


async def test_two_workers_recovering_at_once_revive_a_dead_update_once() -> None:
    import asyncio

    world = World()
    await world.record(messages(10))
    world.queue.take()
    assert await world.leases.acquire("g1", "dead-worker", 20)
    world.clock.advance(timedelta(seconds=21))
    first, second = await asyncio.gather(world.scheduler.recover(), world.scheduler.recover())
    assert sorted(first + second) == ["g1"]
    assert world.queue.revived == ["g1"]


async def test_a_lease_renewed_in_time_is_never_revived() -> None:
    world = World()
    assert await world.leases.acquire("g1", "alive", 20)
    world.clock.advance(timedelta(seconds=15))
    assert await world.leases.renew("g1", "alive", 20)
    world.clock.advance(timedelta(seconds=15))
    assert await world.scheduler.recover() == []


async def test_the_scan_enqueues_every_due_group_in_one_call_and_skips_the_queued() -> None:
    world = World()
    await world.record(messages(3, "a") + messages(3, "b", prefix="b") + messages(3, "c", prefix="c"))
    world.clock.advance(timedelta(minutes=61))
    world.queue.queued.append("b")  # b's update is already queued
    world.queue.batches.clear()
    report = await world.scheduler.scan()
    assert world.queue.batches == [["a", "b", "c"]]
    assert report.enqueued == ("a", "c")
    assert world.queue.queued == ["b", "a", "c"]


async def test_only_one_of_two_workers_rebuilds_the_index_at_a_time() -> None:
    world = World()
    await world.record(messages(3))
    other = UpdateScheduler(world.store, world.index, world.leases, world.queue, world.policy, world.clock)
    assert await world.index.claim_rebuild("another-worker", 600)
    world.index.counts.clear()
    assert await world.scheduler.rebuild() is None  # the other one holds the lock
    assert world.index.counts == {}
    await world.index.release_rebuild("another-worker")
    assert await other.rebuild() == 1
    assert world.index.counts == {"g1": 3}
    assert world.index.rebuild_lock is None  # released after the rebuild


async def test_a_built_index_is_not_rebuilt_by_the_scan_or_at_worker_start() -> None:
    world = World()
    await world.record(messages(3))
    assert await world.scheduler.reconcile()
    world.index.counts["g1"] = 99  # were the index rebuilt, the store's 3 would be back
    assert not await world.scheduler.reconcile()
    assert not (await world.scheduler.scan()).rebuilt
    assert world.index.counts["g1"] == 99


async def test_a_scan_finding_the_rebuild_taken_scans_the_index_as_it_is() -> None:
    world = World()
    await world.record(messages(3))
    world.clock.advance(timedelta(minutes=61))
    assert await world.index.claim_rebuild("another-worker", 600)
    report = await world.scheduler.scan()
    assert not report.rebuilt and report.enqueued == ("g1",)
