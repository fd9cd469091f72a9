from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from adapters.in_memory.recording import InMemoryPendingRecorder
from memory_domain.errors import InvalidRewrite, LeaseLost, ModelError, StaleVersion
from memory_domain.model import ModelUsage, TopicDraft, TopicModelInput, TopicRewrite, UpdateStatus
from memory_domain.topic_memory import UpdaterOptions
from memory_domain.trigger_policy import TriggerPolicy
from tests.support.world import OneTopicModel, World, message, messages


async def integrated_ids(world: World, group_id: str = "g1") -> Counter[str]:
    """How many revisions integrated each message (must be exactly once)."""
    counts: Counter[str] = Counter()
    for revision in await world.store.list_revisions(group_id, 10_000):
        counts.update(revision.message_ids)
    return counts


async def test_an_update_folds_the_pending_messages_into_topics_and_records_a_revision() -> None:
    world = World()
    await world.record(messages(12))
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.UPDATED
    assert (outcome.revision, outcome.integrated, outcome.remaining) == (1, 12, 0)
    memory = await world.store.get_topic_memory("g1")
    assert memory.version == 1
    assert [t.title for t in memory.topics] == ["Everything"]
    assert len(memory.topics[0].message_ids) == 12
    [revision] = await world.store.list_revisions("g1", 10)
    assert revision.model == "one-topic" and revision.prompt_tokens == 120
    assert revision.diff["added"] == [memory.topics[0].topic_id]
    assert (await world.store.pending_state("g1")).count == 0
    assert world.index.counts == {} and world.index.due == {}


async def test_one_update_reads_at_most_max_batch_oldest_first_and_the_backlog_follows() -> None:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=50))
    await world.record(messages(120))
    assert await world.drain() == 3
    revisions = sorted(await world.store.list_revisions("g1", 10), key=lambda r: r.revision)
    assert [len(r.message_ids) for r in revisions] == [50, 50, 20]
    assert revisions[0].message_ids[0] == "m0000" and revisions[1].message_ids[0] == "m0050"
    assert (await world.store.pending_state("g1")).count == 0


async def test_a_small_remainder_waits_for_the_threshold_or_its_age() -> None:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=10))
    await world.record(messages(15))
    assert await world.drain() == 1  # five remain: below the threshold, not old yet
    assert (await world.store.pending_state("g1")).count == 5
    assert world.index.counts == {"g1": 5}
    world.clock.advance(timedelta(minutes=61))
    report = await world.scheduler.scan()
    assert report.enqueued == ("g1",)
    await world.drain()
    assert (await world.store.pending_state("g1")).count == 0


class GarbageModel(OneTopicModel):
    """Answers with a topic id the group never had."""

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        self.calls.append(model_input)
        ids = tuple(m.message_id for m in model_input.new_messages)
        return TopicRewrite((TopicDraft("invented", "t", "s", ids),), ModelUsage("garbage"))


async def test_an_invalid_answer_is_retried_then_fails_leaving_memory_and_messages_untouched() -> None:
    world = World(model=GarbageModel(), options=UpdaterOptions(lease_seconds=5, model_attempts=3))
    world.rewire()
    await world.record(messages(10))
    with pytest.raises(InvalidRewrite, match="invented"):
        await world.updater.update("g1")
    assert len(world.model.calls) == 3  # type: ignore[attr-defined]
    assert (await world.store.get_topic_memory("g1")).version == 0
    assert (await world.store.pending_state("g1")).count == 10
    failure = await world.store.last_failure("g1")
    assert failure is not None and "invented" in failure.error
    # The group backs off instead of failing again at once.
    assert world.index.due["g1"] == world.clock.now() + UpdaterOptions().failure_backoff
    assert world.leases.leases == {}


async def test_an_update_while_another_holds_the_group_lease_does_nothing() -> None:
    world = World()
    await world.record(messages(10))
    assert await world.leases.acquire("g1", "someone-else", 30)
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.BUSY
    assert (await world.store.pending_state("g1")).count == 10


class LeaseStealingModel(OneTopicModel):
    """While the model 'thinks', the lease expires and another worker takes the group over."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        self.world.clock.advance(timedelta(seconds=60))
        await self.world.leases.acquire("g1", "the-other-worker", 30)
        return await super().rewrite_topics(model_input)


async def test_an_update_that_lost_its_lease_does_not_commit() -> None:
    world = World(options=UpdaterOptions(lease_seconds=0.03))
    world.model = LeaseStealingModel(world)
    world.rewire()
    await world.record(messages(10))
    original = world.model.rewrite_topics

    async def slow(model_input: TopicModelInput) -> TopicRewrite:
        import asyncio

        rewrite = await original(model_input)
        await asyncio.sleep(0.05)  # long enough for the heartbeat to notice
        return rewrite

    world.model.rewrite_topics = slow  # type: ignore[method-assign]
    with pytest.raises(LeaseLost):
        await world.updater.update("g1")
    assert (await world.store.get_topic_memory("g1")).version == 0
    assert (await world.store.pending_state("g1")).count == 10


async def test_a_write_on_a_stale_version_is_refused_and_the_update_redone_on_fresh_state() -> None:
    world = World()
    await world.record(messages(10))
    store = world.store
    real_commit = store.commit_topic_update
    conflicts = 0

    async def commit_once_stale(*args: object, **kwargs: object) -> None:
        nonlocal conflicts
        if conflicts == 0:
            conflicts += 1
            raise StaleVersion("someone else wrote version 1")
        await real_commit(*args, **kwargs)  # type: ignore[arg-type]

    store.commit_topic_update = commit_once_stale  # type: ignore[method-assign]
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.UPDATED and conflicts == 1
    assert len(world.model.calls) == 2  # type: ignore[attr-defined]


class Injector:
    """Counts every call to the wrapped ports and raises at call number ``fail_at``."""

    def __init__(self, fail_at: int | None) -> None:
        self.fail_at = fail_at
        self.calls = 0

    def wrap(self, target: object) -> object:
        injector = self

        class Proxy:
            def __getattr__(self, name: str) -> object:
                attribute = getattr(target, name)
                if name.startswith("_") or not callable(attribute):
                    return attribute

                async def call(*args: object, **kwargs: object) -> object:
                    injector.calls += 1
                    if injector.calls == injector.fail_at:
                        raise (
                            ModelError(f"injected failure in {name}")
                            if name == "rewrite_topics"
                            else (RuntimeError(f"injected failure in {name}"))
                        )
                    return await attribute(*args, **kwargs)

                return call

        return Proxy()


async def run_scenario(fail_at: int | None) -> tuple[World, Injector]:
    """Record, update, record more, update: with one failure injected somewhere on the way."""
    world = World(policy=TriggerPolicy(threshold=10, max_batch=15))
    injector = Injector(fail_at)
    real_store, real_index, real_model = world.store, world.index, world.model
    world.store = injector.wrap(real_store)  # type: ignore[assignment]
    world.index = injector.wrap(real_index)  # type: ignore[assignment]
    world.model = injector.wrap(real_model)  # type: ignore[assignment]
    pending = InMemoryPendingRecorder(world.index, world.queue)
    world.recorder = type(world.recorder)(world.store, pending, world.policy, world.clock)
    world.scheduler = type(world.scheduler)(
        world.store, world.index, world.leases, world.queue, world.policy, world.clock
    )
    world.rewire()
    for chunk in range(3):
        batch = messages(12, start=chunk * 12)
        try:
            await world.record(batch)
        except RuntimeError:
            await world.record(batch)  # the caller was told it failed, and records again
        try:
            await world.drain()
        except (RuntimeError, ModelError):
            for group_id in list(world.queue.running):
                world.queue.done(group_id)
    # Recovery, with nothing failing any more: the lease expires, the scan rebuilds and revives.
    injector.fail_at = None
    world.store, world.index, world.model = real_store, real_index, real_model  # type: ignore[assignment]
    world.index.flush()
    world.scheduler = type(world.scheduler)(
        world.store, world.index, world.leases, world.queue, world.policy, world.clock
    )
    world.rewire()
    world.clock.advance(timedelta(hours=2))
    for _ in range(5):
        await world.scheduler.scan()
        await world.drain()
    return world, injector


async def test_a_failure_injected_at_any_step_loses_no_message_and_integrates_none_twice() -> None:
    _, clean = await run_scenario(None)
    assert clean.calls > 20
    for fail_at in range(1, clean.calls + 1):
        world, _ = await run_scenario(fail_at)
        integrated = await integrated_ids(world)
        expected = {f"m{i:04d}" for i in range(36)}
        assert set(integrated) == expected, f"failure at call {fail_at}: lost messages"
        assert max(integrated.values()) == 1, f"failure at call {fail_at}: integrated twice"
        assert (await world.store.pending_state("g1")).count == 0
        [topic] = (await world.store.get_topic_memory("g1")).topics
        assert sorted(topic.message_ids) == sorted(expected)


async def test_any_failure_is_recorded_and_the_group_retried_after_the_backoff() -> None:
    from memory_domain.errors import StorageUnavailable

    world = World()
    await world.record(messages(10))

    async def database_down(*args: object, **kwargs: object) -> None:
        raise StorageUnavailable("database at postgresql://***@db/x is unreachable")

    world.store.commit_topic_update = database_down  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailable):
        await world.updater.update("g1")
    failure = await world.store.last_failure("g1")
    assert failure is not None and "unreachable" in failure.error and len(failure.message_ids) == 10
    assert world.index.due["g1"] == world.clock.now() + UpdaterOptions().failure_backoff
    assert await world.index.failure_streak("g1") == 1
    assert (await world.store.pending_state("g1")).count == 10


async def test_each_failure_in_a_row_halves_the_batch_and_doubles_the_backoff() -> None:
    world = World(model=GarbageModel(), policy=TriggerPolicy(threshold=10, max_batch=40))
    world.options = UpdaterOptions(model_attempts=1, failure_backoff=timedelta(minutes=5))
    world.rewire()
    await world.record(messages(40))
    sizes, delays = [], []
    for _ in range(4):
        with pytest.raises(InvalidRewrite):
            await world.updater.update("g1")
        sizes.append(len(world.model.calls[-1].new_messages))  # type: ignore[attr-defined]
        delays.append(world.index.due["g1"] - world.clock.now())
    assert sizes == [40, 20, 10, 5]
    assert delays == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    # A success ends the streak: the next update reads a whole batch again.
    world.model = OneTopicModel()
    world.rewire()
    await world.updater.update("g1")
    assert await world.index.failure_streak("g1") == 0


async def test_one_batch_stays_within_the_character_budget_but_always_takes_one_message() -> None:
    world = World(options=UpdaterOptions(batch_chars=100))
    world.rewire()
    long = [message(f"m{i}", content="字" * 60, minutes=i) for i in range(5)]
    await world.record(long)
    outcome = await world.updater.update("g1")
    assert outcome.integrated == 1  # 60 + 60 > 100: the second message waits for the next batch
    world.options = UpdaterOptions(batch_chars=10)
    world.rewire()
    assert (await world.updater.update("g1")).integrated == 1
