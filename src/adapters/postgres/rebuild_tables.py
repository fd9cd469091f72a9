"""Staging of a topic rebuild, and the index its replay reads the history through."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.postgres.tables import UtcDateTime, chat_messages, ident, metadata

# Which rebuilt topic each replayed message went to.
topic_rebuild_assignments = sa.Table(
    "topic_rebuild_assignments",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("rebuild_key", ident(), primary_key=True),
    sa.Column("message_id", ident(), primary_key=True),
    sa.Column("topic_id", ident(), nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
)

# The topics the replay archived (their messages are in the assignments); ``position`` is where
# the replay stood when the step that archived them began, so a step run again replaces them.
topic_rebuild_topics = sa.Table(
    "topic_rebuild_topics",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("rebuild_key", ident(), primary_key=True),
    sa.Column("topic_id", ident(), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_topic_rebuild_topics_group_id_rebuild_key_position", "group_id", "rebuild_key", "position"),
)


def _integrated_only() -> sa.TextClause:
    return sa.text("revision IS NOT NULL")


# A group's integrated history in replay order (revision, sent_at, message_id): each page of a
# rebuild is a keyset read on it. Defined here, beside its only reader, on the messages table.
ix_chat_messages_integrated = sa.Index(
    "ix_chat_messages_integrated",
    chat_messages.c.group_id,
    chat_messages.c.revision,
    chat_messages.c.sent_at,
    chat_messages.c.message_id,
    postgresql_where=_integrated_only(),
    sqlite_where=_integrated_only(),
)
