"""Candidate memory items the offline distiller reads off a chat, before they meet the memory.

Each candidate is one statement with its kind, its topic, the messages it came from and a term
vector for comparing it with other statements (see :mod:`adapters.llm.offline_distill`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.llm.offline_cues import (
    cue_word,
    cues_of,
    is_agreement,
    is_question,
    questions_of,
    statement_of,
    substantial,
    without_cues,
)
from adapters.llm.text import clip, features, split_sentences
from memory_domain.evolution_rules import MAX_ITEM_TEXT
from memory_domain.group_model import ItemKind
from memory_domain.model import ChatMessage, Role, Topic

AGREEMENTS_FOR_CONSENSUS = 2
FACT_MESSAGES = 20
FACT_MIN_CHARS = 12
STATEMENT_CHARS = 300


@dataclass(slots=True)
class Candidate:
    """One statement that may become an item; ``order`` places it in time (its newest message)."""

    kind: ItemKind
    text: str
    topic_id: str
    message_ids: list[str]
    order: tuple[datetime, str]
    author: str | None = None
    vector: dict[str, float] = field(default_factory=dict)
    gist: dict[str, float] = field(default_factory=dict)
    supersedes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.restate(self.text, self.message_ids)

    def restate(self, text: str, message_ids: list[str]) -> None:
        """Take ``text`` as what this candidate says (a later statement of the same thing)."""
        self.text = clip(" ".join(text.split()), MAX_ITEM_TEXT)
        self.vector = features(self.text).counts
        self.gist = gist_of(self.text, self.author)
        self.message_ids = list(dict.fromkeys(message_ids))


def gist_of(text: str, author: str | None) -> dict[str, float]:
    """The terms of what a statement says, without who said it and without its cue words."""
    if author is not None and text.startswith(f"{author}: "):
        text = text[len(author) + 2 :]
    return features(without_cues(text)).counts


def cosine(first: dict[str, float], second: dict[str, float]) -> float:
    if not first or not second:
        return 0.0
    dot = sum(weight * second.get(term, 0.0) for term, weight in first.items())
    norm = math.sqrt(sum(w * w for w in first.values())) * math.sqrt(sum(w * w for w in second.values()))
    return dot / norm if norm else 0.0


def author_of(message: ChatMessage) -> str:
    return message.sender_name or message.sender_id


def personal(author: str, sentence: str) -> str:
    return f"{author}: {sentence}"


def order_of(message: ChatMessage) -> tuple[datetime, str]:
    """Chronological order, whatever zone a time was given in."""
    return (message.sent_at.astimezone(UTC), message.message_id)


def stated(messages: list[ChatMessage], topic_of: dict[str, str]) -> Iterable[Candidate]:
    """Decisions, preferences and consensus that a message states in so many words."""
    by_id = {m.message_id: m for m in messages}
    previous: dict[str, ChatMessage] = {}
    for message in messages:
        topic_id = topic_of[message.message_id]
        before = previous.get(topic_id)
        previous[topic_id] = message
        if message.role is not Role.USER:
            continue
        for cue in cues_of(message):
            ids = [message.message_id]
            text = cue.sentence
            if not substantial(cue.sentence, cue_word(cue)):
                # "定了！": the decision is what it answers.
                source = by_id.get(message.reply_to or "") or before
                if cue.kind is ItemKind.PREFERENCE or source is None or source is message:
                    continue
                text = statement_of(source, STATEMENT_CHARS)
                if not substantial(text):
                    # It answers a bare mention, a sticker or an image: there is nothing to keep.
                    continue
                ids.insert(0, source.message_id)
            author = author_of(message) if cue.kind is ItemKind.PREFERENCE else None
            if author is not None:
                text = personal(author, text)
            yield Candidate(cue.kind, text, topic_id, ids, order_of(message), author)


def agreed(messages: list[ChatMessage], topic_of: dict[str, str]) -> Iterable[Candidate]:
    """Statements that at least two other people agreed with: consensus."""
    by_id = {m.message_id: m for m in messages}
    last_statement: dict[str, ChatMessage] = {}
    agreed: dict[str, dict[str, str]] = {}  # statement id -> agreeing sender -> agreement id
    for message in messages:
        topic_id = topic_of[message.message_id]
        if message.role is not Role.USER:
            continue
        if not is_agreement(message):
            last_statement[topic_id] = message
            continue
        target = by_id.get(message.reply_to or "") or last_statement.get(topic_id)
        if target is not None and target.sender_id != message.sender_id:
            agreed.setdefault(target.message_id, {}).setdefault(message.sender_id, message.message_id)
    for statement_id, senders in agreed.items():
        statement = by_id[statement_id]
        text = statement_of(statement, STATEMENT_CHARS)
        if len(senders) >= AGREEMENTS_FOR_CONSENSUS and substantial(text):
            ids = [statement_id, *sorted(senders.values())]
            latest = max((by_id[i] for i in ids), key=order_of)
            yield Candidate(ItemKind.CONSENSUS, text, topic_of[statement_id], ids, order_of(latest))


def open_questions(messages: list[ChatMessage], topic_of: dict[str, str]) -> Iterable[Candidate]:
    """Questions nobody answered: no reply to them, nobody else spoke after them in their topic."""
    replied = {m.reply_to for m in messages if m.reply_to}
    last_speaker_after: dict[str, set[str]] = {}
    for message in reversed(messages):
        topic_id = topic_of[message.message_id]
        later = last_speaker_after.setdefault(topic_id, set())
        if (
            message.role is Role.USER
            and message.message_id not in replied
            and not (later - {message.sender_id})
        ):
            for question in questions_of(message):
                text = personal(author_of(message), question)
                ids = [message.message_id]
                yield Candidate(
                    ItemKind.OPEN_QUESTION, text, topic_id, ids, order_of(message), author_of(message)
                )
        later.add(message.sender_id)


def fact(topic: Topic) -> Candidate:
    """A topic's gist: the first statement of its summary (the title is a list of key terms)."""
    parts = split_sentences(topic.summary)
    statements = [s for s in parts if not is_question(s) and substantial(s)] or parts or [topic.title]
    lead = ""
    for sentence in statements:
        lead = f"{lead} {sentence}".strip()
        if len(lead) >= FACT_MIN_CHARS:
            break
    ids = list(topic.message_ids[-FACT_MESSAGES:])
    order = (topic.updated_at.astimezone(UTC), topic.topic_id)
    return Candidate(ItemKind.FACT, lead, topic.topic_id, ids, order)
