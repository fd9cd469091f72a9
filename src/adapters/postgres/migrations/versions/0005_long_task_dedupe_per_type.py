"""Long tasks: a dedupe key is unique per task type, not across all types.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_long_tasks(drop: str, create: str, columns: list[str]) -> None:
    # On SQLite, batch mode copies long_tasks into a new table and drops the old one; with
    # foreign keys enforced, that drop would fail while checkpoints refer to its rows. They
    # are set aside for the rebuild and put back after it.
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMPORARY TABLE checkpoints_0005 AS SELECT * FROM long_task_checkpoints")
        op.execute("DELETE FROM long_task_checkpoints")
    with op.batch_alter_table("long_tasks") as batch:
        batch.drop_constraint(drop, type_="unique")
        batch.create_unique_constraint(create, columns)
    if sqlite:
        op.execute("INSERT INTO long_task_checkpoints SELECT * FROM checkpoints_0005")
        op.execute("DROP TABLE checkpoints_0005")


def upgrade() -> None:
    _rebuild_long_tasks(
        "uq_long_tasks_dedupe_key", "uq_long_tasks_task_type_dedupe_key", ["task_type", "dedupe_key"]
    )


def downgrade() -> None:
    # Fails when one key is used by tasks of two types: which one keeps it is not ours to say.
    _rebuild_long_tasks("uq_long_tasks_task_type_dedupe_key", "uq_long_tasks_dedupe_key", ["dedupe_key"])
