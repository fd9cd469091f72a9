"""Dict-backed pending index and update leases, for tests and single-process embedding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from memory_domain.model import IndexEntry


class InMemoryPendingIndex:
    """The :class:`memory_domain.ports.PendingIndex` port over two dicts."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.counts: dict[str, int] = {}
        self.due: dict[str, datetime] = {}
        self.streaks: dict[str, int] = {}
        self.built_until: datetime | None = None
        self.rebuild_lock: tuple[str, datetime] | None = None

    async def add_pending(self, counts: dict[str, int], due_at: datetime) -> dict[str, int]:
        result: dict[str, int] = {}
        for group_id, added in counts.items():
            self.counts[group_id] = self.counts.get(group_id, 0) + added
            self.due.setdefault(group_id, due_at)
            result[group_id] = self.counts[group_id]
        return result

    async def settle(
        self,
        group_id: str,
        integrated: int,
        remaining: int,
        next_due_at: datetime | None,
        fallback_due_at: datetime,
    ) -> int:
        self.streaks.pop(group_id, None)
        count = max(self.counts.get(group_id, 0) - integrated, remaining)
        if count <= 0:
            self.counts.pop(group_id, None)
            self.due.pop(group_id, None)
            return 0
        self.counts[group_id] = count
        if next_due_at is not None:
            self.due[group_id] = next_due_at
        else:
            self.due.setdefault(group_id, fallback_due_at)
        return count

    async def defer(self, group_id: str, until: datetime) -> int:
        self.due[group_id] = until
        self.streaks[group_id] = self.streaks.get(group_id, 0) + 1
        return self.streaks[group_id]

    async def failure_streak(self, group_id: str) -> int:
        return self.streaks.get(group_id, 0)

    async def in_backoff(self, group_ids: Sequence[str], now: datetime) -> set[str]:
        return {
            group_id
            for group_id in group_ids
            if self.streaks.get(group_id, 0) and self.due.get(group_id, now) > now
        }

    async def pending_count(self, group_id: str) -> int:
        return self.counts.get(group_id, 0)

    async def due_at(self, group_id: str) -> datetime | None:
        return self.due.get(group_id)

    async def due_groups(self, now: datetime, limit: int) -> list[str]:
        ready = sorted((due, group_id) for group_id, due in self.due.items() if due <= now)
        return [group_id for _, group_id in ready[:limit]]

    async def rebuild(
        self, entries: Sequence[IndexEntry], keep_due_after: datetime, valid_for: timedelta
    ) -> None:
        listed = {entry.group_id for entry in entries}
        for group_id in list(self.due):
            if group_id not in listed and self.due[group_id] <= keep_due_after:
                self.due.pop(group_id)
                self.counts.pop(group_id, None)
        for group_id in list(self.counts):
            if group_id not in listed and group_id not in self.due:
                self.counts.pop(group_id)
        for entry in entries:
            self.counts[entry.group_id] = entry.count
            self.due[entry.group_id] = entry.due_at
        self.built_until = self._now() + valid_for

    async def is_built(self) -> bool:
        return self.built_until is not None and self._now() < self.built_until

    async def claim_rebuild(self, holder: str, ttl_seconds: float) -> bool:
        current = self.rebuild_lock
        if current is not None and current[0] != holder and current[1] > self._now():
            return False
        self.rebuild_lock = (holder, self._now() + timedelta(seconds=ttl_seconds))
        return True

    async def release_rebuild(self, holder: str) -> None:
        if self.rebuild_lock is not None and self.rebuild_lock[0] == holder:
            self.rebuild_lock = None

    def flush(self) -> None:
        """Lose everything, as a flushed Redis does."""
        self.counts.clear()
        self.due.clear()
        self.streaks.clear()
        self.built_until = None
        self.rebuild_lock = None


class InMemoryUpdateLeases:
    """The :class:`memory_domain.ports.UpdateLeases` port over a dict of (holder, expiry)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.leases: dict[str, tuple[str, datetime]] = {}

    async def acquire(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        current = self.leases.get(group_id)
        if current is not None and current[0] != holder and current[1] > self._now():
            return False
        self.leases[group_id] = (holder, self._now() + timedelta(seconds=ttl_seconds))
        return True

    async def renew(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        current = self.leases.get(group_id)
        if current is None or current[0] != holder or current[1] <= self._now():
            return False
        self.leases[group_id] = (holder, self._now() + timedelta(seconds=ttl_seconds))
        return True

    async def release(self, group_id: str, holder: str) -> None:
        current = self.leases.get(group_id)
        if current is not None and current[0] == holder:
            del self.leases[group_id]

    async def expired(self, now: datetime, limit: int) -> list[str]:
        ready = sorted((expiry, group_id) for group_id, (_, expiry) in self.leases.items() if expiry <= now)
        return [group_id for _, group_id in ready[:limit]]

    async def forget(self, group_id: str) -> bool:
        current = self.leases.get(group_id)
        if current is not None and current[1] <= self._now():
            del self.leases[group_id]
            return True
        return False
