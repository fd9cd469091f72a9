"""Turning a validated distillation into the item readings to commit, and the revision's diff."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from memory_domain.group_model import Distillation, DistillInput, MemoryItem
from memory_domain.ports import IdGenerator


def merge_distillation(
    distil_input: DistillInput, answer: Distillation, now: datetime, ids: IdGenerator
) -> tuple[list[MemoryItem], dict[str, Any]]:
    """Apply an answer (already validated) to the live items.

    Returns the items whose reading changes (new, updated and ended ones) and the diff:
    ``added``, ``updated`` and ``superseded`` item ids (superseded or retired) and
    ``superseded_by`` (old id -> the id of the item that replaced it). A kept item keeps its
    id and its ``valid_from`` and adds the new provenance to its own; a live item the answer
    neither lists nor names stays as it is. A new item is valid from its newest message (or
    from now when none of its messages is dated); an item it supersedes becomes invalid then.
    An item's provenance is bounded as :func:`bounded_union` says.
    """
    live = {item.item_id: item for item in distil_input.items if item.live}
    sent = {message.message_id: message.sent_at for message in distil_input.messages}
    changed: list[MemoryItem] = []
    added: list[str] = []
    updated: list[str] = []
    replaced_by: dict[str, MemoryItem] = {}
    for draft in answer.items:
        if draft.item_id is None:
            assert draft.kind is not None and draft.text is not None  # validate_distillation checked it
            dates = [sent[m] for m in draft.message_ids if m in sent]
            item = MemoryItem(
                item_id=ids.new_id(),
                kind=draft.kind,
                text=draft.text.strip(),
                topic_ids=bounded_union((), draft.topic_ids, MAX_TOPIC_IDS),
                message_ids=bounded_union((), draft.message_ids, MAX_MESSAGE_IDS),
                valid_from=min(max(dates), now) if dates else now,
                updated_at=now,
            )
            added.append(item.item_id)
            changed.append(item)
        else:
            old = live[draft.item_id]
            item = replace(
                old,
                text=draft.text.strip() if draft.text is not None else old.text,
                topic_ids=bounded_union(old.topic_ids, draft.topic_ids, MAX_TOPIC_IDS),
                message_ids=bounded_union(old.message_ids, draft.message_ids, MAX_MESSAGE_IDS),
            )
            if item != old:
                item = replace(item, updated_at=now)
                updated.append(item.item_id)
                changed.append(item)
        for superseded_id in draft.supersedes:
            replaced_by[superseded_id] = item
    ended = set(replaced_by) | set(answer.retired)
    superseded: list[str] = []
    for item_id, old in live.items():
        if item_id not in ended:
            continue
        successor = replaced_by.get(item_id)
        # Valid time: the old item stopped being true when its successor became true.
        ended_at = max(old.valid_from, min(successor.valid_from, now)) if successor is not None else now
        changed.append(
            replace(
                old,
                invalid_at=ended_at,
                superseded_by=successor.item_id if successor is not None else None,
                updated_at=now,
            )
        )
        superseded.append(item_id)
    diff: dict[str, Any] = {
        "added": added,
        "updated": updated,
        "superseded": superseded,
        "superseded_by": {old: new.item_id for old, new in replaced_by.items()},
    }
    return changed, diff


# Every reading of an item keeps its whole provenance, so an item that a busy topic confirms
# every day would grow without bound. The first ids (where the item came from) and the newest
# (what confirms it now) are kept; the middle is trimmed (the revisions keep every id).
MAX_TOPIC_IDS = 50
MAX_MESSAGE_IDS = 200
# The share of a full provenance kept for the item's origin.
ORIGIN_SHARE = 4


def bounded_union(first: tuple[str, ...], second: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """``first`` then ``second`` without repeats; beyond ``limit`` ids the middle ones go.

    The first ``limit // ORIGIN_SHARE`` ids stay for good (they are first in every later
    reading too), and the newest fill the rest.
    """
    ids = tuple(dict.fromkeys((*first, *second)))
    if len(ids) <= limit:
        return ids
    head = limit // ORIGIN_SHARE
    return ids[:head] + ids[len(ids) - (limit - head) :]
