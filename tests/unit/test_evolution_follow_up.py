"""The evolution job enqueues a follow-up when changed topics remain beyond the topic limit."""

from __future__ import annotations

from typing import Any

from entrypoints.group_memory_jobs import (
    CONSENSUS_KEY,
    EVOLVER_KEY,
    evolution_follow_up,
    task_evolve_memory,
)
from memory_domain.group_memory import EvolverOptions, MemoryEvolver
from memory_domain.model import Topic, TopicRevision
from tests.support.group_world import GroupWorld
from tests.support.world import messages


async def test_an_evolution_that_left_topics_enqueues_the_next_one_after_the_job_ends() -> None:
    world = GroupWorld()
    await world.world.record(messages(1))
    at = world.clock.now()
    topics = [Topic(f"t{n}", f"topic {n}", "summary", ("m0000",), at, at) for n in range(3)]
    revision = TopicRevision("g1", 1, at, ("m0000",), "test", 0, 0, 0)
    await world.world.store.commit_topic_update("g1", 0, topics, revision)
    evolver = MemoryEvolver(
        world.store, world.leases, world.distiller, world.clock, world.ids, EvolverOptions(topic_limit=2)
    )
    jobs = 0
    while True:
        ctx: dict[str, Any] = {EVOLVER_KEY: evolver, CONSENSUS_KEY: world.consensus}
        result = await task_evolve_memory(ctx, "g1")
        await evolution_follow_up(ctx)
        jobs += 1
        if world.evolutions.take() is None:
            break
        world.evolutions.done("g1")
    assert (jobs, result["more"]) == (2, False)
    assert (await world.store.get_group_memory("g1")).topic_version == 1
