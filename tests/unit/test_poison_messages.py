"""A message the model cannot digest is quarantined; its group goes on without it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import pytest

from memory_domain.errors import (
    IndexUnavailable,
    ModelError,
    ModelUnavailable,
    NotQuarantined,
    StorageUnavailable,
)
from memory_domain.model import PendingState, TopicModelInput, TopicRewrite, UpdateStatus
from memory_domain.quarantine import MessageQuarantine
from memory_domain.topic_memory import UpdaterOptions
from memory_domain.trigger_policy import TriggerPolicy
from tests.support.world import OneTopicModel, World, messages


class PoisonModel(OneTopicModel):
    """Fails every batch that holds the poison message, with ``error``; digests the others."""

    def __init__(self, poison: str, error: type[Exception] = ModelError) -> None:
        super().__init__()
        self.poison = poison
        self.error = error

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        if any(m.message_id == self.poison for m in model_input.new_messages):
            self.calls.append(model_input)
            raise self.error(f"the model cannot digest {self.poison}")
        return await super().rewrite_topics(model_input)


def poisoned_world(poison: str, max_batch: int, error: type[Exception] = ModelError) -> World:
    return World(
        model=PoisonModel(poison, error),
        policy=TriggerPolicy(threshold=10, max_batch=max_batch),
        options=UpdaterOptions(lease_seconds=5, model_attempts=1, quarantine_after=3),
    )


def batch_sizes(world: World) -> list[int]:
    return [len(call.new_messages) for call in world.model.calls]  # type: ignore[attr-defined]


async def run_like_a_worker(world: World, max_updates: int) -> int:
    """Run updates as the worker does, the follow-up check after each job whatever its end, and
    wait out each backoff (the clock jumps to the next due time); return how many ran."""
    ran = 0
    while ran < max_updates:
        group_id = world.queue.take()
        if group_id is None:
            due = sorted(world.index.due.values())
            if not due:
                return ran
            world.clock.advance(max(due[0] - world.clock.now(), timedelta(0)))
            await world.scheduler.scan()
            continue
        try:
            await world.updater.update(group_id)
        except ModelError:
            pass  # recorded by the updater; arq logs the failed job
        finally:
            world.queue.done(group_id)
        ran += 1
        await world.scheduler.enqueue_if_due(group_id)
    return ran


async def integrated(world: World) -> Counter[str]:
    counts: Counter[str] = Counter()
    for revision in await world.store.list_revisions("g1", 10_000):
        counts.update(revision.message_ids)
    return counts


async def test_a_poison_message_is_quarantined_and_every_other_message_of_its_group_integrated() -> None:
    world = poisoned_world("m0137", max_batch=200)
    await world.record(messages(500))
    updates = await run_like_a_worker(world, max_updates=40)
    done = await integrated(world)
    assert set(done) == {f"m{i:04d}" for i in range(500)} - {"m0137"}
    assert max(done.values()) == 1
    # Each failure halves the batch, each success restores it: the batches that hold m0137 close
    # in on it (m0000-, m0100-, m0125-, m0137-), and it fails alone three times.
    assert batch_sizes(world) == [
        *[200, 100],
        *[200, 100, 50, 25],
        *[200, 100, 50, 25, 12],
        *[200, 100, 50, 25, 12, 6, 3, 1, 1, 1],
        *[200, 162],
    ]
    assert updates == 23
    [held] = await world.store.quarantined_messages("g1", 10)
    assert held.message.message_id == "m0137"
    assert held.error == "ModelError: the model cannot digest m0137"
    assert held.quarantined_at <= world.clock.now()
    assert await world.store.pending_state("g1") == PendingState("g1", 0, None)
    # The index agrees: nothing left to count, so nothing re-triggers the group.
    assert world.index.counts == {} and world.index.due == {} and world.index.streaks == {}


async def test_the_quarantining_update_ends_the_streak_and_the_next_batch_is_full_at_once() -> None:
    world = poisoned_world("m0000", max_batch=8)
    await world.record(messages(20))
    outcomes = []
    for _ in range(6):
        world.clock.advance(timedelta(hours=2))  # past any backoff
        with contextlib.suppress(ModelError):
            outcomes.append(await world.updater.update("g1"))
    assert batch_sizes(world) == [8, 4, 2, 1, 1, 1]
    [outcome] = outcomes
    assert outcome.status is UpdateStatus.QUARANTINED and outcome.quarantined == ("m0000",)
    assert (outcome.integrated, outcome.remaining, outcome.follow_up) == (0, 19, True)
    failure = await world.store.last_failure("g1")
    assert failure is not None and failure.message_ids == ("m0000",) and "m0000" in failure.error
    assert await world.index.failure_streak("g1") == 0
    assert world.index.counts == {"g1": 19}
    assert world.index.due["g1"] <= world.clock.now()  # due at once, no backoff
    assert not await world.index.in_backoff(["g1"], world.clock.now())
    assert (await world.updater.update("g1")).integrated == 8


async def test_requeue_makes_the_message_pending_again_and_enqueues_its_group() -> None:
    world = poisoned_world("m0003", max_batch=1)
    await world.record(messages(5))
    await run_like_a_worker(world, max_updates=20)
    assert [q.message.message_id for q in await world.store.quarantined_messages("g1", 10)] == ["m0003"]
    quarantine = MessageQuarantine(world.store, world.index, world.queue, world.clock)
    assert await quarantine.requeue("g1", "m0003")
    assert world.queue.queued == ["g1"]
    assert (await world.store.pending_state("g1")).count == 1 and world.index.counts == {"g1": 1}
    assert await world.store.quarantined_messages("g1", 10) == []
    world.model = OneTopicModel()  # the model was fixed
    world.rewire()
    assert await world.drain() == 1
    assert set(await integrated(world)) == {f"m{i:04d}" for i in range(5)}
    assert world.index.counts == {}


async def test_requeue_names_an_unknown_message_or_one_not_quarantined() -> None:
    world = World()
    await world.record(messages(3))
    quarantine = MessageQuarantine(world.store, world.index, world.queue, world.clock)
    with pytest.raises(NotQuarantined, match="'ghost' of group 'g1' does not exist"):
        await quarantine.requeue("g1", "ghost")
    with pytest.raises(NotQuarantined, match="'m0001' of group 'g1' is not quarantined"):
        await quarantine.requeue("g1", "m0001")
    assert (await world.store.pending_state("g1")).count == 3 and world.index.counts == {"g1": 3}


@pytest.mark.parametrize("error", [ModelUnavailable, StorageUnavailable, IndexUnavailable])
async def test_failures_of_the_services_never_quarantine_a_message(error: type[Exception]) -> None:
    world = poisoned_world("m0000", max_batch=1, error=error)
    await world.record(messages(2))
    for _ in range(8):
        world.clock.advance(timedelta(hours=2))
        with pytest.raises(error):
            await world.updater.update("g1")
    assert await world.store.quarantined_messages("g1", 10) == []
    assert (await world.store.pending_state("g1")).count == 2
    assert await world.index.failure_streak("g1") == 8


async def assert_no_failed_update(world: World) -> None:
    assert await world.store.last_failure("g1") is None
    assert await world.index.failure_streak("g1") == 0
    assert not await world.index.in_backoff(["g1"], world.clock.now())


async def test_the_index_failing_after_the_commit_is_no_failed_update() -> None:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=10))
    await world.record(messages(30))
    real_settle = world.index.settle

    async def settle_down(*args: object, **kwargs: object) -> int:
        world.index.settle = real_settle  # type: ignore[method-assign]
        raise IndexUnavailable("Redis is unreachable while settling")

    world.index.settle = settle_down  # type: ignore[method-assign]
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.UPDATED and outcome.integrated == 10
    await assert_no_failed_update(world)
    assert (await world.updater.update("g1")).integrated == 10  # the next batch is full size


async def test_the_backlog_after_the_commit_comes_from_the_commit_and_ends_the_failure_streak() -> None:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=10))
    await world.record(messages(30))
    await world.index.defer("g1", world.clock.now())  # one failure in a row before this update
    real_state = world.store.pending_state

    async def store_down(group_id: str) -> PendingState:
        raise StorageUnavailable("database unreachable while reading the backlog")

    # No read of the backlog after the commit: the commit said what it left.
    world.store.pending_state = store_down  # type: ignore[method-assign]
    outcome = await world.updater.update("g1")
    world.store.pending_state = real_state  # type: ignore[method-assign]
    assert outcome.status is UpdateStatus.UPDATED and outcome.integrated == 5 and outcome.follow_up
    assert outcome.remaining == 25
    await assert_no_failed_update(world)
    assert world.index.counts == {"g1": 25}
    assert (await world.updater.update("g1")).integrated == 10


async def test_a_lost_lease_or_a_cancellation_after_the_commit_is_no_failed_update() -> None:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=10))
    await world.record(messages(30))
    real_settle = world.index.settle

    async def taken_over_then_cancelled(*args: object, **kwargs: object) -> int:
        world.clock.advance(timedelta(seconds=60))  # the lease ran out; another worker took it
        await world.leases.acquire("g1", "other-worker", 30)
        raise asyncio.CancelledError  # and arq's job timeout strikes

    world.index.settle = taken_over_then_cancelled  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await world.updater.update("g1")
    assert (await world.store.pending_state("g1")).count == 20  # the revision stands
    await assert_no_failed_update(world)
    assert world.leases.leases["g1"][0] == "other-worker"
    world.index.settle = real_settle  # type: ignore[method-assign]
    await world.leases.release("g1", "other-worker")
    assert (await world.updater.update("g1")).integrated == 10


async def test_a_lease_that_cannot_be_released_leaves_the_outcome_alone() -> None:
    world = World()
    await world.record(messages(10))

    async def redis_down(group_id: str, holder: str) -> None:
        raise IndexUnavailable("Redis is unreachable while releasing")

    world.leases.release = redis_down  # type: ignore[method-assign]
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.UPDATED and outcome.integrated == 10
    await assert_no_failed_update(world)
