"""The offline memory distiller: deterministic, extractive, no network, and the product's default.

It reads the messages integrated since the last evolution and the topics they changed:
- a decision is a sentence with a decision cue ("决定", "定了", "就这么办", "we decided",
  "let's go with"); a bare "定了！" takes its content from the message it answers;
- a preference is a sentence with a preference cue ("喜欢", "偏好", "prefer", "I like"),
  kept with who said it;
- consensus is a sentence with a consensus cue ("大家都同意", "we all agree"), or a statement
  that at least two other people agreed with ("同意", "+1", "sounds good");
- an open question is a question ("？", "?", "...吗") that nobody answered: no reply to it, and
  nobody else spoke after it in its topic;
- a fact is the lead of a changed topic's summary, one per topic.

Nothing is generated, so an item keeps the language of the chat. A statement that repeats a live
item adds to that item's provenance; one that revises a live decision, consensus or preference
of the same topic (or person) supersedes it; a decision that matches an open question of its
topic, or a reply to the question, settles that question. Every answer passes
:func:`memory_domain.evolution_rules.validate_distillation`.

:mod:`adapters.llm.offline_candidates` reads the candidates off the chat; this module weighs
them against the live items.
"""

from __future__ import annotations

from adapters.llm.offline_candidates import (
    Candidate,
    agreed,
    cosine,
    fact,
    open_questions,
    order_of,
    stated,
)
from adapters.llm.text import approx_tokens, features
from memory_domain.errors import ModelError
from memory_domain.evolution_rules import MAX_LIVE_ITEMS, superseding_limit, validate_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft, ItemKind, MemoryItem
from memory_domain.model import ChatMessage, ModelUsage

DEFAULT_NAME = "offline-distiller-v1"
SAME_ITEM = 0.8
REVISES = 0.3
SETTLES = 0.2
FACT_MIN_MESSAGES = 3
# When the memory is full, new items are dropped in this order (facts first).
_KEEP_PRIORITY = {
    ItemKind.FACT: 0,
    ItemKind.OPEN_QUESTION: 1,
    ItemKind.PREFERENCE: 2,
    ItemKind.CONSENSUS: 3,
    ItemKind.DECISION: 4,
}
_PERSONAL = (ItemKind.PREFERENCE, ItemKind.OPEN_QUESTION)


def _author_of(item: MemoryItem) -> str | None:
    return item.text.split(": ", 1)[0] if item.kind in _PERSONAL and ": " in item.text else None


class OfflineMemoryDistiller:
    """A deterministic, extractive distiller that needs no network (see the module docstring)."""

    def __init__(self, name: str = DEFAULT_NAME) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def distil(self, distil_input: DistillInput) -> Distillation:
        try:
            answer = self._distil(distil_input)
        except ModelError:
            raise
        except Exception as exc:  # the port promises ModelError, whatever went wrong
            raise ModelError(f"the offline distiller failed: {type(exc).__name__}: {exc}") from exc
        validate_distillation(distil_input, answer)
        return answer

    def _distil(self, distil_input: DistillInput) -> Distillation:
        topic_of = {m: topic.topic_id for topic in distil_input.topics for m in topic.message_ids}
        unique = {m.message_id: m for m in distil_input.messages if m.message_id in topic_of}
        messages = sorted(unique.values(), key=order_of)
        candidates = [*stated(messages, topic_of), *agreed(messages, topic_of)]
        candidates += open_questions(messages, topic_of)
        candidates.sort(key=lambda c: c.order)
        # A topic of a message or two is chatter more often than a fact worth keeping, unless
        # it already has a fact to refresh.
        live = [item for item in distil_input.items if item.live]
        with_facts = {t for item in live if item.kind is ItemKind.FACT for t in item.topic_ids}
        facts = [
            fact(topic)
            for topic in distil_input.topics
            if len(topic.message_ids) >= FACT_MIN_MESSAGES or topic.topic_id in with_facts
        ]
        plan = _Plan(live)
        for candidate in [*candidates, *facts]:
            plan.add(candidate)
        plan.settle_questions(messages)
        drafts = plan.drafts()
        if not drafts:
            # An answer must hold at least one item: the gist of every changed topic, then.
            for topic in distil_input.topics:
                plan.add(fact(topic))
            drafts = plan.drafts()
        read = sum(approx_tokens(m.content) for m in messages)
        read += sum(approx_tokens(t.title) + approx_tokens(t.summary) for t in distil_input.topics)
        read += sum(approx_tokens(item.text) for item in distil_input.items)
        written = sum(approx_tokens(draft.text or "") for draft in drafts)
        return Distillation(
            items=tuple(drafts), usage=ModelUsage(self._name, prompt_tokens=read, completion_tokens=written)
        )


class _Plan:
    """The answer under construction: live items kept (maybe updated or superseded), new items."""

    def __init__(self, live: list[MemoryItem]) -> None:
        self.live = live
        self.vectors = {item.item_id: features(item.text).counts for item in live}
        self.texts: dict[str, str] = {}
        self.provenance: dict[str, tuple[list[str], list[str]]] = {item.item_id: ([], []) for item in live}
        self.superseded: set[str] = set()
        self.budget = superseding_limit(len(live))
        self.new: list[Candidate] = []

    def _current(self, kind: ItemKind) -> list[MemoryItem]:
        return [i for i in self.live if i.kind is kind and i.item_id not in self.superseded]

    def _add_provenance(self, item_id: str, candidate: Candidate) -> None:
        topics, messages = self.provenance[item_id]
        topics.append(candidate.topic_id)
        messages.extend(candidate.message_ids)

    def add(self, candidate: Candidate) -> None:
        if candidate.kind is ItemKind.FACT:
            for item in self._current(ItemKind.FACT):
                if candidate.topic_id in item.topic_ids:
                    self._add_provenance(item.item_id, candidate)
                    if candidate.text != item.text:
                        self.texts[item.item_id] = candidate.text
                    return
            # A fact that only repeats a decision, a preference... of this evolution adds nothing.
            if any(cosine(candidate.vector, planned.vector) >= SAME_ITEM for planned in self.new):
                return
        same_person = [
            item
            for item in self._current(candidate.kind)
            if candidate.author is None or _author_of(item) == candidate.author
        ]
        scored = sorted(
            ((cosine(candidate.vector, self.vectors[i.item_id]), i) for i in same_person), key=_rank
        )
        if scored and scored[0][0] >= SAME_ITEM:
            self._add_provenance(scored[0][1].item_id, candidate)
            return
        for planned in self.new:
            if planned.kind is candidate.kind and planned.author == candidate.author:
                similarity = cosine(candidate.vector, planned.vector)
                revises = similarity >= REVISES and planned.topic_id == candidate.topic_id
                if similarity >= SAME_ITEM or (revises and candidate.kind is not ItemKind.OPEN_QUESTION):
                    # Within one evolution the later statement wins, with both provenances.
                    planned.text, planned.vector = candidate.text, candidate.vector
                    planned.message_ids = list(dict.fromkeys([*planned.message_ids, *candidate.message_ids]))
                    return
        if candidate.kind not in (ItemKind.FACT, ItemKind.OPEN_QUESTION):
            for similarity, item in scored:
                same_topic = candidate.topic_id in item.topic_ids or candidate.author is not None
                if similarity >= REVISES and same_topic and self.budget > 0:
                    candidate.supersedes.append(item.item_id)
                    self.superseded.add(item.item_id)
                    self.budget -= 1
        self.new.append(candidate)

    def settle_questions(self, messages: list[ChatMessage]) -> None:
        """Supersede open questions that a reply answered or a new decision or consensus settled."""
        replied = {m.reply_to for m in messages if m.reply_to}
        for question in self._current(ItemKind.OPEN_QUESTION):
            if self.budget <= 0:
                return
            settling = next(
                (
                    c
                    for c in self.new
                    if c.kind in (ItemKind.DECISION, ItemKind.CONSENSUS)
                    and c.topic_id in question.topic_ids
                    and cosine(c.vector, self.vectors[question.item_id]) >= SETTLES
                ),
                None,
            )
            if settling is None and not replied & set(question.message_ids):
                continue
            if settling is not None:
                settling.supersedes.append(question.item_id)
            self.superseded.add(question.item_id)
            self.budget -= 1

    def drafts(self) -> list[ItemDraft]:
        # A full memory drops the least important new items first; a dropped item's
        # supersessions go with it, so the items it would have replaced stay live.
        new = sorted(self.new, key=lambda c: (_KEEP_PRIORITY[c.kind], c.order))
        while new and len(self.live) - len(self.superseded) + len(new) > MAX_LIVE_ITEMS:
            self.superseded -= set(new.pop(0).supersedes)
        new = [c for c in self.new if c in new]
        kept = [item for item in self.live if item.item_id not in self.superseded]
        drafts = [
            ItemDraft(
                item_id=item.item_id,
                kind=None,
                text=self.texts.get(item.item_id),
                topic_ids=tuple(dict.fromkeys(self.provenance[item.item_id][0])),
                message_ids=tuple(dict.fromkeys(self.provenance[item.item_id][1])),
            )
            for item in kept
        ]
        drafts += [
            ItemDraft(
                item_id=None,
                kind=c.kind,
                text=c.text,
                topic_ids=(c.topic_id,),
                message_ids=tuple(dict.fromkeys(c.message_ids)),
                supersedes=tuple(c.supersedes),
            )
            for c in new
        ]
        return drafts


def _rank(scored: tuple[float, MemoryItem]) -> tuple[float, str]:
    return (-scored[0], scored[1].item_id)
