"""Topic memory: chat messages, topic memories, topics, topic revisions, update failures.

Revision ID: 0001
Revises:
Create Date: 2024-05-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A migration is frozen history, so it spells its types out instead of importing them from
# ``tables`` (which follows the newest schema).
def _id() -> sa.types.TypeEngine[str]:
    # Code-point order on PostgreSQL, as SQLite's BINARY collation and Python's sorted() have.
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "topic_memories",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name="pk_topic_memories"),
    )
    op.create_table(
        "topic_revisions",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("message_ids", _json(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("diff", _json(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "revision", name="pk_topic_revisions"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["topic_memories.group_id"],
            name="fk_topic_revisions_group_id_topic_memories",
        ),
    )
    op.create_table(
        "topics",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("topic_id", _id(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("message_ids", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic_id", name="pk_topics"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["topic_memories.group_id"], name="fk_topics_group_id_topic_memories"
        ),
    )
    op.create_index("ix_topics_group_id_status", "topics", ["group_id", "status"])
    op.create_table(
        "chat_messages",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sent_at", _timestamp(), nullable=False),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("recorded_at", _timestamp(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("group_id", "message_id", name="pk_chat_messages"),
        # A message marked integrated names a revision that exists (NULL, pending, is unchecked).
        sa.ForeignKeyConstraint(
            ["group_id", "revision"],
            ["topic_revisions.group_id", "topic_revisions.revision"],
            name="fk_chat_messages_group_id_revision_topic_revisions",
        ),
    )
    op.create_index(
        "ix_chat_messages_pending",
        "chat_messages",
        ["group_id", "sent_at", "message_id"],
        postgresql_where=sa.text("revision IS NULL"),
        sqlite_where=sa.text("revision IS NULL"),
    )
    op.create_index("ix_chat_messages_group_id_sent_at", "chat_messages", ["group_id", "sent_at"])
    op.create_table(
        "topic_update_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("message_ids", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_topic_update_failures"),
    )
    op.create_index(
        "ix_topic_update_failures_group_id_created_at",
        "topic_update_failures",
        ["group_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("topic_update_failures")
    op.drop_table("chat_messages")
    op.drop_table("topics")
    op.drop_table("topic_revisions")
    op.drop_table("topic_memories")
