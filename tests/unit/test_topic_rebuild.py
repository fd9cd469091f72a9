from __future__ import annotations

import json
from typing import Any

from adapters.in_memory.history import InMemoryMessageHistory
from adapters.llm.offline import OfflineTopicModel
from adapters.system import SequentialIds
from memory_domain.model import TopicStatus
from memory_domain.topic_rebuild import TopicRebuilder
from memory_domain.trigger_policy import TriggerPolicy
from tests.support.world import World, message

CHATS = [
    "数据库 迁移 计划：周六 晚上 切换 主库",
    "the hiking trip needs rain jackets and boots",
    "线上 告警：订单 服务 连接池 耗尽",
]


def chat(start: int, count: int) -> list[Any]:
    return [
        message(f"m{i:03d}", content=f"{CHATS[i % 3]} #{i}", minutes=i) for i in range(start, start + count)
    ]


async def lived_in_world(count: int = 30) -> World:
    world = World(policy=TriggerPolicy(threshold=10, max_batch=10))
    await world.record(chat(0, count))
    await world.drain()
    return world


def rebuilder(world: World, batch: int = 10) -> TopicRebuilder:
    history = InMemoryMessageHistory(world.store)
    return TopicRebuilder(world.store, history, OfflineTopicModel(), world.clock, SequentialIds("r"), batch)


async def run(
    rebuild: TopicRebuilder, state: dict[str, Any] | None = None, limit: int = 50
) -> tuple[dict[str, Any], int]:
    steps = 0
    while steps < limit:
        steps += 1
        outcome = await rebuild.step("g1", state)
        state = json.loads(json.dumps(outcome.state))  # every checkpoint goes through JSON
        if outcome.done:
            return state, steps
    raise AssertionError("the rebuild did not finish")


async def test_a_rebuild_replays_the_whole_history_in_batches_and_swaps_in_one_revision() -> None:
    world = await lived_in_world(30)
    before = await world.store.get_topic_memory("g1")
    result, steps = await run(rebuilder(world))
    assert steps == 4  # three batches of ten, then the swap
    after = await world.store.get_topic_memory("g1")
    assert after.version == before.version + 1 and result["revision"] == after.version
    assert sorted(m for t in after.topics for m in t.message_ids) == [f"m{i:03d}" for i in range(30)]
    assert {t.topic_id for t in after.topics}.isdisjoint(t.topic_id for t in before.topics)
    assert any("数据库" in t.title or "迁移" in t.title for t in after.topics)
    [latest, *_] = await world.store.list_revisions("g1", 1)
    assert latest.message_ids == () and latest.diff["rebuild"] == {"replayed": 30}
    assert sorted(latest.diff["archived"]) == sorted(t.topic_id for t in before.topics)


async def test_a_rebuild_resumed_from_its_last_checkpoint_ends_as_an_uninterrupted_one() -> None:
    whole = await lived_in_world(30)
    uninterrupted, _ = await run(rebuilder(whole))
    broken = await lived_in_world(30)
    rebuild = rebuilder(broken)
    first = await rebuild.step("g1", None)
    second = await rebuild.step("g1", json.loads(json.dumps(first.state)))
    assert not second.done
    # The worker dies here: the third step never ran; another worker resumes from `second`.
    resumed, _ = await run(rebuilder(broken), json.loads(json.dumps(second.state)))
    assert resumed["replayed"] == uninterrupted["replayed"] == 30
    titles = [sorted(t.title for t in (await w.store.get_topic_memory("g1")).topics) for w in (whole, broken)]
    assert titles[0] == titles[1]


async def test_messages_integrated_by_live_updates_during_a_rebuild_are_replayed_before_the_swap() -> None:
    world = await lived_in_world(30)
    rebuild = rebuilder(world)
    state = (await rebuild.step("g1", None)).state
    await world.record(chat(30, 10))  # the live memory keeps going meanwhile
    await world.drain()
    result, _ = await run(rebuild, state)
    assert result["replayed"] == 40
    after = await world.store.get_topic_memory("g1")
    assert sorted(m for t in after.topics for m in t.message_ids) == [f"m{i:03d}" for i in range(40)]


async def test_a_swap_that_loses_the_race_with_a_live_update_catches_up_and_swaps_again() -> None:
    world = await lived_in_world(20)
    rebuild = rebuilder(world)
    state: dict[str, Any] | None = None
    for _ in range(2):
        state = (await rebuild.step("g1", state)).state
    real = world.store.get_topic_memory
    raced = False

    async def stale_once(group_id: str) -> Any:
        nonlocal raced
        memory = await real(group_id)
        if not raced:
            raced = True
            await world.record(chat(20, 10))
            await world.drain()  # a live update commits between our read and our write
        return memory

    world.store.get_topic_memory = stale_once  # type: ignore[method-assign]
    outcome = await rebuild.step("g1", state)
    assert not outcome.done and "live update" in outcome.message
    world.store.get_topic_memory = real  # type: ignore[method-assign]
    result, _ = await run(rebuild, outcome.state)
    assert result["replayed"] == 30
    memory = await world.store.get_topic_memory("g1")
    assert sum(len(t.message_ids) for t in memory.topics) == 30
    archived = [t for t in world.store._groups["g1"].topics.values() if t.status is TopicStatus.ARCHIVED]
    assert archived  # the old topics are kept, archived


async def test_a_group_without_history_finishes_at_once_and_changes_nothing() -> None:
    world = World()
    outcome = await rebuilder(world).step("g1", None)
    assert outcome.done and (await world.store.get_topic_memory("g1")).version == 0
