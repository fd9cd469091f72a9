"""Ports of the derived pending state (Redis in production): counters, the due index, leases,
the update queue, and the one-round-trip recording of new messages.

Re-exported by :mod:`memory_domain.ports`; every port has an in-memory adapter that passes the
same contract tests as the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from memory_domain.model import IndexEntry


class PendingIndex(Protocol):
    """Derived pending state in Redis: a counter per group and the due index (a sorted set).

    Everything here can be rebuilt from :class:`MemoryStore`; losing it loses no message.
    """

    async def add_pending(self, counts: dict[str, int], due_at: datetime) -> dict[str, int]:
        """Add ``counts[group]`` pending messages to each group, in one round trip.

        A group not yet in the due index is put there with score ``due_at``; a group already
        there keeps its earlier score. Returns each group's new pending count.
        """
        ...

    async def settle(
        self,
        group_id: str,
        integrated: int,
        remaining: int,
        next_due_at: datetime | None,
        fallback_due_at: datetime,
    ) -> int:
        """Take ``integrated`` messages off the group's count after they left its backlog (an
        update committed them, or one was quarantined), and end its failure streak.

        ``remaining`` and ``next_due_at`` are what the store said after the commit: how many
        messages are still pending and when the group is due for them (None: nothing pending).
        The counter is decremented rather than overwritten, so messages recorded meanwhile
        keep their increments; a counter that would go negative (it had drifted) is reset to
        ``remaining``. When the counter still shows messages the store did not know of, the
        group stays due at ``fallback_due_at`` at the latest. Returns the new count.
        """
        ...

    async def defer(self, group_id: str, until: datetime) -> int:
        """After a failed update: the group is due again at ``until``; return its failure streak.

        Each call adds one to the group's failure streak; :meth:`settle` resets it.
        """
        ...

    async def failure_streak(self, group_id: str) -> int:
        """How many updates of the group failed in a row (0 after a successful one)."""
        ...

    async def in_backoff(self, group_ids: Sequence[str], now: datetime) -> set[str]:
        """The groups among these whose last update failed and whose retry time is after ``now``."""
        ...

    async def pending_count(self, group_id: str) -> int:
        """The group's pending count as the index knows it (0 when unknown)."""
        ...

    async def due_at(self, group_id: str) -> datetime | None:
        """When the group becomes due, or None when it is not in the due index."""
        ...

    async def due_groups(self, now: datetime, limit: int) -> list[str]:
        """Groups whose due time is at or before ``now``, earliest first, at most ``limit``."""
        ...

    async def rebuild(
        self, entries: Sequence[IndexEntry], keep_due_after: datetime, valid_for: timedelta
    ) -> None:
        """Make the index agree with ``entries`` (read from the store) and mark it built.

        Groups listed get exactly the given count and due time. Groups not listed are removed,
        except those due after ``keep_due_after``: they entered the index while the store was
        being read. The built mark lasts ``valid_for``; then the scan reconciles again.
        """
        ...

    async def is_built(self) -> bool:
        """False when the index was never built or Redis lost it (it must be rebuilt)."""
        ...

    async def claim_rebuild(self, holder: str, ttl_seconds: float) -> bool:
        """Take the one rebuild lock shared by every worker; False while another holder has it.

        The lock runs out after ``ttl_seconds`` when its holder dies without releasing it.
        """
        ...

    async def release_rebuild(self, holder: str) -> None:
        """Give the rebuild lock up (no effect when ``holder`` does not hold it)."""
        ...


class UpdateLeases(Protocol):
    """Short, renewable leases that mark a group's update as running on a live worker."""

    async def acquire(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        """Take the group's lease for ``holder`` unless another holder has a live one."""
        ...

    async def renew(self, group_id: str, holder: str, ttl_seconds: float) -> bool:
        """Extend the lease; False when ``holder`` no longer holds it."""
        ...

    async def release(self, group_id: str, holder: str) -> None:
        """Give the lease up (no effect when ``holder`` does not hold it)."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[str]:
        """Groups whose lease ran out without being released: their update died."""
        ...

    async def forget(self, group_id: str) -> bool:
        """Drop the record of a lease that ran out; True only for the one caller that dropped it.

        Nothing is dropped (False) while the lease is live: its holder renewed it, or another
        holder took it. The caller that gets True hands the group's work on.
        """
        ...


class UpdateQueue(Protocol):
    """Hands topic updates to workers (arq in production). One queued update per group."""

    async def enqueue_update(self, group_id: str) -> bool:
        """Queue the group's update; False when one is already queued or running."""
        ...

    async def enqueue_updates(self, group_ids: Sequence[str]) -> list[str]:
        """Queue the updates of these groups in one round trip; return the groups newly queued,
        in input order (a group given twice counts once).

        A group whose update is already queued or running is left as it is, as by
        :meth:`enqueue_update`.
        """
        ...

    async def revive_update(self, group_id: str) -> None:
        """Make the group's update run again now: its previous run died with its worker."""
        ...


class PendingRecorder(Protocol):
    """The pending bookkeeping of newly stored messages, in one round trip per batch."""

    async def record_pending(
        self, counts: dict[str, int], due_at: datetime, now: datetime, threshold: int
    ) -> list[str]:
        """Add ``counts`` as :meth:`PendingIndex.add_pending` does, then queue the update of
        each group whose count reached ``threshold``, unless its last update failed and its
        retry time is after ``now`` (:meth:`PendingIndex.in_backoff`) or its update is already
        queued or running. Returns the groups newly queued, sorted.
        """
        ...
