"""Group memory: group memories, their revisions, item readings, evolution failures, consensus slots.

Revision ID: 0003
Revises: 0002
Create Date: 2024-06-15 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen history: the types are spelled out here, not imported from the table modules.
def _id() -> sa.types.TypeEngine[str]:
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "group_memories",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("topic_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name="pk_group_memories"),
    )
    op.create_table(
        "group_memory_revisions",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("topic_version", sa.Integer(), nullable=False),
        sa.Column("topic_ids", _json(), nullable=False),
        sa.Column("message_ids", _json(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("diff", _json(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "revision", name="pk_group_memory_revisions"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_memories.group_id"],
            name="fk_group_memory_revisions_group_id_group_memories",
        ),
    )
    op.create_table(
        "group_memory_items",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("item_id", _id(), nullable=False),
        sa.Column("since_revision", sa.Integer(), nullable=False),
        sa.Column("until_revision", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("topic_ids", _json(), nullable=False),
        sa.Column("message_ids", _json(), nullable=False),
        sa.Column("valid_from", _timestamp(), nullable=False),
        sa.Column("invalid_at", _timestamp(), nullable=True),
        sa.Column("superseded_by", _id(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "item_id", "since_revision", name="pk_group_memory_items"),
        sa.ForeignKeyConstraint(
            ["group_id", "since_revision"],
            ["group_memory_revisions.group_id", "group_memory_revisions.revision"],
            # The conventional name would pass PostgreSQL's 63-character limit.
            name="fk_group_memory_items_revision",
        ),
    )
    op.create_index(
        "ix_group_memory_items_current",
        "group_memory_items",
        ["group_id", "item_id"],
        postgresql_where=sa.text("until_revision IS NULL"),
        sqlite_where=sa.text("until_revision IS NULL"),
    )
    op.create_table(
        "group_memory_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_group_memory_failures"),
    )
    op.create_index(
        "ix_group_memory_failures_group_id_created_at",
        "group_memory_failures",
        ["group_id", "created_at"],
    )
    op.create_table(
        "consensus_slots",
        sa.Column("slot_at", _timestamp(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", _timestamp(), nullable=False),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.Column("groups", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("slot_at", name="pk_consensus_slots"),
    )


def downgrade() -> None:
    op.drop_table("consensus_slots")
    op.drop_table("group_memory_failures")
    op.drop_table("group_memory_items")
    op.drop_table("group_memory_revisions")
    op.drop_table("group_memories")
