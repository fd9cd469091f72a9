"""An OpenAI-compatible chat server that answers every topic rewrite correctly after a fixed delay.

    python bench/fixed_latency_model.py --port 0 --delay 0.2     # prints "listening on PORT"

The benchmarks run it as its own process, so that its work never counts as the worker's. Its
answer keeps every current topic and files all new messages into the first one (or opens one
topic when there is none): a valid rewrite that the worker commits, so what is measured is the
worker's own path around a model of known latency.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DATA = re.compile(r"<<<CHAT_DATA_BEGIN>>>\n(?P<data>.*)\n<<<CHAT_DATA_END>>>", re.DOTALL)


def rewrite_answer(user_message: str) -> dict[str, Any]:
    """The valid answer for the data block of one topic-update (or evolution) prompt."""
    match = _DATA.search(user_message)
    if match is None:
        raise ValueError("no chat data block in the prompt")
    document = json.loads(match.group("data"))
    if "current_topics" not in document:
        # A group-memory evolution: no items (the benchmarks never make any to keep).
        return {"items": [], "retire": []}
    new_ids = [message["message_id"] for message in document["new_messages"]]
    current = document["current_topics"]
    if not current:
        return {
            "topics": [{"topic_id": None, "title": "chat", "summary": "the chat", "message_ids": new_ids}]
        }
    topics = [
        {
            "topic_id": topic["topic_id"],
            "title": topic["title"],
            "summary": topic["summary"],
            "message_ids": [],
        }
        for topic in current
    ]
    topics[0]["message_ids"] = new_ids
    return {"topics": topics}


def handler(delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real model server

        def do_POST(self) -> None:
            started = time.monotonic()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            payload = {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(rewrite_answer(user))},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(user) // 4,
                    "completion_tokens": 50,
                    "total_tokens": len(user) // 4 + 50,
                },
            }
            data = json.dumps(payload).encode()
            time.sleep(max(0.0, delay - (time.monotonic() - started)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per answer")
    options = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), handler(options.delay))
    server.daemon_threads = True
    server.request_queue_size = 256
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
