"""Restoring an earlier version of a group's memory as a new revision: nothing is erased."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

from memory_domain.errors import InvalidRollback, StaleVersion
from memory_domain.evolution_window import CURSOR_KEY
from memory_domain.group_model import GroupMemoryRevision, MemoryItem, RevisionAction
from memory_domain.group_ports import GroupMemoryStore
from memory_domain.model import validate_group_id
from memory_domain.ports import Clock

logger = logging.getLogger(__name__)

ROLLBACK_MODEL = "rollback"


class GroupMemoryRollback:
    """Rolls a group's memory back to the items that were live after an earlier revision.

    The rollback is itself a revision (action ``rollback``), committed like an evolution under
    the version guard: items live now but not then are superseded, items live then are
    restored as they read then. Every reading in between stays in the history, so a rollback
    can be rolled back. The topic version is kept: the topics already distilled are not read
    again, or the next evolution would bring back what the rollback removed.

    Only group memory rolls back. Topic memory is a fold of messages that are each integrated
    exactly once; restoring older topics would orphan the messages integrated since.
    """

    def __init__(self, store: GroupMemoryStore, clock: Clock, attempts: int = 3) -> None:
        self._store = store
        self._clock = clock
        self._attempts = attempts

    async def rollback(self, group_id: str, to_revision: int) -> GroupMemoryRevision:
        """Restore the memory of ``to_revision`` (0: empty) as a new revision; return that revision."""
        validate_group_id(group_id)
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._rollback_once(group_id, to_revision)
            except StaleVersion:
                if attempt == self._attempts:
                    raise
                logger.info("group %s: the memory moved during the rollback; retrying", group_id)
        raise AssertionError("unreachable")

    async def _rollback_once(self, group_id: str, to_revision: int) -> GroupMemoryRevision:
        started = time.monotonic()
        current = await self._store.get_group_memory(group_id, include_superseded=True)
        if current.version == 0:
            raise InvalidRollback(
                f"group {group_id}: cannot roll back to revision {to_revision}; its group memory has "
                "no revision yet (it was never evolved)"
            )
        if not 0 <= to_revision < current.version:
            raise InvalidRollback(
                f"group {group_id}: cannot roll back to revision {to_revision}; the group memory is at "
                f"version {current.version}, so the revision must be between 0 and {current.version - 1}"
            )
        target = await self._store.group_memory_at(group_id, to_revision)
        now = self._clock.now()
        items, changes = restore(current.items, target.items, now)
        diff: dict[str, object] = {**changes, "restored_from": to_revision}
        # The topic version is kept, and with it where the evolutions stopped inside a revision.
        [latest] = await self._store.list_group_memory_revisions(group_id, 1)
        if latest.revision == current.version and CURSOR_KEY in latest.diff:
            diff[CURSOR_KEY] = latest.diff[CURSOR_KEY]
        revision = GroupMemoryRevision(
            group_id=group_id,
            revision=current.version + 1,
            created_at=now,
            action=RevisionAction.ROLLBACK,
            topic_version=current.topic_version,
            topic_ids=(),
            message_ids=(),
            model=ROLLBACK_MODEL,
            prompt_tokens=0,
            completion_tokens=0,
            duration_ms=int((time.monotonic() - started) * 1000),
            diff=diff,
        )
        await self._store.commit_group_memory(group_id, current.version, items, revision)
        logger.info(
            "group %s: group memory rolled back to revision %d as revision %d (%d restored, %d superseded)",
            group_id,
            to_revision,
            revision.revision,
            len(changes["updated"]),
            len(changes["superseded"]),
        )
        return revision


def restore(
    current: tuple[MemoryItem, ...], target: tuple[MemoryItem, ...], now: datetime
) -> tuple[list[MemoryItem], dict[str, list[str]]]:
    """The item readings that turn ``current`` (every current reading) into ``target`` (live items)."""
    wanted = {item.item_id: item for item in target}
    changed: list[MemoryItem] = []
    restored: list[str] = []
    superseded: list[str] = []
    for item in current:
        past = wanted.pop(item.item_id, None)
        if past is None:
            if item.live:
                changed.append(replace(item, invalid_at=now, superseded_by=None, updated_at=now))
                superseded.append(item.item_id)
        elif not item.live or _content(item) != _content(past):
            changed.append(replace(past, invalid_at=None, superseded_by=None, updated_at=now))
            restored.append(item.item_id)
    # Readings are never deleted, so every item of the target has a current reading; this only
    # guards against a store that lost one.
    for past in wanted.values():
        changed.append(replace(past, invalid_at=None, superseded_by=None, updated_at=now))
        restored.append(past.item_id)
    return changed, {"added": [], "updated": restored, "superseded": superseded}


def _content(item: MemoryItem) -> tuple[object, ...]:
    return (item.kind, item.text, item.topic_ids, item.message_ids, item.valid_from)
