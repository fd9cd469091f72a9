from __future__ import annotations

import json
from typing import Any

from adapters.in_memory.history import InMemoryMessageHistory, InMemoryRebuildStaging
from adapters.llm.offline import OfflineTopicModel
from adapters.system import SequentialIds
from memory_domain.model import RECENT_TOPIC_MESSAGE_IDS, TopicStatus
from memory_domain.topic_rebuild import TopicRebuilder
from memory_domain.trigger_policy import TriggerPolicy
from tests.support.world import World, message

KEY = "task-1"

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


STAGING: dict[int, InMemoryRebuildStaging] = {}


def rebuilder(world: World, batch: int = 10, model: Any = None) -> TopicRebuilder:
    history = InMemoryMessageHistory(world.store)
    staging = STAGING.setdefault(id(world), InMemoryRebuildStaging())  # one staging per world
    return TopicRebuilder(
        world.store, history, staging, model or OfflineTopicModel(), world.clock, SequentialIds("r"), batch
    )


async def run(
    rebuild: TopicRebuilder, state: dict[str, Any] | None = None, limit: int = 50
) -> tuple[dict[str, Any], int]:
    steps = 0
    while steps < limit:
        steps += 1
        outcome = await rebuild.step("g1", state, KEY)
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
    assert latest.message_ids == () and latest.diff["rebuild"] == {"key": KEY, "replayed": 30}
    assert sorted(latest.diff["archived"]) == sorted(t.topic_id for t in before.topics)


async def test_a_rebuild_resumed_from_its_last_checkpoint_ends_as_an_uninterrupted_one() -> None:
    whole = await lived_in_world(30)
    uninterrupted, _ = await run(rebuilder(whole))
    broken = await lived_in_world(30)
    rebuild = rebuilder(broken)
    first = await rebuild.step("g1", None, KEY)
    second = await rebuild.step("g1", json.loads(json.dumps(first.state)), KEY)
    assert not second.done
    # The worker dies here: the third step never ran; another worker resumes from `second`.
    resumed, _ = await run(rebuilder(broken), json.loads(json.dumps(second.state)))
    assert resumed["replayed"] == uninterrupted["replayed"] == 30
    titles = [sorted(t.title for t in (await w.store.get_topic_memory("g1")).topics) for w in (whole, broken)]
    assert titles[0] == titles[1]


async def test_messages_integrated_by_live_updates_during_a_rebuild_are_replayed_before_the_swap() -> None:
    world = await lived_in_world(30)
    rebuild = rebuilder(world)
    state = (await rebuild.step("g1", None, KEY)).state
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
        state = (await rebuild.step("g1", state, KEY)).state
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
    outcome = await rebuild.step("g1", state, KEY)
    assert not outcome.done  # the live update's messages are replayed before any swap
    world.store.get_topic_memory = real  # type: ignore[method-assign]
    result, _ = await run(rebuild, outcome.state)
    assert result["replayed"] == 30
    memory = await world.store.get_topic_memory("g1")
    assert sum(len(t.message_ids) for t in memory.topics) == 30
    archived = [t for t in world.store._groups["g1"].topics.values() if t.status is TopicStatus.ARCHIVED]
    assert archived  # the old topics are kept, archived


async def test_a_group_without_history_finishes_at_once_and_changes_nothing() -> None:
    world = World()
    outcome = await rebuilder(world).step("g1", None, KEY)
    assert outcome.done and (await world.store.get_topic_memory("g1")).version == 0


async def test_a_live_update_between_the_last_history_read_and_the_swap_is_not_lost() -> None:
    world = await lived_in_world(20)
    rebuild = rebuilder(world)
    state: dict[str, Any] | None = None
    for _ in range(2):
        state = (await rebuild.step("g1", state, KEY)).state
    history = rebuild._history
    real = history.integrated_after
    raced = False

    async def live_update_after_reading(*args: Any) -> Any:
        nonlocal raced
        rows = await real(*args)
        if not rows and not raced:
            raced = True
            await world.record(chat(20, 10))
            await world.drain()  # commits right after the replay looked complete
        return rows

    history.integrated_after = live_update_after_reading  # type: ignore[method-assign]
    outcome = await rebuild.step("g1", state, KEY)
    assert not outcome.done
    history.integrated_after = real  # type: ignore[method-assign]
    await run(rebuild, outcome.state)
    memory = await world.store.get_topic_memory("g1")
    assert sorted(m for t in memory.topics for m in t.message_ids) == [f"m{i:03d}" for i in range(30)]


class ArchivingModel:
    """Opens a new topic for every batch and archives the oldest beyond two (a topic cap of 2)."""

    name = "archiving"

    async def rewrite_topics(self, model_input: Any) -> Any:
        from memory_domain.model import ModelUsage, TopicDraft, TopicRewrite

        kept = [TopicDraft(t.topic_id, t.title, t.summary) for t in model_input.topics[-1:]]
        ids = tuple(m.message_id for m in model_input.new_messages)
        return TopicRewrite((*kept, TopicDraft(None, f"batch {ids[0]}", "s", ids)), ModelUsage("archiving"))


async def test_topics_archived_during_the_replay_keep_their_messages() -> None:
    world = await lived_in_world(40)
    await run(rebuilder(world, model=ArchivingModel()))
    rows = world.store._groups["g1"].topics.values()
    rebuilt = [t for t in rows if t.title.startswith("batch ")]
    assert sorted(m for t in rebuilt for m in t.message_ids) == [f"m{i:03d}" for i in range(40)]
    assert sum(t.status is TopicStatus.ACTIVE for t in rebuilt) == 2


async def test_a_swap_is_not_repeated_when_its_step_runs_again() -> None:
    world = await lived_in_world(20)
    rebuild = rebuilder(world)
    state: dict[str, Any] | None = None
    for _ in range(2):
        state = (await rebuild.step("g1", state, KEY)).state
    swapped = await rebuild.step("g1", state, KEY)
    assert swapped.done
    version = (await world.store.get_topic_memory("g1")).version
    again = await rebuild.step("g1", state, KEY)  # the worker died before the task was settled
    assert again.done and (await world.store.get_topic_memory("g1")).version == version


async def test_the_checkpoint_stays_small_however_long_the_history() -> None:
    world = await lived_in_world(100)
    rebuild = rebuilder(world, batch=10)
    state: dict[str, Any] | None = None
    sizes = []
    for _ in range(10):
        state = (await rebuild.step("g1", state, KEY)).state
        sizes.append(len(json.dumps(state)))
    assert max(sizes) < 12_000, sizes  # bounded by topics x RECENT_IDS, not by the history


async def test_topics_archived_during_the_replay_do_not_grow_the_checkpoint() -> None:
    world = await lived_in_world(200)
    rebuild = rebuilder(world, batch=10, model=ArchivingModel())
    state: dict[str, Any] | None = None
    sizes = []
    for _ in range(20):
        state = (await rebuild.step("g1", state, KEY)).state
        sizes.append(len(json.dumps(state)))
    assert state is not None and state["archived_count"] == 18  # one archived by each step after the 2nd
    assert sizes[-1] <= sizes[2] + 20, sizes  # a few digits of counters, not a topic per step


async def test_a_step_run_again_after_a_crash_leaves_no_topic_of_its_first_run() -> None:
    world = await lived_in_world(40)
    rebuild = rebuilder(world, model=ArchivingModel())
    state: dict[str, Any] | None = None
    for _ in range(3):
        state = (await rebuild.step("g1", state, KEY)).state
    await rebuild.step("g1", state, KEY)  # archives a topic, then the worker dies unsettled
    await run(rebuild, state)  # resumed from the last checkpoint: the same step runs again
    rebuilt = [t for t in world.store._groups["g1"].topics.values() if t.title.startswith("batch ")]
    assert len(rebuilt) == 4 and all(t.message_ids for t in rebuilt)
    assert sorted(m for t in rebuilt for m in t.message_ids) == [f"m{i:03d}" for i in range(40)]


async def test_the_history_is_counted_once_per_rebuild_not_per_step() -> None:
    world = await lived_in_world(50)
    rebuild = rebuilder(world)
    history = rebuild._history
    counted = 0
    real = history.count_integrated

    async def counting(group_id: str) -> int:
        nonlocal counted
        counted += 1
        return await real(group_id)

    history.count_integrated = counting  # type: ignore[method-assign]
    _, steps = await run(rebuild)
    assert steps == 6 and counted == 1


async def test_a_checkpoint_that_carried_its_archived_topics_still_finishes_whole() -> None:
    from memory_domain.topic_rebuild import _topic_to_json

    world = await lived_in_world(40)
    rebuild = rebuilder(world, model=ArchivingModel())
    state: dict[str, Any] | None = None
    for _ in range(3):
        state = (await rebuild.step("g1", state, KEY)).state
    assert state is not None
    staging = STAGING[id(world)]
    archived = await staging.archived("g1", KEY)
    assert archived
    # The checkpoint as the previous release wrote it: archived topics in it, none staged.
    legacy = {k: v for k, v in state.items() if k not in ("archived_count", "total")}
    legacy["archived"] = [_topic_to_json(topic) for topic in archived]
    staging._archived.clear()
    await run(rebuild, json.loads(json.dumps(legacy)))
    rebuilt = [t for t in world.store._groups["g1"].topics.values() if t.title.startswith("batch ")]
    assert len(rebuilt) == 4
    assert sorted(m for t in rebuilt for m in t.message_ids) == [f"m{i:03d}" for i in range(40)]


async def test_a_rebuild_files_every_message_in_its_new_topic_and_counts_them_all() -> None:
    world = await lived_in_world(150)  # topics longer than the ids a topic row keeps
    await run(rebuilder(world, batch=40), limit=10)
    after = await world.store.get_topic_memory("g1")
    assert sum(t.message_count for t in after.topics) == 150
    assert all(len(t.message_ids) <= RECENT_TOPIC_MESSAGE_IDS for t in after.topics)
    assert any(t.message_count > RECENT_TOPIC_MESSAGE_IDS for t in after.topics)
    filed = (await world.store.read_update_input("g1", limit=1, context_limit=200)).context_topics
    assert set(filed) == {f"m{i:03d}" for i in range(150)}
    assert set(filed.values()) <= {t.topic_id for t in after.topics}
    for topic in after.topics:
        assert sum(1 for t in filed.values() if t == topic.topic_id) == topic.message_count
