"""The rules a distiller's answer must keep before a group memory evolves."""

from __future__ import annotations

from memory_domain.errors import InvalidDistillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft
from memory_domain.relevance import terms

MAX_ITEM_TEXT = 500
MAX_LIVE_ITEMS = 200


def superseding_limit(live: int) -> int:
    """How many live items one evolution may end or rewrite: half of them, and always one.

    Ending (superseding, retiring) or rewriting more at once is how a confused model wipes a
    memory. A single change is always allowed, so that a group's only decision can still be
    revised.
    """
    return max(1, live // 2)


# A kept item's new text is a rewrite, not a refinement, when less than this share of the old
# text's terms survive in it.
REWRITE_SURVIVAL = 0.5


def substantially_rewritten(old: str, new: str) -> bool:
    """Whether ``new`` says something else than ``old`` rather than refining it.

    Measured by how many of the old text's terms (words, CJK character pairs) the new text
    keeps; a refinement that keeps the old statement and adds to it is not a rewrite.
    """
    if " ".join(old.split()) == " ".join(new.split()):
        return False
    before = terms(old)
    if not before:
        return True
    return len(before & terms(new)) / len(before) < REWRITE_SURVIVAL


def validate_distillation(distil_input: DistillInput, answer: Distillation) -> None:
    """Raise :class:`InvalidDistillation` naming the first broken rule; None when the answer is usable.

    - the answer has at least one item, unless no live item stays (a new group whose chat held
      nothing worth remembering, or whose one item this answer ends): an answer that lists
      nothing while items stay live did not do its task;
    - a kept ``item_id`` is a live item's id and appears once; a kept item keeps its kind;
    - a new item has a kind, a text, and provenance: at least one of the changed topics;
    - texts are non-empty and at most ``MAX_ITEM_TEXT`` characters;
    - provenance names only topics and messages of this evolution, or the kept item's own;
    - ``supersedes`` and ``retired`` name live items the answer does not keep, each once;
    - at most ``MAX_LIVE_ITEMS`` live items after the evolution, and at most
      :func:`superseding_limit` items ended (superseded or retired) or substantially rewritten.

    A live item the answer leaves out without naming it stays as it is (see :class:`Distillation`).
    """
    live = {item.item_id: item for item in distil_input.items if item.live}
    topics = {topic.topic_id: topic for topic in distil_input.topics}
    known_messages = {message.message_id for message in distil_input.messages}
    for topic in distil_input.topics:
        known_messages.update(topic.message_ids)
    if not answer.items and set(live) - set(answer.retired):
        raise InvalidDistillation("the answer has no items")
    kept: set[str] = set()
    rewritten: list[str] = []
    for index, draft in enumerate(answer.items):
        label = draft.item_id or f"new item #{index + 1}"
        if draft.item_id is not None:
            old = live.get(draft.item_id)
            if old is None:
                raise InvalidDistillation(f"item id {draft.item_id!r} is not a live item of the group")
            if draft.item_id in kept:
                raise InvalidDistillation(f"item id {draft.item_id!r} appears more than once")
            kept.add(draft.item_id)
            if draft.kind is not None and draft.kind is not old.kind:
                raise InvalidDistillation(
                    f"{label}: a kept item keeps its kind ({old.kind.value}, not {draft.kind.value}); "
                    "supersede it with a new item instead"
                )
            if draft.text is not None and substantially_rewritten(old.text, draft.text):
                rewritten.append(draft.item_id)
            own_topics, own_messages = set(old.topic_ids), set(old.message_ids)
        else:
            if draft.kind is None or draft.text is None:
                raise InvalidDistillation(f"{label}: a new item needs a kind and a text")
            if not draft.topic_ids:
                raise InvalidDistillation(f"{label}: a new item must name the topics it came from")
            own_topics, own_messages = set(), set()
        _check_text(label, draft)
        for topic_id in draft.topic_ids:
            if topic_id not in topics and topic_id not in own_topics:
                raise InvalidDistillation(
                    f"{label}: topic {topic_id!r} is not one of this evolution's topics"
                )
        for message_id in draft.message_ids:
            if message_id not in known_messages and message_id not in own_messages:
                raise InvalidDistillation(
                    f"{label}: message {message_id!r} is not a message of this evolution's topics"
                )
    ended: set[str] = set()
    named = [(item_id, draft.item_id) for draft in answer.items for item_id in draft.supersedes]
    for item_id, by in [*named, *((item_id, None) for item_id in answer.retired)]:
        if item_id not in live:
            raise InvalidDistillation(f"superseded item {item_id!r} is not a live item of the group")
        if item_id in kept or item_id == by:
            raise InvalidDistillation(f"item {item_id!r} is both kept and superseded")
        if item_id in ended:
            raise InvalidDistillation(f"item {item_id!r} is superseded or retired more than once")
        ended.add(item_id)
    new_items = sum(1 for draft in answer.items if draft.item_id is None)
    if len(live) - len(ended) + new_items > MAX_LIVE_ITEMS:
        raise InvalidDistillation(
            f"the answer would leave {len(live) - len(ended) + new_items} live items; at most {MAX_LIVE_ITEMS}"
        )
    limit = superseding_limit(len(live))
    if len(ended) + len(rewritten) > limit:
        raise InvalidDistillation(
            f"the answer would supersede {len(ended)} and rewrite {len(rewritten)} of {len(live)} live "
            f"items at once; at most {limit} in all"
        )


def _check_text(label: str, draft: ItemDraft) -> None:
    if draft.text is None:
        return
    if not draft.text.strip():
        raise InvalidDistillation(f"{label}: the text is empty")
    if len(draft.text) > MAX_ITEM_TEXT:
        raise InvalidDistillation(f"{label}: the text is longer than {MAX_ITEM_TEXT} characters")
