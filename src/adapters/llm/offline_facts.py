"""Facts: what people state in a topic's messages, with who said it and when.

A fact is read off the messages themselves, not off a topic's summary: a summary says what a
conversation was about, where a memory needs who said what on which day. The statement of a
message is its sentences that say something (no questions, no greetings, thanks or
acknowledgements, see :mod:`adapters.llm.offline_chatter`); messages that already gave a
decision, a preference or consensus give no fact.

A topic gives at most ``FACTS_PER_TOPIC`` facts per evolution: its most telling statements,
by how much they say and how much of it the rest of the conversation takes up, with points for
a time or a number (something happened then) and for speaking of oneself ("I", "we", "我"); a
long message gives its most telling sentences (``FACT_CHARS``). One evolution proposes at most
``FACTS_PER_EVOLUTION``, the most telling first, so that a first evolution of a long-lived group
does not flush a memory that holds ``MAX_LIVE_ITEMS``. The memory keeps what is worth keeping;
the messages stay searchable beside it for everything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from adapters.llm.offline_candidates import Candidate, author_of, order_of
from adapters.llm.offline_chatter import Names, says_something, without_chatter
from adapters.llm.offline_cues import asks, sentences
from adapters.llm.offline_frame import Framer
from adapters.llm.offline_subject import mentions_time, numbers_of, without_times
from adapters.llm.text import clip, features
from memory_domain.evolution_rules import MAX_LIVE_ITEMS
from memory_domain.group_model import ItemKind
from memory_domain.model import ChatMessage, Role

FACTS_PER_TOPIC = 5
FACTS_PER_EVOLUTION = MAX_LIVE_ITEMS // 4
# A fact is a message's most telling sentences up to this length, in their order: a memory item
# is read among many, and the rest of a long message stays searchable in the message itself.
FACT_CHARS = 200
# The weight of a statement (see _weight): what it says counts up to SAID_CAP terms (past that,
# a long message is not more telling than a pointed one), what the rest of the conversation
# takes up of it up to SHARED_CAP, and a time or a number (something happened then, or
# measured so) EVENT_POINTS: a memory that says who and when is there for exactly those.
SAID_CAP = 6
SHARED_CAP = 3
EVENT_POINTS = 2
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|I'd|I'll|[Ww]e|[Ww]e're|[Ww]e've|[Mm]y|[Oo]ur)\b|我")


def facts(
    messages: list[ChatMessage],
    topic_of: dict[str, str],
    taken: set[str],
    framer: Framer,
    names: Names,
) -> Iterable[Candidate]:
    """The most telling statements of each topic, oldest first (see the module docstring)."""
    spoken = [m for m in messages if m.role is Role.USER]
    # Every message tells what its conversation takes up; only the untaken ones give facts.
    talked_of: dict[str, dict[str, int]] = {}
    for message in spoken:
        usage = talked_of.setdefault(topic_of[message.message_id], {})
        for term in _terms(message.content, names):
            usage[term] = usage.get(term, 0) + 1
    found: dict[str, list[tuple[int, tuple[datetime, str], ChatMessage, str, str]]] = {}
    for message in spoken:
        if message.message_id in taken:
            continue
        topic_id = topic_of[message.message_id]
        usage = talked_of[topic_id]
        said = statement(message, names, usage)
        if said:
            weight = _weight(said, _terms(said, names), usage)
            found.setdefault(topic_id, []).append((-weight, order_of(message), message, said, topic_id))
    chosen = [entry for entries in found.values() for entry in sorted(entries)[:FACTS_PER_TOPIC]]
    for _, order, message, said, topic_id in sorted(sorted(chosen)[:FACTS_PER_EVOLUTION], key=lambda c: c[1]):
        who = author_of(message)
        framed = framer.frame(who, message.sent_at, said)
        yield Candidate(ItemKind.FACT, framed, said, topic_id, [message.message_id], order, who)


def statement(message: ChatMessage, names: Names, usage: dict[str, int] | None = None) -> str:
    """What a message states, its most telling sentences first kept; "" when it says nothing."""
    kept = [s for s in sentences(message) if not asks(s) and says_something(s, names)]
    if not kept:
        return ""
    if len(" ".join(kept)) <= FACT_CHARS:
        return " ".join(kept)
    ranked = sorted(
        range(len(kept)), key=lambda i: (-_weight(kept[i], _terms(kept[i], names), usage or {}), i)
    )
    chosen = {ranked[0]}
    length = len(kept[ranked[0]])
    for index in ranked[1:]:
        if length + 1 + len(kept[index]) <= FACT_CHARS:
            chosen.add(index)
            length += 1 + len(kept[index])
    return clip(" ".join(kept[i] for i in sorted(chosen)), FACT_CHARS)


def _terms(text: str, names: Names) -> set[str]:
    # Whole words and CJK pairs: a single CJK character is too weak to say two messages share a thing.
    counts = features(without_times(without_chatter(text, names))).counts
    return {term for term, weight in counts.items() if weight >= 1.0}


def _weight(said: str, terms: set[str], usage: dict[str, int]) -> int:
    shared = sum(1 for term in terms if usage.get(term, 0) > 1)
    event = EVENT_POINTS if mentions_time(said) or numbers_of(said) else 0
    personal = 1 if _FIRST_PERSON.search(said) else 0
    return min(len(terms), SAID_CAP) + min(shared, SHARED_CAP) + event + personal
