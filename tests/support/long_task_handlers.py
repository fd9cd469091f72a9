"""Task handlers for the tests, loaded by worker processes through LONG_TASK_IMPORTS.

``test.count`` runs ``steps`` steps; each appends ``task step pid`` to the ``log`` file (when
given) so a test can tell which worker ran which step and how often. On step ``hang_at_step``
the first worker to get there writes its pid to ``hang_marker`` and hangs: the test kills it.
``test.fail_once`` fails for good on its first run and succeeds when retried by hand.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel, Field

from long_tasks_domain.errors import PermanentTaskError
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep

registry = TaskRegistry()


def _append(path: str, line: str) -> None:
    # One small O_APPEND write per line: lines of concurrent processes do not interleave.
    with Path(path).open("a", encoding="utf-8") as log:
        log.write(line)


def _first_to_mark(path: str) -> bool:
    """Create ``path`` holding our pid; False when it exists (another try got there first)."""
    try:
        with Path(path).open("x", encoding="utf-8") as marker:
            marker.write(str(os.getpid()))
    except FileExistsError:
        return False
    return True


class CountPayload(BaseModel):
    steps: int = Field(ge=1, le=1000)
    sleep: float = Field(default=0, ge=0, le=60)
    log: str | None = None
    hang_at_step: int | None = None
    hang_marker: str | None = None


@registry.handler("test.count", payload=CountPayload)
async def count(step: TaskStep[CountPayload]) -> Checkpoint | Completed:
    """Count to ``steps``, one step at a time, remembering which steps ran."""
    number = step.step + 1
    seen = list((step.state or {}).get("seen", []))
    if step.payload.log:
        _append(step.payload.log, f"{step.task_id} {number} {os.getpid()}\n")
    marker = step.payload.hang_marker
    if number == step.payload.hang_at_step and marker is not None and _first_to_mark(marker):
        await asyncio.sleep(600)
    if step.payload.sleep:
        await asyncio.sleep(step.payload.sleep)
    seen.append(number)
    await step.report_progress(number / step.payload.steps, f"step {number}")
    if number == step.payload.steps:
        return Completed({"counted": number, "seen": seen})
    return Checkpoint({"seen": seen})


class FailOncePayload(BaseModel):
    marker: str


@registry.handler("test.fail_once", payload=FailOncePayload)
async def fail_once(step: TaskStep[FailOncePayload]) -> Checkpoint | Completed:
    """Fail for good the first time (leaving ``marker``), succeed once retried by hand."""
    if _first_to_mark(step.payload.marker):
        raise PermanentTaskError("the first run always fails")
    return Completed({"retried": True})
