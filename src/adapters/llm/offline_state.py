"""What the offline topic model holds while it assigns messages: topics and read messages."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.llm.offline_vectors import Centroid, Vector
from adapters.llm.text import TextFeatures, is_cjk_dominant
from memory_domain.model import ChatMessage, Topic

RECENT_MESSAGES = 5


@dataclass(frozen=True, slots=True)
class Line:
    """A message as the model reads it.

    ``speaker`` is the person who speaks (the actor of an action line; None for a system
    announcement), ``addressees`` the people it addresses with the strength of each mention,
    ``notice`` tells a system notice, which joins no conversation, and ``greeting`` a line that
    opens one.
    """

    message: ChatMessage
    vector: Vector
    text: TextFeatures
    speaker: str | None
    addressees: dict[str, float]
    notice: bool = False
    greeting: bool = False


@dataclass(slots=True)
class TopicState:
    """A topic while messages are assigned: an existing topic, or one this update opened."""

    index: int
    existing: Topic | None
    centroid: Centroid = field(default_factory=Centroid)
    recent: deque[Vector] = field(default_factory=lambda: deque(maxlen=RECENT_MESSAGES))
    # When the topic last spoke, in POSIX seconds: scoring compares it with every message.
    last_ts: float | None = None
    cjk_chars: int = 0
    latin_letters: int = 0
    script: str | None = None
    context: list[ChatMessage] = field(default_factory=list)
    new_messages: list[ChatMessage] = field(default_factory=list)
    # A topic of system notices, its notices (context and new), and the clock window of the last.
    is_notices: bool = False
    notices: list[ChatMessage] = field(default_factory=list)
    window: int | None = None

    def add_script(self, text: TextFeatures) -> None:
        self.cjk_chars += text.cjk_chars
        self.latin_letters += text.latin_letters
        self.script = script_of(self.cjk_chars, self.latin_letters)


def script_of(cjk_chars: int, latin_letters: int) -> str | None:
    """ "cjk", "latin" or None (no letters): the script that carries a text."""
    if is_cjk_dominant(cjk_chars, latin_letters):
        return "cjk"
    return "latin" if latin_letters else None


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware datetime; a naive one is taken as UTC rather than failing the update."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def timestamp(moment: datetime) -> float:
    return utc(moment).timestamp()
