"""Long tasks and checkpoints to and from table rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from long_tasks_domain.model import CheckpointRecord, LongTask, TaskStatus

# Written by every update of a task; the rest (id, type, payload, dedupe key, created_at)
# never change after the insert.
MUTABLE_COLUMNS = (
    "status",
    "state",
    "step",
    "progress",
    "progress_message",
    "result",
    "error",
    "error_traceback",
    "retry_count",
    "max_retries",
    "cancel_requested",
    "run_at",
    "lease_token",
    "lease_expires_at",
    "updated_at",
    "started_at",
    "finished_at",
)


def task_row(task: LongTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "task_type": task.task_type,
        "payload": task.payload,
        "dedupe_key": task.dedupe_key,
        "created_at": task.created_at,
        **mutable_values(task),
    }


def mutable_values(task: LongTask) -> dict[str, Any]:
    values = {name: getattr(task, name) for name in MUTABLE_COLUMNS}
    values["status"] = task.status.value
    # JSON columns store SQL NULL for None (not the JSON literal null).
    for name in ("state", "result"):
        if values[name] is None:
            values[name] = sa.null()
    return values


def task_from_row(row: sa.Row[Any]) -> LongTask:
    return LongTask(
        id=row.id,
        task_type=row.task_type,
        status=TaskStatus(row.status),
        payload=row.payload,
        created_at=row.created_at,
        updated_at=row.updated_at,
        run_at=row.run_at,
        max_retries=row.max_retries,
        state=row.state,
        step=row.step,
        progress=row.progress,
        progress_message=row.progress_message,
        result=row.result,
        error=row.error,
        error_traceback=row.error_traceback,
        retry_count=row.retry_count,
        dedupe_key=row.dedupe_key,
        cancel_requested=bool(row.cancel_requested),
        lease_token=row.lease_token,
        lease_expires_at=row.lease_expires_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def checkpoint_row(checkpoint: CheckpointRecord) -> dict[str, Any]:
    return {
        "task_id": checkpoint.task_id,
        "step": checkpoint.step,
        "state": checkpoint.state,
        "progress": checkpoint.progress,
        "created_at": checkpoint.created_at,
        "duration_ms": checkpoint.duration_ms,
    }


def checkpoint_from_row(row: sa.Row[Any]) -> CheckpointRecord:
    return CheckpointRecord(
        task_id=row.task_id,
        step=row.step,
        state=row.state,
        created_at=row.created_at,
        duration_ms=row.duration_ms,
        progress=row.progress,
    )
