"""Candidate memory items the offline distiller reads off a chat, before they meet the memory.

Each candidate is one statement with its kind, its topic, the messages it came from, its text
framed with who said it and when (:mod:`adapters.llm.offline_frame`), and term vectors of what
it says for comparing it with other statements (see :mod:`adapters.llm.offline_distill`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.llm.offline_chatter import Names
from adapters.llm.offline_cues import cue_word, cues_of, is_agreement, questions_of, statement_of, substantial
from adapters.llm.offline_frame import Framer
from adapters.llm.offline_subject import changes_of, gist_of, says_changed, subject_of
from adapters.llm.text import clip, contains_cjk, features
from memory_domain.evolution_rules import MAX_ITEM_TEXT
from memory_domain.group_model import ItemKind
from memory_domain.model import ChatMessage, Role

AGREEMENTS_FOR_CONSENSUS = 2
STATEMENT_CHARS = 300


@dataclass(slots=True)
class Candidate:
    """One statement that may become an item; ``order`` places it in time (its newest message).

    ``text`` is the item's text (the statement framed with who and when); ``statement`` what it
    says. ``author`` is whose it is for the kinds that belong to a person (preferences, facts,
    open questions), None for what a group holds (decisions, consensus). ``gist`` and
    ``subject`` are what it says and what it is about, ``changes`` whether it says that
    something changed and ``change_kinds`` which kinds of change (see
    :mod:`adapters.llm.offline_subject`).
    """

    kind: ItemKind
    text: str
    statement: str
    topic_id: str
    message_ids: list[str]
    order: tuple[datetime, str]
    author: str | None = None
    vector: dict[str, float] = field(default_factory=dict)
    gist: dict[str, float] = field(default_factory=dict)
    subject: dict[str, float] = field(default_factory=dict)
    changes: bool = False
    change_kinds: frozenset[str] = frozenset()
    supersedes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.restate(self.text, self.statement, self.message_ids)

    def restate(self, text: str, statement: str, message_ids: list[str]) -> None:
        """Take ``text`` as what this candidate says (a later statement of the same thing)."""
        self.text = clip(" ".join(text.split()), MAX_ITEM_TEXT)
        self.statement = statement
        self.vector = features(statement).counts
        self.gist, self.subject = gist_of(statement), subject_of(statement)
        self.changes, self.change_kinds = says_changed(statement), changes_of(statement)
        self.message_ids = list(dict.fromkeys(message_ids))


def cosine(first: dict[str, float], second: dict[str, float]) -> float:
    if not first or not second:
        return 0.0
    dot = sum(weight * second.get(term, 0.0) for term, weight in first.items())
    norm = math.sqrt(sum(w * w for w in first.values())) * math.sqrt(sum(w * w for w in second.values()))
    return dot / norm if norm else 0.0


def author_of(message: ChatMessage) -> str:
    return " ".join((message.sender_name or message.sender_id).split())


def order_of(message: ChatMessage) -> tuple[datetime, str]:
    """Chronological order, whatever zone a time was given in."""
    return (message.sent_at.astimezone(UTC), message.message_id)


def stated(
    messages: list[ChatMessage], topic_of: dict[str, str], framer: Framer, names: Names
) -> Iterable[Candidate]:
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
            text, speaker, note = cue.sentence, message, ""
            if not substantial(cue.sentence, cue_word(cue), names):
                # "定了！": the decision is what it answers.
                source = by_id.get(message.reply_to or "") or before
                if cue.kind is ItemKind.PREFERENCE or source is None or source is message:
                    continue
                text = statement_of(source, STATEMENT_CHARS)
                if not substantial(text, names=names):
                    # It answers a bare mention, a sticker or an image: there is nothing to keep.
                    continue
                ids.insert(0, source.message_id)
                speaker = source
                note = framer.confirmed(author_of(message), message.sent_at, source.sent_at, framer.cjk(text))
            who = author_of(speaker)
            author = who if cue.kind is ItemKind.PREFERENCE else None
            framed = framer.frame(who, speaker.sent_at, text, note=note)
            yield Candidate(cue.kind, framed, text, topic_id, ids, order_of(message), author)


def agreed(
    messages: list[ChatMessage], topic_of: dict[str, str], framer: Framer, names: Names
) -> Iterable[Candidate]:
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
        if len(senders) >= AGREEMENTS_FOR_CONSENSUS and substantial(text, names=names):
            agreements = sorted(senders.values())
            ids = [statement_id, *agreements]
            latest = max((by_id[i] for i in ids), key=order_of)
            people = list(dict.fromkeys(author_of(by_id[i]) for i in agreements))
            note = framer.agreed(people, framer.cjk(text))
            framed = framer.frame(author_of(statement), statement.sent_at, text, note=note)
            topic_id = topic_of[statement_id]
            yield Candidate(ItemKind.CONSENSUS, framed, text, topic_id, ids, order_of(latest))


def open_questions(
    messages: list[ChatMessage], topic_of: dict[str, str], framer: Framer, names: Names
) -> Iterable[Candidate]:
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
            who = author_of(message)
            for question in questions_of(message, names):
                framed = framer.frame(who, message.sent_at, question, asked=True)
                ids = [message.message_id]
                yield Candidate(
                    ItemKind.OPEN_QUESTION, framed, question, topic_id, ids, order_of(message), who
                )
        later.add(message.sender_id)


def chat_is_cjk(messages: Iterable[ChatMessage]) -> bool:
    """Whether Chinese (or another CJK script) carries the chat: more than half its messages hold some."""
    flags = [contains_cjk(message.content) for message in messages]
    return 2 * sum(flags) > len(flags)
