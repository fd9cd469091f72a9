"""Long-task handlers that misbehave, loaded by worker processes through LONG_TASK_IMPORTS.

Each fails in one way a handler written by another team could: an answer that is not JSON,
an exception every time, a step that never returns, a step that keeps reporting progress but
never returns its checkpoint. The worker must fail that task alone, saying why.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from long_tasks_domain.errors import PermanentTaskError
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep

registry = TaskRegistry()


class Nothing(BaseModel):
    pass


@registry.handler("bad.not_json", payload=Nothing)
async def not_json(step: TaskStep[Nothing]) -> Checkpoint | Completed:
    return Completed({"tags": {"a", "b"}})  # a set: JSON cannot hold it


@registry.handler("bad.raises", payload=Nothing)
async def raises(step: TaskStep[Nothing]) -> Checkpoint | Completed:
    raise RuntimeError("the report service answered 503")


@registry.handler("bad.hangs", payload=Nothing)
async def hangs(step: TaskStep[Nothing]) -> Checkpoint | Completed:
    await asyncio.sleep(3600)
    return Completed({})


@registry.handler("bad.never_checkpoints", payload=Nothing)
async def never_checkpoints(step: TaskStep[Nothing]) -> Checkpoint | Completed:
    done = 0.0
    while True:  # busy and reporting, but never hands back a checkpoint
        done = min(0.99, done + 0.01)
        await step.report_progress(done, "still working")
        await asyncio.sleep(0.2)


HOSTILE = "report \x1b[31mRED\x1b[0m \x07 \x1b]0;owned\x07 [bold]not bold[/bold] '; DROP TABLE long_tasks; --"


@registry.handler("bad.hostile", payload=Nothing)
async def hostile(step: TaskStep[Nothing]) -> Checkpoint | Completed:
    """Progress and an error made of text hostile to a terminal, for the CLI to show escaped."""
    await step.report_progress(0.5, HOSTILE)
    raise PermanentTaskError(HOSTILE)
