"""What the OpenAI-compatible adapters (chat and embeddings) share about talking to a server:
which failures are worth another attempt, how long to wait, and how errors are told without
the key or the URL's credentials.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import openai

from memory_domain.errors import ModelError, ModelUnavailable

# 408 and 409 are what OpenAI's own client retries besides 429 and 5xx: transient by definition.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Refused credentials, no such model or endpoint: the server serves no request of ours, whatever
# it holds (a 400, 413 or 422 may be about the request's content, and a message may be at fault).
UNSERVED_STATUSES = frozenset({401, 403, 404})
MAX_DETAIL = 300


class RetryableError(Exception):
    """One attempt failed in a way another attempt may not: carries the error to report."""

    def __init__(self, error: ModelError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def backoff(attempt: int, retry_after: float | None, base: float, ceiling_max: float) -> float:
    """The wait before attempt ``attempt + 1``: exponential, with equal jitter, and at least
    the server's ``Retry-After`` (capped)."""
    ceiling = min(ceiling_max, base * 2.0 ** (attempt - 1))
    # Equal jitter: workers that failed together do not all come back at the same instant.
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, ceiling_max))
    return delay


def redact(text: str, secret: str | None) -> str:
    """``text`` without the key and cut short: some servers quote the key they refused."""
    return (text.replace(secret, "[redacted]") if secret else text)[:MAX_DETAIL]


def retry_after(error: openai.APIStatusError) -> float | None:
    raw = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: rare from model servers, and our own backoff still applies


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment, where credentials sometimes hide."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "(invalid url)"


@contextmanager
def server_errors(server: str, base_url: str, timeout: float, clean: Callable[[str], str]) -> Iterator[None]:
    """Turn what the SDK raises for one request into :class:`ModelError` (fatal) or
    :class:`RetryableError`; ``server`` names it in messages ("model", "embeddings").

    The server unreachable, overloaded or refusing to serve us is :class:`ModelUnavailable`:
    the failure says nothing about what was asked. A timeout is not: a request may be too much.
    """
    try:
        yield
    except (TimeoutError, openai.APITimeoutError):
        raise RetryableError(ModelError(f"the {server} server did not answer within {timeout:g} s")) from None
    except openai.APIConnectionError as error:
        raise RetryableError(
            ModelUnavailable(
                f"could not reach the {server} server at {public_url(base_url)}: {clean(str(error))}"
            )
        ) from None
    except openai.APIStatusError as error:
        retryable = error.status_code in RETRYABLE_STATUSES or error.status_code >= 500
        kind = ModelUnavailable if retryable or error.status_code in UNSERVED_STATUSES else ModelError
        model_error = kind(f"the {server} server answered HTTP {error.status_code}: {clean(error.message)}")
        if retryable:
            raise RetryableError(model_error, retry_after(error)) from None
        raise model_error from None
    except (ModelError, RetryableError):
        raise
    except Exception as error:
        # Anything else (a 200 whose body is not JSON, a response the SDK cannot read) is the
        # server's fault, not ours, and worth another attempt.
        detail = clean(f"{type(error).__name__}: {error}")
        raise RetryableError(ModelError(f"unreadable response from the {server} server: {detail}")) from None
