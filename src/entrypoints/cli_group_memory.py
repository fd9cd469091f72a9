"""How the CLI shows group memory, the mixed history and the memory context (JSON and tables).

The commands themselves are declared in :mod:`entrypoints.cli_memory`, beside the topic ones.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from entrypoints.cli_support import printable
from memory_domain.group_model import EvolutionFailure, GroupMemory, MemoryItem
from memory_domain.memory_context import MemoryContext
from memory_domain.queries import HistoryEntry


class MemoryKind(StrEnum):
    GROUP_MEMORY = "group_memory"
    TOPICS = "topics"


TOPICS_CANNOT_ROLL_BACK = (
    "topic memory cannot be rolled back: it is a fold of messages that are each integrated exactly "
    "once, and older topics would leave the messages integrated since in no topic. Roll back the "
    "group memory (--kind group_memory), which keeps every earlier reading of every item."
)


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def item_json(item: MemoryItem) -> dict[str, Any]:
    return {
        "id": item.item_id,
        "kind": item.kind.value,
        "text": item.text,
        "topic_ids": list(item.topic_ids),
        "message_ids": list(item.message_ids),
        "valid_from": item.valid_from.isoformat(),
        "invalid_at": _time(item.invalid_at),
        "superseded_by": item.superseded_by,
        "updated_at": item.updated_at.isoformat(),
    }


def group_memory_json(memory: GroupMemory, failure: EvolutionFailure | None) -> dict[str, Any]:
    return {
        "version": memory.version,
        "topic_version": memory.topic_version,
        "updated_at": _time(memory.updated_at),
        "items": [item_json(item) for item in memory.items],
        "last_error": None
        if failure is None
        else {"at": failure.created_at.isoformat(), "error": failure.error},
    }


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "revision": entry.revision,
        "created_at": entry.created_at.isoformat(),
        "action": entry.action,
        "message_ids": list(entry.message_ids),
        "model": entry.model,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "duration_ms": entry.duration_ms,
        "diff": entry.diff,
    }


def context_json(context: MemoryContext) -> dict[str, Any]:
    return {
        "group_id": context.group_id,
        "budget_chars": context.budget_chars,
        "query": context.query,
        "group_memory_version": context.group_memory_version,
        "topic_version": context.topic_version,
        "items": [item_json(item) for item in context.items],
        "topics": [
            {"id": t.topic_id, "title": t.title, "summary": t.summary, "updated_at": t.updated_at.isoformat()}
            for t in context.topics
        ],
        "entries": [
            {
                "kind": entry.kind,
                "id": entry.key,
                "score": round(entry.score, 4),
                "text": entry.text,
                "source_message_ids": list(entry.message_ids),
                "speakers": list(entry.speakers),
                "dates": list(entry.dates),
            }
            for entry in context.entries
        ],
        "omitted": context.omitted,
        "truncated": context.truncated,
        "text": context.text,
    }


def print_group_memory(console: Console, memory: GroupMemory, failure: EvolutionFailure | None) -> None:
    live = memory.live_items
    console.print(
        f"group memory: version {memory.version} (from topic version {memory.topic_version}), "
        f"{len(live)} live items"
        + (f", {len(memory.items) - len(live)} superseded" if len(live) < len(memory.items) else ""),
        highlight=False,
    )
    if failure is not None:
        console.print(
            f"[red]last evolution failed:[/red] {escape(printable(failure.error))}", highlight=False
        )
    if not memory.items:
        return
    table = Table(show_lines=True)
    for column in ("item", "kind", "text", "valid from", "until"):
        table.add_column(column, no_wrap=column != "text")
    for item in memory.items:
        table.add_row(
            escape(printable(item.item_id[:8])),
            item.kind.value,
            Text(printable(item.text)),
            item.valid_from.strftime("%Y-%m-%d %H:%M"),
            item.invalid_at.strftime("%Y-%m-%d %H:%M") if item.invalid_at else "",
        )
    console.print(table)


def print_history(console: Console, entries: list[HistoryEntry]) -> None:
    table = Table()
    for column in ("kind", "revision", "action", "created", "messages", "model", "tokens in/out", "ms"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry.kind,
            str(entry.revision),
            entry.action,
            entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(len(entry.message_ids)),
            escape(entry.model),
            f"{entry.prompt_tokens}/{entry.completion_tokens}",
            str(entry.duration_ms),
        )
    console.print(table)
