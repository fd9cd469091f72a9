"""The offline memory distiller: deterministic, extractive, no network, and the product's default.

It reads the messages integrated since the last evolution and the topics they changed:
- a decision is a sentence with a decision cue ("决定", "定了", "就这么办", "we decided",
  "let's go with"); a bare "定了！" takes its content from the message it answers, unless that
  one says nothing worth keeping (a bare mention, a sticker, an image);
- a preference is a sentence with a preference cue ("喜欢", "偏好", "prefer", "I like"),
  kept with who said it;
- consensus is a sentence with a consensus cue ("大家都同意", "we all agree"), or a statement
  that at least two other people agreed with ("同意", "+1", "sounds good");
- an open question is a question ("？", "?", "...吗") that nobody answered: no reply to it, and
  nobody else spoke after it in its topic;
- a fact is the lead of a changed topic's summary, one per topic.

Nothing is generated, so an item keeps the language of the chat. A statement that repeats a live
item adds to that item's provenance; one that revises a live decision, consensus or preference
of the same topic (and person) supersedes it, statements being compared without their cue words
and author; a decision that matches an open question of its topic, or a reply to the question,
settles that question. A full memory retires its oldest facts to make room. Every answer passes
:func:`memory_domain.evolution_rules.validate_distillation`.

:mod:`adapters.llm.offline_candidates` reads the candidates off the chat;
:mod:`adapters.llm.offline_plan` weighs them against the live items.
"""

from __future__ import annotations

from adapters.llm.offline_candidates import agreed, fact, open_questions, order_of, stated
from adapters.llm.offline_plan import Plan
from adapters.llm.text import approx_tokens
from memory_domain.errors import ModelError
from memory_domain.evolution_rules import validate_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemKind
from memory_domain.model import ModelUsage

DEFAULT_NAME = "offline-distiller-v1"
FACT_MIN_MESSAGES = 3


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
        plan = Plan(distil_input.group_id, live, distil_input.topics)
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
        usage = ModelUsage(self._name, prompt_tokens=read, completion_tokens=written)
        return Distillation(items=tuple(drafts), usage=usage, retired=tuple(plan.retired))
