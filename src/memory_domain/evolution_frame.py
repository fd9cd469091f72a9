"""How a group-memory item says who stated it and when: its frame.

An item is read months later, often alone (a reply prompt's memory context picks a few by
relevance), so it begins with who stated it and on which day: "Ann said on 8 May 2023: I went
to a pottery workshop yesterday [7 May 2023] …", "小王于2026年11月2日说：周六早上8点集合".

- The day is written "8 May 2023" in English and "2026年11月2日" in Chinese: never "05/08"
  (8 May or 5 August?), and the way people of each language ask and answer "when": "When did
  she go?" meets "May 2023" word for word, which an ISO date would not. It is the format of the
  memory context's day headings and resolved relative times (:func:`context_render.day_label`,
  :mod:`memory_domain.relative_dates`), so an item and a message of one day read alike.
- A note after the statement says who agreed with it, or who confirmed a decision (and when,
  if on another day).

The offline distiller writes every item so and the OpenAI-compatible one is asked to;
:func:`split_frame` takes a text apart again, to compare items by what they say (and a reader
may rank them so), without their speaker and date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from memory_domain.context_render import day_label

_EN_FRAME = re.compile(r"^(?P<who>.+?) (?:said|asked) on \d{1,2} [A-Z][a-z]+ \d{4}: (?P<what>.*)$", re.DOTALL)
_ZH_FRAME = re.compile(r"^(?P<who>.+?)于\d{4}年\d{1,2}月\d{1,2}日[说问]：(?P<what>.*)$", re.DOTALL)
# Items of the first offline distiller named the author of a preference or a question so.
_LEGACY_FRAME = re.compile(r"^(?P<who>[^:：\n]{1,80}): (?P<what>.*)$", re.DOTALL)
_NOTE = re.compile(r"\s*(?:\((?:agreed|confirmed) by [^()]*\)|（[^（）]*(?:同意|确认)）)$")
_RESOLVED = re.compile(r"\s?\[[^\[\]]*\d{4}[^\[\]]*\]")


@dataclass(frozen=True, slots=True)
class Framed:
    """An item's text taken apart: who stated it (None when it does not say) and what."""

    author: str | None
    statement: str


def frame(who: str, day: datetime, statement: str, cjk: bool, *, asked: bool = False, note: str = "") -> str:
    """``statement`` as said (or ``asked``) by ``who`` on ``day``, in Chinese when ``cjk``."""
    if cjk:
        return f"{who}于{day_label(day, True)}{'问' if asked else '说'}：{statement}{note}"
    return f"{who} {'asked' if asked else 'said'} on {day_label(day, False)}: {statement}{note}"


def agreed_note(people: list[str], cjk: bool) -> str:
    """Who agreed with a statement: " (agreed by Bob and Cat)", "（小张、小赵同意）"."""
    if cjk:
        return f"（{'、'.join(people)}同意）"
    listed = people[0] if len(people) == 1 else f"{', '.join(people[:-1])} and {people[-1]}"
    return f" (agreed by {listed})"


def confirmed_note(who: str, later_day: datetime | None, cjk: bool) -> str:
    """Who confirmed a decision, and on which day when that is not the day it was said."""
    if cjk:
        return f"（{who}于{day_label(later_day, True)}确认）" if later_day else f"（{who}确认）"
    return (
        f" (confirmed by {who} on {day_label(later_day, False)})" if later_day else f" (confirmed by {who})"
    )


def split_frame(text: str, legacy: bool = False) -> Framed:
    """Who said ``text`` and what, without its day, its resolved times and its note.

    ``legacy`` also reads the "name: statement" of older preference and question items.
    """
    for pattern in (_EN_FRAME, _ZH_FRAME, *((_LEGACY_FRAME,) if legacy else ())):
        found = pattern.match(text)
        if found:
            what = _RESOLVED.sub("", _NOTE.sub("", found.group("what")))
            return Framed(found.group("who"), what.strip())
    return Framed(None, _RESOLVED.sub("", text).strip())
