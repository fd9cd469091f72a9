"""``ai-worker ingest``: record the messages of a JSONL input, reporting each line not recorded as given.

The first of two messages under one (group, message id) wins, as it does across runs (the store
keeps the first recording): a repeat with other content is reported with its line, not recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from entrypoints.message_io import message_to_json, read_message_lines
from memory_domain.model import MAX_CONTENT_LENGTH, ChatMessage
from memory_domain.ports import MemoryStore
from memory_domain.recording import MessageRecorder

INGEST_BATCH = 500


@dataclass
class IngestReport:
    """What one ingest did; ``conflicts`` are message ids given again with other content."""

    recorded: int = 0
    duplicates: int = 0
    conflicts: int = 0
    bad: int = 0
    enqueued: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """Whether every line was recorded as given (or was an exact repeat)."""
        return not self.bad and not self.conflicts


def _digest(*parts: str) -> bytes:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).digest()


def _content_digest(message: ChatMessage) -> bytes:
    return _digest(json.dumps(message_to_json(message), sort_keys=True, ensure_ascii=False))


def _name(message: ChatMessage) -> str:
    # repr() shows control characters of an id escaped: the report goes to a terminal.
    return f"message id {message.message_id!r} of group {message.group_id}"


async def ingest_lines(
    recorder: MessageRecorder,
    store: MemoryStore,
    lines: Iterable[bytes],
    label: str,
    report: Callable[[str], None],
    batch_size: int = INGEST_BATCH,
    max_content_chars: int | None = None,
) -> IngestReport:
    """Record the messages of ``lines``; ``report`` gets one ``label:line: problem`` per line not recorded."""
    result = IngestReport()
    # Digests, not the ids and texts themselves: a long file costs about 150 bytes a message.
    given: dict[bytes, tuple[int, bytes]] = {}
    batch: list[tuple[int, ChatMessage]] = []

    async def flush() -> None:
        outcome = await recorder.record_many([message for _, message in batch])
        result.recorded += outcome.recorded
        result.duplicates += outcome.duplicates
        result.enqueued.update(outcome.enqueued_groups)
        if outcome.duplicates:
            await report_recorded_otherwise(batch)
        batch.clear()

    async def report_recorded_otherwise(batch: list[tuple[int, ChatMessage]]) -> None:
        # Only after a batch that met messages recorded before: one read per group of it.
        by_group: dict[str, dict[str, tuple[int, ChatMessage]]] = {}
        for number, message in batch:
            by_group.setdefault(message.group_id, {})[message.message_id] = (number, message)
        for group_id, messages in by_group.items():
            for stored in await store.messages_by_ids(group_id, list(messages)):
                number, message = messages[stored.message_id]
                if stored != message:
                    result.duplicates -= 1
                    result.conflicts += 1
                    report(
                        f"{label}:{number}: {_name(message)} is already recorded with other content; "
                        "the recorded one is kept"
                    )

    # The container's recorder knows MESSAGE_MAX_CHARS: a longer message is reported as its line.
    limit = max_content_chars
    if limit is None:
        limit = int(getattr(recorder, "max_content_chars", MAX_CONTENT_LENGTH))
    for number, item in read_message_lines(lines, limit):
        if isinstance(item, str):
            result.bad += 1
            report(f"{label}:{number}: skipped: {item}")
            continue
        content = _content_digest(item)
        first = given.setdefault(_digest(item.group_id, item.message_id), (number, content))
        if first[0] != number:
            if first[1] == content:
                result.duplicates += 1
            else:
                result.conflicts += 1
                report(
                    f"{label}:{number}: {_name(item)} was already given on line {first[0]} with other "
                    "content; the first is kept"
                )
            continue
        batch.append((number, item))
        if len(batch) >= batch_size:
            await flush()
    if batch:
        await flush()
    return result
