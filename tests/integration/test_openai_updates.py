"""Topic updates through the OpenAI-compatible adapter: what each failure of the model does to memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.llm.openai_model import OpenAITopicModel
from memory_domain.errors import ModelError
from memory_domain.model import UpdateStatus
from memory_domain.topic_memory import UpdaterOptions
from tests.support.openai_server import OpenAICompatibleServer, ScriptedResponse, running_openai_server
from tests.support.world import World, messages

pytestmark = pytest.mark.integration

ATTEMPTS = 2


@pytest.fixture
def server() -> Iterator[OpenAICompatibleServer]:
    with running_openai_server() as running:
        yield running


def world_on(server: OpenAICompatibleServer) -> World:
    model = OpenAITopicModel(
        base_url=server.base_url,
        api_key="sk-test-secret",
        model="test-model",
        timeout_seconds=0.3,
        max_attempts=ATTEMPTS,
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.02,
    )
    world = World(model=model, options=UpdaterOptions(lease_seconds=5, model_attempts=1))
    world.rewire()
    return world


def good_answer(ids: list[str]) -> ScriptedResponse:
    return ScriptedResponse.json_answer(
        {
            "topics": [
                {
                    "topic_id": None,
                    "title": "Database migration",
                    "summary": "The migration plan is discussed.",
                    "message_ids": ids,
                }
            ]
        },
        prompt_tokens=321,
        completion_tokens=45,
    )


async def test_a_good_answer_is_committed_with_its_token_usage(server: OpenAICompatibleServer) -> None:
    world = world_on(server)
    batch = messages(10)
    await world.record(batch)
    server.enqueue(good_answer([m.message_id for m in batch]))
    outcome = await world.updater.update("g1")
    assert outcome.status is UpdateStatus.UPDATED
    [topic] = (await world.store.get_topic_memory("g1")).topics
    assert topic.title == "Database migration" and len(topic.message_ids) == 10
    [revision] = await world.store.list_revisions("g1", 5)
    assert (revision.model, revision.prompt_tokens, revision.completion_tokens) == ("test-model", 321, 45)


FAILURES = {
    "timeout": lambda: ScriptedResponse.slow(5),
    "http 500": lambda: ScriptedResponse.error(500, "upstream exploded"),
    "malformed json": lambda: ScriptedResponse.completion("{'topics': [oops"),
    "schema violation": lambda: ScriptedResponse.json_answer({"topics": [{"title": "", "summary": 3}]}),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_a_failing_model_leaves_memory_untouched_and_the_messages_pending(
    server: OpenAICompatibleServer, failure: str
) -> None:
    world = world_on(server)
    batch = messages(10)
    await world.record(batch)
    server.enqueue(good_answer([m.message_id for m in batch[:10]]))
    assert (await world.updater.update("g1")).status is UpdateStatus.UPDATED
    before = await world.store.get_topic_memory("g1")
    await world.record(messages(10, start=10))
    server.enqueue(*(FAILURES[failure]() for _ in range(ATTEMPTS)))
    with pytest.raises(ModelError) as raised:
        await world.updater.update("g1")
    assert "sk-test-secret" not in str(raised.value) + repr(raised.value)
    assert await world.store.get_topic_memory("g1") == before
    assert (await world.store.pending_state("g1")).count == 10
    failure_row = await world.store.last_failure("g1")
    assert failure_row is not None and len(failure_row.message_ids) == 10
    assert len(server.requests) == 1 + ATTEMPTS
