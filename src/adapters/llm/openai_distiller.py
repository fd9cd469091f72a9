"""The memory distiller served by any OpenAI-compatible chat-completions API."""

from __future__ import annotations

from adapters.llm.distill_budget import DEFAULT_MAX_PROMPT_CHARS
from adapters.llm.distill_prompt import (
    DEFAULT_MAX_CHARS_PER_MESSAGE,
    build_prompt,
    parse_answer,
    to_distillation,
)
from adapters.llm.openai_chat import OpenAIChat
from memory_domain.evolution_rules import validate_distillation
from memory_domain.group_model import Distillation, DistillInput
from memory_domain.model import ModelUsage


class OpenAIMemoryDistiller:
    """:class:`memory_domain.group_ports.MemoryDistiller` on an OpenAI-compatible server.

    The same transport as the topic model (:class:`~adapters.llm.openai_chat.OpenAIChat`):
    per-request timeouts, retries with jittered backoff on timeouts, 408/409/429/5xx and
    unusable answers, immediate failure on other HTTP errors, the key never shown. The prompt
    stays within ``max_prompt_chars`` characters, so no group's data outgrows a model's context.
    An answer that breaks the evolution rules raises :class:`InvalidDistillation` after the last
    attempt.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout_seconds: float = 60,
        max_attempts: int = 3,
        *,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        temperature: float | None = None,
        json_mode: bool = True,
        max_chars_per_message: int = DEFAULT_MAX_CHARS_PER_MESSAGE,
        max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS,
    ) -> None:
        self._chat = OpenAIChat(
            base_url,
            api_key,
            model,
            timeout_seconds,
            max_attempts,
            backoff_base_seconds=backoff_base_seconds,
            backoff_max_seconds=backoff_max_seconds,
            temperature=temperature,
            json_mode=json_mode,
            owner="OpenAIMemoryDistiller",
            extra_problems=[
                *(["max_chars_per_message must be at least 1"] if max_chars_per_message < 1 else []),
                *(["max_prompt_chars must be at least 10000"] if max_prompt_chars < 10_000 else []),
            ],
        )
        self._max_chars = max_chars_per_message
        self._max_prompt_chars = max_prompt_chars

    @property
    def name(self) -> str:
        return self._chat.model

    def __repr__(self) -> str:
        return self._chat.describe("OpenAIMemoryDistiller")

    async def aclose(self) -> None:
        """Close the HTTP connections; the distiller is unusable afterwards."""
        await self._chat.aclose()

    async def distil(self, distil_input: DistillInput) -> Distillation:
        prompt = build_prompt(distil_input, self._max_chars, self._max_prompt_chars)

        def read(content: str, usage: ModelUsage) -> Distillation:
            answer = to_distillation(parse_answer(content), distil_input, usage)
            validate_distillation(distil_input, answer)
            return answer

        label = f"memory distiller {self._chat.model}, group {distil_input.group_id}"
        return await self._chat.ask(prompt.system, prompt.user, read, label)
