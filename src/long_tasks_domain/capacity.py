"""How many long tasks one executor runs at once, and how soon a task it hands back returns."""

from __future__ import annotations

import asyncio
import random

# A task handed back waits half as long as it has waited so far, within these bounds.
HAND_BACK_MAX_SECONDS = 30.0


class Slots:
    """How many tasks run at once, out of ``size`` (None: any number)."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.used = 0
        self._waiting: list[asyncio.Future[None]] = []

    def take(self, wanted: int) -> int:
        """Take up to ``wanted`` slots; return how many were free."""
        granted = wanted if self.size is None else max(0, min(wanted, self.size - self.used))
        self.used += granted
        return granted

    async def take_one(self, patience: float) -> bool:
        """Take a slot, waiting up to ``patience`` seconds for one to be given back (a poll
        holds the free slots for as long as its claim takes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while not self.take(1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            freed = loop.create_future()
            self._waiting.append(freed)
            try:
                await asyncio.wait_for(freed, remaining)
            except TimeoutError:
                return False
            finally:
                if freed in self._waiting:
                    self._waiting.remove(freed)
        return True

    def give(self, count: int = 1) -> None:
        self.used -= count
        for freed in self._waiting:
            if not freed.done():
                freed.set_result(None)


def hand_back_delay(waited: float, first: float, rng: random.Random) -> float:
    """Seconds until a task handed back after waiting ``waited`` seconds is dispatched again:
    ``first`` at first, then half its wait so far (so a long queue does not spin), at most
    HAND_BACK_MAX_SECONDS; jittered by a quarter either way, so that tasks spread out."""
    delay = min(HAND_BACK_MAX_SECONDS, max(first, waited / 2))
    return delay * (0.75 + rng.random() / 2)
