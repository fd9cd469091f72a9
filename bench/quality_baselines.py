"""What a user gets without the product, computed in the same run as the product's figures.

- topics: one topic per group, each message alone, fixed time windows;
- context: the most recent messages, and the messages ranked by BM25 against the question
  (k1 = 1.2, b = 0.75), each as a ``speaker: text`` line, cut to the same character budget.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from bench.quality_data import gold_key
from memory_domain.model import ChatMessage

_WORD = re.compile(r"[a-z0-9]+")
BM25_K1 = 1.2
BM25_B = 0.75


def one_topic_per_group(messages: Sequence[ChatMessage]) -> dict[str, str]:
    return {gold_key(m.group_id, m.message_id): m.group_id for m in messages}


def each_message_alone(messages: Sequence[ChatMessage]) -> dict[str, str]:
    return {gold_key(m.group_id, m.message_id): gold_key(m.group_id, m.message_id) for m in messages}


def time_windows(messages: Sequence[ChatMessage], minutes: int) -> dict[str, str]:
    width = minutes * 60
    return {
        gold_key(m.group_id, m.message_id): f"{m.group_id}\x1f{int(m.sent_at.timestamp() // width)}"
        for m in messages
    }


def line_of(message: ChatMessage) -> str:
    return f"{message.sender_name}: {' '.join(message.content.split())}"


def cut_lines(lines: Sequence[str], budget: int) -> str:
    """Whole lines in the given order while they fit; the last one cut to the budget."""
    text = ""
    for line in lines:
        candidate = line if not text else f"{text}\n{line}"
        if len(candidate) > budget:
            return candidate[:budget]
        text = candidate
    return text


def recent_context(messages: Sequence[ChatMessage], budget: int) -> str:
    """The latest messages that fit the budget, oldest of them first."""
    chosen: list[str] = []
    used = 0
    for message in reversed(messages):
        line = line_of(message)
        if used + len(line) + 1 > budget:
            break
        chosen.append(line)
        used += len(line) + 1
    return "\n".join(reversed(chosen))


class Bm25:
    """BM25 over the raw messages of one conversation."""

    def __init__(self, messages: Sequence[ChatMessage]) -> None:
        self._messages = list(messages)
        self._docs = [Counter(_WORD.findall(m.content.lower())) for m in self._messages]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._average = sum(self._lengths) / max(1, len(self._lengths))
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}

    def ranked(self, query: str) -> list[ChatMessage]:
        terms = set(_WORD.findall(query.lower()))
        scores: list[tuple[float, int]] = []
        for index, doc in enumerate(self._docs):
            score = 0.0
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths[index] / self._average)
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    score += self._idf[term] * tf * (BM25_K1 + 1) / (tf + norm)
            if score > 0:
                scores.append((score, index))
        scores.sort(key=lambda item: (-item[0], item[1]))
        return [self._messages[index] for _, index in scores]

    def context(self, query: str, budget: int) -> str:
        return cut_lines([line_of(m) for m in self.ranked(query)], budget)
