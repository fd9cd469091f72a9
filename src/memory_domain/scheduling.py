"""Finding the groups that are due, reviving updates that died, rebuilding the derived state."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from memory_domain.model import IndexEntry, ScanReport, validate_group_id
from memory_domain.ports import Clock, MemoryStore, PendingIndex, UpdateLeases, UpdateQueue
from memory_domain.trigger_policy import TriggerPolicy

logger = logging.getLogger(__name__)


class UpdateScheduler:
    """The L2 scan and its helpers.

    Due groups are read from the due index (a sorted set scored by due time), so a scan costs
    O(log N + due), never a walk over every group, and the due groups are enqueued in one round
    trip. When Redis has lost the index (flushed, or the built mark expired) the scan first
    rebuilds it from the store; one worker at a time does (a lock shared through the index),
    the others scan the index as it is meanwhile.
    """

    def __init__(
        self,
        store: MemoryStore,
        index: PendingIndex,
        leases: UpdateLeases,
        queue: UpdateQueue,
        policy: TriggerPolicy,
        clock: Clock,
        *,
        scan_limit: int = 1_000,
        reconcile_every: timedelta = timedelta(minutes=60),
        rebuild_lock_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._index = index
        self._leases = leases
        self._queue = queue
        self._policy = policy
        self._clock = clock
        self._scan_limit = scan_limit
        self._reconcile_every = reconcile_every
        self._rebuild_lock_ttl = rebuild_lock_ttl
        # Names this scheduler as the rebuild lock's holder; never shown, never stored.
        self._holder = uuid.uuid4().hex

    async def scan(self) -> ScanReport:
        """Enqueue every due group's update and revive updates whose worker died."""
        rebuilt = await self.reconcile()
        due = await self._index.due_groups(self._clock.now(), self._scan_limit)
        enqueued = await self._queue.enqueue_updates(due) if due else []
        revived = await self.recover()
        if due or revived or rebuilt:
            logger.info(
                "L2 scan: %d due, %d enqueued, %d revived%s",
                len(due),
                len(enqueued),
                len(revived),
                ", index rebuilt" if rebuilt else "",
            )
        return ScanReport(rebuilt=rebuilt, due=tuple(due), enqueued=tuple(enqueued), revived=tuple(revived))

    async def recover(self) -> list[str]:
        """Hand on the work of every group whose update lease ran out: its worker died."""
        revived: list[str] = []
        for group_id in await self._leases.expired(self._clock.now(), self._scan_limit):
            # forget() succeeds for one caller only, and only when the lease is really gone:
            # two workers recovering at once, or a holder whose clock runs late, revive nothing.
            if not await self._leases.forget(group_id):
                continue
            await self._queue.revive_update(group_id)
            revived.append(group_id)
            logger.warning("group %s: its update died with its worker; revived", group_id)
        return revived

    async def reconcile(self) -> bool:
        """Rebuild the index when Redis lost it or its built mark ran out; True when this call did.

        At worker start and in every scan: whichever worker comes first rebuilds, the others
        find the lock taken (or the index built) and go on.
        """
        if await self._index.is_built():
            return False
        return await self.rebuild() is not None

    async def rebuild(self) -> int | None:
        """Rebuild the pending counters and the due index from the store; return the group count,
        or None when another worker is rebuilding them (it holds the lock)."""
        if not await self._index.claim_rebuild(self._holder, self._rebuild_lock_ttl.total_seconds()):
            logger.info("pending index: another worker is rebuilding it")
            return None
        try:
            return await self._rebuild()
        finally:
            await self._index.release_rebuild(self._holder)

    async def _rebuild(self) -> int:
        started = self._clock.now()
        states = await self._store.all_pending_states()
        entries = []
        for state in states:
            if state.count <= 0 or state.oldest_recorded_at is None:
                continue
            due_at = self._policy.due_at(state.oldest_recorded_at)
            if state.count >= self._policy.threshold:
                due_at = min(due_at, started)
            entries.append(IndexEntry(state.group_id, state.count, due_at))
        await self._index.rebuild(
            entries,
            keep_due_after=self._policy.due_at(started),
            valid_for=self._reconcile_every,
        )
        logger.info("pending index rebuilt from the store: %d groups with pending messages", len(entries))
        return len(entries)

    async def enqueue_if_due(self, group_id: str) -> bool:
        """Enqueue the group's update when the index says it is due (by count or by age)."""
        validate_group_id(group_id)
        count = await self._index.pending_count(group_id)
        if count <= 0:
            return False
        now = self._clock.now()
        if await self._index.in_backoff([group_id], now):
            return False
        due_at = await self._index.due_at(group_id)
        if count >= self._policy.threshold or (due_at is not None and due_at <= now):
            return await self._queue.enqueue_update(group_id)
        return False

    async def enqueue(self, group_id: str) -> bool:
        """Enqueue the group's update now, whatever its backlog (operators and other programs)."""
        validate_group_id(group_id)
        return await self._queue.enqueue_update(group_id)
