"""Reading the evaluation data of ``../shared/data`` (two formats) into chat messages.

- a *disentanglement* folder: ``messages.jsonl`` (the product's ingest format) and ``gold.json``
  (message id -> gold conversation id);
- a *long-conversation* folder: LoCoMo conversations (``*.json``), two speakers over dated
  sessions, with question/answer pairs whose evidence names turn ids.

The data is read from the given path and never copied into the package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from entrypoints.message_io import parse_message
from memory_domain.model import ChatMessage, Role

# A turn's time is its session's time plus this much per turn before it.
SECONDS_PER_TURN = 30


@dataclass(frozen=True, slots=True)
class Disentanglement:
    """Chat groups whose messages are annotated with the conversation each belongs to."""

    messages: tuple[ChatMessage, ...]
    gold: dict[str, str]  # message id (made unique per group) -> gold conversation id


@dataclass(frozen=True, slots=True)
class Question:
    group_id: str
    question: str
    answer: str
    category: int
    evidence: tuple[str, ...]


@dataclass(slots=True)
class Conversation:
    """One long conversation: its sessions (each a list of messages, oldest first) and questions."""

    group_id: str
    sessions: list[list[ChatMessage]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def kind_of(path: Path) -> str:
    """``"topics"`` for a disentanglement folder, ``"context"`` for long conversations."""
    if (path / "messages.jsonl").is_file() and (path / "gold.json").is_file():
        return "topics"
    if path.is_dir() and any(path.glob("*.json")):
        return "context"
    raise ValueError(
        f"{path}: neither a disentanglement folder (messages.jsonl + gold.json) "
        "nor a folder of long conversations (*.json)"
    )


def gold_key(group_id: str, message_id: str) -> str:
    return f"{group_id}\x1f{message_id}"


def load_disentanglement(path: Path, limit_groups: int | None = None) -> Disentanglement:
    gold_by_id: dict[str, str] = json.loads((path / "gold.json").read_text(encoding="utf-8"))
    messages: list[ChatMessage] = []
    groups: list[str] = []
    for number, line in enumerate((path / "messages.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            message = parse_message(json.loads(line))
        except ValueError as error:
            raise ValueError(f"{path / 'messages.jsonl'} line {number}: {error}") from None
        if message.group_id not in groups:
            groups.append(message.group_id)
        if limit_groups is not None and groups.index(message.group_id) >= limit_groups:
            continue
        messages.append(message)
    gold = {}
    for message in messages:
        if message.message_id not in gold_by_id:
            raise ValueError(f"{path / 'gold.json'}: no gold conversation for {message.message_id!r}")
        gold[gold_key(message.group_id, message.message_id)] = (
            f"{message.group_id}\x1f{gold_by_id[message.message_id]}"
        )
    return Disentanglement(tuple(messages), gold)


def _session_time(text: str) -> datetime:
    # LoCoMo writes "1:56 pm on 8 May, 2023".
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_content(turn: dict[str, Any]) -> str:
    """A turn's text; a shared photo is part of what was said, as its caption."""
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        text = f"{text} [shares {caption}]".strip()
    return text


def load_conversation(path: Path) -> Conversation:
    data = json.loads(path.read_text(encoding="utf-8"))
    body = data.get("conversation", data)
    group_id = f"locomo-{path.stem}"
    conversation = Conversation(group_id)
    number = 1
    while f"session_{number}_date_time" in body:
        turns = body.get(f"session_{number}") or []
        started = _session_time(body[f"session_{number}_date_time"])
        session: list[ChatMessage] = []
        for position, turn in enumerate(turns):
            content = turn_content(turn)
            if not content:
                continue
            session.append(
                ChatMessage(
                    message_id=str(turn["dia_id"]),
                    group_id=group_id,
                    sender_id=str(turn["speaker"]),
                    sender_name=str(turn["speaker"]),
                    role=Role.USER,
                    content=content,
                    sent_at=started + timedelta(seconds=SECONDS_PER_TURN * position),
                )
            )
        if session:
            conversation.sessions.append(session)
        number += 1
    for qa in data.get("qa", []):
        category = int(qa.get("category", 0))
        if category not in (1, 2, 3, 4) or "answer" not in qa:
            continue  # category 5 is adversarial: it has no answer to recall
        conversation.questions.append(
            Question(
                group_id=group_id,
                question=str(qa["question"]),
                answer=str(qa["answer"]),
                category=category,
                evidence=tuple(str(e) for e in qa.get("evidence", [])),
            )
        )
    return conversation


def load_conversations(path: Path, limit: int | None = None) -> list[Conversation]:
    files = sorted(path.glob("*.json"))[:limit]
    return [load_conversation(file) for file in files]
