"""Who takes part in a chat, by name: tells when a message addresses someone."""

from __future__ import annotations

import re
from collections.abc import Iterable

from adapters.llm.text import contains_cjk
from memory_domain.model import ChatMessage

# An explicit "@name" is a stronger hint than a name that merely occurs in the text.
EXPLICIT_MENTION = 1.0
BARE_MENTION = 0.7
_SHORTEST_BARE_LATIN_NAME = 3
_SHORTEST_BARE_CJK_NAME = 2
_LATIN_HANDLE = re.compile(r"@[A-Za-z0-9_.\-]+")
# Only ASCII letters and digits end a Latin name: "@小明你看" addresses 小明 although CJK
# characters are word characters to the regex engine.
_NAME_END = r"(?![A-Za-z0-9_])"


def _alternation(names: Iterable[str]) -> str:
    # Longest first, so "@Bobby" is not read as "@Bob" followed by "by".
    return "|".join(re.escape(name) for name in sorted(set(names), key=lambda name: (-len(name), name)))


class People:
    """The senders of a chat by name, to find the people a message addresses.

    Names come from the ``sender_name`` of the messages the model sees. ``@name`` matches
    case-insensitively; a bare name only with its own capitalisation and on word boundaries, so
    that a sender called "Will" is not addressed by every "I will".
    """

    def __init__(self, messages: Iterable[ChatMessage]) -> None:
        ids_by_key: dict[str, set[str]] = {}
        ids_by_bare: dict[str, set[str]] = {}
        for message in messages:
            name = message.sender_name.strip()
            if not name:
                continue
            ids_by_key.setdefault(name.casefold(), set()).add(message.sender_id)
            cjk = contains_cjk(name)
            if len(name) >= (_SHORTEST_BARE_CJK_NAME if cjk else _SHORTEST_BARE_LATIN_NAME):
                ids_by_bare.setdefault(name, set()).add(message.sender_id)
        self._ids_by_key = ids_by_key
        self._ids_by_bare = ids_by_bare
        self._explicit = (
            re.compile(f"@({_alternation(ids_by_key)}){_NAME_END}", re.IGNORECASE) if ids_by_key else None
        )
        latin = [name for name in ids_by_bare if not contains_cjk(name)]
        cjk_names = [name for name in ids_by_bare if contains_cjk(name)]
        self._bare_latin = (
            re.compile(f"(?<![A-Za-z0-9_@])({_alternation(latin)}){_NAME_END}") if latin else None
        )
        self._bare_cjk = re.compile(f"(?<!@)({_alternation(cjk_names)})") if cjk_names else None

    def addressed(self, message: ChatMessage) -> dict[str, float]:
        """The sender ids the message addresses (never its own sender), with the mention's strength."""
        found: dict[str, float] = {}
        text = message.content
        if self._explicit is not None:
            for match in self._explicit.finditer(text):
                for sender_id in self._ids_by_key.get(match.group(1).casefold(), ()):
                    found[sender_id] = EXPLICIT_MENTION
        for pattern in (self._bare_latin, self._bare_cjk):
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                for sender_id in self._ids_by_bare.get(match.group(1), ()):
                    found.setdefault(sender_id, BARE_MENTION)
        found.pop(message.sender_id, None)
        return {sender_id: found[sender_id] for sender_id in sorted(found)}

    def without_mentions(self, text: str) -> str:
        """``text`` without its @-mentions: a name says who is asked, not what the topic is."""
        if self._explicit is not None:
            text = self._explicit.sub(" ", text)
        return _LATIN_HANDLE.sub(" ", text)
