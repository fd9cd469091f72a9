"""The SQL statements of the long-task repository that are more than a lookup by id."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from adapters.postgres.long_task_tables import long_task_checkpoints, long_tasks
from adapters.postgres.tables import UtcDateTime
from long_tasks_domain.model import TaskStatus

_T = long_tasks.c
_WAITING = [TaskStatus.PENDING.value, TaskStatus.COMMIT.value]

# A time (the caller's) or the database's clock, in a statement.
When = datetime | sa.ColumnElement[datetime]


def due(now: When, lease_now: When) -> sa.ColumnElement[bool]:
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


@functools.cache
def claim_in_one(by_id: bool, expired_only: bool, by_type: bool, database_clock: bool) -> sa.Update:
    """:func:`claim` and the write of ``transitions.claimed`` in one statement (PostgreSQL).

    Built once per shape, with parameters (see :func:`claim_parameters`): a statement object
    that is reused keeps its compiled form and cache key. The rows are returned as they were
    before the claim, with the new lease as ``claimed_lease``, so that the caller applies
    ``transitions.claimed`` to them and gets what this statement wrote: RUNNING, held by the
    token, started (if not before), and a takeover of a RUNNING task counting the dead try.
    """
    now = sa.bindparam("now", type_=UtcDateTime())
    if database_clock:
        lease_now: When = sa.func.now(type_=UtcDateTime())
        new_lease: When = sa.func.now(type_=UtcDateTime()) + sa.bindparam("lease_for", type_=sa.Interval())
    else:
        lease_now = sa.bindparam("lease_now", type_=UtcDateTime())
        new_lease = sa.bindparam("lease_until", type_=UtcDateTime())
    candidates = sa.select(long_tasks).where(due(now, lease_now))
    if by_id:
        candidates = candidates.where(_T.id == sa.bindparam("task_id"))
    if by_type:
        candidates = candidates.where(_T.task_type.in_(sa.bindparam("task_types", expanding=True)))
    if expired_only:
        candidates = candidates.where(_T.lease_expires_at <= lease_now)
    # A CTE with FOR UPDATE is never inlined: it runs once, and its rows are the ones locked.
    picked = (
        candidates.order_by(_T.run_at, _T.created_at, _T.id)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    takeover = _T.status == TaskStatus.RUNNING.value
    return (
        sa.update(long_tasks)
        .where(_T.id == picked.c.id, due(now, lease_now))
        .values(
            status=TaskStatus.RUNNING.value,
            lease_token=sa.bindparam("token"),
            lease_expires_at=new_lease,
            started_at=sa.func.coalesce(_T.started_at, now),
            updated_at=now,
            retry_count=_T.retry_count + sa.case((takeover, 1), else_=0),
            error=sa.case((takeover, sa.bindparam("takeover_error", type_=sa.Text())), else_=_T.error),
        )
        .returning(*picked.c, _T.lease_expires_at.label("claimed_lease"))
    )


def held_write(
    status: TaskStatus, changes: dict[str, Any], checkpoint: dict[str, Any] | None, lease: bool
) -> tuple[sa.Select[Any] | sa.Update, dict[str, Any]]:
    """Write ``changes`` to a held task in one statement, if it is as its holder last saw it;
    the statement and its parameters (``task_id`` and ``token`` to be added).

    Guarded by the lease token, the status the holder knows and no cancel requested: when
    another party changed any of these, nothing is written (no row comes back) and the caller
    takes the locking path. A checkpoint is inserted only when the task's row was written.
    ``lease``: the new lease is ``now() + lease_for``, on the database's clock.
    """
    # SQL NULL (not JSON null) is part of the statement, not a parameter.
    shape = tuple((name, isinstance(value, sa.sql.elements.Null)) for name, value in changes.items())
    statement = _held_write(status, shape, tuple(checkpoint or ()), lease)
    parameters = {
        f"v_{name}": value for (name, null), value in zip(shape, changes.values(), strict=True) if not null
    }
    parameters.update({f"c_{name}": value for name, value in (checkpoint or {}).items()})
    return statement, parameters


@functools.lru_cache(maxsize=256)
def _held_write(
    status: TaskStatus, shape: tuple[tuple[str, bool], ...], checkpoint: tuple[str, ...], lease: bool
) -> sa.Select[Any] | sa.Update:
    values: dict[str, Any] = {
        name: sa.null() if null else sa.bindparam(f"v_{name}", type_=_T[name].type) for name, null in shape
    }
    if lease:
        values["lease_expires_at"] = sa.func.now(type_=UtcDateTime()) + sa.bindparam(
            "lease_for", type_=sa.Interval()
        )
    write = (
        sa.update(long_tasks)
        .where(
            _T.id == sa.bindparam("task_id"),
            _T.lease_token == sa.bindparam("token"),
            _T.status == status.value,
            _T.cancel_requested.is_(False),
        )
        .values(values)
        .returning(long_tasks)
    )
    if not checkpoint:
        return write
    written = write.cte("written")
    columns = long_task_checkpoints.c
    row = [sa.bindparam(f"c_{name}", type_=columns[name].type).label(name) for name in checkpoint]
    insert = sa.insert(long_task_checkpoints).from_select(
        list(checkpoint), sa.select(*row).select_from(written)
    )
    return sa.select(written).add_cte(insert.cte("checkpoint"))
