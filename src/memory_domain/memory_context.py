"""The memory context a chat service puts into a reply prompt: retrieval, not a dump.

For a query, group-memory items, topics and the group's messages are ranked by BM25 over the
search index (the same idf for all three), and the best of them fill the caller's character
budget; each message line says who said it, under the day it was said, so that "who" and
"when" questions can be answered. Without a query, the most recent and best-supported items
and topics come first and the latest messages fill the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo

from memory_domain.context_render import (
    ITEMS_HEADING,
    MESSAGES_HEADING,
    TOPICS_HEADING,
    Layout,
    day_label,
    is_cjk_text,
    one_line,
)
from memory_domain.embedding import Embedder, blend, semantic_scores
from memory_domain.errors import ModelError
from memory_domain.evolution_frame import split_frame
from memory_domain.group_model import ItemKind, MemoryItem
from memory_domain.group_ports import GroupMemoryStore
from memory_domain.model import ChatMessage, Topic, validate_group_id
from memory_domain.ports import Clock, MemoryStore
from memory_domain.relative_dates import annotate
from memory_domain.relevance import weight
from memory_domain.search import (
    POSTINGS_PER_TERM,
    SearchIndex,
    bm25_scores,
    query_terms,
    term_weights,
    text_score,
)

__all__ = [
    "ITEMS_HEADING",
    "MESSAGES_HEADING",
    "TOPICS_HEADING",
    "ContextEntry",
    "MemoryContext",
    "MemoryContextReader",
]

logger = logging.getLogger(__name__)

MAX_BUDGET = 1_000_000
# Messages read for one context: the best-scoring ones (with a query) or the latest (without).
CANDIDATE_MESSAGES = 60
# Without a query: the share of the budget items and topics may take before messages.
UNQUERIED_ITEMS_SHARE = 0.45
UNQUERIED_TOPICS_SHARE = 0.15
TOPIC_LINE_CHARS = 200
_KIND_BONUS = {
    ItemKind.DECISION: 0.3,
    ItemKind.CONSENSUS: 0.3,
    ItemKind.PREFERENCE: 0.2,
    ItemKind.OPEN_QUESTION: 0.1,
    ItemKind.FACT: 0.0,
}
_TOPIC_BONUS = 0.1


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One entry of the context: an item, a topic or a message, with its provenance."""

    kind: str  # "item", "topic" or "message"
    key: str  # the item, topic or message id
    score: float
    text: str  # once chosen: its line as it stands in the context's text (cut when that was)
    message_ids: tuple[str, ...]
    speakers: tuple[str, ...]
    dates: tuple[str, ...]  # ISO days (YYYY-MM-DD) it was said and means; YYYY-MM / YYYY when vaguer


@dataclass(frozen=True, slots=True)
class MemoryContext:
    """A group's memory cut to a budget: structured, and as text ready for a prompt.

    ``entries`` are the entries that made it into ``text``, best first; ``items``, ``topics``
    and ``messages`` the same split by kind. ``omitted`` counts candidates left out for the
    budget; ``truncated`` says an entry in ``text`` was cut short. ``len(text)`` never exceeds
    ``budget_chars``.
    """

    group_id: str
    budget_chars: int
    query: str | None
    entries: tuple[ContextEntry, ...]
    items: tuple[MemoryItem, ...]
    topics: tuple[Topic, ...]
    messages: tuple[ChatMessage, ...]
    text: str
    omitted: int
    truncated: bool
    group_memory_version: int
    topic_version: int


@dataclass(slots=True)
class _Candidate:
    score: float
    entry: ContextEntry
    section: str
    line: str
    item: MemoryItem | None = None
    topic: Topic | None = None
    message: ChatMessage | None = None


class MemoryContextReader:
    """Reads what a reply prompt needs for a group, most relevant first, within a character budget."""

    def __init__(
        self,
        store: MemoryStore,
        group_store: GroupMemoryStore,
        search: SearchIndex,
        clock: Clock,
        zone: tzinfo = UTC,
        embedder: Embedder | None = None,
        semantic_weight: float = 0.3,
        semantic_timeout: float = 3.0,
        semantic_pause: float = 60.0,
    ) -> None:
        # The optional semantic signal re-ranks the lexical candidates and brings up items and
        # topics that share no word with the query; it may never fail or stall a reply: a call
        # waits at most ``semantic_timeout``, and after a failure replies go without it for
        # ``semantic_pause`` seconds instead of each waiting on a server that is down.
        self._embedder = embedder
        self._semantic_weight = semantic_weight
        self._semantic_timeout = semantic_timeout
        self._semantic_pause = semantic_pause
        self._semantic_paused_until = 0.0
        # Days are written in the group's time zone (MEMORY_TIMEZONE): 07:00 in Beijing is the
        # previous day in UTC, and a reply should not say "yesterday" about this morning.
        self._zone = zone
        self._store = store
        self._group_store = group_store
        self._search = search
        self._clock = clock

    async def context(self, group_id: str, budget_chars: int, query: str | None = None) -> MemoryContext:
        """The group's memory for a reply prompt, at most ``budget_chars`` characters of text.

        ``query`` (the message being answered, say) ranks what is relevant to it first.
        """
        validate_group_id(group_id)
        if query is not None and not isinstance(query, str):
            raise ValueError(f"query must be a string or None, got {type(query).__name__}")
        if not isinstance(budget_chars, int) or not 0 <= budget_chars <= MAX_BUDGET:
            raise ValueError(
                f"budget_chars must be an integer between 0 and {MAX_BUDGET}, got {budget_chars!r}"
            )
        memory = await self._group_store.get_group_memory(group_id)
        topics = await self._store.get_topic_memory(group_id)
        terms = query_terms(query) if query and query.strip() else []
        if terms:
            candidates = await self._queried(group_id, query or "", terms, memory.live_items, topics.topics)
            layout, chosen = _fit(candidates, budget_chars, self._zone)
        else:
            candidates = await self._unqueried(group_id, memory.live_items, topics.topics)
            layout, chosen = _fit_in_shares(candidates, budget_chars, self._zone)
        text = layout.render()
        assert len(text) <= budget_chars
        return MemoryContext(
            group_id=group_id,
            budget_chars=budget_chars,
            query=query,
            entries=tuple(c.entry for c in chosen),
            items=tuple(c.item for c in chosen if c.item is not None),
            topics=tuple(c.topic for c in chosen if c.topic is not None),
            messages=tuple(c.message for c in chosen if c.message is not None),
            text=text,
            omitted=len(candidates) - len(chosen),
            truncated=layout.truncated,
            group_memory_version=memory.version,
            topic_version=topics.version,
        )

    async def _queried(
        self,
        group_id: str,
        query: str,
        terms: list[str],
        items: tuple[MemoryItem, ...],
        topics: tuple[Topic, ...],
    ) -> list[_Candidate]:
        result = await self._search.search(group_id, terms, POSTINGS_PER_TERM)
        if result.documents == 0 and topics:
            logger.warning(
                "group %s has topics but an empty search index: run `ai-worker memory reindex --stale`",
                group_id,
            )
        weights = term_weights(result)
        average = result.average_length or 20.0
        scores = bm25_scores(result)
        best = sorted(scores, key=lambda message_id: (-scores[message_id], message_id))[:CANDIDATE_MESSAGES]
        messages = await self._store.messages_by_ids(group_id, best)
        candidates = [_message_candidate(m, scores[m.message_id], self._zone) for m in messages]
        for item in items:
            # Scored as a message is: who said it and what, not the frame's "said on <day>".
            framed = split_frame(item.text, legacy=True)
            score = text_score(weights, f"{framed.author or ''} {framed.statement}", average)
            candidates.append(_item_candidate(item, score, self._zone))
        for topic in topics:
            score = text_score(weights, f"{topic.title}\n{topic.summary}", average)
            candidates.append(_topic_candidate(topic, score, self._zone))
        if (
            self._embedder is not None
            and self._semantic_weight > 0
            and time.monotonic() >= self._semantic_paused_until
        ):
            candidates = await self._reranked(query, candidates)
        candidates = [c for c in candidates if c.score > 0]
        candidates.sort(key=lambda c: (-c.score, c.entry.kind, c.entry.key))
        return candidates

    async def _reranked(self, query: str, candidates: list[_Candidate]) -> list[_Candidate]:
        assert self._embedder is not None
        key = {id(c): f"{c.entry.kind}:{c.entry.key}" for c in candidates}
        texts = {key[id(c)]: c.entry.text for c in candidates if c.entry.text.strip()}
        try:
            async with asyncio.timeout(self._semantic_timeout):
                semantic = await semantic_scores(self._embedder, query, texts)
        except (ModelError, TimeoutError) as error:
            self._semantic_paused_until = time.monotonic() + self._semantic_pause
            logger.warning(
                "memory context: ranking without embeddings for %.0f s (%s)",
                self._semantic_pause,
                str(error) or "no answer in time",
            )
            return candidates
        lexical = {key[id(c)]: c.score for c in candidates}
        blended = blend(lexical, semantic, self._semantic_weight)
        for candidate in candidates:
            candidate.score = blended.get(key[id(candidate)], 0.0)
            candidate.entry = replace(candidate.entry, score=candidate.score)
        return candidates

    async def _unqueried(
        self, group_id: str, items: tuple[MemoryItem, ...], topics: tuple[Topic, ...]
    ) -> list[_Candidate]:
        now = self._clock.now()
        recent = await self._store.recent_integrated_messages(group_id, CANDIDATE_MESSAGES)
        candidates = [
            _item_candidate(
                item, weight(item.updated_at, len(item.message_ids), now, _KIND_BONUS[item.kind]), self._zone
            )
            for item in items
        ]
        candidates += [
            _topic_candidate(
                topic, weight(topic.updated_at, topic.message_count, now, _TOPIC_BONUS), self._zone
            )
            for topic in topics
        ]
        # The latest message first: it scores highest among the messages.
        candidates += [_message_candidate(m, float(rank), self._zone) for rank, m in enumerate(recent, 1)]
        candidates.sort(
            key=lambda c: (c.section != ITEMS_HEADING, c.section != TOPICS_HEADING, -c.score, c.entry.key)
        )
        return candidates


def _item_candidate(item: MemoryItem, score: float, zone: tzinfo) -> _Candidate:
    label = item.kind.value.replace("_", " ")
    line = f"- [{label}] {one_line(item.text)}"
    author = split_frame(item.text, legacy=True).author
    entry = ContextEntry(
        "item",
        item.item_id,
        score,
        item.text,
        item.message_ids,
        (author,) if author else (),
        (item.valid_from.astimezone(zone).date().isoformat(),),
    )
    return _Candidate(score, entry, ITEMS_HEADING, line, item=item)


def _topic_candidate(topic: Topic, score: float, zone: tzinfo) -> _Candidate:
    line = f"- {one_line(topic.title)}: {one_line(topic.summary)}"
    if len(line) > TOPIC_LINE_CHARS:
        # A topic says what a conversation is about; its messages say the rest, and a whole
        # summary would spend the budget of several of them.
        line = line[: TOPIC_LINE_CHARS - 1].rstrip() + "…"
    entry = ContextEntry(
        "topic",
        topic.topic_id,
        score,
        f"{topic.title}: {topic.summary}",
        topic.message_ids[-20:],
        (),
        (topic.updated_at.astimezone(zone).date().isoformat(),),
    )
    return _Candidate(score, entry, TOPICS_HEADING, line, topic=topic)


def _message_candidate(message: ChatMessage, score: float, zone: tzinfo) -> _Candidate:
    said_on = message.sent_at.astimezone(zone).date()
    # "yesterday" in a message read months later says nothing: the day it means goes with it.
    content, meant = annotate(one_line(message.content), said_on, is_cjk_text([message.content]))
    speaker = one_line(message.sender_name) or message.sender_id
    entry = ContextEntry(
        "message",
        message.message_id,
        score,
        message.content,
        (message.message_id,),
        (speaker,),
        tuple(dict.fromkeys((said_on.isoformat(), *meant))),
    )
    return _Candidate(score, entry, MESSAGES_HEADING, f"{speaker}: {content}", message=message)


def _day(candidate: _Candidate, cjk: bool, zone: tzinfo) -> str | None:
    if candidate.message is None:
        return None
    return day_label(candidate.message.sent_at.astimezone(zone), cjk)


def _fit(candidates: list[_Candidate], budget: int, zone: tzinfo) -> tuple[Layout, list[_Candidate]]:
    """The best candidates whose lines fit, in rank order; a line that does not fit is skipped.

    An item and the one message it was distilled from say the same thing: whichever ranks
    first is kept, the other skipped, so the budget buys more than one copy.
    """
    layout = Layout(budget)
    cjk = is_cjk_text([c.line for c in candidates[:20]])
    chosen = []
    said: set[str] = set()  # ids of messages in the context, or restated by an item in it
    for candidate in candidates:
        sources = set(candidate.entry.message_ids)
        if candidate.section != TOPICS_HEADING and sources and sources <= said:
            continue
        day = _day(candidate, cjk, zone)
        order = (candidate.message.sent_at, candidate.message.message_id) if candidate.message else None
        line = layout.add(candidate.section, candidate.line, day, order)
        if line is not None:
            candidate.entry = replace(candidate.entry, text=line)
            chosen.append(candidate)
            if candidate.section != TOPICS_HEADING and len(sources) == 1:
                said |= sources
            if layout.truncated:
                break
    return layout, chosen


def _fit_in_shares(
    candidates: list[_Candidate], budget: int, zone: tzinfo
) -> tuple[Layout, list[_Candidate]]:
    """Without a query: items, then topics, each within its share; messages fill the rest."""
    layout = Layout(budget)
    cjk = is_cjk_text([c.line for c in candidates[:20]])
    shares = {
        ITEMS_HEADING: int(budget * UNQUERIED_ITEMS_SHARE),
        TOPICS_HEADING: int(budget * (UNQUERIED_ITEMS_SHARE + UNQUERIED_TOPICS_SHARE)),
        MESSAGES_HEADING: budget,
    }
    chosen = []
    for candidate in candidates:
        day = _day(candidate, cjk, zone)
        order = (candidate.message.sent_at, candidate.message.message_id) if candidate.message else None
        section = candidate.section
        # Only the last section may cut a line short: a cut item would read as a different one.
        line = layout.add(
            section, candidate.line, day, order, cut=section == MESSAGES_HEADING, limit=shares[section]
        )
        if line is not None:
            candidate.entry = replace(candidate.entry, text=line)
            chosen.append(candidate)
    return layout, chosen
