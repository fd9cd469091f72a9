"""The topic model served by any OpenAI-compatible chat-completions API (OpenAI, vLLM, Ollama...)."""

from __future__ import annotations

from adapters.llm.openai_chat import OpenAIChat
from adapters.llm.prompt import DEFAULT_MAX_CHARS_PER_MESSAGE, build_prompt, parse_answer, to_rewrite
from memory_domain.model import ModelUsage, TopicModelInput, TopicRewrite
from memory_domain.rewrite_rules import validate_language, validate_rewrite


class OpenAITopicModel:
    """:class:`memory_domain.ports.TopicModel` on an OpenAI-compatible chat-completions server.

    Timeouts, retries and redaction are :class:`~adapters.llm.openai_chat.OpenAIChat`'s: each
    attempt is one request bounded by ``timeout_seconds``; timeouts, connection errors, HTTP
    408/409/429/5xx and answers that are not a valid rewrite are retried, up to
    ``max_attempts`` requests in all, with jittered exponential backoff. Other HTTP errors (a
    wrong key, an unknown model) fail at once. Every failure is a :class:`ModelError`
    (:class:`InvalidRewrite` when the answer parsed but broke the rewrite rules). The API key
    never appears in a repr, a log line or an error.

    ``temperature`` None leaves the server's default (some reasoning models refuse any other);
    ``json_mode`` False drops ``response_format`` for servers that reject it.
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
        max_output_tokens: int | None = None,
        json_mode: bool = True,
        max_chars_per_message: int = DEFAULT_MAX_CHARS_PER_MESSAGE,
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
            max_output_tokens=max_output_tokens,
            json_mode=json_mode,
            owner="OpenAITopicModel",
            extra_problems=["max_chars_per_message must be at least 1"] if max_chars_per_message < 1 else [],
        )
        self._max_chars = max_chars_per_message

    @property
    def name(self) -> str:
        return self._chat.model

    def __repr__(self) -> str:
        return self._chat.describe("OpenAITopicModel")

    async def aclose(self) -> None:
        """Close the HTTP connections; the model is unusable afterwards."""
        await self._chat.aclose()

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        prompt = build_prompt(model_input, self._max_chars)

        def read(content: str, usage: ModelUsage) -> TopicRewrite:
            rewrite = to_rewrite(parse_answer(content), model_input, usage)
            validate_rewrite(model_input, rewrite)
            # The prompt asks for the chat's language; an answer in another one is refused.
            validate_language(model_input, rewrite)
            return rewrite

        label = f"topic model {self._chat.model}, group {model_input.group_id}"
        return await self._chat.ask(prompt.system, prompt.user, read, label)
