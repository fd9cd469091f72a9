"""The offline distiller's answer under construction: candidates weighed against the live items.

A candidate that repeats a live item adds to its provenance; one that revises a live item
supersedes it (see :meth:`Plan.revises`); a full memory retires its oldest facts to make room.
See :mod:`adapters.llm.offline_distill`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from adapters.llm.offline_candidates import Candidate, cosine
from adapters.llm.offline_subject import EXCLUSIVE_CHANGES, changes_of, gist_of, subject_of
from adapters.llm.text import features
from memory_domain.evolution_frame import split_frame
from memory_domain.evolution_rules import MAX_LIVE_ITEMS, superseding_limit
from memory_domain.group_model import ItemDraft, ItemKind, MemoryItem
from memory_domain.model import ChatMessage, Topic, TopicStatus

logger = logging.getLogger(__name__)

# Similarities of what two statements say, their cue words, author and date left out (see
# gist_of and subject_of).
SAME_ITEM = 0.8
# A fact told again on a later day is the same fact only when it says all of it again: "I went
# to the support group again" is another visit.
SAME_FACT = 0.9
REVISES = 0.45
# A fact that says something changed replaces an earlier one of its person only when they are
# nearly about the same thing ("I no longer work at Acme" after "I work at Acme"): an earlier
# fact left live keeps its date, so a reader can still tell the later one, where a wrong
# supersession hides a true fact.
RESTATES = 0.6
SETTLES = 0.2
# When the memory is full, old facts (then old open questions) are retired to make room; only
# when that is not enough are new items dropped, in this order (facts first), and logged.
_RETIRABLE = {ItemKind.FACT: 0, ItemKind.OPEN_QUESTION: 1}
_KEEP_PRIORITY = {
    ItemKind.FACT: 0,
    ItemKind.OPEN_QUESTION: 1,
    ItemKind.PREFERENCE: 2,
    ItemKind.CONSENSUS: 3,
    ItemKind.DECISION: 4,
}
# Kinds that belong to a person: only that person's later statement repeats or revises them.
_PERSONAL = (ItemKind.PREFERENCE, ItemKind.OPEN_QUESTION, ItemKind.FACT)
# Items of the first offline distiller wrote these as "name: statement".
_LEGACY_PERSONAL = (ItemKind.PREFERENCE, ItemKind.OPEN_QUESTION)


def _author_of(item: MemoryItem) -> str | None:
    if item.kind not in _PERSONAL:
        return None
    return split_frame(item.text, legacy=item.kind in _LEGACY_PERSONAL).author


def _statement_of(item: MemoryItem) -> str:
    return split_frame(item.text, legacy=item.kind in _LEGACY_PERSONAL).statement


class Plan:
    """The answer under construction: live items kept (maybe updated or superseded), new items."""

    def __init__(self, group_id: str, live: list[MemoryItem], topics: Sequence[Topic]) -> None:
        self.group_id = group_id
        self.live = live
        self.topic_status = {topic.topic_id: topic.status for topic in topics}
        self.authors = {item.item_id: _author_of(item) for item in live}
        statements = {item.item_id: _statement_of(item) for item in live}
        self.vectors = {item_id: features(text).counts for item_id, text in statements.items()}
        self.gists = {item_id: gist_of(text) for item_id, text in statements.items()}
        self.subjects = {item_id: subject_of(text) for item_id, text in statements.items()}
        self.change_kinds = {item_id: changes_of(text) for item_id, text in statements.items()}
        self.retired: list[str] = []
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
        if candidate.kind is ItemKind.FACT and any(
            planned.kind is not ItemKind.FACT and cosine(candidate.vector, planned.vector) >= SAME_ITEM
            for planned in self.new
        ):
            return  # a fact that only repeats a decision, a preference... of this evolution adds nothing
        same_person = [
            item
            for item in self._current(candidate.kind)
            if candidate.author is None or self.authors[item.item_id] == candidate.author
        ]
        repeats = SAME_FACT if candidate.kind is ItemKind.FACT else SAME_ITEM
        scored = sorted(((cosine(candidate.gist, self.gists[i.item_id]), i) for i in same_person), key=_rank)
        if scored and scored[0][0] >= repeats:
            self._add_provenance(scored[0][1].item_id, candidate)
            return
        for planned in self.new:
            if planned.kind is candidate.kind and planned.author == candidate.author:
                revises = self.revises(
                    candidate,
                    cosine(candidate.subject, planned.subject),
                    same_topic=planned.topic_id == candidate.topic_id,
                    same_change=candidate.change_kinds & planned.change_kinds,
                )
                if cosine(candidate.gist, planned.gist) >= repeats or revises:
                    # Within one evolution the later statement wins, with both provenances.
                    ids = [*planned.message_ids, *candidate.message_ids]
                    planned.restate(candidate.text, candidate.statement, ids)
                    return
        revised = sorted(
            ((cosine(candidate.subject, self.subjects[i.item_id]), i) for i in same_person), key=_rank
        )
        for similarity, item in revised:
            if self.budget > 0 and self.revises(
                candidate,
                similarity,
                same_topic=candidate.topic_id in item.topic_ids,
                same_change=candidate.change_kinds & self.change_kinds[item.item_id],
            ):
                candidate.supersedes.append(item.item_id)
                self.superseded.add(item.item_id)
                self.budget -= 1
        self.new.append(candidate)

    @staticmethod
    def revises(
        candidate: Candidate, similarity: float, *, same_topic: bool, same_change: frozenset[str]
    ) -> bool:
        """Whether ``candidate`` replaces an earlier statement whose subject is ``similarity`` like its own.

        Only statements of one kind (and of one person, for the personal kinds) meet here. A
        decision, consensus or preference revises one of the same subject in the same topic, or
        in any topic when it says that something changed ("改成", "instead", "now"); a person's
        preference about one thing does not revise their preference about another. Facts are
        events that add up ("I went to the gym", then "to the park"), unless the later one states
        the same kind of change as the earlier (``same_change``: "I moved to Paris" after "I moved
        to Berlin for the job"; a switch of the same subject) or says that something changed of
        nearly the same subject (``RESTATES``). An open question is never revised, only answered.
        """
        if candidate.kind is ItemKind.OPEN_QUESTION:
            return False
        if candidate.kind is ItemKind.FACT:
            return (
                bool(same_change & EXCLUSIVE_CHANGES)
                or (bool(same_change) and similarity >= REVISES)
                or (candidate.changes and similarity >= RESTATES)
            )
        return similarity >= REVISES and (same_topic or candidate.changes)

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

    def _overflow(self, new: Sequence[Candidate]) -> int:
        return len(self.live) - len(self.superseded) + len(new) - MAX_LIVE_ITEMS

    def _retire_for_room(self) -> None:
        """Retire old facts (then open questions) to make room for the new items.

        Facts of topics archived by now go first, then the facts and questions this
        evolution did not touch, oldest first; each retirement counts toward the
        superseding limit.
        """
        overflow = self._overflow(self.new)
        if overflow <= 0:
            return
        ranked = [
            (self._retire_rank(item), item) for item in self.live if item.item_id not in self.superseded
        ]
        retirable = sorted((rank, item) for rank, item in ranked if rank is not None)
        retired = [item for _, item in retirable[: max(0, min(overflow, self.budget))]]
        self.superseded.update(item.item_id for item in retired)
        self.budget -= len(retired)
        if retired:
            logger.info(
                "group %s: the memory is full; retired %d old item(s) to make room: %s",
                self.group_id,
                len(retired),
                ", ".join(item.item_id for item in retired),
            )

    def _retire_rank(self, item: MemoryItem) -> tuple[int, int, datetime, str] | None:
        """Where the item stands in the order of retirement; None when it stays."""
        if item.kind not in _RETIRABLE:
            return None
        statuses = {self.topic_status.get(topic_id) for topic_id in item.topic_ids}
        if TopicStatus.ARCHIVED in statuses and TopicStatus.ACTIVE not in statuses:
            return (0, _RETIRABLE[item.kind], item.updated_at, item.item_id)
        if self.provenance[item.item_id][0]:
            return None  # this evolution confirmed it: it is current
        return (1, _RETIRABLE[item.kind], item.updated_at, item.item_id)

    def drafts(self) -> list[ItemDraft]:
        """The items of the answer; ``retired`` then names the items ended with no successor."""
        self._retire_for_room()
        # A memory still full drops the least important new items first; a dropped item's
        # supersessions go with it, so the items it would have replaced stay live.
        new = sorted(self.new, key=lambda c: (_KEEP_PRIORITY[c.kind], c.order))
        dropped: list[Candidate] = []
        while new and self._overflow(new) > 0:
            dropped.append(new.pop(0))
            self.superseded -= set(dropped[-1].supersedes)
        if dropped:
            logger.warning(
                "group %s: the memory is full (%d items); %d new item(s) dropped: %s",
                self.group_id,
                MAX_LIVE_ITEMS,
                len(dropped),
                "; ".join(f"[{c.kind.value}] {c.text[:80]}" for c in dropped),
            )
        new = [c for c in self.new if c in new]
        kept = [item for item in self.live if item.item_id not in self.superseded]
        drafts = [
            ItemDraft(
                item_id=item.item_id,
                kind=None,
                text=None,
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
        claimed = {item_id for c in new for item_id in c.supersedes}
        self.retired = sorted(self.superseded - claimed)
        return drafts


def _rank(scored: tuple[float, MemoryItem]) -> tuple[float, str]:
    return (-scored[0], scored[1].item_id)
