"""When a failed step is tried again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry ``n`` (1 for the first) waits ``min(max, base * 2**(n-1))``, of which a random
    half is jitter ("equal jitter"): tasks that failed together do not retry in lockstep, and
    no retry comes sooner than half its delay."""

    base_seconds: float = 5.0
    max_seconds: float = 600.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def ceiling(self, retry: int) -> float:
        exponent = min(max(retry, 1) - 1, 60)
        return min(self.max_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, retry: int) -> timedelta:
        ceiling = self.ceiling(retry)
        return timedelta(seconds=ceiling / 2 + self.rng.uniform(0, ceiling / 2))
