"""The OpenAI-compatible embedder against a local test server, including its failure modes."""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from adapters.llm.openai_embeddings import OpenAIEmbedder
from entrypoints.embedding_wiring import open_embedder
from entrypoints.settings import Settings
from memory_domain.embedding import Embedder
from memory_domain.errors import ModelError
from tests.contracts.embedder_contract import EmbedderContract
from tests.support.openai_server import (
    OpenAICompatibleServer,
    ScriptedResponse,
    embedding_vector,
    running_openai_server,
)

API_KEY = "sk-test-9b7e21aa-never-show-me"
MODEL = "test-embedder"
TEXTS = ["The release moves to Friday.", "周末一起去爬山吧?", "OK, I will update the changelog."]


@pytest.fixture
def server() -> Iterator[OpenAICompatibleServer]:
    with running_openai_server() as running:
        yield running


def new_embedder(server: OpenAICompatibleServer, **options: Any) -> OpenAIEmbedder:
    settings: dict[str, Any] = {
        "timeout_seconds": 0.3,
        "max_attempts": 3,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    }
    return OpenAIEmbedder(server.base_url, API_KEY, MODEL, **(settings | options))


@pytest.fixture
async def embedder(server: OpenAICompatibleServer) -> AsyncIterator[OpenAIEmbedder]:
    adapter = new_embedder(server)
    yield adapter
    await adapter.aclose()


class TestOpenAIEmbedder(EmbedderContract):
    """The port's contract, served by the test server's default (hashed) vectors."""


def inputs(server: OpenAICompatibleServer) -> list[list[str]]:
    return [request.body["input"] for request in server.requests]


async def test_the_vectors_are_the_servers_in_the_order_of_the_texts(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    vectors = await embedder.embed(TEXTS)

    assert vectors == [tuple(embedding_vector(text)) for text in TEXTS]
    assert embedder.name == MODEL


async def test_the_request_names_the_model_the_key_and_asks_for_floats(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    await embedder.embed(TEXTS)

    [request] = server.requests
    assert request.path == "/v1/embeddings"
    assert request.body == {"model": MODEL, "input": TEXTS, "encoding_format": "float"}
    assert request.header("Authorization") == f"Bearer {API_KEY}"


async def test_an_answer_numbered_out_of_order_is_put_back_in_order(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    server.enqueue_embeddings(ScriptedResponse.embeddings([[0.0, 1.0], [1.0, 0.0]], indices=[1, 0]))

    assert await embedder.embed(["first", "second"]) == [(1.0, 0.0), (0.0, 1.0)]


async def test_an_answer_without_numbers_is_taken_in_order(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    server.enqueue_embeddings(ScriptedResponse.embeddings([[0.0, 1.0], [1.0, 0.0]], indices=[None, None]))

    assert await embedder.embed(["first", "second"]) == [(0.0, 1.0), (1.0, 0.0)]


async def test_texts_go_in_batches_of_at_most_batch_size_and_repeats_go_once(
    server: OpenAICompatibleServer,
) -> None:
    texts = [f"message number {n}" for n in range(70)]
    embedder = new_embedder(server, batch_size=32, max_concurrent_requests=2)
    try:
        vectors = await embedder.embed([*texts, texts[0], texts[69]])
    finally:
        await embedder.aclose()

    assert sorted(len(batch) for batch in inputs(server)) == [6, 32, 32]
    assert sorted(text for batch in inputs(server) for text in batch) == sorted(texts)
    assert vectors == [tuple(embedding_vector(text)) for text in [*texts, texts[0], texts[69]]]


async def test_cached_texts_are_not_embedded_again(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    first = await embedder.embed(TEXTS)
    again = await embedder.embed([TEXTS[2], "a new text", TEXTS[0]])

    assert inputs(server) == [TEXTS, ["a new text"]]
    assert again == [first[2], tuple(embedding_vector("a new text")), first[0]]
    assert "cached=4" in repr(embedder)


async def test_the_cache_keeps_the_most_recently_used_texts_up_to_its_size(
    server: OpenAICompatibleServer,
) -> None:
    embedder = new_embedder(server, cache_size=2)
    try:
        await embedder.embed(["a", "b"])
        await embedder.embed(["a"])  # "a" used last: "b" goes first
        await embedder.embed(["c"])
        await embedder.embed(["a", "b"])
    finally:
        await embedder.aclose()

    assert inputs(server) == [["a", "b"], ["c"], ["b"]]


async def test_a_call_with_more_new_texts_than_the_cache_holds_still_answers_all_of_them(
    server: OpenAICompatibleServer,
) -> None:
    embedder = new_embedder(server, cache_size=1, batch_size=2)
    try:
        vectors = await embedder.embed(["a", "b", "c", "d", "e"])
    finally:
        await embedder.aclose()

    assert vectors == [tuple(embedding_vector(text)) for text in "abcde"]


async def test_long_texts_are_cut_to_the_models_input_limit(server: OpenAICompatibleServer) -> None:
    embedder = new_embedder(server, max_chars_per_text=10)
    try:
        await embedder.embed(["0123456789 and more", "short"])
    finally:
        await embedder.aclose()

    assert inputs(server) == [["0123456789", "short"]]


@pytest.mark.parametrize(
    ("response", "expected_text"),
    [
        pytest.param(ScriptedResponse.error(500), "HTTP 500", id="http-500"),
        pytest.param(ScriptedResponse.error(503), "HTTP 503", id="http-503"),
        pytest.param(ScriptedResponse.error(429), "HTTP 429", id="http-429"),
        pytest.param(ScriptedResponse(200, b'{"data": [oops'), "unreadable response", id="malformed-json"),
        pytest.param(ScriptedResponse(200, b'{"object": "list"}'), "no list of embeddings", id="no-data"),
        pytest.param(ScriptedResponse.embeddings([[1.0, 0.0]] * 2), "2 embeddings for 3 texts", id="too-few"),
        pytest.param(
            ScriptedResponse.embeddings([[1.0, 0.0]] * 4), "4 embeddings for 3 texts", id="too-many"
        ),
        pytest.param(
            ScriptedResponse.embeddings([[1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0]]),
            "vector 1 has 3 dimensions, expected 2",
            id="mixed-dimensions",
        ),
        pytest.param(
            ScriptedResponse.embeddings([[1.0, 0.0], [math.nan, 0.0], [1.0, 0.0]]),
            "embedding 1 holds numbers that are not finite",
            id="nan",
        ),
        pytest.param(
            ScriptedResponse.embeddings([[1.0, 0.0], [1e300, 0.0], [1.0, 0.0]]),
            "embedding 1 holds numbers that are not finite float32",
            id="out-of-float32-range",
        ),
        pytest.param(
            ScriptedResponse.embeddings([[1.0, 0.0], ["0.5", 0.0], [1.0, 0.0]]),
            "embedding 1 holds something other than numbers",
            id="strings",
        ),
        pytest.param(
            ScriptedResponse.embeddings(["AAAAAA==", "AAAAAA==", "AAAAAA=="]),
            "embedding 0 is not a non-empty list",
            id="base64-unasked",
        ),
        pytest.param(
            ScriptedResponse.embeddings([[], [], []]),
            "embedding 0 is not a non-empty list",
            id="empty-vectors",
        ),
        pytest.param(
            ScriptedResponse.embeddings([[1.0], [1.0], [1.0]], indices=[0, 0, 2]),
            "not numbered 0 to 2",
            id="duplicate-index",
        ),
    ],
)
async def test_a_failing_answer_is_retried_then_raises_model_error(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder, response: ScriptedResponse, expected_text: str
) -> None:
    server.enqueue_embeddings(response, response, response)

    with pytest.raises(ModelError, match=f"'{MODEL}' failed after 3 attempts.*{expected_text}"):
        await embedder.embed(TEXTS)

    assert len(server.requests) == 3


async def test_a_500_followed_by_a_good_answer_succeeds(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    server.enqueue_embeddings(ScriptedResponse.error(500))

    assert await embedder.embed(TEXTS) == [tuple(embedding_vector(text)) for text in TEXTS]
    assert len(server.requests) == 2


async def test_a_429_waits_at_least_its_retry_after(server: OpenAICompatibleServer) -> None:
    server.enqueue_embeddings(ScriptedResponse.error(429, "slow down", headers=(("Retry-After", "0.4"),)))
    embedder = new_embedder(server, backoff_max_seconds=1.0)
    try:
        started = time.monotonic()
        await embedder.embed(TEXTS)
        waited = time.monotonic() - started
    finally:
        await embedder.aclose()

    assert len(server.requests) == 2
    assert waited >= 0.4


async def test_a_timeout_raises_model_error_after_the_configured_attempts(
    server: OpenAICompatibleServer,
) -> None:
    slow = ScriptedResponse.embeddings([[1.0]] * 3, delay_seconds=2.0)
    server.enqueue_embeddings(slow, slow)
    embedder = new_embedder(server, max_attempts=2)
    try:
        started = time.monotonic()
        with pytest.raises(ModelError, match=r"after 2 attempts.*did not answer within 0.3 s"):
            await embedder.embed(TEXTS)
        assert time.monotonic() - started < 1.5
    finally:
        await embedder.aclose()
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 413])
async def test_a_refused_request_is_not_retried(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder, status: int
) -> None:
    server.enqueue_embeddings(ScriptedResponse.error(status, "no"))

    with pytest.raises(ModelError, match=f"HTTP {status}"):
        await embedder.embed(TEXTS)

    assert len(server.requests) == 1


async def test_one_failing_batch_fails_the_call_with_a_plain_model_error(
    server: OpenAICompatibleServer,
) -> None:
    server.enqueue_embeddings(ScriptedResponse.error(404, "The model does not exist"))
    embedder = new_embedder(server, batch_size=1, max_concurrent_requests=1)
    try:
        with pytest.raises(ModelError, match="HTTP 404") as raised:
            await embedder.embed(TEXTS)
    finally:
        await embedder.aclose()

    assert type(raised.value) is ModelError  # not an ExceptionGroup of the batches
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_an_answer_of_another_dimension_than_before_is_refused(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder
) -> None:
    await embedder.embed(["first"])  # 8 dimensions
    server.embedding_dimension = 4  # the model behind the name was swapped

    with pytest.raises(ModelError, match="vector 0 has 4 dimensions, expected 8"):
        await embedder.embed(["second"])


async def test_an_unreachable_server_raises_model_error_after_the_configured_attempts() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    embedder = OpenAIEmbedder(
        f"http://127.0.0.1:{closed_port}/v1", API_KEY, MODEL, timeout_seconds=0.3, backoff_base_seconds=0.01
    )
    try:
        with pytest.raises(ModelError, match=r"after 2 attempts.*could not reach the embeddings server"):
            await embedder.embed(TEXTS)
    finally:
        await embedder.aclose()


async def test_the_api_key_appears_in_no_error_repr_or_log(
    server: OpenAICompatibleServer, embedder: OpenAIEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    # Servers quote the key they refuse; the adapter must not pass it on.
    echo = f"Incorrect API key provided: {API_KEY}"
    server.enqueue_embeddings(ScriptedResponse.error(500, echo), ScriptedResponse.error(401, echo))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ModelError) as raised:
        await embedder.embed(TEXTS)

    assert len(server.requests) == 2
    assert "HTTP 401" in str(raised.value) and "[redacted]" in str(raised.value)
    for text in (str(raised.value), repr(raised.value), repr(embedder), caplog.text):
        assert API_KEY not in text


def test_invalid_options_are_refused_all_at_once_without_the_key() -> None:
    with pytest.raises(
        ValueError, match=r"model is empty.*timeout_seconds.*batch_size.*cache_size"
    ) as raised:
        OpenAIEmbedder("http://127.0.0.1:9/v1", API_KEY, " ", timeout_seconds=0, batch_size=0, cache_size=-1)
    assert API_KEY not in str(raised.value)


async def test_the_wiring_opens_the_embedder_the_settings_name_and_closes_it(
    server: OpenAICompatibleServer,
) -> None:
    settings = Settings(
        EMBEDDINGS_BASE_URL=server.base_url,
        EMBEDDINGS_MODEL=MODEL,
        EMBEDDINGS_API_KEY=API_KEY,
        EMBEDDINGS_BATCH_SIZE=2,
    )
    resource = open_embedder(settings)
    embedder: Embedder | None = await anext(resource)
    assert embedder is not None and embedder.name == MODEL
    assert await embedder.embed(TEXTS) == [tuple(embedding_vector(text)) for text in TEXTS]
    assert sorted(len(batch) for batch in inputs(server)) == [1, 2]
    assert server.requests[0].header("Authorization") == f"Bearer {API_KEY}"

    with pytest.raises(StopAsyncIteration):
        await anext(resource)
    with pytest.raises(ModelError):
        await embedder.embed(["after close"])  # its connections are closed
