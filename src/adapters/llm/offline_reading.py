"""Reading a chat's messages for the offline topic model: who speaks, to whom, saying what."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.llm.offline_notices import action_text, classify, is_system, notice_text
from adapters.llm.offline_openers import is_greeting
from adapters.llm.offline_people import People
from adapters.llm.offline_state import Line
from adapters.llm.offline_vectors import Analyser
from memory_domain.model import ChatMessage


class Reader:
    """Reads the messages of one update: their kind, who speaks, whom they address, what they say.

    The inverse document frequencies are fitted on what people say and on the topics' titles and
    summaries; notices say nothing about any topic and are left out.
    """

    def __init__(self, messages: Sequence[ChatMessage], topic_texts: Sequence[str]) -> None:
        self.people = People(messages)
        self.analyser = Analyser(self.people.without_mentions)
        self._said: dict[str, str] = {}
        self._read: dict[str, str] = {}
        self._speakers: dict[str, str | None] = {}
        self._notices: dict[str, str] = {}
        self._lines: dict[str, Line] = {}
        for message in messages:
            kind = classify(message, self.people.sender_named)
            if kind is None:
                self._said[message.message_id] = message.content
                # A system announcement is no one's: it continues no one's conversation.
                speaker = None if is_system(message) else message.sender_id
                self._speakers[message.message_id] = speaker
            elif kind.notice:
                self._notices[message.message_id] = notice_text(message.content)
            else:
                # "bob reboots" is said by bob; what it is about is "reboots".
                self._said[message.message_id] = notice_text(message.content)
                self._read[message.message_id] = action_text(message.content)
                self._speakers[message.message_id] = kind.actor
        self.analyser.fit(
            [*(self.read(message) for message in messages if not self.is_notice(message)), *topic_texts]
        )

    def is_notice(self, message: ChatMessage) -> bool:
        return message.message_id in self._notices

    def said(self, message: ChatMessage) -> str:
        """What a message says: its text, an action's words, or a notice without its marker."""
        found = self._said.get(message.message_id)
        if found is None:
            found = self._notices.get(message.message_id, message.content)
        return found

    def read(self, message: ChatMessage) -> str:
        """The text whose words tell what a message is about."""
        return self._read.get(message.message_id) or self.said(message)

    def line(self, message: ChatMessage) -> Line:
        """The message as the assigner reads it (each message is read once)."""
        found = self._lines.get(message.message_id)
        if found is not None:
            return found
        analyser = self.analyser
        if self.is_notice(message):
            line = Line(message, analyser.vector(""), analyser.features(""), None, {}, notice=True)
        else:
            text = self.read(message)
            speaker = self._speakers.get(message.message_id)
            addressees = self.people.addressed(text, speaker)
            greeting = is_greeting(self.people.without_mentions(text))
            line = Line(
                message,
                analyser.vector(text),
                analyser.features(text),
                speaker,
                addressees,
                greeting=greeting,
            )
        self._lines[message.message_id] = line
        return line
