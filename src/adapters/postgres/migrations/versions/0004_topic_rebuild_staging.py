"""Topic rebuild staging: message-to-topic assignments of a rebuild in progress.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "topic_rebuild_assignments",
        sa.Column("group_id", _id(), nullable=False),
        sa.Column("rebuild_key", _id(), nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("topic_id", _id(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "rebuild_key", "message_id", name="pk_topic_rebuild_assignments"),
    )


def downgrade() -> None:
    op.drop_table("topic_rebuild_assignments")
