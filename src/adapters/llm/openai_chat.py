"""One JSON question to an OpenAI-compatible chat-completions server, with timeouts and retries.

Shared by the topic model and the memory distiller: each gives the prompt and a ``read``
function that turns the answer text into its result (raising :class:`ModelError` when the
answer is unusable); this class owns the client, the attempts, the backoff and the redaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from adapters.llm.openai_transport import RetryableError, backoff, public_url, redact, server_errors
from memory_domain.errors import ModelError
from memory_domain.model import ModelUsage

logger = logging.getLogger(__name__)

T = TypeVar("T")


class OpenAIChat:
    """The client and retry policy of one model on an OpenAI-compatible server.

    Each attempt is one request bounded by ``timeout_seconds``. Timeouts, connection errors,
    HTTP 408/409/429/5xx and answers that ``read`` refuses are retried, up to ``max_attempts``
    requests in all, with jittered exponential backoff from ``backoff_base_seconds`` (a
    ``Retry-After`` header lengthens the wait, up to ``backoff_max_seconds``). Other HTTP
    errors (a wrong key, an unknown model) fail at once. Every failure is a :class:`ModelError`
    of the type ``read`` raised, or a plain one. The API key lives in the SDK client only; no
    repr, log line or error formats it, and server text that quotes it is redacted.
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
        owner: str = "OpenAIChat",
        extra_problems: Sequence[str] = (),
    ) -> None:
        problems = [
            problem
            for failed, problem in (
                (not base_url.strip(), "base_url is empty"),
                (not api_key, "api_key is empty (servers without authentication accept any value)"),
                (not model.strip(), "model is empty"),
                (timeout_seconds <= 0, "timeout_seconds must be positive"),
                (max_attempts < 1, "max_attempts must be at least 1"),
                (backoff_base_seconds < 0, "backoff_base_seconds must not be negative"),
                (backoff_max_seconds < backoff_base_seconds, "backoff_max_seconds is below the base"),
            )
            if failed
        ]
        problems += extra_problems
        if problems:
            raise ValueError(f"invalid {owner} settings: " + "; ".join(problems))
        self.model = model
        self.base_url = base_url
        self.timeout = float(timeout_seconds)
        self.max_attempts = max_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._json_mode = json_mode
        # Retries are ours, so that transport failures and unusable answers share one budget.
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=self.timeout, max_retries=0
        )

    def describe(self, owner: str) -> str:
        return (
            f"{owner}(model={self.model!r}, base_url={public_url(self.base_url)!r}, "
            f"timeout_seconds={self.timeout}, max_attempts={self.max_attempts})"
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def ask(self, system: str, user: str, read: Callable[[str, ModelUsage], T], label: str) -> T:
        """Ask until ``read`` accepts an answer; ``label`` names the request in log lines.

        ``read`` gets the answer text and the tokens spent by every attempt so far.
        """
        messages: list[ChatCompletionMessageParam] = [
            ChatCompletionSystemMessageParam(role="system", content=system),
            ChatCompletionUserMessageParam(role="user", content=user),
        ]
        spent = ModelUsage(model=self.model)
        for attempt in range(1, self.max_attempts + 1):
            try:
                completion = await self._request(messages)
                spent = _add_usage(spent, completion)
                return self._read(completion, read, spent)
            except RetryableError as retryable:
                failure = retryable
            except ModelError as fatal:
                raise type(fatal)(f"model {self.model!r}: {fatal}") from None
            if attempt == self.max_attempts:
                last = failure.error
                raise type(last)(
                    f"model {self.model!r} failed after {attempt} attempts; last error: {last}"
                ) from None
            delay = self._backoff(attempt, failure.retry_after)
            logger.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s",
                label,
                attempt,
                self.max_attempts,
                failure.error,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _request(self, messages: list[ChatCompletionMessageParam]) -> ChatCompletion:
        # The SDK's timeout bounds each phase of the request; asyncio's bounds the whole of it, so
        # that a server trickling bytes cannot hold a job past its deadline.
        with server_errors("model", self.base_url, self.timeout, self._redact):
            async with asyncio.timeout(self.timeout):
                # The SDK's generic POST with a plain JSON body: the typed create() walks the
                # whole request through its parameter transforms first, a third of the
                # client's CPU per call for a body that is already plain JSON.
                return await self._client.post(
                    "/chat/completions",
                    body=self._body(messages),
                    cast_to=ChatCompletion,
                    options={"timeout": self.timeout},
                )
        raise AssertionError("unreachable: the request returns or raises")

    def _body(self, messages: list[ChatCompletionMessageParam]) -> dict[str, object]:
        body: dict[str, object] = {"model": self.model, "messages": messages}
        if self._json_mode:
            body["response_format"] = {"type": "json_object"}
        if self._temperature is not None:
            body["temperature"] = self._temperature
        if self._max_output_tokens is not None:
            body["max_tokens"] = self._max_output_tokens
        return body

    def _read(self, completion: ChatCompletion, read: Callable[[str, ModelUsage], T], usage: ModelUsage) -> T:
        try:
            choice = completion.choices[0]
            content, refusal, finish = choice.message.content, choice.message.refusal, choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            raise RetryableError(ModelError("the response holds no chat completion choice")) from None
        if refusal:
            raise RetryableError(ModelError(f"the model refused: {self._redact(refusal)}"))
        try:
            return read(content or "", usage)
        except ModelError as error:
            cut = " (the answer was cut off at the output token limit)" if finish == "length" else ""
            raise RetryableError(type(error)(f"{self._redact(str(error))}{cut}")) from None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff(attempt, retry_after, self._backoff_base, self._backoff_max)

    def _redact(self, text: str) -> str:
        return redact(text, self._client.api_key)


def _add_usage(spent: ModelUsage, completion: ChatCompletion) -> ModelUsage:
    """``spent`` plus this completion's tokens: a revision records what all its attempts cost."""
    usage = getattr(completion, "usage", None)
    served = getattr(completion, "model", None)
    return ModelUsage(
        model=served if isinstance(served, str) and served else spent.model,
        prompt_tokens=spent.prompt_tokens + _tokens(getattr(usage, "prompt_tokens", 0)),
        completion_tokens=spent.completion_tokens + _tokens(getattr(usage, "completion_tokens", 0)),
    )


def _tokens(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0
