"""Who takes part in a chat, by name: tells whom a message addresses.

Chats address people in a few fixed ways: "@name" anywhere, and "name: …", "name, …",
"name，…", "name：…" (or "name …") at the start; a name elsewhere in the text ("thanks jdub",
"hey jdub, any news?") is a weaker hint. Names are the ``sender_name`` of the messages the model
sees: an update's context (60 recent messages) and new messages hold nearly everyone who is
talking (on #ubuntu chat, 98% of the people addressed at the start of a message).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from adapters.llm.offline_notices import is_system
from adapters.llm.text import contains_cjk, is_stop_bigram, is_stop_word
from memory_domain.model import ChatMessage

# "@name", or a name followed by ":" or "," at the start: the sender says whom they talk to.
EXPLICIT_MENTION = 1.0
# A name then a space at the start ("bob try this"): nearly as clear, when it is written as the
# person writes it.
LEADING_MENTION = 0.8
# A name that ends the message or a clause ("thanks jdub", "hey jdub, …"): said to someone.
TRAILING_MENTION = 0.5
# A name in passing ("Hikaru79 said so", "我和小王去了"): someone is spoken of, not to. Even with
# nearness in time it is too little to join that person's conversation: it only tips a balance.
BARE_MENTION = 0.15
_SHORTEST_BARE_LATIN_NAME = 3
_SHORTEST_BARE_CJK_NAME = 2
_MOST_LEADING_NAMES = 3
_LATIN_HANDLE = re.compile(r"@[A-Za-z0-9_.\-]+")
# Only ASCII letters and digits (and the characters IRC allows in nicks) end a Latin name:
# "@小明你看" addresses 小明 although CJK characters are word characters to the regex engine.
_NAME_END = r"(?![A-Za-z0-9_\-\[\]\\^{}|`])"
_NAME_START = r"(?<![A-Za-z0-9_\-\[\]\\^{}|`@])"
# After a leading name: the punctuation that makes it an address, or a space.
_LEADING_SEPARATOR = re.compile(r"\s*(?:[:,>，：、]|-+>)\s*|\s+|$")
# What may follow a name that ends a message or a clause: "thanks jdub :)", "ic jdub", "jdub?".
# One class per alternative, so that a long run of blanks is read once, not once per blank.
_AFTER_CLEAR_NAME = re.compile(r"(?:\s*[,:!?，：！？]|[\s.;)(:pPD=^_\-~*'\"]*$)")
# The same after a CJK name: "辛苦了，老李！".
_AFTER_CJK_NAME = re.compile(r"\s*(?:[，,：:！!？?。~～]|$)")
# A leading token that addresses someone whatever it is ("steve: …" for "Steve^").
_LEADING_TOKEN = re.compile(r"\s*@?([^\s:,，：>@]{3,40}?)\s*[:,，：]\s+")
# Runs of letters and digits: the words a name is looked up by.
_TOKEN = re.compile(r"[^\W_]+")
_EDGE = re.compile(r"^[^0-9a-z]+|[^0-9a-z]+$")


def _alternation(names: Iterable[str]) -> str:
    # Longest first, so "@Bobby" is not read as "@Bob" followed by "by".
    return "|".join(re.escape(name) for name in sorted(set(names), key=lambda name: (-len(name), name)))


def _bare_form(name: str) -> str:
    """A name without case and the decoration nicks pick up: "Steve^", "_steve_", "[steve]"."""
    return _EDGE.sub("", name.casefold()) if name.isascii() else name.casefold()


def _distinctive(name: str) -> bool:
    """True when a name cannot be an ordinary word: "Hikaru79", "lev_away", "LinuxJones"."""
    return any(not char.isalpha() for char in name) or any(char.isupper() for char in name[1:])


class People:
    """The people of a chat by name, to find whom a message addresses.

    A leading "name:" or "name," and "@name" match case-insensitively. A bare name elsewhere
    counts only where it is clearly a name: it is not a common word (so a sender called "will"
    is not addressed by every "I will"), and it is written like a nick ("Hikaru79") or ends the
    message or a clause ("ic jdub", "hey jdub, …").
    """

    def __init__(self, messages: Iterable[ChatMessage]) -> None:
        ids_by_key: dict[str, set[str]] = {}
        as_written: set[str] = set()
        for message in messages:
            if is_system(message):
                continue
            name = message.sender_name.strip()
            if name:
                ids_by_key.setdefault(name.casefold(), set()).add(message.sender_id)
                as_written.add(name)
        self._ids_by_key = ids_by_key
        self._as_written = frozenset(as_written)
        # One Latin letter is a word ("I, for one…"), not a name to look for.
        names = [name for name in ids_by_key if len(name) > 1 or contains_cjk(name)]
        forms: dict[str, set[str]] = {}
        for name in names:
            forms.setdefault(_bare_form(name), set()).add(name)
        self._forms = sorted((form, sorted(keys)) for form, keys in forms.items() if form)
        latin = [name for name in names if not contains_cjk(name)]
        # A CJK name that is also a common word ("大家") is looked for only where it leads a line.
        cjk = [
            name
            for name in names
            if contains_cjk(name) and len(name) >= _SHORTEST_BARE_CJK_NAME and not is_stop_bigram(name)
        ]
        flags = re.IGNORECASE
        every, latin_names = _alternation(names), _alternation(latin)
        self._leading = re.compile(f"\\s*(@\\s?)?({every})", flags) if names else None
        self._at = re.compile(f"@({every}){_NAME_END}", flags) if names else None
        self._bare_latin = re.compile(f"{_NAME_START}({latin_names}){_NAME_END}", flags) if latin else None
        self._any_latin = re.compile(f"{_NAME_START}@?({latin_names}){_NAME_END}", flags) if latin else None
        self._bare_cjk = re.compile(f"(?<!@)({_alternation(cjk)})") if cjk else None
        self._heads = frozenset(tokens[0] for name in latin if (tokens := _TOKEN.findall(name)))
        self._seen: dict[str, list[tuple[int, int, str, float]]] = {}

    def sender_named(self, name: str) -> str | None:
        """The person who goes by ``name``, when exactly one does."""
        ids = self._ids_by_key.get(name.casefold())
        return next(iter(ids)) if ids is not None and len(ids) == 1 else None

    def addressed(self, text: str, speaker: str | None) -> dict[str, float]:
        """The people ``text`` addresses (never ``speaker``), with the mention's strength."""
        found: dict[str, float] = {}
        for _start, _end, key, strength in self._mentions(text):
            for person in self._ids_by_key.get(key, ()):
                found[person] = max(found.get(person, 0.0), strength)
        if speaker is not None:
            found.pop(speaker, None)
        return {person: found[person] for person in sorted(found)}

    def without_mentions(self, text: str) -> str:
        """``text`` without the names it addresses: a name says who is asked, not what about."""
        spans = sorted((start, end) for start, end, _key, _strength in self._mentions(text))
        if spans:
            parts: list[str] = []
            position = 0
            for start, end in spans:
                if start >= position:
                    parts.append(text[position:start])
                    position = end
            parts.append(text[position:])
            text = " ".join(parts)
        return _LATIN_HANDLE.sub(" ", text)

    def without_names(self, text: str) -> str:
        """``text`` without any name of the people in view: what is left may title a topic.

        A leading "token: …" goes too, and a leading "token, …" written like a nick ("usr13,
        …"): they address someone who has not spoken within view (or label the line).
        """
        text = self.without_mentions(text)
        leading = _LEADING_TOKEN.match(text)
        if leading is not None and (":" in leading.group() or _distinctive(leading.group(1))):
            text = text[leading.end() :]
        if self._any_latin is not None and not self._heads.isdisjoint(_TOKEN.findall(text.casefold())):
            text = self._any_latin.sub(" ", text)
        if self._bare_cjk is not None and contains_cjk(text):
            text = self._bare_cjk.sub(" ", text)
        return text

    def _mentions(self, text: str) -> list[tuple[int, int, str, float]]:
        """(start, end, name key, strength) of every way ``text`` names someone."""
        # Every text is read several times (people, words, title, summary): it is read once.
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = self._find_mentions(text)
        return found

    def _find_mentions(self, text: str) -> list[tuple[int, int, str, float]]:
        found: list[tuple[int, int, str, float]] = []
        position = 0
        while self._leading is not None and len(found) < _MOST_LEADING_NAMES:
            match = self._leading.match(text, position)
            separator = _LEADING_SEPARATOR.match(text, match.end()) if match else None
            if match is None or separator is None:
                break
            name, at = match.group(2), match.group(1)
            punctuated = bool(at or separator.group().strip())
            if not punctuated and not self._clear_leading(name):
                break
            strength = EXPLICIT_MENTION if punctuated else LEADING_MENTION
            found.append((match.start(), separator.end(), name.casefold(), strength))
            position = separator.end()
        if not found and (loose := self._loose_leading(text)) is not None:
            found.append(loose)
            position = loose[1]
        if self._at is not None and "@" in text:
            for match in self._at.finditer(text, position):
                found.append((match.start(), match.end(), match.group(1).casefold(), EXPLICIT_MENTION))
        # A bare name is looked for only when a word of the text starts one (a set lookup per
        # word is cheaper than the pattern of every name).
        if self._bare_latin is not None and not self._heads.isdisjoint(_TOKEN.findall(text.casefold())):
            for match in self._bare_latin.finditer(text, position):
                strength = self._bare_strength(match.group(1), text, match.end())
                if strength:
                    found.append((match.start(), match.end(), match.group(1).casefold(), strength))
        if self._bare_cjk is not None and contains_cjk(text):
            for match in self._bare_cjk.finditer(text, position):
                trailing = _AFTER_CJK_NAME.match(text, match.end()) is not None
                strength = TRAILING_MENTION if trailing else BARE_MENTION
                found.append((match.start(), match.end(), match.group(1).casefold(), strength))
        return found

    def _loose_leading(self, text: str) -> tuple[int, int, str, float] | None:
        """A leading "token:" or "token," that is one person's name but for case, decoration or
        its end: people abbreviate and mistype nicks ("steve:" for "Steve^", "ubu," for "ubuntu_fan").
        """
        match = _LEADING_TOKEN.match(text)
        if match is None or is_stop_word(match.group(1)):
            return None
        form = _bare_form(match.group(1))
        if len(form) < _SHORTEST_BARE_LATIN_NAME:
            return None
        start = bisect.bisect_left(self._forms, (form, []))
        keys: set[str] = set()
        for other, names in self._forms[start:]:
            if not other.startswith(form):
                break
            keys.update(names)
        if len(keys) != 1:
            return None
        return (match.start(1), match.end(), keys.pop(), EXPLICIT_MENTION)

    def _clear_leading(self, written: str) -> bool:
        """A leading name then a space addresses when written as its owner writes it ("bob try")."""
        return contains_cjk(written) or (written in self._as_written and not is_stop_word(written))

    @staticmethod
    def _bare_strength(written: str, text: str, end: int) -> float:
        """How clearly a Latin name met in a text addresses its owner (0: it is just a word)."""
        if len(written) < _SHORTEST_BARE_LATIN_NAME or is_stop_word(written):
            return 0.0
        if _AFTER_CLEAR_NAME.match(text, end) is not None:
            return TRAILING_MENTION
        return BARE_MENTION if _distinctive(written) else 0.0
