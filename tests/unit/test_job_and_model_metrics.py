"""What the metrics count: every arq job and cron run by outcome, model calls with their tokens,
and the messages a recorder stored. Values are read from prometheus-client's registry as deltas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq import cron, func
from arq.worker import Worker
from prometheus_client import REGISTRY

from adapters.redis.connection import open_embedded_pool
from adapters.redis.serialization import deserialize, serialize
from entrypoints.metered_jobs import metered_crons, metered_functions
from entrypoints.metered_ports import CountingRecorder, MeteredTopicModel
from memory_domain.errors import ModelError
from memory_domain.model import ModelUsage, TopicDraft, TopicModelInput, TopicRewrite
from tests.support.world import World, message, messages

QUEUE = "test:job-metrics"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def metered_ok(ctx: dict[str, Any]) -> str:
    return "done"


async def metered_broken(ctx: dict[str, Any]) -> None:
    raise RuntimeError("the model answered garbage")


async def metered_slow(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(5)


async def test_every_job_is_counted_by_function_and_outcome_and_timed() -> None:
    before = {
        (name, outcome): sample("ai_worker_jobs_total", function=name, outcome=outcome)
        for name in ("metered_ok", "metered_broken", "metered_slow")
        for outcome in ("ok", "error", "timeout")
    }
    timed_before = sample("ai_worker_job_duration_seconds_count", function="metered_ok")
    functions = metered_functions(
        [
            func(metered_ok, name="metered_ok"),
            func(metered_broken, name="metered_broken", max_tries=1),
            func(metered_slow, name="metered_slow", timeout=0.2, max_tries=1),
        ]
    )
    pool = open_embedded_pool()
    try:
        for name in ("metered_ok", "metered_ok", "metered_broken", "metered_slow"):
            await pool.enqueue_job(name, _queue_name=QUEUE)
        worker = Worker(
            functions=functions,
            redis_pool=pool,
            queue_name=QUEUE,
            burst=True,
            poll_delay=0.01,
            handle_signals=False,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
    finally:
        await pool.aclose()

    def delta(name: str, outcome: str) -> float:
        return sample("ai_worker_jobs_total", function=name, outcome=outcome) - before[name, outcome]

    assert delta("metered_ok", "ok") == 2
    assert delta("metered_broken", "error") == 1 and delta("metered_broken", "ok") == 0
    # Cancelled by arq at its timeout: a timeout, not an error.
    assert delta("metered_slow", "timeout") == 1 and delta("metered_slow", "error") == 0
    assert sample("ai_worker_job_duration_seconds_count", function="metered_ok") - timed_before == 2
    assert sample("ai_worker_jobs_in_progress", function="metered_ok") == 0


async def test_wrapped_jobs_keep_their_names_and_options() -> None:
    [wrapped] = metered_functions([func(metered_slow, name="metered_slow", timeout=7, max_tries=3)])
    [wrapped_cron] = metered_crons(
        [cron(metered_ok, name="metered_cron", second={5, 35}, run_at_startup=True)]
    )

    assert (wrapped.name, wrapped.timeout_s, wrapped.max_tries) == ("metered_slow", 7, 3)
    assert wrapped.coroutine is not metered_slow and wrapped.coroutine.__wrapped__ is metered_slow
    assert (wrapped_cron.name, wrapped_cron.second, wrapped_cron.run_at_startup) == (
        "metered_cron",
        {5, 35},
        True,
    )
    # Every series of a wrapped job exists from the start, at zero.
    assert (
        REGISTRY.get_sample_value(
            "ai_worker_jobs_total", {"function": "metered_slow", "outcome": "cancelled"}
        )
        == 0
    )


async def test_cron_runs_are_counted_and_a_success_is_stamped() -> None:
    [ok_cron, broken_cron] = metered_crons(
        [
            cron(metered_ok, name="metered_ok_cron", second=0),
            cron(metered_broken, name="metered_broken_cron", second=0),
        ]
    )
    ok_before = sample("ai_worker_cron_runs_total", cron="metered_ok_cron", outcome="ok")
    broken_before = sample("ai_worker_cron_runs_total", cron="metered_broken_cron", outcome="error")

    assert await ok_cron.coroutine({}) == "done"
    with pytest.raises(RuntimeError):
        await broken_cron.coroutine({})

    assert sample("ai_worker_cron_runs_total", cron="metered_ok_cron", outcome="ok") == ok_before + 1
    assert (
        sample("ai_worker_cron_runs_total", cron="metered_broken_cron", outcome="error") == broken_before + 1
    )
    assert sample("ai_worker_cron_last_success_timestamp_seconds", cron="metered_ok_cron") > 0
    assert (
        REGISTRY.get_sample_value(
            "ai_worker_cron_last_success_timestamp_seconds", {"cron": "metered_broken_cron"}
        )
        is None
    )


class ScriptedModel:
    name = "scripted"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        if self.fail:
            raise ModelError("the server answered 503")
        draft = TopicDraft(topic_id=None, title="t", summary="s", new_message_ids=("m1",))
        return TopicRewrite(
            topics=(draft,), usage=ModelUsage("scripted", prompt_tokens=120, completion_tokens=30)
        )


MODEL_INPUT = TopicModelInput(group_id="g1", topics=(), new_messages=(message("m1"),))


async def test_model_calls_are_counted_with_their_latency_and_tokens() -> None:
    calls = sample("ai_worker_model_calls_total", kind="topics", outcome="ok")
    timed = sample("ai_worker_model_call_duration_seconds_count", kind="topics", outcome="ok")
    prompt = sample("ai_worker_model_tokens_total", kind="topics", type="prompt")
    completion = sample("ai_worker_model_tokens_total", kind="topics", type="completion")
    model = MeteredTopicModel(ScriptedModel())

    rewrite = await model.rewrite_topics(MODEL_INPUT)

    assert model.name == "scripted" and rewrite.usage.prompt_tokens == 120
    assert sample("ai_worker_model_calls_total", kind="topics", outcome="ok") == calls + 1
    assert sample("ai_worker_model_call_duration_seconds_count", kind="topics", outcome="ok") == timed + 1
    assert sample("ai_worker_model_tokens_total", kind="topics", type="prompt") == prompt + 120
    assert sample("ai_worker_model_tokens_total", kind="topics", type="completion") == completion + 30


async def test_a_failed_model_call_is_counted_as_an_error_and_still_raised() -> None:
    errors = sample("ai_worker_model_calls_total", kind="topics", outcome="error")

    with pytest.raises(ModelError, match="503"):
        await MeteredTopicModel(ScriptedModel(fail=True)).rewrite_topics(MODEL_INPUT)

    assert sample("ai_worker_model_calls_total", kind="topics", outcome="error") == errors + 1


async def test_the_recorder_counts_the_messages_it_stored_and_the_repeats_apart() -> None:
    world = World()
    recorder = CountingRecorder(world.store, world.pending, world.policy, world.clock)
    recorded = sample("ai_worker_messages_recorded_total")
    duplicate = sample("ai_worker_messages_duplicate_total")

    await recorder.record_many(messages(4))
    await recorder.record(message("m0000"))

    assert sample("ai_worker_messages_recorded_total") == recorded + 4
    assert sample("ai_worker_messages_duplicate_total") == duplicate + 1
