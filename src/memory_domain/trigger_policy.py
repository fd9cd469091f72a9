"""When a group's pending messages are folded into its topics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class TriggerPolicy:
    """The seed's L2 trigger rules.

    A group is due when it has ``threshold`` pending messages, or when its oldest pending
    message was recorded ``force_after`` ago. One update integrates at most ``max_batch``
    messages; a longer backlog is worked off by consecutive updates.
    """

    threshold: int = 10
    force_after: timedelta = timedelta(minutes=60)
    max_batch: int = 200

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.force_after < timedelta(0):
            raise ValueError("force_after must not be negative")

    def due_at(self, oldest_recorded_at: datetime) -> datetime:
        """When a group whose oldest pending message was recorded then becomes due by age."""
        return oldest_recorded_at + self.force_after

    def is_due(self, pending: int, oldest_recorded_at: datetime | None, now: datetime) -> bool:
        """Whether a group with this backlog should be updated now."""
        if pending <= 0:
            return False
        if pending >= self.threshold:
            return True
        return oldest_recorded_at is not None and self.due_at(oldest_recorded_at) <= now
