"""Which topic holds a message is kept on the message: a topic row stops growing with history.

``chat_messages.topic_id`` names the topic each integrated message is filed in; ``topics`` keeps
only the ids of its newest 50 messages and counts all of them in ``message_count``. Before,
every update read and rewrote each touched topic's full list of ids. Existing topics are
walked once: their messages get their topic, their lists are cut to the newest 50.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as it was when this migration was written (the code's constant may change).
RECENT_IDS = 50
PAGE = 200
CHUNK = 500


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


_topics = sa.table(
    "topics",
    sa.column("group_id", _id()),
    sa.column("topic_id", _id()),
    sa.column("message_ids", _json()),
    sa.column("message_count", sa.Integer()),
    sa.column("revision", sa.Integer()),
)
_messages = sa.table(
    "chat_messages",
    sa.column("group_id", _id()),
    sa.column("message_id", _id()),
    sa.column("topic_id", _id()),
    sa.column("sent_at", sa.DateTime(timezone=True)),
)


def _topic_pages(bind: sa.Connection) -> Iterator[Any]:
    """Every topic, a page at a time by key (a group's topics can hold millions of ids)."""
    after: tuple[str, str] = ("", "")
    while True:
        rows = bind.execute(
            sa.select(_topics.c.group_id, _topics.c.topic_id, _topics.c.message_ids)
            .where(sa.tuple_(_topics.c.group_id, _topics.c.topic_id) > sa.tuple_(*after))
            .order_by(_topics.c.group_id, _topics.c.topic_id)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        yield from rows
        after = (rows[-1].group_id, rows[-1].topic_id)


def upgrade() -> None:
    op.add_column("chat_messages", sa.Column("topic_id", _id(), nullable=True))
    op.add_column(
        "topics", sa.Column("message_count", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )
    if op.get_context().as_sql:
        # An offline (--sql) script cannot read the rows it would walk: it is for a database
        # without topics yet. On one with topics, run the migration online.
        return
    bind = op.get_bind()
    for row in _topic_pages(bind):
        ids = [str(message_id) for message_id in (row.message_ids or [])]
        for start in range(0, len(ids), CHUNK):
            bind.execute(
                sa.update(_messages)
                .where(
                    _messages.c.group_id == row.group_id,
                    _messages.c.message_id.in_(ids[start : start + CHUNK]),
                )
                .values(topic_id=row.topic_id)
            )
        bind.execute(
            sa.update(_topics)
            .where(_topics.c.group_id == row.group_id, _topics.c.topic_id == row.topic_id)
            .values(message_ids=ids[-RECENT_IDS:], message_count=len(ids))
        )


def downgrade() -> None:
    bind = op.get_bind()
    for row in [] if op.get_context().as_sql else _topic_pages(bind):
        ids = bind.execute(
            sa.select(_messages.c.message_id)
            .where(_messages.c.group_id == row.group_id, _messages.c.topic_id == row.topic_id)
            .order_by(_messages.c.sent_at, _messages.c.message_id)
        ).scalars()
        bind.execute(
            sa.update(_topics)
            .where(_topics.c.group_id == row.group_id, _topics.c.topic_id == row.topic_id)
            .values(message_ids=list(ids))
        )
    op.drop_column("topics", "message_count")
    op.drop_column("chat_messages", "topic_id")
