"""How the context of a topic update is put together (shared by every MemoryStore adapter)."""

from __future__ import annotations

from collections.abc import Sequence

from memory_domain.model import ChatMessage


def replied_ids(pending: Sequence[ChatMessage], recent: Sequence[ChatMessage]) -> list[str]:
    """The ids that pending messages reply to and that neither list holds (sorted)."""
    known = {message.message_id for message in recent} | {message.message_id for message in pending}
    return sorted({m.reply_to for m in pending if m.reply_to and m.reply_to not in known})


def update_context(recent: Sequence[ChatMessage], replied: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The context messages of an update, oldest first (by sent time, then id)."""
    return tuple(sorted([*replied, *recent], key=lambda m: (m.sent_at, m.message_id)))
