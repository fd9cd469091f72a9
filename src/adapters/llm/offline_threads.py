"""Who is in which conversation: the state that multi-party chat is followed by.

In a busy channel several conversations run at once, and words alone rarely tell them apart
("thanks", "try that", "which version?"). The people do: a message that addresses someone
belongs with the conversation that person is in (most of all the one the two of them are
having), and a message that addresses no one continues its sender's own conversation, if that
is recent (Elsner & Charniak 2008; Lowe et al. 2017). How many conversations are going on at
once tells how much nearness in time is worth. The state is rebuilt on every update from the
context messages (whose topics are known) and then follows the new messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.llm.offline_people import LEADING_MENTION

# A message addressing someone leans to the conversation the two of them are having, or else to
# the addressee's own; an address stays clear for a while (people answer late), then fades.
ADDRESS_WEIGHT = 0.8
ADDRESSEE_FACTOR = 0.85
ADDRESS_GRACE_SECONDS = 15 * 60.0
ADDRESS_HALF_LIFE_SECONDS = 30 * 60.0
# A message that addresses no one continues its sender's conversation: the one they last spoke
# in or were last addressed in. Chat goes quiet quickly, so this holds for minutes, not hours.
OWN_WEIGHT = 0.45
OWN_GRACE_SECONDS = 4 * 60.0
OWN_HALF_LIFE_SECONDS = 4 * 60.0
# The conversations that spoke within this span are the ones going on at once.
CONCURRENT_WINDOW_SECONDS = 5 * 60.0


@dataclass(frozen=True, slots=True)
class Turn:
    """A topic and when someone was last in it (POSIX seconds)."""

    topic: int
    ts: float


def _fade(gap: float, grace: float, half_life: float) -> float:
    return 1.0 if gap <= grace else 0.5 ** ((gap - grace) / half_life)


def _later(first: Turn | None, second: Turn | None) -> Turn | None:
    if first is None:
        return second
    if second is None:
        return first
    return second if second.ts >= first.ts else first


class Conversations:
    """Where each person last spoke, where they were last addressed, where two people talked, and
    which conversations spoke lately."""

    def __init__(self) -> None:
        self._lines: deque[Turn] = deque()
        self._spoke: dict[str, Turn] = {}
        self._addressed: dict[str, Turn] = {}
        self._pairs: dict[tuple[str, str], Turn] = {}

    def record(self, speaker: str | None, addressees: Mapping[str, float], topic: int, ts: float) -> None:
        """A message of ``speaker`` (None: no one's) addressing ``addressees`` landed in ``topic``."""
        turn = Turn(topic, ts)
        if speaker is not None:
            self._spoke[speaker] = turn
        for person, strength in addressees.items():
            if strength >= LEADING_MENTION:
                self._addressed[person] = turn
            if speaker is not None:
                self._pairs[_pair(speaker, person)] = turn

    def spoke_in(self, topic: int, ts: float) -> None:
        """A line was said in ``topic`` at ``ts`` (lines come in the order they were sent)."""
        self._lines.append(Turn(topic, ts))
        while self._lines and self._lines[0].ts < ts - CONCURRENT_WINDOW_SECONDS:
            self._lines.popleft()

    def concurrent(self, ts: float) -> int:
        """How many conversations the chat holds at once around ``ts`` (at least one)."""
        return max(1, len({line.topic for line in self._lines if line.ts >= ts - CONCURRENT_WINDOW_SECONDS}))

    def hints(self, speaker: str | None, addressees: Mapping[str, float], ts: float) -> dict[int, float]:
        """Score bonuses per topic for a message of ``speaker`` addressing ``addressees`` at ``ts``."""
        bonuses: dict[int, float] = {}
        for person, strength in addressees.items():
            shared = self._pairs.get(_pair(speaker, person)) if speaker is not None else None
            if shared is not None:
                fade = _fade(ts - shared.ts, ADDRESS_GRACE_SECONDS, ADDRESS_HALF_LIFE_SECONDS)
                _raise(bonuses, shared.topic, ADDRESS_WEIGHT * strength * fade)
            current = self.current(person)
            if current is not None:
                fade = _fade(ts - current.ts, ADDRESS_GRACE_SECONDS, ADDRESS_HALF_LIFE_SECONDS)
                _raise(bonuses, current.topic, ADDRESS_WEIGHT * ADDRESSEE_FACTOR * strength * fade)
        own = self.current(speaker) if speaker is not None else None
        if own is not None:
            fade = _fade(ts - own.ts, OWN_GRACE_SECONDS, OWN_HALF_LIFE_SECONDS)
            bonuses[own.topic] = bonuses.get(own.topic, 0.0) + OWN_WEIGHT * fade
        return bonuses

    def current(self, person: str) -> Turn | None:
        """The conversation ``person`` is in now: where they last spoke or were last addressed."""
        return _later(self._spoke.get(person), self._addressed.get(person))


def _pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


def _raise(bonuses: dict[int, float], topic: int, value: float) -> None:
    bonuses[topic] = max(bonuses.get(topic, 0.0), value)
