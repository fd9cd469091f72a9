"""How ``ai-worker memory show`` prints a group's quarantined messages (table and JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from entrypoints.cli_support import printable
from memory_domain.model import QuarantinedMessage

REQUEUE_HINT = "ai-worker memory requeue GROUP MESSAGE_ID makes one pending again"


def quarantined_json(held: QuarantinedMessage) -> dict[str, Any]:
    return {
        "message_id": held.message.message_id,
        "sender_id": held.message.sender_id,
        "sent_at": held.message.sent_at.isoformat(),
        "quarantined_at": held.quarantined_at.isoformat(),
        "error": held.error,
    }


def print_quarantined(console: Console, quarantined: Sequence[QuarantinedMessage]) -> None:
    if not quarantined:
        return
    # Ids and errors quote chat text: printed as data, never as markup or terminal controls.
    console.print(
        Text(
            f"{len(quarantined)} messages quarantined (not pending, not integrated; {REQUEUE_HINT}):",
            "yellow",
        )
    )
    table = Table()
    for column in ("message", "sent", "quarantined", "error"):
        table.add_column(column, no_wrap=column != "error")
    for held in quarantined:
        table.add_row(
            Text(printable(held.message.message_id)),
            held.message.sent_at.strftime("%Y-%m-%d %H:%M"),
            held.quarantined_at.strftime("%Y-%m-%d %H:%M"),
            Text(printable(held.error)),
        )
    console.print(table)
