"""The offline memory distiller: deterministic, extractive, no network, and the product's default.

It reads the messages integrated since the last evolution and the topics they changed:
- a decision is a sentence with a decision cue ("决定", "定了", "就这么办", "we decided",
  "let's go with"); a bare "定了！" takes its content from the message it answers, unless that
  one says nothing worth keeping (a bare mention, a sticker, an image);
- a preference is a sentence with a preference cue ("喜欢", "偏好", "prefer", "I like");
- consensus is a sentence with a consensus cue ("大家都同意", "we all agree"), or a statement
  that at least two other people agreed with ("同意", "+1", "sounds good");
- an open question is a question ("？", "?", "...吗") that nobody answered: no reply to it, and
  nobody else spoke after it in its topic;
- a fact is one of the most telling statements of a topic's other messages
  (:mod:`adapters.llm.offline_facts`).

Every item says who stated it and on which day, with relative times resolved ("Caroline said
on 8 May 2023: I went to a LGBTQ support group yesterday [7 May 2023] …", "小王于2026年11月2日说：
…"; see :mod:`adapters.llm.offline_frame`). Greetings, thanks, acknowledgements and names do not
count as content (:mod:`adapters.llm.offline_chatter`): a chat of nothing else gives no item.

Nothing is generated, so an item keeps the language of the chat. A statement that repeats a live
item adds to that item's provenance; a later statement on the same subject supersedes the
earlier one (:meth:`adapters.llm.offline_plan.Plan.revises`), statements being compared without
their cue words, author and date; a decision that matches an open question of its topic, or a
reply to the question, settles that question. A full memory retires its oldest facts to make
room. Every answer passes :func:`memory_domain.evolution_rules.validate_distillation`.

:mod:`adapters.llm.offline_candidates` reads the candidates off the chat;
:mod:`adapters.llm.offline_plan` weighs them against the live items.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, tzinfo

from adapters.llm.offline_candidates import agreed, chat_is_cjk, open_questions, order_of, stated
from adapters.llm.offline_chatter import Names
from adapters.llm.offline_facts import facts
from adapters.llm.offline_frame import Framer
from adapters.llm.offline_plan import Plan
from adapters.llm.text import approx_tokens
from memory_domain.errors import ModelError
from memory_domain.evolution_rules import validate_distillation
from memory_domain.group_model import Distillation, DistillInput, ItemKind
from memory_domain.model import ModelUsage

DEFAULT_NAME = "offline-distiller-v1"


class OfflineMemoryDistiller:
    """A deterministic, extractive distiller that needs no network (see the module docstring)."""

    def __init__(self, name: str = DEFAULT_NAME, zone: tzinfo = UTC) -> None:
        # Items name the day a statement was made in ``zone``, the group's time zone
        # (MEMORY_TIMEZONE), as the memory context names the days of messages.
        self._name = name
        self._zone = zone

    @property
    def name(self) -> str:
        return self._name

    async def distil(self, distil_input: DistillInput) -> Distillation:
        try:
            # Off the event loop: a long evolution must not stall the worker's other jobs
            # (their lease heartbeats included).
            answer = await asyncio.to_thread(self._distil, distil_input)
        except ModelError:
            raise
        except Exception as exc:  # the port promises ModelError, whatever went wrong
            raise ModelError(f"the offline distiller failed: {type(exc).__name__}: {exc}") from exc
        validate_distillation(distil_input, answer)
        return answer

    def _distil(self, distil_input: DistillInput) -> Distillation:
        # A topic names only its newest messages; the store says where each message is filed.
        shown = {topic.topic_id for topic in distil_input.topics}
        topic_of = {m: topic.topic_id for topic in distil_input.topics for m in topic.message_ids}
        topic_of.update((m, t) for m, t in distil_input.message_topics.items() if t in shown)
        unique = {m.message_id: m for m in distil_input.messages if m.message_id in topic_of}
        messages = sorted(unique.values(), key=order_of)
        framer = Framer(self._zone, chat_is_cjk(messages))
        names = Names(name for m in messages for name in (m.sender_name, m.sender_id))
        candidates = [*stated(messages, topic_of, framer, names), *agreed(messages, topic_of, framer, names)]
        candidates += open_questions(messages, topic_of, framer, names)
        candidates.sort(key=lambda c: c.order)
        # A question leaves the rest of its message to give a fact; the other kinds take it all.
        taken = {m for c in candidates if c.kind is not ItemKind.OPEN_QUESTION for m in c.message_ids}
        live = [item for item in distil_input.items if item.live]
        plan = Plan(distil_input.group_id, live, distil_input.topics)
        for candidate in [*candidates, *facts(messages, topic_of, taken, framer, names)]:
            plan.add(candidate)
        plan.settle_questions(messages)
        # A chat of greetings and thanks gives no item: with nothing live, the answer is empty.
        drafts = plan.drafts()
        read = sum(approx_tokens(m.content) for m in messages)
        read += sum(approx_tokens(t.title) + approx_tokens(t.summary) for t in distil_input.topics)
        read += sum(approx_tokens(item.text) for item in distil_input.items)
        written = sum(approx_tokens(draft.text or "") for draft in drafts)
        usage = ModelUsage(self._name, prompt_tokens=read, completion_tokens=written)
        return Distillation(items=tuple(drafts), usage=usage, retired=tuple(plan.retired))
