"""The long-task tables, on the shared ``metadata`` (mirrored by migration 0002)."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.postgres.tables import UtcDateTime, ident, json_column_type, metadata

long_tasks = sa.Table(
    "long_tasks",
    metadata,
    sa.Column("id", ident(), primary_key=True),
    sa.Column("task_type", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payload", json_column_type(), nullable=False),
    # The last committed checkpoint (NULL before the first); a copy of the newest
    # long_task_checkpoints row, so that a step reads one row.
    sa.Column("state", json_column_type(), nullable=True),
    sa.Column("step", sa.Integer(), nullable=False),
    sa.Column("progress", sa.Float(), nullable=True),
    sa.Column("progress_message", sa.Text(), nullable=True),
    sa.Column("result", json_column_type(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("error_traceback", sa.Text(), nullable=True),
    sa.Column("retry_count", sa.Integer(), nullable=False),
    sa.Column("max_retries", sa.Integer(), nullable=False),
    # Unique per task type (the constraint below): one key may name a task of each type.
    sa.Column("dedupe_key", sa.String(200), nullable=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False),
    # When the task is next due: its start time, or the end of a retry's backoff.
    sa.Column("run_at", UtcDateTime(), nullable=False),
    # A claim: a fresh token per claim fences off a worker whose lease was taken over.
    sa.Column("lease_token", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("task_type", "dedupe_key"),
    sa.Index("ix_long_tasks_status_run_at", "status", "run_at"),
    sa.Index("ix_long_tasks_status_created_at", "status", "created_at"),
    sa.Index("ix_long_tasks_task_type_created_at", "task_type", "created_at"),
    sa.Index("ix_long_tasks_created_at", "created_at"),
)

long_task_checkpoints = sa.Table(
    "long_task_checkpoints",
    metadata,
    sa.Column("task_id", ident(), sa.ForeignKey("long_tasks.id"), primary_key=True),
    # The primary key is what makes "each checkpoint committed once" hold in the database.
    sa.Column("step", sa.Integer(), primary_key=True),
    sa.Column("state", json_column_type(), nullable=False),
    sa.Column("progress", sa.Float(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
)
