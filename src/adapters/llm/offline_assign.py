"""How the offline topic model assigns each new message to a topic.

A message is scored against every topic it could join. Word similarity is the base; it is
weakened, but never erased, by a long silence in the topic. On top come the hints a chat gives:
a reply belongs with the message it answers, a message addressing someone leans to that
person's latest topic, and a message close in time to a topic's last message leans to it (most
of all to the topic of the message just before). The best topic wins when its score reaches
``NEW_TOPIC_THRESHOLD``; otherwise the message opens a new topic, unless it says too little to
stand alone ("ok", "好的", "👍"), in which case it follows the conversation it came in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.llm.offline_people import People
from adapters.llm.offline_vectors import Centroid, Vector
from adapters.llm.text import TextFeatures, is_cjk_dominant
from memory_domain.model import ChatMessage, Topic

HALF_LIFE_MINUTES = 30.0
# Recency is 0.5 ** (gap / half-life); with the gap in seconds that is this base ** gap.
_HALF_LIFE_BASE = 0.5 ** (1.0 / (HALF_LIFE_MINUTES * 60.0))
# The share of word similarity that holds however long the topic has been silent.
SIMILARITY_FLOOR = 0.6
TIME_WEIGHT = 0.2
PREVIOUS_WEIGHT = 0.05
REPLY_WEIGHT = 0.6
MENTION_WEIGHT = 0.35
# Nearness in time says little across languages: an English message right after a Chinese one
# is more likely a second conversation than a continuation.
OTHER_SCRIPT_FACTOR = 0.25
# Time alone (TIME_WEIGHT) stays below the threshold; time plus being the previous message's
# topic reaches it, so a wordless follow-up stays in the conversation it came in.
NEW_TOPIC_THRESHOLD = 0.22
RECENT_MESSAGES = 5
# Only the best few topics by centroid are compared with their latest messages as well.
REFINED_CANDIDATES = 3
SHORTLIST = 8
# A term in more than this share of the topics (and in more than the minimum number of them)
# is left out of the similarity: it is everyone's word.
COMMON_TERM_SHARE = 0.4
COMMON_TERM_MIN_TOPICS = 8
# Fewer content terms than this is too little to stand alone ("ok", "好的", "👍").
LOW_CONTENT_TERMS = 2
# Beyond this many content terms, nearness in time pulls a message less, in proportion: a long
# message that shares no words with a topic is likely a new subject, a short one a follow-up.
SHORT_MESSAGE_TERMS = 2.5


@dataclass(slots=True)
class TopicState:
    """A topic while messages are assigned: an existing topic, or one this update opened."""

    index: int
    existing: Topic | None
    centroid: Centroid = field(default_factory=Centroid)
    recent: deque[Vector] = field(default_factory=lambda: deque(maxlen=RECENT_MESSAGES))
    # When the topic last spoke, in POSIX seconds: scoring compares it with every message.
    last_ts: float | None = None
    cjk_chars: int = 0
    latin_letters: int = 0
    script: str | None = None
    context: list[ChatMessage] = field(default_factory=list)
    new_messages: list[ChatMessage] = field(default_factory=list)

    def add_script(self, text: TextFeatures) -> None:
        self.cjk_chars += text.cjk_chars
        self.latin_letters += text.latin_letters
        self.script = _script(self.cjk_chars, self.latin_letters)


def _script(cjk_chars: int, latin_letters: int) -> str | None:
    if is_cjk_dominant(cjk_chars, latin_letters):
        return "cjk"
    return "latin" if latin_letters else None


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware datetime; a naive one is taken as UTC rather than failing the update."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(moment: datetime) -> float:
    return utc(moment).timestamp()


def _later(last_ts: float | None, ts: float) -> float:
    return ts if last_ts is None else max(last_ts, ts)


class Assigner:
    """Assigns messages to topics one at a time, in the order they were sent.

    It keeps the output within ``max_topics`` active topics: once full, a message joins the best
    topic already in use instead of opening a new one.
    """

    def __init__(self, people: People, max_topics: int) -> None:
        self.states: list[TopicState] = []
        self._people = people
        self._max_topics = max_topics
        self._by_message: dict[str, int] = {}
        self._postings: dict[str, dict[int, float]] = {}
        self._last_by_sender: dict[str, int] = {}
        self._previous: int | None = None
        self._in_use: set[int] = set()
        self._existing = 0
        self._existing_in_use = 0

    @property
    def in_use(self) -> frozenset[int]:
        """The topics that received new messages (they stay active)."""
        return frozenset(self._in_use)

    def seed(self, topic: Topic, vector: Vector, text: TextFeatures, message_ids: Sequence[str]) -> None:
        """Add an existing topic, described by its title and summary."""
        state = TopicState(index=len(self.states), existing=topic, last_ts=_timestamp(topic.updated_at))
        state.add_script(text)
        self.states.append(state)
        self._existing += 1
        state.centroid.add(vector)
        self._index_terms(state.index, vector)
        for message_id in message_ids:
            self._by_message.setdefault(message_id, state.index)

    def absorb_context(self, message: ChatMessage, vector: Vector, text: TextFeatures) -> None:
        """Take in an already integrated message: it tells what its topic is about and when it spoke."""
        index = self._by_message.get(message.message_id)
        if index is None:
            return
        state = self.states[index]
        ts = _timestamp(message.sent_at)
        # The topic's real messages beat its update time as "when it last spoke".
        state.last_ts = _later(state.last_ts if state.context else None, ts)
        self._join(index, message, vector, text)
        state.context.append(message)

    def place(self, message: ChatMessage, vector: Vector, text: TextFeatures) -> int:
        """Assign a new message to a topic (an existing one or a new one); return the topic's index."""
        ts = _timestamp(message.sent_at)
        best, best_score = self._best(message, vector, text, ts)
        target: int | None
        if best is not None and best_score >= NEW_TOPIC_THRESHOLD:
            target = best
        elif text.content_terms < LOW_CONTENT_TERMS and (fallback := self._fallback()) is not None:
            target = fallback
        elif self._used() < self._max_topics:
            target = self._open()
        else:
            target = best if best is not None else self._fallback()
        if target is None:
            # Only reachable with max_topics < 1; a topic must exist for the message to land in.
            target = self._open()
        state = self.states[target]
        state.last_ts = _later(state.last_ts, ts)
        self._join(target, message, vector, text)
        state.new_messages.append(message)
        if target not in self._in_use:
            self._in_use.add(target)
            if state.existing is not None:
                self._existing_in_use += 1
        return target

    def _best(
        self, message: ChatMessage, vector: Vector, text: TextFeatures, ts: float
    ) -> tuple[int | None, float]:
        """The best topic the message may join, and its score (None, -1 when there is none)."""
        script = _script(text.cjk_chars, text.latin_letters)
        time_factor = SHORT_MESSAGE_TERMS / max(text.content_terms, SHORT_MESSAGE_TERMS)
        bonuses = self._hints(message)
        similarities = self._similarities(vector)
        # Only the most similar topics and the hinted ones are scored. Time adds at most
        # TIME_WEIGHT + PREVIOUS_WEIGHT, so a topic outside the shortlist rarely could have won,
        # and skipping the rest keeps a full batch within milliseconds.
        candidates = set(sorted(similarities, key=lambda index: (-similarities[index], index))[:SHORTLIST])
        candidates.update(bonuses)
        if self._previous is not None:
            candidates.add(self._previous)
        room = self._used() < self._max_topics
        scored: list[tuple[float, int]] = []
        for index in candidates:
            if room or self._can_take(index):
                score = self._score(index, similarities.get(index, 0.0), ts, script, time_factor)
                scored.append((score + bonuses.get(index, 0.0), index))
        scored.sort(key=lambda item: (-item[0], item[1]))
        best: int | None = None
        best_score = -1.0
        for score, index in scored[:REFINED_CANDIDATES]:
            recent = self.states[index].recent
            if similarities.get(index, 0.0) > 0.0 and recent:
                # A long topic's centroid blurs; its latest messages show where the talk is now.
                closest = max(other.cosine(vector) for other in recent)
                refined = self._score(index, closest, ts, script, time_factor) + bonuses.get(index, 0.0)
                score = max(score, refined)
            if score > best_score or (score == best_score and best is not None and index < best):
                best, best_score = index, score
        return best, best_score

    def _hints(self, message: ChatMessage) -> dict[int, float]:
        """Score bonuses from the chat itself: for the topic of the message replied to, and for
        the latest topics of the people the message addresses.
        """
        bonuses: dict[int, float] = {}
        for sender_id, strength in self._people.addressed(message).items():
            topic = self._last_by_sender.get(sender_id)
            if topic is not None:
                bonuses[topic] = max(bonuses.get(topic, 0.0), MENTION_WEIGHT * strength)
        replied = self._by_message.get(message.reply_to) if message.reply_to else None
        if replied is not None:
            bonuses[replied] = bonuses.get(replied, 0.0) + REPLY_WEIGHT
        return bonuses

    def _similarities(self, vector: Vector) -> dict[int, float]:
        """Cosine similarity with every topic that shares a term with ``vector``.

        The dot products come from the postings, so only overlapping pairs cost anything. A term
        that most topics share tells them apart poorly and is skipped: that bounds the work
        when a batch keeps repeating the same few words.
        """
        dots: dict[int, float] = {}
        get = dots.get
        common = max(COMMON_TERM_MIN_TOPICS, int(len(self.states) * COMMON_TERM_SHARE))
        for term, value in vector.values.items():
            posting = self._postings.get(term)
            if posting and len(posting) <= common:
                for index, weight in posting.items():
                    dots[index] = get(index, 0.0) + value * weight
        states = self.states
        similarities: dict[int, float] = {}
        for index, dot in dots.items():
            norm = states[index].centroid.norm * vector.norm
            similarities[index] = min(dot / norm, 1.0) if norm else 0.0
        return similarities

    def _score(
        self, index: int, similarity: float, ts: float, script: str | None, time_factor: float
    ) -> float:
        state = self.states[index]
        last_ts = state.last_ts
        recency = 0.0 if last_ts is None else _HALF_LIFE_BASE ** max(ts - last_ts, 0.0)
        pull = TIME_WEIGHT * recency * time_factor
        if index == self._previous:
            pull += PREVIOUS_WEIGHT * recency * time_factor
        topic_script = state.script
        if script is not None and topic_script is not None and script != topic_script:
            pull *= OTHER_SCRIPT_FACTOR
        return similarity * (SIMILARITY_FLOOR + (1.0 - SIMILARITY_FLOOR) * recency) + pull

    def _used(self) -> int:
        # While no existing topic received a message, one slot stays reserved for the existing
        # topic that is kept: a rewrite may never drop every existing topic.
        reserved = 1 if self._existing and not self._existing_in_use else 0
        return len(self._in_use) + reserved

    def _can_take(self, index: int) -> bool:
        if index in self._in_use:
            return True
        if self.states[index].existing is not None and not self._existing_in_use:
            return True
        return self._used() < self._max_topics

    def _fallback(self) -> int | None:
        if self._previous is not None and self._can_take(self._previous):
            return self._previous
        takeable = [state for state in self.states if self._can_take(state.index)]
        if not takeable:
            return None
        return max(takeable, key=lambda state: (state.last_ts or 0.0, -state.index)).index

    def _open(self) -> int:
        state = TopicState(index=len(self.states), existing=None)
        self.states.append(state)
        return state.index

    def _join(self, index: int, message: ChatMessage, vector: Vector, text: TextFeatures) -> None:
        state = self.states[index]
        state.centroid.add(vector)
        state.recent.append(vector)
        state.add_script(text)
        self._index_terms(index, vector)
        self._by_message[message.message_id] = index
        self._last_by_sender[message.sender_id] = index
        self._previous = index

    def _index_terms(self, index: int, vector: Vector) -> None:
        # Mirror the topic's centroid weights of the vector's terms into the postings.
        postings = self._postings
        centroid = self.states[index].centroid.values
        for term in vector.values:
            postings.setdefault(term, {})[index] = centroid[term]
