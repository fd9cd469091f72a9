"""The SQL statements of the long-task repository that are more than a lookup by id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa

from adapters.postgres.long_task_tables import long_tasks
from long_tasks_domain.model import TaskStatus

_T = long_tasks.c
_WAITING = [TaskStatus.PENDING.value, TaskStatus.COMMIT.value]

# A time (the caller's) or the database's clock, in a statement.
When = datetime | sa.ColumnElement[datetime]


def due(now: datetime, lease_now: When) -> sa.ColumnElement[bool]:
    """SQL for ``transitions.is_due``."""
    lease_dead = sa.or_(_T.lease_expires_at.is_(None), _T.lease_expires_at <= lease_now)
    return sa.or_(
        sa.and_(_T.status.in_(_WAITING), _T.run_at <= now, lease_dead),
        sa.and_(_T.status == TaskStatus.RUNNING.value, lease_dead),
    )


def claim(
    now: datetime,
    lease_now: When,
    new_lease: When,
    token: str,
    limit: int,
    task_id: str | None,
    expired_only: bool,
    task_types: Collection[str] | None,
) -> sa.Update:
    """Lock up to ``limit`` due tasks, mark them with ``token`` and return them as they were."""
    candidates = sa.select(_T.id).where(due(now, lease_now))
    if task_id is not None:
        candidates = candidates.where(_T.id == task_id)
    if task_types is not None:
        candidates = candidates.where(_T.task_type.in_(sorted(task_types)))
    if expired_only:
        candidates = candidates.where(_T.lease_expires_at <= lease_now)
    candidates = (
        candidates.order_by(_T.run_at, _T.created_at, _T.id).limit(limit).with_for_update(skip_locked=True)
    )
    # A CTE, not a plain subquery: PostgreSQL may scan an IN subquery again per row, and a
    # rescan skips the rows this very statement just locked and takes more than ``limit``.
    # A CTE with FOR UPDATE is never inlined, so it runs once.
    picked = candidates.cte("picked")
    # Marking the rows with the token locks them; the status is still the old one, which
    # the transition function needs (a takeover counts the dead try).
    return (
        sa.update(long_tasks)
        .where(_T.id.in_(sa.select(picked.c.id)), due(now, lease_now))
        .values(lease_token=token, lease_expires_at=new_lease)
        .returning(long_tasks)
    )


def lock_finished(statuses: Sequence[TaskStatus], finished_before: datetime, limit: int) -> sa.Update:
    """Lock up to ``limit`` finished tasks, oldest first, and return their ids."""
    victims = (
        sa.select(_T.id)
        .where(_T.status.in_([status.value for status in statuses]), _T.finished_at < finished_before)
        .order_by(_T.finished_at, _T.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # A no-op write locks the victims and returns them.
    picked = victims.cte("picked")
    return (
        sa.update(long_tasks)
        .where(_T.id.in_(sa.select(picked.c.id)))
        .values(updated_at=_T.updated_at)
        .returning(_T.id)
    )
