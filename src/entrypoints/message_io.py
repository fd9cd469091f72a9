"""Messages as JSON (one per line in ``ai-worker ingest`` files) and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory_domain.errors import InvalidMessage
from memory_domain.model import ChatMessage, Role


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


def parse_message(data: Any) -> ChatMessage:
    """A domain message from a decoded JSON value; raises ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return MessageIn.model_validate(data).to_domain()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "message"
            problems.append(f"{where}: {item['msg']}")
        raise ValueError("; ".join(problems)) from None
    except (InvalidMessage, OverflowError) as error:
        raise ValueError(str(error) or "a value is out of range") from None


def parse_message_line(line: str) -> ChatMessage:
    """Parse one JSONL line; raises ValueError naming what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    return parse_message(data)


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
