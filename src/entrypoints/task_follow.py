"""``ai-worker tasks show --follow ID``: a long task's progress, live, until it ends.

The task is read every ``interval`` seconds (one indexed row). A terminal gets a Rich bar whose
text is the status and the handler's progress message; anything else gets one line per change
of status, step, whole percent or message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from entrypoints.cli_support import printable
from long_tasks_domain.model import LongTask, TaskStatus

FINAL = frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED})
DEFAULT_INTERVAL_SECONDS = 1.0


def describe(task: LongTask) -> str:
    """``RUNNING, step 2, 40%: message`` (plain text, control characters escaped)."""
    parts = [task.status.value, f"step {task.step}"]
    if task.progress is not None:
        parts.append(f"{task.progress:.0%}")
    text = ", ".join(parts)
    if task.progress_message:
        text += f": {task.progress_message}"
    return printable(text)


async def follow_task(
    read: Callable[[], Awaitable[LongTask]],
    console: Console,
    interval: float = DEFAULT_INTERVAL_SECONDS,
) -> LongTask:
    """Show the progress of the task ``read`` returns until it is DONE, FAILED or CANCELLED."""
    task = await read()
    label = printable(f"task {task.id} ({task.task_type})")
    if not console.is_terminal:
        shown = ""
        while True:
            line = describe(task)
            if line != shown:
                console.print(f"{label}: {line}", markup=False, highlight=False)
                shown = line
            if task.status in FINAL:
                return task
            await asyncio.sleep(interval)
            task = await read()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        row = bar.add_task(f"{label}: {describe(task)}", total=100)
        while True:
            done = 100 if task.status is TaskStatus.DONE else round((task.progress or 0) * 100)
            bar.update(row, completed=done, description=f"{label}: {describe(task)}")
            if task.status in FINAL:
                return task
            await asyncio.sleep(interval)
            task = await read()
