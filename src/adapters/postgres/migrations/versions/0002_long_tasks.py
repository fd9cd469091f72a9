"""Long tasks: the tasks and their committed checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
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
        "long_tasks",
        sa.Column("id", _id(), nullable=False),
        sa.Column("task_type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("state", _json(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("progress_message", sa.Text(), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("run_at", _timestamp(), nullable=False),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_long_tasks"),
        sa.UniqueConstraint("dedupe_key", name="uq_long_tasks_dedupe_key"),
    )
    op.create_index("ix_long_tasks_status_run_at", "long_tasks", ["status", "run_at"])
    op.create_index("ix_long_tasks_status_created_at", "long_tasks", ["status", "created_at"])
    op.create_index("ix_long_tasks_task_type_created_at", "long_tasks", ["task_type", "created_at"])
    op.create_index("ix_long_tasks_created_at", "long_tasks", ["created_at"])
    op.create_table(
        "long_task_checkpoints",
        sa.Column("task_id", _id(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "step", name="pk_long_task_checkpoints"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["long_tasks.id"], name="fk_long_task_checkpoints_task_id_long_tasks"
        ),
    )


def downgrade() -> None:
    op.drop_table("long_task_checkpoints")
    op.drop_table("long_tasks")
