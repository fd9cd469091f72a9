"""Who said it and when, as the offline distiller writes it (the format is the domain's:
:mod:`memory_domain.evolution_frame`).

- Days are the group's days (MEMORY_TIMEZONE): 07:00 in Beijing is the day before in UTC.
- A relative time of the statement ("yesterday", "昨天", "last year") is followed by the day it
  means, as the memory context does for messages: an item keeps no other clue to it.
- The frame is Chinese when the statement holds Chinese, or comes from a Chinese chat ("LGTM"
  in a Chinese group); otherwise English. The statement itself is the chat's own words.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from adapters.llm.text import contains_cjk
from memory_domain.evolution_frame import agreed_note, confirmed_note, frame
from memory_domain.relative_dates import annotate


class Framer:
    """Writes items in the chat's language, days in ``zone``."""

    def __init__(self, zone: tzinfo, chat_is_cjk: bool) -> None:
        self._zone = zone
        self._chat_is_cjk = chat_is_cjk

    def cjk(self, statement: str) -> bool:
        """Whether the frame of ``statement`` is Chinese: it is, or its chat is."""
        return self._chat_is_cjk or contains_cjk(statement)

    def frame(self, who: str, at: datetime, statement: str, *, asked: bool = False, note: str = "") -> str:
        """``statement`` said by ``who`` at ``at``, relative times resolved, ``note`` after it."""
        local = at.astimezone(self._zone)
        cjk = self.cjk(statement)
        statement, _ = annotate(statement, local.date(), contains_cjk(statement))
        return frame(who, local, statement, cjk, asked=asked, note=note)

    def agreed(self, people: list[str], cjk: bool) -> str:
        return agreed_note(people, cjk)

    def confirmed(self, who: str, at: datetime, said_at: datetime, cjk: bool) -> str:
        local, said = at.astimezone(self._zone), said_at.astimezone(self._zone)
        return confirmed_note(who, local if local.date() != said.date() else None, cjk)
