"""How the offline topic model assigns each new message to a topic.

The people come first (see :mod:`adapters.llm.offline_threads`): a reply belongs with the
message it answers, a message addressing someone with the conversation that person is in, and a
message addressing no one with its sender's own recent conversation. Word similarity comes on
top, weakened but never erased by a long silence in the topic, and a message close in time to a
topic's last message leans to it a little. The best topic wins when its score reaches
``NEW_TOPIC_THRESHOLD``; otherwise the message opens a new topic, unless it says too little to
stand alone ("ok", "好的", "👍"), in which case it follows the conversation it came in. A
greeting ("hi all", "大家好") opens a topic whatever came before: it announces a question.
System notices never join a conversation: they go to a notices topic (see
:mod:`adapters.llm.offline_notices`).
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.llm.offline_notices import window_of
from adapters.llm.offline_state import Line, TopicState, script_of, timestamp
from adapters.llm.offline_threads import Conversations
from adapters.llm.offline_vectors import Centroid, TopicIndex, Vector
from adapters.llm.text import TextFeatures
from memory_domain.model import Topic

HALF_LIFE_MINUTES = 30.0
# Recency is 0.5 ** (gap / half-life); with the gap in seconds that is this base ** gap.
_HALF_LIFE_BASE = 0.5 ** (1.0 / (HALF_LIFE_MINUTES * 60.0))
# Word similarity counts less than the people (see offline_threads): on a busy channel one
# shared word ("install", "kernel") is chance, an address is not.
SIMILARITY_WEIGHT = 0.75
# The share of word similarity that holds however long the topic has been silent.
SIMILARITY_FLOOR = 0.6
# Nearness in time is shared among the conversations going on at once: where one conversation
# is going on, a short line right after its last one continues it; on a channel with five,
# time alone decides nothing.
TIME_WEIGHT = 0.3
PREVIOUS_WEIGHT = 0.05
REPLY_WEIGHT = 1.0
# Nearness in time says little across languages: an English message right after a Chinese one
# is more likely a second conversation than a continuation.
OTHER_SCRIPT_FACTOR = 0.25
NEW_TOPIC_THRESHOLD = 0.22
# Only the best few topics by centroid are compared with their latest messages as well, and the
# closest of those counts for this share: one short line sharing one word with another is weak
# evidence, however high its cosine.
REFINED_CANDIDATES = 3
RECENT_SHARE = 0.25
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
# The topic of a message in an archived topic: its sender is in a conversation no longer shown.
_ELSEWHERE = -1


class Assigner:
    """Assigns messages to topics one at a time, in the order they were sent.

    It keeps the output within ``max_topics`` active topics: once full, a message joins the best
    topic already in use instead of opening a new one.
    """

    def __init__(self, max_topics: int) -> None:
        self.states: list[TopicState] = []
        self._max_topics = max_topics
        self._by_message: dict[str, int] = {}
        self._index = TopicIndex()
        self._centroids: list[Centroid] = []
        self._conversations = Conversations()
        self._previous: int | None = None
        self._in_use: set[int] = set()
        self._existing = 0
        self._existing_in_use = 0
        self._earliest_context: float | None = None

    @property
    def in_use(self) -> frozenset[int]:
        """The topics that received new messages (they stay active)."""
        return frozenset(self._in_use)

    def seed(self, topic: Topic, vector: Vector, text: TextFeatures, message_ids: Sequence[str]) -> None:
        """Add an existing topic, described by its title and summary."""
        state = TopicState(index=len(self.states), existing=topic, last_ts=timestamp(topic.updated_at))
        state.add_script(text)
        self.states.append(state)
        self._centroids.append(state.centroid)
        self._existing += 1
        state.centroid.add(vector)
        self._index.add(state.index, state.centroid, vector)
        for message_id in message_ids:
            self._by_message.setdefault(message_id, state.index)

    def absorb_context(self, line: Line) -> None:
        """Take in an already integrated message: what its topic is about, who spoke there and when."""
        ts = timestamp(line.message.sent_at)
        if self._earliest_context is None:
            self._earliest_context = ts
        index = self._by_message.get(line.message.message_id)
        if line.notice:
            if index is not None:
                state = self.states[index]
                state.notices.append(line.message)
                state.window = window_of(ts)
            return
        if index is None:
            self._conversations.record(line.speaker, line.addressees, _ELSEWHERE, ts)
            return
        state = self.states[index]
        # The topic's real messages beat its update time as "when it last spoke".
        state.last_ts = ts if not state.context else max(state.last_ts or ts, ts)
        self._join(index, line, ts)
        state.context.append(line.message)

    def settle_context(self, looks_like_notices: Sequence[bool]) -> None:
        """After the context: tell the topics of notices apart, and date the silent topics.

        ``looks_like_notices`` says, per existing topic in seeding order, whether its title and
        summary are those of a notices topic (for topics with no message in the context).
        """
        for state, composed in zip(self.states, looks_like_notices, strict=True):
            state.is_notices = not state.context and (bool(state.notices) or composed)
            if not state.context and self._earliest_context is not None:
                # Silent through the whole context, so silent since before it began (an update
                # time is when the topic was written, which may be long after the chat spoke).
                state.last_ts = min(state.last_ts or self._earliest_context, self._earliest_context)

    def place(self, line: Line) -> int:
        """Assign a new message to a topic (an existing one or a new one); return the topic's index."""
        ts = timestamp(line.message.sent_at)
        target = self._notice_target(ts) if line.notice else self._conversation_target(line, ts)
        state = self.states[target]
        if line.notice:
            state.notices.append(line.message)
            state.window = window_of(ts)
            self._by_message[line.message.message_id] = target
        else:
            state.last_ts = ts if state.last_ts is None else max(state.last_ts, ts)
            self._join(target, line, ts)
        state.new_messages.append(line.message)
        if target not in self._in_use:
            self._in_use.add(target)
            if state.existing is not None:
                self._existing_in_use += 1
        return target

    def _conversation_target(self, line: Line, ts: float) -> int:
        if line.greeting and not line.message.reply_to and self._used() < self._max_topics:
            return self._open()
        best, best_score = self._best(line, ts)
        if best is not None and best_score >= NEW_TOPIC_THRESHOLD:
            return best
        if line.text.content_terms < LOW_CONTENT_TERMS and (fallback := self._fallback()) is not None:
            return fallback
        if self._used() < self._max_topics:
            return self._open()
        if best is not None:
            return best
        for notices in (False, True):
            if (fallback := self._fallback(notices)) is not None:
                return fallback
        return self._open()  # only with max_topics < 1: a message must land somewhere

    def _notice_target(self, ts: float) -> int:
        window = window_of(ts)
        notices = [state for state in self.states if state.is_notices and self._can_take(state.index)]
        for state in notices:
            if state.window == window:
                return state.index
        if self._used() < self._max_topics:
            index = self._open()
            self.states[index].is_notices = True
            return index
        if notices:
            return max(notices, key=lambda state: (state.window or 0, -state.index)).index
        fallback = self._fallback()
        return fallback if fallback is not None else self._open()

    def _best(self, line: Line, ts: float) -> tuple[int | None, float]:
        """The best topic the message may join, and its score (None, -1 when there is none)."""
        text, vector = line.text, line.vector
        script = script_of(text.cjk_chars, text.latin_letters)
        time_factor = SHORT_MESSAGE_TERMS / max(text.content_terms, SHORT_MESSAGE_TERMS)
        time_factor /= self._conversations.concurrent(ts)
        bonuses = self._hints(line, ts)
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
            if self.states[index].is_notices or not (room or self._can_take(index)):
                continue
            score = self._score(index, similarities.get(index, 0.0), ts, script, time_factor)
            scored.append((score + bonuses.get(index, 0.0), index))
        scored.sort(key=lambda item: (-item[0], item[1]))
        best: int | None = None
        best_score = -1.0
        for score, index in scored[:REFINED_CANDIDATES]:
            recent = self.states[index].recent
            if similarities.get(index, 0.0) > 0.0 and recent:
                # A long topic's centroid blurs; its latest messages show where the talk is now.
                similarity = similarities[index]
                closest = max(other.cosine(vector) for other in recent)
                refined_similarity = similarity + RECENT_SHARE * (closest - similarity)
                refined = self._score(index, refined_similarity, ts, script, time_factor)
                refined += bonuses.get(index, 0.0)
                score = max(score, refined)
            if score > best_score or (score == best_score and best is not None and index < best):
                best, best_score = index, score
        return best, best_score

    def _hints(self, line: Line, ts: float) -> dict[int, float]:
        """Score bonuses from the chat itself: the message replied to, and the people."""
        bonuses = {
            index: bonus
            for index, bonus in self._conversations.hints(line.speaker, line.addressees, ts).items()
            if index >= 0
        }
        reply_to = line.message.reply_to
        replied = self._by_message.get(reply_to) if reply_to else None
        if replied is not None:
            bonuses[replied] = bonuses.get(replied, 0.0) + REPLY_WEIGHT
        return bonuses

    def _similarities(self, vector: Vector) -> dict[int, float]:
        # A term that most topics share tells them apart poorly and is skipped: that bounds the
        # work when a batch keeps repeating the same few words.
        common = max(COMMON_TERM_MIN_TOPICS, int(len(self.states) * COMMON_TERM_SHARE))
        return self._index.similarities(vector, self._centroids, common)

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
        return SIMILARITY_WEIGHT * similarity * (SIMILARITY_FLOOR + (1.0 - SIMILARITY_FLOOR) * recency) + pull

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

    def _fallback(self, notices: bool = False) -> int | None:
        """The conversation a wordless message came in (or, when full, any topic that may take it)."""
        if self._previous is not None and self._can_take(self._previous):
            return self._previous
        takeable = [
            state
            for state in self.states
            if self._can_take(state.index) and (notices or not state.is_notices)
        ]
        if not takeable:
            return None
        return max(takeable, key=lambda state: (state.last_ts or 0.0, -state.index)).index

    def _open(self) -> int:
        state = TopicState(index=len(self.states), existing=None)
        self.states.append(state)
        self._centroids.append(state.centroid)
        return state.index

    def _join(self, index: int, line: Line, ts: float) -> None:
        state = self.states[index]
        state.centroid.add(line.vector)
        state.recent.append(line.vector)
        state.add_script(line.text)
        self._index.add(index, state.centroid, line.vector)
        self._by_message[line.message.message_id] = index
        self._conversations.record(line.speaker, line.addressees, index, ts)
        self._conversations.spoke_in(index, ts)
        self._previous = index
