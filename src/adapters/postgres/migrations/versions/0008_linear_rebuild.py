"""Linear topic rebuilds: the integrated history read through an index, archived topics staged.

A rebuild pages through a group's integrated messages by (revision, sent_at, message_id); a
partial index holding the integrated messages in that order serves each page by a keyset read,
where the whole history was sorted for every page before. The topics a replay archives are
staged beside the message assignments instead of riding in every checkpoint.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_index(
        "ix_chat_messages_integrated",
        "chat_messages",
        ["group_id", "revision", "sent_at", "message_id"],
        postgresql_where=sa.text("revision IS NOT NULL"),
        sqlite_where=sa.text("revision IS NOT NULL"),
    )
    op.create_table(
        "topic_rebuild_topics",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("rebuild_key", _id(), nullable=False),
        sa.Column("topic_id", _id(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "rebuild_key", "topic_id", name="pk_topic_rebuild_topics"),
    )
    op.create_index(
        "ix_topic_rebuild_topics_group_id_rebuild_key_position",
        "topic_rebuild_topics",
        ["group_id", "rebuild_key", "position"],
    )


def downgrade() -> None:
    op.drop_index("ix_topic_rebuild_topics_group_id_rebuild_key_position", table_name="topic_rebuild_topics")
    op.drop_table("topic_rebuild_topics")
    op.drop_index("ix_chat_messages_integrated", table_name="chat_messages")
