"""What the chaos run checks afterwards, read from PostgreSQL (the source of truth) and the logs.

- every recorded message is integrated in exactly one topic revision and in exactly one active
  topic, its ``revision`` column naming that revision; a quarantined message is accounted for;
- every long task is DONE, its result counting each step once, each checkpoint in the table once;
- for each kill, how long until the dead worker's group jobs and long tasks ran again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos_workers import JobMark


@dataclass
class MessageAudit:
    checked: int = 0
    integrated: int = 0
    quarantined: int = 0
    pending: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


async def drained(engine: AsyncEngine, task_ids: Sequence[str]) -> tuple[int, int]:
    """(messages still pending, tasks not finished): (0, 0) once the backlog is worked off."""
    async with engine.connect() as connection:
        pending = await connection.scalar(
            sa.text("SELECT count(*) FROM chat_messages WHERE revision IS NULL AND quarantined_at IS NULL")
        )
        unfinished = await connection.scalar(
            sa.text(
                "SELECT count(*) FROM long_tasks WHERE id = ANY(:ids) AND status NOT IN ('DONE', 'FAILED', 'CANCELLED')"
            ),
            {"ids": list(task_ids)},
        )
    return int(pending or 0), int(unfinished or 0)


async def lagging_evolutions(engine: AsyncEngine) -> list[str]:
    """Groups whose group memory was not distilled up to their latest topic version."""
    query = sa.text(
        "SELECT t.group_id FROM topic_memories t LEFT JOIN group_memories g USING (group_id) "
        "WHERE g.group_id IS NULL OR g.topic_version < t.version ORDER BY t.group_id"
    )
    async with engine.connect() as connection:
        return [row[0] for row in (await connection.execute(query)).all()]


def _counts(rows: Iterable[Sequence[object]]) -> Counter[tuple[str, str]]:
    return Counter((str(group_id), str(message_id)) for group_id, message_id in rows)


async def audit_messages(engine: AsyncEngine, recorded: Iterable[tuple[str, str]]) -> MessageAudit:
    async with engine.connect() as connection:
        stored = {
            (row.group_id, row.message_id): row
            for row in (
                await connection.execute(
                    sa.text("SELECT group_id, message_id, revision, quarantined_at FROM chat_messages")
                )
            ).all()
        }
        in_revisions: dict[tuple[str, str], list[int]] = {}
        revision_rows = await connection.execute(
            sa.text(
                "SELECT group_id, jsonb_array_elements_text(message_ids) AS message_id, revision FROM topic_revisions"
            )
        )
        for group_id, message_id, revision in revision_rows.all():
            in_revisions.setdefault((group_id, message_id), []).append(revision)
        active = _counts(
            (
                await connection.execute(
                    sa.text(
                        "SELECT group_id, jsonb_array_elements_text(message_ids) FROM topics WHERE status = 'active'"
                    )
                )
            ).all()
        )
    audit = MessageAudit()
    for key in recorded:
        audit.checked += 1
        name = f"{key[0]}/{key[1]}"
        row = stored.get(key)
        if row is None:
            audit.lost.append(f"{name}: not stored")
            continue
        if row.quarantined_at is not None:
            audit.quarantined += 1  # set aside with its error, shown to operators: not lost
            continue
        revisions = in_revisions.get(key, [])
        if row.revision is None:
            audit.pending += 1
            audit.lost.append(f"{name}: still pending")
            continue
        if len(revisions) > 1 or active[key] > 1:
            audit.doubled.append(f"{name}: in revisions {revisions}, {active[key]} active topics")
        elif not revisions or active[key] == 0:
            audit.lost.append(f"{name}: in revisions {revisions}, {active[key]} active topics")
        elif revisions != [row.revision]:
            audit.mismatched.append(f"{name}: marked revision {row.revision}, listed by {revisions}")
        else:
            audit.integrated += 1
    return audit


@dataclass
class TaskAudit:
    checked: int = 0
    done: int = 0
    bad: list[str] = field(default_factory=list)
    step_reruns: int = 0


@dataclass(frozen=True)
class StepLine:
    task_id: str
    step: int
    pid: int
    when: float


def read_steps(path: Path) -> list[StepLine]:
    lines = []
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            task_id, step, pid, when = raw.split()
            lines.append(StepLine(task_id, int(step), int(pid), float(when)))
    return sorted(lines, key=lambda line: line.when)


async def audit_tasks(engine: AsyncEngine, task_ids: Sequence[str], steps: list[StepLine]) -> TaskAudit:
    async with engine.connect() as connection:
        tasks = (
            await connection.execute(
                sa.text("SELECT id, status, payload, result FROM long_tasks WHERE id = ANY(:ids)"),
                {"ids": list(task_ids)},
            )
        ).all()
        checkpoints = Counter(
            row[0]
            for row in (
                await connection.execute(
                    sa.text("SELECT task_id, step FROM long_task_checkpoints WHERE task_id = ANY(:ids)"),
                    {"ids": list(task_ids)},
                )
            ).all()
        )
    audit = TaskAudit(checked=len(task_ids))
    found = {row.id for row in tasks}
    audit.bad += [f"task {task_id}: not stored" for task_id in task_ids if task_id not in found]
    for row in tasks:
        payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
        expected = list(range(1, int(payload["steps"]) + 1))
        result = row.result if isinstance(row.result, dict) or row.result is None else json.loads(row.result)
        counted = (result or {}).get("counted")
        if row.status != "DONE":
            audit.bad.append(f"task {row.id}: {row.status}")
        elif counted != expected:
            audit.bad.append(f"task {row.id}: counted steps {counted}, expected {expected}")
        elif checkpoints[row.id] != len(expected) - 1:
            audit.bad.append(f"task {row.id}: {checkpoints[row.id]} checkpoints for {len(expected)} steps")
        else:
            audit.done += 1
    runs = Counter((line.task_id, line.step) for line in steps)
    audit.step_reruns = sum(count - 1 for count in runs.values())
    return audit


async def finished_times(engine: AsyncEngine, task_ids: Sequence[str]) -> dict[str, float]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.text(
                    "SELECT id, finished_at FROM long_tasks WHERE id = ANY(:ids) AND finished_at IS NOT NULL"
                ),
                {"ids": list(task_ids)},
            )
        ).all()
    return {row.id: row.finished_at.timestamp() for row in rows}


@dataclass(frozen=True)
class Kill:
    when: float
    pid: int
    jobs: tuple[str, ...]  # group jobs in flight in the killed worker


@dataclass
class Recovery:
    """Seconds from a kill until each piece of the dead worker's work ran again (None: never)."""

    updates: list[float | None] = field(default_factory=list)
    evolutions: list[float | None] = field(default_factory=list)
    tasks: list[float | None] = field(default_factory=list)
    kills_with_work: int = 0


def recoveries(
    kills: Sequence[Kill], marks: Sequence[JobMark], steps: Sequence[StepLine], finished: dict[str, float]
) -> Recovery:
    recovery = Recovery()
    for kill in kills:
        had_work = bool(kill.jobs)
        for job in kill.jobs:
            again = next((m.when for m in marks if m.job == job and m.start and m.when > kill.when), None)
            target = recovery.updates if job.startswith("topic-update:") else recovery.evolutions
            target.append(None if again is None else again - kill.when)
        last: dict[str, StepLine] = {}
        for line in steps:
            if line.when >= kill.when:
                break
            last[line.task_id] = line
        for task_id, line in last.items():
            if line.pid != kill.pid or finished.get(task_id, float("inf")) <= kill.when:
                continue
            had_work = True
            again = next((s.when for s in steps if s.task_id == task_id and s.when > kill.when), None)
            recovery.tasks.append(None if again is None else again - kill.when)
        recovery.kills_with_work += had_work
    return recovery
