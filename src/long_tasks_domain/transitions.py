"""What each operation does to a task, as pure functions: the one place the semantics live.

Every repository adapter applies these (the SQL one after locking the row), so the stored
status changes are exactly the legal transitions of ``state_machine``.

``lease_now`` is the clock leases are measured with, when the store has one of its own
(PostgreSQL's, so that a worker whose clock runs ahead cannot take live leases over); it
defaults to ``now``, the caller's clock, which due times (``run_at``) are always compared with.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from long_tasks_domain.errors import IllegalTransition, LeaseLost
from long_tasks_domain.model import (
    TAKEOVER_ERROR,
    LongTask,
    Settlement,
    TaskStatus,
    check_storable,
    check_storable_checkpoint,
)
from long_tasks_domain.state_machine import FINISHED, WAITING, ensure_transition


def is_due(task: LongTask, now: datetime, lease_now: datetime | None = None) -> bool:
    """Claimable now: waiting, due and not held by a live lease; or running on a dead lease."""
    lease_now = lease_now or now
    lease_live = task.lease_expires_at is not None and task.lease_expires_at > lease_now
    if task.status in WAITING:
        return task.run_at <= now and not lease_live
    return task.status is TaskStatus.RUNNING and not lease_live


def lease_expired(task: LongTask, now: datetime, lease_now: datetime | None = None) -> bool:
    """Held by a lease that ran out: the worker died (mid-step, or between two steps)."""
    expired = task.lease_expires_at is not None and task.lease_expires_at <= (lease_now or now)
    return expired and is_due(task, now, lease_now)


def claimed(task: LongTask, now: datetime, lease_until: datetime, token: str) -> LongTask:
    """The task held by ``token``; a takeover of a RUNNING task counts the dead try."""
    takeover = task.status is TaskStatus.RUNNING
    return replace(
        task,
        status=ensure_transition(task.status, TaskStatus.RUNNING, task.id),
        lease_token=token,
        lease_expires_at=lease_until,
        started_at=task.started_at or now,
        updated_at=now,
        retry_count=task.retry_count + 1 if takeover else task.retry_count,
        error=TAKEOVER_ERROR if takeover else task.error,
    )


def held(task: LongTask | None, task_id: str, token: str) -> LongTask:
    """``task`` if ``token`` holds it, else :class:`LeaseLost`."""
    if task is None or task.lease_token != token:
        raise LeaseLost(f"task {task_id} is no longer held by this worker (taken over or cancelled)")
    return task


def renewed(task: LongTask, lease_until: datetime) -> LongTask:
    if task.status not in (TaskStatus.RUNNING, TaskStatus.COMMIT):
        raise LeaseLost(f"task {task.id} is {task.status.value}; there is no lease to renew")
    return replace(task, lease_expires_at=lease_until)


def step_started(task: LongTask, now: datetime, lease_until: datetime) -> LongTask:
    if task.status is not TaskStatus.COMMIT:
        raise LeaseLost(f"task {task.id} is {task.status.value}, not between two steps")
    return replace(
        task,
        status=ensure_transition(task.status, TaskStatus.RUNNING, task.id),
        lease_expires_at=lease_until,
        updated_at=now,
    )


def with_progress(task: LongTask, progress: float | None, message: str | None, now: datetime) -> LongTask:
    return check_storable(
        replace(
            task,
            progress=task.progress if progress is None else progress,
            progress_message=message if message is not None else task.progress_message,
            updated_at=now,
        )
    )


def settled(task: LongTask, settlement: Settlement) -> LongTask:
    """The held task after its step settled as ``settlement`` says.

    A cancel requested while the step ran wins over everything but progress: a failed try (due
    again later, or FAILED) and a task given back settle CANCELLED, keeping the error. A held
    COMMIT task (between two steps) settling COMMIT without a checkpoint gives its lease up.
    """
    target = settlement.status
    if task.cancel_requested and settlement.checkpoint is None and target is not TaskStatus.DONE:
        target = TaskStatus.CANCELLED
    # Not a status change: the worker holding a task between two steps lets go of it.
    release = task.status is target is TaskStatus.COMMIT and settlement.checkpoint is None
    if not release:
        ensure_transition(task.status, target, task.id)
    if settlement.hold and (target is not TaskStatus.COMMIT or release):
        raise ValueError("only a COMMIT settlement that commits a step keeps the lease")
    changes: dict[str, object] = {
        "status": target,
        "updated_at": settlement.at,
        "error": settlement.error,
        "error_traceback": settlement.error_traceback,
        "retry_count": settlement.retry_count,
    }
    checkpoint = settlement.checkpoint
    if checkpoint is not None:
        if target is not TaskStatus.COMMIT or checkpoint.step != task.step + 1:
            raise ValueError(f"task {task.id}: checkpoint {checkpoint.step} cannot follow step {task.step}")
        changes.update(state=checkpoint.state, step=checkpoint.step)
        if checkpoint.progress is not None:
            changes["progress"] = checkpoint.progress
    if target is TaskStatus.DONE:
        changes.update(result=settlement.result, progress=1.0)
    if target in FINISHED:
        changes["finished_at"] = settlement.at
    if target in WAITING:
        changes["run_at"] = settlement.run_at or settlement.at
    if not settlement.hold:
        changes.update(lease_token=None, lease_expires_at=None)
    if checkpoint is not None:
        check_storable_checkpoint(checkpoint)
    return check_storable(replace(task, **changes))  # type: ignore[arg-type]


def cancel_requested(task: LongTask, now: datetime, lease_now: datetime | None = None) -> LongTask:
    """Cancel now when nothing runs the task (waiting, or its worker is dead); else flag it."""
    if task.status is TaskStatus.CANCELLED:
        return task
    lease_dead = task.lease_expires_at is None or task.lease_expires_at <= (lease_now or now)
    if task.status in WAITING or (task.status is TaskStatus.RUNNING and lease_dead):
        return replace(
            task,
            status=ensure_transition(task.status, TaskStatus.CANCELLED, task.id),
            cancel_requested=True,
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    if task.status is TaskStatus.RUNNING:
        return replace(task, cancel_requested=True, updated_at=now)
    raise IllegalTransition(f"task {task.id} is {task.status.value} and cannot be cancelled")


def reset_for_retry(task: LongTask, now: datetime) -> LongTask:
    """A FAILED task made PENDING again: it resumes from its last checkpoint, afresh."""
    if task.status is not TaskStatus.FAILED:
        raise IllegalTransition(f"task {task.id} is {task.status.value}; only a FAILED task can be retried")
    return replace(
        task,
        status=ensure_transition(task.status, TaskStatus.PENDING, task.id),
        retry_count=0,
        error=None,
        error_traceback=None,
        cancel_requested=False,
        result=None,
        progress=None,
        progress_message=None,
        finished_at=None,
        run_at=now,
        updated_at=now,
    )
