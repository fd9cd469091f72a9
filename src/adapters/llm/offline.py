"""The offline topic model: deterministic, extractive, no network, and the product's default.

It follows a chat's conversations the way its people do: a message joins the conversation of
the message it replies to, of the person it addresses, or its sender's own, and otherwise the
most similar topic, or opens a new one (see :mod:`adapters.llm.offline_assign` for how these
are weighed). System notices (joins, quits, nick changes) go to a topic of their own (see
:mod:`adapters.llm.offline_notices`). Each topic is titled by its key terms, never by a name,
and summarised with its own sentences (see :mod:`adapters.llm.offline_compose`). Chinese and
English are handled alike, and nothing is translated: a Chinese topic gets a Chinese title and
summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from adapters.llm.offline_assign import Assigner
from adapters.llm.offline_compose import (
    candidate_sentences,
    key_terms,
    leading_phrase,
    summarise,
    title_of,
)
from adapters.llm.offline_keep import kept_states
from adapters.llm.offline_notices import looks_like_notices, notices_summary, notices_title, window_of
from adapters.llm.offline_reading import Reader
from adapters.llm.offline_state import TopicState, timestamp, utc
from adapters.llm.offline_vectors import ANALYSED_CHARS
from adapters.llm.text import approx_tokens, clip, split_sentences
from memory_domain.errors import ModelError
from memory_domain.model import (
    ChatMessage,
    ModelUsage,
    Topic,
    TopicDraft,
    TopicModelInput,
    TopicRewrite,
)
from memory_domain.rewrite_rules import (
    MAX_ACTIVE_TOPICS,
    MAX_SUMMARY_LENGTH,
    MAX_TITLE_LENGTH,
    validate_rewrite,
)

DEFAULT_NAME = "offline-extractive-v1"
# A title names what the topic is about now: its latest messages (with its old title and summary).
TITLE_MESSAGES = 40
# An existing summary is read up to this many characters: its start carries its gist, and
# reading 50 summaries of the full 2,000 characters would cost more than the batch itself.
SUMMARY_READ_CHARS = 1_000
# Only for a stored topic whose title and summary are both blank, which no valid rewrite produces.
_UNTITLED = "Untitled topic"


def _unique_in_order(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The messages without repeated ids, oldest first (ties by id, so the order never varies)."""
    unique: dict[str, ChatMessage] = {}
    for message in messages:
        unique.setdefault(message.message_id, message)
    return sorted(unique.values(), key=lambda message: (utc(message.sent_at), message.message_id))


def _unique_topics(topics: Iterable[Topic]) -> list[Topic]:
    unique: dict[str, Topic] = {}
    for topic in topics:
        unique.setdefault(topic.topic_id, topic)
    return list(unique.values())


class OfflineTopicModel:
    """A deterministic, extractive topic model that needs no network.

    The same input always gives the same rewrite, and every rewrite passes
    :func:`memory_domain.rewrite_rules.validate_rewrite`. Token usage is an estimate of the
    text read and written, so revisions record comparable numbers for every model.
    """

    def __init__(self, name: str = DEFAULT_NAME) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """The model's name, recorded on each revision."""
        return self._name

    async def rewrite_topics(self, model_input: TopicModelInput) -> TopicRewrite:
        """Fold the new messages into the topics. Raises :class:`ModelError` on any failure."""
        # Pure CPU, milliseconds for a full batch (200 messages, 50 topics): off the event loop
        # all the same, so that no rewrite stalls the worker's other jobs and their heartbeats.
        try:
            rewrite = await asyncio.to_thread(self._rewrite, model_input)
        except ModelError:
            raise
        except Exception as exc:  # the port promises ModelError, whatever went wrong
            raise ModelError(f"the offline topic model failed: {type(exc).__name__}: {exc}") from exc
        validate_rewrite(model_input, rewrite)
        return rewrite

    def _rewrite(self, model_input: TopicModelInput) -> TopicRewrite:
        topics = _unique_topics(model_input.topics)
        new_messages = _unique_in_order(model_input.new_messages)
        if not new_messages and not topics:
            raise ModelError("nothing to rewrite: no topics and no new messages")
        new_ids = {message.message_id for message in new_messages}
        context = [
            message
            for message in _unique_in_order(model_input.context_messages)
            if message.message_id not in new_ids
        ]
        topic_texts = [f"{topic.title}\n{topic.summary[:SUMMARY_READ_CHARS]}" for topic in topics]
        reader = Reader([*context, *new_messages], topic_texts)
        analyser = reader.analyser
        assigner = Assigner(MAX_ACTIVE_TOPICS)
        # Which topic holds each context message: the store's word, else the topic's newest ids.
        filed: dict[str, list[str]] = {topic.topic_id: [] for topic in topics}
        for message_id, topic_id in model_input.context_topics.items():
            if topic_id in filed and message_id not in new_ids:
                filed[topic_id].append(message_id)
        for topic, text in zip(topics, topic_texts, strict=True):
            known = [message_id for message_id in topic.message_ids if message_id not in new_ids]
            assigner.seed(
                topic, analyser.vector(text), analyser.features(text), [*filed[topic.topic_id], *known]
            )
        # Context first: it tells what each topic is about, who talks in it and when it spoke.
        for message in context:
            assigner.absorb_context(reader.line(message))
        assigner.settle_context([looks_like_notices(topic.title, topic.summary) for topic in topics])
        for message in new_messages:
            assigner.place(reader.line(message))
        current_window = window_of(timestamp(new_messages[-1].sent_at)) if new_messages else None
        kept = kept_states(assigner.states, assigner.in_use, MAX_ACTIVE_TOPICS, current_window)
        drafts = tuple(self._draft(state, reader) for state in kept)
        read = sum(approx_tokens(topic.title) + approx_tokens(topic.summary) for topic in topics)
        read += sum(approx_tokens(message.content) for message in (*context, *new_messages))
        written = sum(approx_tokens(draft.title) + approx_tokens(draft.summary) for draft in drafts)
        return TopicRewrite(
            topics=drafts,
            usage=ModelUsage(model=self._name, prompt_tokens=read, completion_tokens=written),
        )

    def _draft(self, state: TopicState, reader: Reader) -> TopicDraft:
        existing = state.existing
        previous_title = None
        if existing is not None:
            previous_title = _existing_title(existing)
            if not state.new_messages:
                return TopicDraft(
                    topic_id=existing.topic_id,
                    title=previous_title,
                    summary=_existing_summary(existing, previous_title),
                )
        if state.is_notices:
            return _notices_draft(state, reader, previous_title)
        analyser = reader.analyser
        talk = [message for message in state.new_messages if not reader.is_notice(message)]
        summary_start = existing.summary[:SUMMARY_READ_CHARS] if existing is not None else ""
        kept = split_sentences(summary_start)
        if len(existing.summary if existing is not None else "") > SUMMARY_READ_CHARS:
            kept = kept[:-1]  # the cut may have split the last sentence
        fresh = candidate_sentences([reader.said(message) for message in talk])
        # A nick is who talks, never what about: no title is made of one.
        people = reader.people
        documents: list[str] = []
        if existing is not None:
            documents += [people.without_names(existing.title), people.without_names(summary_start)]
        recent = [*state.context, *talk][-TITLE_MESSAGES:]
        documents += [people.without_names(reader.read(message)[:ANALYSED_CHARS]) for message in recent]
        terms = key_terms(documents, analyser.idf, state.script == "cjk")
        summary = summarise([*kept, *fresh], len(kept), analyser, terms)
        title = clip(title_of(terms, people.without_names(summary.lead), previous_title), MAX_TITLE_LENGTH)
        text = clip(summary.text, MAX_SUMMARY_LENGTH)
        said = reader.said((talk or state.new_messages)[0])
        first = people.without_names(said)
        return TopicDraft(
            topic_id=existing.topic_id if existing is not None else None,
            title=title
            or clip(leading_phrase(first), MAX_TITLE_LENGTH)
            or clip(first, MAX_TITLE_LENGTH)
            or clip(said, MAX_TITLE_LENGTH),  # a message that is nothing but a name
            summary=text or clip(said, MAX_SUMMARY_LENGTH),
            new_message_ids=tuple(message.message_id for message in state.new_messages),
        )


def _notices_draft(state: TopicState, reader: Reader, previous_title: str | None) -> TopicDraft:
    """A topic of notices is titled by what happened and summarised by its latest notices."""
    texts = [reader.said(message) for message in state.notices]
    # A line that is nothing but a marker ("***") leaves no words: it is shown as it came.
    shown = next((text for text in reversed(texts) if text), state.new_messages[-1].content)
    title = clip(notices_title(texts), MAX_TITLE_LENGTH) or previous_title or clip(shown, MAX_TITLE_LENGTH)
    existing = state.existing
    return TopicDraft(
        topic_id=existing.topic_id if existing is not None else None,
        title=title,
        summary=clip(notices_summary(texts), MAX_SUMMARY_LENGTH) or clip(shown, MAX_SUMMARY_LENGTH),
        new_message_ids=tuple(message.message_id for message in state.new_messages),
    )


def _existing_title(topic: Topic) -> str:
    title = clip(topic.title, MAX_TITLE_LENGTH)
    if title:
        return title
    return clip(leading_phrase(topic.summary), MAX_TITLE_LENGTH) if topic.summary.strip() else _UNTITLED


def _existing_summary(topic: Topic, title: str) -> str:
    return clip(topic.summary, MAX_SUMMARY_LENGTH) or title
