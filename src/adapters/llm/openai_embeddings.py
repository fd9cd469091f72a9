"""The ``Embedder`` port on any OpenAI-compatible ``/v1/embeddings`` API (OpenAI, vLLM, Ollama, TEI...).

Texts go out in batches, several batches at once; each answer is checked (one vector per
text, every vector of one dimension, finite numbers) before anything uses it; vectors are kept
in a bounded LRU cache by text, so a memory context that meets the same topics, items and
messages query after query embeds each of them once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence

import openai
from openai.types import CreateEmbeddingResponse

from adapters.llm.openai_transport import RetryableError, backoff, public_url, redact, server_errors
from memory_domain.embedding import Vector
from memory_domain.errors import ModelError

logger = logging.getLogger(__name__)


class _LruCache:
    """Text -> vector, the least recently used out first; float32 arrays, a quarter of a tuple's size."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, array[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> array[float] | None:
        vector = self._entries.get(text)
        if vector is not None:
            self._entries.move_to_end(text)
        return vector

    def put(self, text: str, vector: array[float]) -> None:
        if self._capacity <= 0:
            return
        self._entries[text] = vector
        self._entries.move_to_end(text)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


class OpenAIEmbedder:
    """:class:`memory_domain.embedding.Embedder` on an OpenAI-compatible embeddings server.

    At most ``batch_size`` texts go in one request (servers cap it: TEI at 32 by default,
    OpenAI at 2048), at most ``max_concurrent_requests`` requests at once. Each request is
    bounded by ``timeout_seconds``; timeouts, connection errors, HTTP 408/409/429/5xx and
    answers that fail the checks are retried, up to ``max_attempts`` requests per batch, with
    jittered exponential backoff (a ``Retry-After`` header lengthens the wait, up to
    ``backoff_max_seconds``: the memory context is read while a reply waits). Other HTTP
    errors (a wrong key, an unknown model, a text too long) fail at once. Texts are cut to
    ``max_chars_per_text`` first, as models have an input limit. ``cache_size`` vectors are
    kept (0: none). Every failure is a :class:`ModelError`; the API key lives in the SDK
    client only, and server text that quotes it is redacted.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout_seconds: float = 10,
        max_attempts: int = 2,
        *,
        batch_size: int = 32,
        max_concurrent_requests: int = 4,
        cache_size: int = 2048,
        max_chars_per_text: int = 2000,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 5.0,
    ) -> None:
        problems = [
            problem
            for failed, problem in (
                (not base_url.strip(), "base_url is empty"),
                (not api_key, "api_key is empty (servers without authentication accept any value)"),
                (not model.strip(), "model is empty"),
                (timeout_seconds <= 0, "timeout_seconds must be positive"),
                (max_attempts < 1, "max_attempts must be at least 1"),
                (batch_size < 1, "batch_size must be at least 1"),
                (max_concurrent_requests < 1, "max_concurrent_requests must be at least 1"),
                (cache_size < 0, "cache_size must not be negative"),
                (max_chars_per_text < 1, "max_chars_per_text must be at least 1"),
                (backoff_base_seconds < 0, "backoff_base_seconds must not be negative"),
                (backoff_max_seconds < backoff_base_seconds, "backoff_max_seconds is below the base"),
            )
            if failed
        ]
        if problems:
            raise ValueError("invalid OpenAIEmbedder settings: " + "; ".join(problems))
        self._model = model
        self._base_url = base_url
        self._timeout = float(timeout_seconds)
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(max_concurrent_requests)
        self._cache = _LruCache(cache_size)
        self._max_chars = max_chars_per_text
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        # Fixed by the first good answer: a later answer of another dimension (the model behind
        # the name was swapped) would make cached and fresh vectors incomparable.
        self._dimension: int | None = None
        # Retries are ours, so that transport failures and unusable answers share one budget.
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=self._timeout, max_retries=0
        )

    @property
    def name(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return (
            f"OpenAIEmbedder(model={self._model!r}, base_url={public_url(self._base_url)!r}, "
            f"timeout_seconds={self._timeout}, max_attempts={self._max_attempts}, "
            f"batch_size={self._batch_size}, cached={len(self._cache)})"
        )

    async def aclose(self) -> None:
        """Close the HTTP connections; the embedder is unusable afterwards."""
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        if any(not text.strip() for text in texts):
            raise ValueError("cannot embed a blank text")
        cut = [text[: self._max_chars] for text in texts]
        # Kept apart from the cache, which may evict some of them before this call is over.
        found: dict[str, array[float]] = {}
        for text in cut:
            cached = self._cache.get(text)
            if cached is not None:
                found[text] = cached
        missing = list(dict.fromkeys(text for text in cut if text not in found))
        batches = [
            missing[start : start + self._batch_size] for start in range(0, len(missing), self._batch_size)
        ]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._embed_batch(batch)) for batch in batches]
        except* ModelError as failed:
            # One failed batch fails the call (the others are cancelled); report the first.
            raise failed.exceptions[0] from None
        for batch, task in zip(batches, tasks, strict=True):
            for text, vector in zip(batch, task.result(), strict=True):
                found[text] = vector
                self._cache.put(text, vector)
        return [tuple(found[text]) for text in cut]

    async def _embed_batch(self, batch: list[str]) -> list[array[float]]:
        async with self._slots:
            for attempt in range(1, self._max_attempts + 1):
                try:
                    return self._read(await self._request(batch), len(batch))
                except RetryableError as retryable:
                    failure = retryable
                except ModelError as fatal:
                    raise ModelError(f"embeddings model {self._model!r}: {fatal}") from None
                if attempt == self._max_attempts:
                    raise ModelError(
                        f"embeddings model {self._model!r} failed after {attempt} attempts; "
                        f"last error: {failure.error}"
                    ) from None
                delay = self._backoff(attempt, failure.retry_after)
                logger.warning(
                    "embeddings model %s, %d texts: attempt %d of %d failed (%s); retrying in %.2f s",
                    self._model,
                    len(batch),
                    attempt,
                    self._max_attempts,
                    failure.error,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _request(self, batch: list[str]) -> CreateEmbeddingResponse:
        # The SDK's timeout bounds each phase of the request; asyncio's bounds the whole of it.
        with server_errors("embeddings", self._base_url, self._timeout, self._redact):
            async with asyncio.timeout(self._timeout):
                return await self._client.embeddings.create(
                    model=self._model,
                    input=batch,
                    # Not the SDK's default (base64): many compatible servers only speak floats.
                    encoding_format="float",
                    timeout=self._timeout,
                )
        raise AssertionError("unreachable: the request returns or raises")

    def _read(self, response: object, count: int) -> list[array[float]]:
        try:
            vectors = _vectors_in_order(getattr(response, "data", None), count)
        except ValueError as error:
            raise RetryableError(
                ModelError(f"unusable embeddings answer: {self._redact(str(error))}")
            ) from None
        dimension = self._dimension or len(vectors[0])
        for position, vector in enumerate(vectors):
            if len(vector) != dimension:
                raise RetryableError(
                    ModelError(
                        f"unusable embeddings answer: vector {position} has {len(vector)} dimensions, "
                        f"expected {dimension}"
                    )
                )
        self._dimension = dimension
        return vectors

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff(attempt, retry_after, self._backoff_base, self._backoff_max)

    def _redact(self, text: str) -> str:
        return redact(text, self._client.api_key)


def _vectors_in_order(data: object, count: int) -> list[array[float]]:
    """The answer's vectors in the order of the texts; ValueError says what is wrong with them."""
    if not isinstance(data, list):
        raise ValueError("the answer holds no list of embeddings")
    if len(data) != count:
        raise ValueError(f"{len(data)} embeddings for {count} texts")
    indices = [getattr(item, "index", None) for item in data]
    if all(index is None for index in indices):
        # A server that numbers nothing answers in the order of the texts.
        return [_vector(getattr(item, "embedding", None), position) for position, item in enumerate(data)]
    numbered = {
        index: item
        for index, item in zip(indices, data, strict=True)
        if isinstance(index, int) and not isinstance(index, bool)
    }
    if sorted(numbered) != list(range(count)):
        raise ValueError(f"the embeddings are not numbered 0 to {count - 1}")
    return [_vector(getattr(numbered[position], "embedding", None), position) for position in range(count)]


def _vector(raw: object, position: int) -> array[float]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"embedding {position} is not a non-empty list of numbers")
    if any(isinstance(value, bool) or not isinstance(value, int | float) for value in raw):
        raise ValueError(f"embedding {position} holds something other than numbers")
    try:
        # float32: what the models compute, and what the cache keeps, so that a cached vector
        # and a fresh one are the same numbers.
        vector = array("f", raw)
    except OverflowError:
        raise ValueError(f"embedding {position} holds numbers out of range") from None
    if not all(math.isfinite(value) for value in vector):
        raise ValueError(f"embedding {position} holds numbers that are not finite float32 values")
    return vector
