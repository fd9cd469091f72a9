"""Fitting the evolution prompt's data into a character budget.

A group whose messages are long would otherwise send hundreds of thousands of characters, which
a server refuses (HTTP 400, context length) on every attempt and every day. The data is cut in
this order: memory items and topic summaries are shortened to their shares of the budget (an
item with a shortened text says so, and is kept as it is unless the model rewrites it in full),
the memory items that still exceed their share are left out of the prompt (an item the answer
does not name stays as it is), then the oldest messages go. Every changed topic is shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PROMPT_CHARS = 60_000
SHORTENED = " …[shortened]"
# Shares of the data budget that topics and memory items may take before they are shortened;
# the messages get what is left.
TOPIC_SHARE = 0.3
ITEM_SHARE = 0.3
MIN_SUMMARY_CHARS = 120
MIN_ITEM_CHARS = 80


@dataclass(slots=True)
class PromptData:
    """The parts of the evolution prompt's data document, each already rendered as dicts."""

    items: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    messages: list[dict[str, Any]]  # oldest first

    def document(self, left_out: dict[str, int]) -> dict[str, Any]:
        document: dict[str, Any] = {
            "memory_items": self.items,
            "changed_topics": self.topics,
            "new_messages": self.messages,
        }
        if any(left_out.values()):
            document["left_out_for_space"] = left_out
        return document


def size(value: object) -> int:
    """The characters ``value`` takes in the data block (``<`` and ``>`` are escaped there)."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return len(text) + 5 * (text.count("<") + text.count(">"))


def fit(data: PromptData, budget: int, render: Callable[[PromptData, dict[str, int]], int]) -> dict[str, int]:
    """Cut ``data`` in place until ``render`` (the whole prompt's length) is within ``budget``.

    Returns what was left out: older messages and memory items not shown. When even every
    topic at its shortest does not fit, the data is as small as it gets and may exceed it.
    """
    left_out = {"older_messages": 0, "memory_items": 0}
    overflow = render(data, left_out) - budget
    if overflow <= 0:
        return left_out
    room = max(0, budget - render(PromptData([], [], []), left_out))
    _shorten(data.topics, "summary", room * TOPIC_SHARE, MIN_SUMMARY_CHARS)
    _shorten(data.items, "text", room * ITEM_SHARE, MIN_ITEM_CHARS)
    # Items beyond their share leave the prompt, the least recently updated first (they come
    # newest first): what changed now needs the room more than what the memory already holds.
    while data.items and size(data.items) > room * ITEM_SHARE:
        data.items.pop()
        left_out["memory_items"] += 1
    used = render(data, left_out)
    # Drop the oldest messages by their own sizes first, then check the whole prompt.
    sizes = [size(message) + 2 for message in data.messages]
    excess, drop = used - budget, 0
    while excess > 0 and drop < len(sizes):
        excess -= sizes[drop]
        drop += 1
    del data.messages[:drop]
    left_out["older_messages"] += drop
    while render(data, left_out) > budget and (data.messages or data.items):
        if data.messages:
            del data.messages[0]
            left_out["older_messages"] += 1
        else:
            data.items.pop()
            left_out["memory_items"] += 1
    return left_out


def _shorten(entries: Sequence[dict[str, Any]], key: str, share: float, shortest: int) -> None:
    """Cut every ``entries[i][key]`` to one common length so that they take at most ``share``."""
    if not entries or size(list(entries)) <= share:
        return
    fixed = size([{**entry, key: ""} for entry in entries])
    cap = max(shortest, int((share - fixed) / len(entries)))
    for entry in entries:
        text: str = entry[key]
        if len(text) > cap:
            entry[key] = text[: max(1, cap - len(SHORTENED))].rstrip() + SHORTENED
