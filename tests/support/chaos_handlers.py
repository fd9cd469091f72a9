"""The long task of the chaos run (``bench/chaos.py``), loaded by workers through LONG_TASK_IMPORTS.

``chaos.steps`` runs ``steps`` steps of ``sleep`` seconds. Each step appends one line
``task_id step pid unix_time`` to ``log`` when it starts, so the run can tell which worker ran
which step, when, and how often a step ran again after its worker was killed. The checkpoint
carries the list of steps counted so far: a checkpoint committed twice, or one lost, shows in
the final result as a repeated or missing step number.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep

registry = TaskRegistry()


class StepsPayload(BaseModel):
    steps: int = Field(ge=1, le=1000)
    sleep: float = Field(default=0, ge=0, le=60)
    log: str


def _append(path: str, line: str) -> None:
    # One O_APPEND write per line: the lines of concurrent workers do not interleave.
    with Path(path).open("a", encoding="utf-8") as log:
        log.write(line)


@registry.handler("chaos.steps", payload=StepsPayload)
async def steps(step: TaskStep[StepsPayload]) -> Checkpoint | Completed:
    number = step.step + 1
    _append(step.payload.log, f"{step.task_id} {number} {os.getpid()} {time.time():.3f}\n")
    await asyncio.sleep(step.payload.sleep)
    counted = [*(step.state or {}).get("counted", []), number]
    if number == step.payload.steps:
        return Completed({"counted": counted})
    return Checkpoint({"counted": counted})
