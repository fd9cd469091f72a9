"""The rules a distiller's answer must keep before a group memory evolves."""

from __future__ import annotations

from memory_domain.errors import InvalidDistillation
from memory_domain.group_model import Distillation, DistillInput, ItemDraft

MAX_ITEM_TEXT = 500
MAX_LIVE_ITEMS = 200


def superseding_limit(live: int) -> int:
    """How many live items one evolution may supersede: half of them, and always at least one.

    Superseding more at once is how a confused model wipes a memory. A single supersession is
    always allowed, so that a group's only decision can still be revised.
    """
    return max(1, live // 2)


def validate_distillation(distil_input: DistillInput, answer: Distillation) -> None:
    """Raise :class:`InvalidDistillation` naming the first broken rule; None when the answer is usable.

    - the answer has at least one item (an empty answer would wipe the memory);
    - a kept ``item_id`` is a live item's id and appears once; a kept item keeps its kind;
    - a new item has a kind, a text, and provenance: at least one of the changed topics;
    - texts are non-empty and at most ``MAX_ITEM_TEXT`` characters;
    - provenance names only topics and messages of this evolution, or the kept item's own;
    - ``supersedes`` names live items the answer does not keep, each once;
    - at most ``MAX_LIVE_ITEMS`` items, and at most :func:`superseding_limit` items superseded.
    """
    live = {item.item_id: item for item in distil_input.items if item.live}
    topics = {topic.topic_id: topic for topic in distil_input.topics}
    known_messages = {message.message_id for message in distil_input.messages}
    for topic in distil_input.topics:
        known_messages.update(topic.message_ids)
    if not answer.items:
        raise InvalidDistillation("the answer has no items: it would wipe the group memory")
    if len(answer.items) > MAX_LIVE_ITEMS:
        raise InvalidDistillation(f"the answer has {len(answer.items)} items; at most {MAX_LIVE_ITEMS}")
    kept: set[str] = set()
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
    claimed: set[str] = set()
    for draft in answer.items:
        for item_id in draft.supersedes:
            if item_id not in live:
                raise InvalidDistillation(f"superseded item {item_id!r} is not a live item of the group")
            if item_id in kept or item_id == draft.item_id:
                raise InvalidDistillation(f"item {item_id!r} is both kept and superseded")
            if item_id in claimed:
                raise InvalidDistillation(f"item {item_id!r} is superseded by more than one item")
            claimed.add(item_id)
    superseded = len(live.keys() - kept)
    limit = superseding_limit(len(live))
    if superseded > limit:
        raise InvalidDistillation(
            f"the answer would supersede {superseded} of {len(live)} live items at once; at most {limit}"
        )


def _check_text(label: str, draft: ItemDraft) -> None:
    if draft.text is None:
        return
    if not draft.text.strip():
        raise InvalidDistillation(f"{label}: the text is empty")
    if len(draft.text) > MAX_ITEM_TEXT:
        raise InvalidDistillation(f"{label}: the text is longer than {MAX_ITEM_TEXT} characters")
