"""A local, scriptable OpenAI-compatible chat-completions and embeddings server for tests.

No machine running the tests reaches a real model service, so the OpenAI adapter is tested
against this server: each test queues the answers it wants (a good completion, an HTTP error,
a delay longer than the client's timeout, garbage content) and inspects the requests the server
received. It listens on 127.0.0.1 on a free port and runs in a background thread.

``/v1/embeddings`` has a queue of its own (:meth:`OpenAICompatibleServer.enqueue_embeddings`);
when it is empty the server answers with :func:`embedding_vector` of each input, so that a test
which only needs working embeddings scripts nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Vectors of the default embeddings answer: small, and multiples of 1/64, exact in float32.
DEFAULT_EMBEDDING_DIMENSION = 8


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """One answer the server gives, after waiting ``delay_seconds``."""

    status: int
    body: bytes
    delay_seconds: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def completion(
        cls,
        content: str,
        *,
        model: str | None = None,
        prompt_tokens: int = 11,
        completion_tokens: int = 7,
        finish_reason: str = "stop",
        delay_seconds: float = 0.0,
    ) -> ScriptedResponse:
        """A successful chat completion whose assistant message is ``content``.

        ``model`` None echoes the model the request asked for.
        """
        payload: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return cls(200, json.dumps(payload).encode(), delay_seconds)

    @classmethod
    def json_answer(cls, answer: object, **kwargs: Any) -> ScriptedResponse:
        """A completion whose content is ``answer`` serialised as JSON."""
        return cls.completion(json.dumps(answer, ensure_ascii=False), **kwargs)

    @classmethod
    def error(
        cls, status: int, message: str = "scripted failure", *, headers: tuple[tuple[str, str], ...] = ()
    ) -> ScriptedResponse:
        """An OpenAI-style error response with the given HTTP status."""
        payload = {"error": {"message": message, "type": "server_error", "code": None}}
        return cls(status, json.dumps(payload).encode(), headers=headers)

    @classmethod
    def embeddings(
        cls,
        vectors: list[list[float]] | list[Any],
        *,
        indices: list[Any] | None = None,
        model: str | None = None,
        prompt_tokens: int = 5,
        delay_seconds: float = 0.0,
    ) -> ScriptedResponse:
        """A successful embeddings answer holding ``vectors`` as they are (good or not).

        ``indices`` numbers them (default 0, 1, ...; an entry None leaves ``index`` out);
        ``model`` None echoes the model the request asked for.
        """
        numbers: list[Any] = list(range(len(vectors))) if indices is None else indices
        data = []
        for vector, index in zip(vectors, numbers, strict=True):
            item: dict[str, Any] = {"object": "embedding", "embedding": vector}
            if index is not None:
                item["index"] = index
            data.append(item)
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
        # allow_nan: a test may want a NaN on the wire, which Python's JSON parser then accepts.
        return cls(200, json.dumps(payload, allow_nan=True).encode(), delay_seconds)

    @classmethod
    def slow(cls, delay_seconds: float) -> ScriptedResponse:
        """A good-looking answer that arrives only after ``delay_seconds``."""
        return cls.json_answer({"topics": []}, delay_seconds=delay_seconds)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    # When it arrived (time.monotonic()): the waits between attempts are a client's backoff.
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def message_content(self, role: str) -> str:
        """The text of the request's chat messages with ``role``, joined by blank lines."""
        texts = [str(m.get("content", "")) for m in self.body.get("messages", []) if m.get("role") == role]
        return "\n\n".join(texts)


class OpenAICompatibleServer:
    """The test server: queue responses with :meth:`enqueue`, read :attr:`requests` afterwards.

    Responses are served in queue order; when the queue is empty the server asks
    :attr:`responder` (a scheduled misbehaviour, an answer made from the request), and without
    one answers HTTP 500 with a message saying so, so tests that count requests notice the surplus.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[ScriptedResponse] = deque()
        self._embedding_queue: deque[ScriptedResponse] = deque()
        self.embedding_dimension = DEFAULT_EMBEDDING_DIMENSION
        self._requests: list[RecordedRequest] = []
        # Answers chat requests once the queue is empty (called in the server's thread).
        self.responder: Callable[[RecordedRequest], ScriptedResponse] | None = None
        # Set on stop so that handlers sleeping through a scripted delay end at once.
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def enqueue(self, *responses: ScriptedResponse) -> None:
        with self._lock:
            self._queue.extend(responses)

    def enqueue_embeddings(self, *responses: ScriptedResponse) -> None:
        """Answers for ``/v1/embeddings`` requests, served before the default answer resumes."""
        with self._lock:
            self._embedding_queue.extend(responses)

    def start(self) -> None:
        handler = _handler_for(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # Join handler threads on close (they end promptly: see _stopping) so that no thread
        # outlives the test that started it.
        httpd.daemon_threads = False
        httpd.block_on_close = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def _record(self, request: RecordedRequest) -> ScriptedResponse | None:
        with self._lock:
            self._requests.append(request)
            if request.path.endswith("/embeddings"):
                if self._embedding_queue:
                    return self._embedding_queue.popleft()
                return _default_embeddings(request.body, self.embedding_dimension)
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        return responder(request) if responder is not None else None


@contextmanager
def running_openai_server() -> Iterator[OpenAICompatibleServer]:
    """Run an :class:`OpenAICompatibleServer` for the duration of the ``with`` block."""
    server = OpenAICompatibleServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _handler_for(server: OpenAICompatibleServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # One request per connection: a client that keeps a connection open cannot then keep a
        # handler thread waiting for its next request when the server shuts down.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                body = {"unparsed": raw.decode("utf-8", "replace")}
            recorded = RecordedRequest("POST", self.path, dict(self.headers.items()), body)
            scripted = server._record(recorded)
            if scripted is None:
                scripted = ScriptedResponse.error(500, "the test server has no scripted response left")
            if scripted.delay_seconds and server._stopping.wait(scripted.delay_seconds):
                return
            payload = scripted.body
            if scripted.status == 200 and isinstance(body, dict):
                payload = _echo_model(payload, body.get("model"))
            try:
                self.send_response(scripted.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in scripted.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # The client gave up (its timeout fired) and closed the connection: expected.
                pass

        def log_message(self, format: str, *args: Any) -> None:
            # Keep test output quiet; the recorded requests are the log.
            pass

    return Handler


def embedding_vector(text: str, dimension: int = DEFAULT_EMBEDDING_DIMENSION) -> list[float]:
    """The vector the server gives ``text`` by default: hashed, deterministic, never all zero."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dimension:
        digest += hashlib.sha256(digest).digest()
    vector = [(byte - 128) / 64 for byte in digest[:dimension]]
    return vector if any(vector) else [1.0, *vector[1:]]


def _default_embeddings(body: dict[str, Any], dimension: int) -> ScriptedResponse:
    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        return ScriptedResponse.error(400, "'input' must be a non-empty string or list of non-empty strings")
    if body.get("encoding_format", "float") != "float":
        return ScriptedResponse.error(400, "this test server only speaks encoding_format 'float'")
    return ScriptedResponse.embeddings([embedding_vector(text, dimension) for text in texts])


def _echo_model(payload: bytes, requested: object) -> bytes:
    try:
        document = json.loads(payload)
    except json.JSONDecodeError:
        return payload  # a deliberately broken body stays broken
    if isinstance(document, dict) and document.get("model") is None:
        document["model"] = requested if isinstance(requested, str) else "unknown"
        return json.dumps(document).encode()
    return payload
