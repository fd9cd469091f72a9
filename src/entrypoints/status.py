"""``ai-worker status``: what the worker is doing, at a glance, from Redis and the database.

Two snapshots, Redis's then the database's for the groups Redis named (see :mod:`adapters.redis.status_reads` and
:mod:`adapters.postgres.status_reads`), assembled into one report. Only what is persisted is
reported: arq's crons keep no result, so the last run of a cron is known for the daily consensus
(its slots table) and null for the others; their next run follows from their schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from arq.cron import CronJob, next_cron

from adapters.postgres.status_reads import DatabaseSnapshot
from adapters.redis.status_reads import GroupBacklog, RedisSnapshot
from memory_domain.consensus import ConsensusSchedule

CONSENSUS_CRON = "cron_daily_consensus"
DEFAULT_TOP = 10


class RedisReads(Protocol):
    async def snapshot(self, now: datetime, top: int) -> RedisSnapshot: ...


class DatabaseReads(Protocol):
    async def snapshot(self, group_ids: Sequence[str]) -> DatabaseSnapshot: ...


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds(), 1)


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: datetime
    top: int
    redis: RedisSnapshot
    database: DatabaseSnapshot
    crons: list[dict[str, Any]]

    def _group(self, backlog: GroupBacklog) -> dict[str, Any]:
        oldest = self.database.oldest_pending.get(backlog.group_id)
        failure = self.database.last_failures.get(backlog.group_id)
        return {
            "group_id": backlog.group_id,
            "pending": backlog.pending,
            "oldest_pending_at": _iso(oldest),
            "oldest_age_seconds": _seconds(None if oldest is None else self.now - oldest),
            "due_at": _iso(backlog.due_at),
            "due_in_seconds": _seconds(None if backlog.due_at is None else backlog.due_at - self.now),
            "failures": backlog.failures,
            "last_error": None if failure is None else failure.error,
            "last_error_at": None if failure is None else _iso(failure.at),
        }

    def as_dict(self) -> dict[str, Any]:
        redis, database = self.redis, self.database
        quarantined = sorted(database.quarantined.items(), key=lambda item: (-item[1], item[0]))
        running = database.oldest_running
        return {
            "generated_at": self.now.isoformat(),
            "pending": {
                "index_built": redis.index_built,
                "groups": redis.groups_with_pending,
                "messages": redis.pending_messages,
                "groups_due": redis.groups_due,
                "top": [self._group(backlog) for backlog in redis.top],
            },
            "updates": {
                "jobs_queued": redis.jobs_queued,
                "updates_running": redis.updates_running,
                "evolutions_running": redis.evolutions_running,
            },
            "backoff": {
                "groups": redis.groups_failing,
                "top": [self._group(backlog) for backlog in redis.failing],
            },
            "quarantine": {
                "messages": sum(database.quarantined.values()),
                "groups": len(quarantined),
                "top": [{"group_id": group, "messages": count} for group, count in quarantined[: self.top]],
            },
            "long_tasks": {
                "by_status": database.unfinished_tasks,
                "oldest_running": None
                if running is None
                else {
                    "task_id": running.task_id,
                    "task_type": running.task_type,
                    "started_at": _iso(running.started_at),
                    "running_seconds": _seconds(
                        None if running.started_at is None else self.now - running.started_at
                    ),
                    "step": running.step,
                    "progress": running.progress,
                    "progress_message": running.progress_message,
                },
            },
            "crons": self.crons,
            "workers": {"alive": redis.worker_info is not None, "info": redis.worker_info},
        }


def cron_runs(
    jobs: Sequence[CronJob], schedule: ConsensusSchedule, database: DatabaseSnapshot, now: datetime
) -> list[dict[str, Any]]:
    """Each cron's last run where it is persisted (null otherwise) and its next run."""
    rows: list[dict[str, Any]] = []
    for job in jobs:
        next_run = next_cron(
            now,
            month=job.month,
            day=job.day,
            weekday=job.weekday,
            hour=job.hour,
            minute=job.minute,
            second=job.second,
            microsecond=job.microsecond,
        )
        # arq starts crons a fixed fraction of a second late; whole seconds read better.
        next_run = next_run.replace(microsecond=0)
        row: dict[str, Any] = {"name": job.name, "last_run": None, "next_run": next_run.isoformat()}
        if job.name == CONSENSUS_CRON:
            # The cron checks every minute; the work it does happens once a day, at the slot.
            last = database.last_consensus
            latest_day = schedule.latest_slot(now).astimezone(schedule.zone).date()
            row["next_run"] = schedule.slot_of(latest_day + timedelta(days=1)).isoformat()
            if last is not None:
                row["last_run"] = last.completed_at.isoformat()
                row["last_slot"] = last.slot_at.isoformat()
                row["groups"] = last.groups
        rows.append(row)
    return rows


async def gather_status(
    redis: RedisReads,
    database: DatabaseReads,
    jobs: Sequence[CronJob],
    schedule: ConsensusSchedule,
    now: datetime,
    top: int = DEFAULT_TOP,
) -> StatusReport:
    """Read Redis, then the database for the groups Redis named (quarantine and tasks at once)."""
    redis_snapshot = await redis.snapshot(now, top)
    shown = list(dict.fromkeys(b.group_id for b in [*redis_snapshot.top, *redis_snapshot.failing]))
    database_snapshot = await database.snapshot(shown)
    crons = cron_runs(jobs, schedule, database_snapshot, now)
    return StatusReport(now, top, redis_snapshot, database_snapshot, crons)
