"""What every prompt of this package shares: the data block around chat text, and reading JSON answers.

Chat messages are untrusted text. They reach a model only as values inside one JSON document
between fixed markers, and ``<`` and ``>`` are escaped inside the document, so no message can
contain the end marker and break out of the data block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from memory_domain.errors import ModelError
from memory_domain.model import ChatMessage

DATA_BEGIN = "<<<CHAT_DATA_BEGIN>>>"
DATA_END = "<<<CHAT_DATA_END>>>"

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n?(?P<body>.*?)\n?```$", re.DOTALL)
_THINK = re.compile(r"^<think>.*?</think>", re.DOTALL)


def data_block(document: object) -> str:
    """``document`` as JSON between the markers, with ``<`` and ``>`` escaped."""
    data = json.dumps(document, ensure_ascii=False, indent=1)
    # In JSON text, < and > only occur inside strings, where \u003c and \u003e mean the same
    # characters: the document stays equal, and no value can spell a marker.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e")
    return f"{DATA_BEGIN}\n{data}\n{DATA_END}"


def render_messages(messages: Sequence[ChatMessage], max_chars: int) -> list[dict[str, Any]]:
    """Chat messages as the data block shows them, each cut to ``max_chars``."""
    rendered: list[dict[str, Any]] = []
    for message in messages:
        content = message.content
        if len(content) > max_chars:
            content = content[:max_chars] + f" […{len(message.content) - max_chars} more characters]"
        item: dict[str, Any] = {
            "message_id": message.message_id,
            "sender": message.sender_name or message.sender_id,
            "role": message.role.value,
            "sent_at": message.sent_at.isoformat(),
            "content": content,
        }
        if message.reply_to is not None:
            item["reply_to"] = message.reply_to
        rendered.append(item)
    return rendered


def load_json_answer(content: str) -> object:
    """The JSON document of a model's answer; :class:`ModelError` when there is none.

    Servers that ignore ``response_format`` wrap JSON in Markdown fences or put reasoning before
    it, so those are taken off before parsing.
    """
    text = _THINK.sub("", content.strip()).strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group("body").strip()
    if not text:
        raise ModelError("the answer is empty")
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as first_error:
        outer = _outermost_object(text)
        if outer is None:
            raise ModelError(
                f"the answer is not valid JSON ({first_error.msg} at char {first_error.pos})"
            ) from None
        document = outer
    return document


def describe(error: ValidationError) -> str:
    """A schema violation in a few words, without echoing the answer's values."""
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or '(root)'}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


def _outermost_object(text: str) -> object | None:
    """The JSON object between the first ``{`` and the last ``}``, for answers with prose around it."""
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        return None
    try:
        document: object = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return document
