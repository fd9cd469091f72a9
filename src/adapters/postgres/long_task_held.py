"""The one-statement claim and writes of a held task on PostgreSQL.

A worker's writes to the task it holds (a step's progress, its settlement, the start of the
next step) are fenced by the lease token, and only a cancel or a takeover changes such a task
behind its holder's back (a lease renewal moves ``lease_expires_at`` alone). So the repository
remembers each held task as its last write returned it, applies the transition to that, and
writes only the columns that changed, guarded by the token, the status and no cancel
requested: one round trip, autocommitted, where locking the row first, writing it and
committing takes four. When the guard fails, nothing was written and the repository takes its
locking path, which sees the cancel or the takeover and acts on it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.postgres import long_task_statements as statements
from adapters.postgres.long_task_rows import MUTABLE_COLUMNS, mutable_values, task_from_row
from long_tasks_domain import transitions
from long_tasks_domain.model import TAKEOVER_ERROR, LongTask

# Held tasks remembered at most: a worker holds a few; entries of tasks lost to a takeover
# are dropped when this is reached (their next write takes the locking path).
MAX_REMEMBERED = 10_000


def applied(
    change: Callable[[LongTask, datetime | None], LongTask], known: LongTask | None
) -> LongTask | None:
    """``change`` applied to what the holder last saw; None when that refuses it (the locking
    path then applies it to the row as stored, and raises what that calls for)."""
    if known is None:
        return None
    try:
        return change(known, None)
    except Exception:
        return None


class HeldTasks:
    """Held tasks as their holder last wrote or claimed them, by (task id, lease token).

    ``database_clock``: leases are measured with PostgreSQL's clock (see the repository).
    """

    def __init__(self, database_clock: bool) -> None:
        self._database_clock = database_clock
        self._known: dict[tuple[str, str], LongTask] = {}

    async def claim(
        self,
        connection: AsyncConnection,
        now: datetime,
        lease_until: datetime,
        token: str,
        limit: int,
        task_id: str | None,
        expired_only: bool,
        task_types: Collection[str] | None,
    ) -> list[LongTask]:
        """The repository's claim in one statement; the claimed tasks are remembered."""
        mark = statements.claim_in_one(
            task_id is not None, expired_only, task_types is not None, self._database_clock
        )
        parameters: dict[str, Any] = {
            "now": now,
            "token": token,
            "limit": limit,
            "takeover_error": TAKEOVER_ERROR,
        }
        if self._database_clock:
            parameters["lease_for"] = lease_until - now
        else:
            parameters.update(lease_now=now, lease_until=lease_until)
        if task_id is not None:
            parameters["task_id"] = task_id
        if task_types is not None:
            parameters["task_types"] = sorted(task_types)
        rows = (await connection.execute(mark, parameters)).all()
        claimed = [transitions.claimed(task_from_row(row), now, row.claimed_lease, token) for row in rows]
        for task in claimed:
            self.remember(task, token)
        return claimed

    def get(self, task_id: str, token: str) -> LongTask | None:
        return self._known.get((task_id, token))

    def remember(self, task: LongTask, token: str) -> None:
        """Keep ``task`` if ``token`` still holds it after this write, else forget it."""
        key = (task.id, token)
        if task.lease_token != token:
            self._known.pop(key, None)
            return
        if len(self._known) >= MAX_REMEMBERED and key not in self._known:
            self._known.clear()
        self._known[key] = task

    def forget(self, task_id: str, token: str) -> None:
        self._known.pop((task_id, token), None)

    async def write(
        self,
        connection: AsyncConnection,
        known: LongTask,
        changed: LongTask,
        token: str,
        checkpoint: dict[str, Any] | None,
        lease_for: timedelta | None = None,
    ) -> LongTask | None:
        """Write ``changed`` over ``known`` in one statement; the task as stored, or None when
        the row is no longer as ``known`` says (nothing was written).

        ``lease_for``: the new lease runs this long from now on the database's clock.
        """
        before, after = mutable_values(known), mutable_values(changed)
        changes = {name: after[name] for name in MUTABLE_COLUMNS if not _same(before[name], after[name])}
        if lease_for is not None:
            changes.pop("lease_expires_at", None)
        if not changes:  # a write always moves updated_at; keep the statement valid regardless
            changes["updated_at"] = after["updated_at"]
        statement, parameters = statements.held_write(
            known.status, changes, checkpoint, lease_for is not None
        )
        parameters.update(task_id=known.id, token=token)
        if lease_for is not None:
            parameters["lease_for"] = lease_for
        row = (await connection.execute(statement, parameters)).first()
        if row is None:
            self.forget(known.id, token)
            return None
        task = task_from_row(row)
        self.remember(task, token)
        return task


def _same(old: object, new: object) -> bool:
    # JSON NULL markers are SQL expressions: compare them by identity, values by equality.
    if isinstance(old, sa.sql.elements.Null) or isinstance(new, sa.sql.elements.Null):
        return isinstance(old, sa.sql.elements.Null) and isinstance(new, sa.sql.elements.Null)
    return type(old) is type(new) and old == new
