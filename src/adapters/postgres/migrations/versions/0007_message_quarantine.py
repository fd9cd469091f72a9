"""Message quarantine: a message that keeps failing updates alone is set aside, not retried forever.

``chat_messages`` gains the count of failed updates whose batch held the message alone, and
when and why it was quarantined; a partial index lists each group's quarantined messages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no table copy): existing rows get 0 and NULLs.
    op.add_column(
        "chat_messages",
        sa.Column("solo_failures", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("chat_messages", sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("chat_messages", sa.Column("quarantine_error", sa.Text(), nullable=True))
    op.create_index(
        "ix_chat_messages_quarantined",
        "chat_messages",
        ["group_id", "quarantined_at", "message_id"],
        postgresql_where=sa.text("quarantined_at IS NOT NULL"),
        sqlite_where=sa.text("quarantined_at IS NOT NULL"),
    )


def downgrade() -> None:
    # Quarantined messages become pending again: nothing is lost, they are retried.
    op.drop_index("ix_chat_messages_quarantined", table_name="chat_messages")
    op.drop_column("chat_messages", "quarantine_error")
    op.drop_column("chat_messages", "quarantined_at")
    op.drop_column("chat_messages", "solo_failures")
