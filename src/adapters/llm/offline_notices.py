"""System notices (joins, quits, nick changes) and actions, told apart from what people say.

A chat's system sender posts three kinds of lines:

- *notices* of membership and presence ("=== bob has joined #help", "lev is now known as
  lev-away", "小明 加入了群聊"), and lines with nothing to say ("<opteron>"). They are not
  conversation: each would be a conversation of its own, and glued into a real topic they would
  pull its later messages astray and fill its title and summary with nicks and host masks;
- *actions* ("* bob shrugs", "=== bob reboots to try again"): a person speaking in the third
  person, so they are that person's message;
- *announcements* ("Wang Lei changed the group notice: …", "Zhou pinned a message: …"): their
  content is the group's business, so they are placed by what they say like any message.

Notices go to a notices topic of their own (see :class:`adapters.llm.offline_assign.Assigner`):
one per ``NOTICE_WINDOW_MINUTES`` of the clock. Singletons would fit the conversations best, but
a busy channel posts a notice a minute and every topic must stay active at least until the next
update, so singletons would push real conversations out of the active set; one notices topic for
all time would grow without bound (a topic's message ids are rewritten with it) and lump an
afternoon's joins with last year's. A window of the clock keeps each notices topic small, the
same whether a backlog is read at once or a live chat in slices, and a finished one is the
first topic to be archived.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.llm.text import clip, features
from memory_domain.model import ChatMessage, Role

NOTICE_WINDOW_MINUTES = 60
NOTICE_WINDOW_SECONDS = NOTICE_WINDOW_MINUTES * 60
# Fewer content terms than this (names, markers and host masks left out) is a line with nothing
# to say, whatever its wording.
_CONTENT_TERMS = 2
_SUMMARY_NOTICES = 8
_SUMMARY_CHARS = 300
_TITLE_PHRASES = 3
_LINE_SEPARATOR = "; "
_SYSTEM_SENDERS = frozenset({"system", "系统"})
# How chat clients mark a system line: "===", "*", "-!-", "-->", "<--".
_MARKER = re.compile(r"^\s*(?:={2,}|\*{1,3}|-!-|-->|<--|->|<-)\s*")
# An IRC host mask, "[~bob@host.example.net]" or "(bob@host)": no one's words.
_HOST_MASK = re.compile(r"\s*[\[(][^\])\s]*@[^\])\s]*[\])]")
# Membership and presence, as IRC clients and chat apps word them (English and Chinese). The
# matched words name what happened, and are what a notices topic is titled by.
_MEMBERSHIP = re.compile(
    r"\b(?:has (?:joined|left|quit|parted)|is now known as|(?:has )?changed (?:(?:his|her|their|the) )?"
    r"(?:nick(?:name)?|name) to|sets mode|(?:was|has been) (?:kicked|banned|removed|added)"
    r"|is (?:now )?(?:away|back)|(?:joined|left) (?:the )?(?:group|channel|chat|room|server)"
    r"|(?:joined|left|parted) #)"
    r"|加入了?(?:群聊|本群|群组|频道)|退出了?(?:群聊|本群|群组|频道)|(?:被)?移出了?(?:群聊|本群|群组)"
    r"|修改了?(?:群)?昵称|改名为|撤回了一条消息",
    re.IGNORECASE,
)
_FIRST_TOKEN = re.compile(r"^([^\s:,，：]+)")


@dataclass(frozen=True, slots=True)
class SystemLine:
    """What a system line is: a notice, or the action of the person ``actor`` (a sender id)."""

    notice: bool
    actor: str | None = None


def is_system(message: ChatMessage) -> bool:
    """True for a line of the chat itself rather than of a person (joins, notices, actions)."""
    return message.role is Role.SYSTEM or message.sender_id.casefold() in _SYSTEM_SENDERS


def notice_text(text: str) -> str:
    """``text`` without its system marker and host masks: what the line says."""
    return " ".join(_HOST_MASK.sub("", _MARKER.sub("", text, count=1)).split())


def is_membership(text: str) -> bool:
    """True when ``text`` reports someone joining, leaving, being renamed or away."""
    return _MEMBERSHIP.search(text) is not None


def classify(message: ChatMessage, sender_named: Callable[[str], str | None]) -> SystemLine | None:
    """How a system line is placed; None for a person's line or an announcement with content.

    ``sender_named`` maps a name to the sender id of the person who goes by it (None when no
    one does): an action starts with its actor's name.
    """
    if not is_system(message):
        return None
    text = notice_text(message.content)
    if is_membership(text):
        return SystemLine(notice=True)
    first = _FIRST_TOKEN.match(text)
    actor = sender_named(first.group(1)) if first and _MARKER.match(message.content) else None
    if actor is not None:
        return SystemLine(notice=False, actor=actor)
    rest = text[first.end() :] if first else text
    if _says_nothing(rest):
        return SystemLine(notice=True)
    return None


def _says_nothing(text: str) -> bool:
    return features(text).content_terms < _CONTENT_TERMS


def action_text(text: str) -> str:
    """What an action line says, without its marker and its actor's name ("shrugs")."""
    said = notice_text(text)
    first = _FIRST_TOKEN.match(said)
    return said[first.end() :].strip() if first else said


def window_of(ts: float) -> int:
    """The clock window a notice sent at POSIX time ``ts`` belongs to."""
    return int(ts // NOTICE_WINDOW_SECONDS)


def notices_title(texts: Sequence[str]) -> str:
    """What happened, in the chat's own words ("has joined · is now known as"); never a nick."""
    said = Counter(
        match.group(0).lower() for text in texts for match in _MEMBERSHIP.finditer(notice_text(text))
    )
    phrases = [phrase for phrase, _count in sorted(said.items(), key=lambda item: (-item[1], item[0]))]
    return " · ".join(phrases[:_TITLE_PHRASES])


def notices_summary(texts: Sequence[str]) -> str:
    """The latest notices, oldest first, whole, without markers and host masks."""
    lines = [line for line in (notice_text(text) for text in texts[-_SUMMARY_NOTICES:]) if line]
    kept: list[str] = []
    length = 0
    for line in reversed(lines):
        if kept and length + len(line) > _SUMMARY_CHARS:
            break
        kept.append(line)
        length += len(line) + len(_LINE_SEPARATOR)
    return clip(_LINE_SEPARATOR.join(reversed(kept)), _SUMMARY_CHARS)


def looks_like_notices(title: str, summary: str) -> bool:
    """True for a topic titled and summarised by this module (a topic of notices)."""
    if not title or not all(_MEMBERSHIP.fullmatch(part) for part in title.split(" · ")):
        return False
    lines = [line for line in summary.split(_LINE_SEPARATOR) if line.strip()]
    return any(is_membership(line) for line in lines) and all(
        is_membership(line) or _says_nothing(line) or line.endswith("…") for line in lines
    )
