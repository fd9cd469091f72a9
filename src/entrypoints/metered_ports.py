"""Ports wrapped by the container to count what passes through them.

The domain services stay free of metrics: the models they are given count their own calls,
latency and tokens, and the recorder counts what it stored. Each wrapper is the port it wraps
(same protocol, same name), so nothing else changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from entrypoints.metrics import (
    CANCELLED,
    ERROR,
    MESSAGES_DUPLICATE,
    MESSAGES_RECORDED,
    MODEL_CALLS,
    MODEL_DURATION,
    MODEL_TOKENS,
    OK,
)
from memory_domain.embedding import Embedder, Vector
from memory_domain.errors import InvalidMessage
from memory_domain.group_model import Distillation, DistillInput
from memory_domain.group_ports import MemoryDistiller
from memory_domain.model import (
    MAX_CONTENT_LENGTH,
    ChatMessage,
    ModelUsage,
    RecordResult,
    TopicModelInput,
    TopicRewrite,
)
from memory_domain.ports import TopicModel
from memory_domain.recording import MessageRecorder

T = TypeVar("T")


async def _observed(kind: str, call: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    outcome = ERROR
    try:
        result = await call()
        outcome = OK
        return result
    except asyncio.CancelledError:
        outcome = CANCELLED
        raise
    finally:
        MODEL_CALLS.labels(kind, outcome).inc()
        MODEL_DURATION.labels(kind, outcome).observe(time.perf_counter() - started)


def _count_tokens(kind: str, usage: ModelUsage) -> None:
    if usage.prompt_tokens:
        MODEL_TOKENS.labels(kind, "prompt").inc(usage.prompt_tokens)
    if usage.completion_tokens:
        MODEL_TOKENS.labels(kind, "completion").inc(usage.completion_tokens)


class MeteredTopicModel:
    """A :class:`TopicModel` whose calls are counted (kind ``topics``)."""

    KIND = "topics"

    def __init__(self, model: TopicModel) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return self._model.name

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        rewrite = await _observed(self.KIND, lambda: self._model.rewrite_topics(model_input))
        _count_tokens(self.KIND, rewrite.usage)
        return rewrite


class MeteredDistiller:
    """A :class:`MemoryDistiller` whose calls are counted (kind ``distil``)."""

    KIND = "distil"

    def __init__(self, distiller: MemoryDistiller) -> None:
        self._distiller = distiller

    @property
    def name(self) -> str:
        return self._distiller.name

    async def distil(self, distil_input: DistillInput) -> Distillation:
        distillation = await _observed(self.KIND, lambda: self._distiller.distil(distil_input))
        _count_tokens(self.KIND, distillation.usage)
        return distillation


class MeteredEmbedder:
    """An :class:`Embedder` whose requests are counted (kind ``embed``; no tokens reported)."""

    KIND = "embed"

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    @property
    def name(self) -> str:
        return self._embedder.name

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []  # no request is made: nothing to count
        return await _observed(self.KIND, lambda: self._embedder.embed(texts))


class CountingRecorder(MessageRecorder):
    """The :class:`MessageRecorder`, counting the messages it stored and the repeats it did not.

    It also refuses a batch holding a message longer than ``max_content_chars``
    (MESSAGE_MAX_CHARS), naming the message, before anything is stored.
    """

    def __init__(self, *ports: Any, max_content_chars: int = MAX_CONTENT_LENGTH) -> None:
        super().__init__(*ports)
        self.max_content_chars = max_content_chars

    async def record_many(self, messages: Iterable[ChatMessage]) -> RecordResult:
        batch = list(messages)
        for message in batch:
            if isinstance(message, ChatMessage) and len(message.content) > self.max_content_chars:
                raise InvalidMessage(
                    f"message {message.message_id!r}: content is {len(message.content)} characters, "
                    f"more than MESSAGE_MAX_CHARS ({self.max_content_chars})"
                )
        result = await super().record_many(batch)
        if result.recorded:
            MESSAGES_RECORDED.inc(result.recorded)
        if result.duplicates:
            MESSAGES_DUPLICATE.inc(result.duplicates)
        return result
