"""Bringing a group's derived pending state (the Redis index) in line after its backlog changed."""

from __future__ import annotations

import logging

from memory_domain.model import PendingState
from memory_domain.ports import Clock, MemoryStore, PendingIndex
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)


class BacklogSettler:
    """Settles the pending index of a group from the store's word on its backlog."""

    def __init__(self, store: MemoryStore, index: PendingIndex, policy: TriggerPolicy, clock: Clock) -> None:
        self._store = store
        self._index = index
        self._policy = policy
        self._clock = clock

    async def settle(self, group_id: str, left: int) -> PendingState:
        """Take ``left`` messages off the group's count and set when it is due next; raises
        what the store or the index raises."""
        state = await self._store.pending_state(group_id)
        await self._settle_index(group_id, left, state)
        return state

    async def settle_after(
        self, group_id: str, left: int, state: PendingState | None = None
    ) -> tuple[int, bool]:
        """After ``left`` messages left the backlog for good (committed or quarantined): settle,
        and return the pending count and whether more is due now.

        ``state`` is the backlog as the commit left it, when the commit said; otherwise it is
        read from the store. Never raises an ``Exception``: what left stays gone whatever fails
        here, so a failure is logged, never taken for a failed update. Without the store's word
        the index is settled all the same (which ends the failure streak) and the group left
        due, so that the scan looks again; the count is then reported as 0 and more as due.
        """
        if state is None:
            try:
                state = await self._store.pending_state(group_id)
            except Exception:
                logger.exception("group %s: could not read the backlog left after the update", group_id)
        try:
            await self._settle_index(group_id, left, state)
        except Exception:
            logger.exception("group %s: could not settle the pending index after the update", group_id)
        if state is None:
            return 0, True
        return state.count, self._policy.is_due(state.count, state.oldest_recorded_at, self._clock.now())

    async def _settle_index(self, group_id: str, left: int, state: PendingState | None) -> None:
        now = self._clock.now()
        next_due = None
        if state is not None and state.count and state.oldest_recorded_at is not None:
            next_due = self._policy.due_at(state.oldest_recorded_at)
            if state.count >= self._policy.threshold:
                next_due = min(next_due, now)
        await self._index.settle(
            group_id,
            integrated=left,
            remaining=0 if state is None else state.count,
            next_due_at=next_due,
            fallback_due_at=now if state is None else self._policy.due_at(now),
        )
