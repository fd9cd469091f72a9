"""The daily consensus: slot times in any time zone, catch-up of missed days, once per slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from memory_domain.consensus import ConsensusSchedule
from tests.support.group_world import GroupWorld
from tests.support.world import messages


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_slot_is_the_hour_in_the_configured_time_zone() -> None:
    shanghai = ConsensusSchedule(hour=2, timezone="Asia/Shanghai")
    assert shanghai.slot_of(date(2026, 11, 3)) == utc(2026, 11, 2, 18)
    assert shanghai.latest_slot(utc(2026, 11, 2, 17, 59)) == utc(2026, 11, 1, 18)
    assert shanghai.latest_slot(utc(2026, 11, 2, 18, 0)) == utc(2026, 11, 2, 18)
    assert ConsensusSchedule().latest_slot(utc(2026, 11, 2, 1, 59)) == utc(2026, 11, 1, 2)


def test_daylight_saving_days_still_have_exactly_one_slot() -> None:
    berlin = ConsensusSchedule(hour=2, timezone="Europe/Berlin")
    # 02:00 does not exist on 29 March 2026 (clocks jump to 03:00 CEST = 01:00 UTC).
    assert berlin.slot_of(date(2026, 3, 29)) == utc(2026, 3, 29, 1)
    # 02:00 happens twice on 25 October 2026: the first one (CEST) is the slot.
    assert berlin.slot_of(date(2026, 10, 25)) == utc(2026, 10, 25, 0)
    slots = berlin.due_slots(utc(2026, 3, 27, 1), utc(2026, 3, 31, 12))
    assert slots == [utc(2026, 3, 28, 1), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0), utc(2026, 3, 31, 0)]


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ConsensusSchedule(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="0-23"):
        ConsensusSchedule(hour=24)


def test_due_slots_are_the_missed_days_up_to_now_and_only_the_latest_the_first_time() -> None:
    schedule = ConsensusSchedule(hour=2)
    now = utc(2026, 11, 5, 9)
    assert schedule.due_slots(None, now) == [utc(2026, 11, 5, 2)]
    assert schedule.due_slots(utc(2026, 11, 5, 2), now) == []
    assert schedule.due_slots(utc(2026, 11, 2, 2), now) == [
        utc(2026, 11, 3, 2),
        utc(2026, 11, 4, 2),
        utc(2026, 11, 5, 2),
    ]
    assert len(ConsensusSchedule(max_catch_up=5).due_slots(utc(2025, 1, 1, 2), now)) == 5


async def test_a_slot_enqueues_the_evolution_of_every_group_whose_topics_changed_once() -> None:
    world = GroupWorld()
    await world.chat(messages(10, "changed") + messages(10, "evolved", prefix="e"))
    await world.evolver.evolve("evolved")
    await world.world.record(messages(3, "quiet", prefix="q"))  # pending only: no topic yet
    world.clock.current = utc(2026, 11, 3, 2, 0, 30)
    report = await world.consensus.run_due_slots()
    assert report.claimed == (utc(2026, 11, 3, 2),)
    assert report.groups == ("changed",) and world.evolutions.queued == ["changed"]
    again = await world.consensus.run_due_slots()
    assert (again.due, again.claimed, again.enqueued) == ((), (), ())


async def test_a_slot_pages_through_every_changed_group_however_many() -> None:
    world = GroupWorld()
    names = [f"g{n}" for n in range(5)]
    for name in names:
        await world.chat(messages(10, name))
    world.clock.current = utc(2026, 11, 3, 2, 0, 30)
    report = await world.scheduler_for(world.slots, page_size=2).run_due_slots()
    assert report.groups == tuple(names) and world.evolutions.queued == names
    assert world.slots.slots[utc(2026, 11, 3, 2)][3] == 5
    # One enqueue call (one Redis round trip) per page of groups.
    assert world.evolutions.batches == [["g0", "g1"], ["g2", "g3"], ["g4"]]


async def test_missed_days_are_caught_up_at_once_and_each_slot_is_recorded() -> None:
    world = GroupWorld()
    world.clock.current = utc(2026, 11, 2, 3)
    await world.consensus.run_due_slots()  # the first slot ever: 2 November
    await world.chat(messages(10))
    world.clock.current = utc(2026, 11, 6, 12)  # no worker ran on the 3rd, 4th, 5th and 6th
    report = await world.consensus.run_due_slots()
    assert report.claimed == tuple(utc(2026, 11, day, 2) for day in (3, 4, 5, 6))
    assert world.evolutions.queued == ["g1"]  # one evolution covers all of them
    assert sorted(world.slots.slots) == [utc(2026, 11, day, 2) for day in range(2, 7)]
    assert all(row[2] is not None for row in world.slots.slots.values())
    assert await world.run_evolutions() == 1
    assert (await world.store.get_group_memory("g1")).version == 1


async def test_each_slot_runs_once_however_many_workers_tick() -> None:
    world = GroupWorld()
    await world.chat(messages(10))
    world.clock.current = utc(2026, 11, 3, 2, 0, 30)
    workers = [world.scheduler_for(world.slots) for _ in range(3)]
    reports = [await worker.run_due_slots() for worker in workers]
    assert [len(report.claimed) for report in reports] == [1, 0, 0]
    assert world.evolutions.queued == ["g1"]


async def test_a_slot_whose_worker_died_before_completing_is_taken_over_after_the_claim_timeout() -> None:
    world = GroupWorld()
    await world.chat(messages(10))
    slot = utc(2026, 11, 3, 2)
    world.clock.current = slot + timedelta(seconds=30)
    assert await world.slots.claim_slot(slot, "dead-worker", world.clock.now(), slot - timedelta(days=1))
    early = await world.scheduler_for(world.slots, claim_timeout=timedelta(minutes=10)).run_due_slots()
    assert early.claimed == () and world.evolutions.queued == []
    world.clock.advance(timedelta(minutes=11))
    late = await world.scheduler_for(world.slots, claim_timeout=timedelta(minutes=10)).run_due_slots()
    assert late.claimed == (slot,) and world.evolutions.queued == ["g1"]


async def test_an_evolution_whose_worker_died_is_revived_by_the_next_check() -> None:
    world = GroupWorld()
    assert await world.leases.acquire("g1", "dead-worker", 5)
    world.clock.advance(timedelta(seconds=6))
    report = await world.consensus.run_due_slots()
    assert report.revived == ("g1",) and world.evolutions.revived == ["g1"]


async def test_evolve_on_demand_enqueues_one_evolution_per_group() -> None:
    world = GroupWorld()
    assert await world.consensus.enqueue("g1")
    assert not await world.consensus.enqueue("g1")
    with pytest.raises(ValueError, match="group_id"):
        await world.consensus.enqueue("bad group!")
