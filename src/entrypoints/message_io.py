"""Messages as JSON (one per line in ``ai-worker ingest`` files) and back."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memory_domain.errors import InvalidMessage
from memory_domain.model import MAX_CONTENT_LENGTH, ChatMessage, Role

_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


class MessageIn(BaseModel):
    """One message as other programs send it. A time without a zone is taken as UTC."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    message_id: str = Field(min_length=1, max_length=128)
    group_id: str = Field(min_length=1, max_length=128)
    sender_id: str = Field(min_length=1, max_length=128)
    sender_name: str | None = Field(default=None, max_length=200)
    role: Role = Role.USER
    content: str = Field(min_length=1)
    sent_at: datetime
    reply_to: str | None = Field(default=None, max_length=128)

    @field_validator(
        "message_id", "group_id", "sender_id", "sender_name", "content", "reply_to", mode="before"
    )
    @classmethod
    def _no_lone_surrogate(cls, value: object) -> object:
        # JSON may escape half of a surrogate pair ("\ud800"): no store or prompt can carry it.
        found = _SURROGATE.search(value) if isinstance(value, str) else None
        if found:
            raise ValueError(f"not valid Unicode (a lone surrogate at character {found.start() + 1})")
        return value

    @field_validator("sent_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: object) -> object:
        # pydantic reads a number (or a string of digits) as a Unix time, in seconds or in
        # milliseconds depending on its size: a guess that can put a message decades off.
        if (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER.fullmatch(value)
        ):
            raise ValueError(
                f"{value!r} is a number; give an ISO 8601 date and time such as "
                "2026-11-02T09:15:00+08:00 (without a time zone it is taken as UTC)"
            )
        return value

    def to_domain(self) -> ChatMessage:
        sent_at = self.sent_at if self.sent_at.tzinfo else self.sent_at.replace(tzinfo=UTC)
        return ChatMessage(
            message_id=self.message_id,
            group_id=self.group_id,
            sender_id=self.sender_id,
            sender_name=self.sender_name or self.sender_id,
            role=self.role,
            content=self.content,
            sent_at=sent_at.astimezone(UTC),
            reply_to=self.reply_to or None,
        )


def content_over_limit(message: ChatMessage, limit: int) -> str | None:
    """What is wrong with a message longer than ``limit`` (MESSAGE_MAX_CHARS), or None."""
    if len(message.content) <= limit:
        return None
    return f"content: {len(message.content)} characters, more than MESSAGE_MAX_CHARS ({limit})"


def parse_message(data: Any, max_content_chars: int = MAX_CONTENT_LENGTH) -> ChatMessage:
    """A domain message from a decoded JSON value; raises ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        message = MessageIn.model_validate(data).to_domain()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "message"
            problems.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(problems)) from None
    except (InvalidMessage, OverflowError) as error:
        raise ValueError(str(error) or "a value is out of range") from None
    problem = content_over_limit(message, max_content_chars)
    if problem:
        raise ValueError(problem)
    return message


def parse_message_line(line: str, max_content_chars: int = MAX_CONTENT_LENGTH) -> ChatMessage:
    """Parse one JSONL line; raises ValueError naming what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    return parse_message(data, max_content_chars)


def read_message_lines(
    lines: Iterable[bytes], max_content_chars: int = MAX_CONTENT_LENGTH
) -> Iterator[tuple[int, ChatMessage | str]]:
    """Number and parse the lines of a JSONL input: each a message, or what is wrong with it.

    Each line is decoded on its own, so that a bad byte spoils its line and no other; a UTF-8
    byte order mark at the start (as some editors write) is skipped; blank lines are skipped.
    """
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield (
                number,
                f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at byte {error.start + 1} of the line)",
            )
            continue
        if not line.strip():
            continue
        try:
            yield number, parse_message_line(line, max_content_chars)
        except ValueError as error:
            yield number, str(error)


def message_to_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "group_id": message.group_id,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "role": message.role.value,
        "content": message.content,
        "sent_at": message.sent_at.isoformat(),
        "reply_to": message.reply_to,
    }
