"""``ai-worker tasks ...``: submit, inspect, list, cancel and retry long tasks.

Task data (types' descriptions, errors, progress messages, states) is printed as text, never
as Rich markup: a "[/x]" in a checkpoint must print as it is, not raise a MarkupError.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from entrypoints.cli_support import fail, with_container
from entrypoints.container import Container, resolve
from entrypoints.settings import SettingsError, load_settings
from long_tasks_domain.errors import LongTaskError
from long_tasks_domain.model import CheckpointRecord, LongTask, TaskPage, TaskStatus
from long_tasks_domain.registry import TaskHandler
from long_tasks_domain.service import TaskService
from memory_domain.errors import MemoryDomainError

T = TypeVar("T")

tasks_app = typer.Typer(help="Submit and manage long tasks.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TaskId = Annotated[str, typer.Argument(help="The task id.")]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: LongTask, checkpoints: list[CheckpointRecord] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": task.id,
        "type": task.task_type,
        "status": task.status.value,
        "payload": task.payload,
        "step": task.step,
        "progress": task.progress,
        "progress_message": task.progress_message,
        "retry_count": task.retry_count,
        "max_retries": task.max_retries,
        "error": task.error,
        "result": task.result,
        "dedupe_key": task.dedupe_key,
        "cancel_requested": task.cancel_requested,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "run_at": _iso(task.run_at),
        "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
    }
    if checkpoints is not None:
        data["traceback"] = task.error_traceback
        data["checkpoints"] = [
            {
                "step": c.step,
                "state": c.state,
                "progress": c.progress,
                "created_at": _iso(c.created_at),
                "duration_ms": c.duration_ms,
            }
            for c in checkpoints
        ]
    return data


def _run(action: Callable[[TaskService], Awaitable[T]]) -> T:
    try:
        settings = load_settings()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None

    async def with_service(container: Container) -> T:
        return await action(await resolve(container.task_service))

    try:
        return asyncio.run(with_container(settings, with_service))
    except (LongTaskError, MemoryDomainError) as error:
        fail(err, error)
    except ValueError as error:
        fail(err, error, code=2)


def _progress(task: LongTask) -> str:
    shown = f"{task.progress:.0%}" if task.progress is not None else "–"
    return f"{shown} {task.progress_message}" if task.progress_message else shown


@tasks_app.command("types")
def types() -> None:
    """List the task types this worker can run."""
    handlers: list[TaskHandler] = _run(lambda service: _now(service.types()))
    table = Table()
    for column in ("type", "description", "payload fields"):
        table.add_column(column)
    for handler in handlers:
        fields = ", ".join(handler.payload_model.model_fields) or "–"
        table.add_row(Text(handler.task_type), Text(handler.description), Text(fields))
    out.print(table)


async def _now(value: T) -> T:
    return value


@tasks_app.command("submit")
def submit(
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="The task type (see `tasks types`).")],
    payload: Annotated[str, typer.Option(help="The payload, a JSON object.")] = "{}",
    run_at: Annotated[
        str | None, typer.Option("--run-at", help="Start no earlier than this ISO time (UTC without a zone).")
    ] = None,
    dedupe_key: Annotated[
        str | None, typer.Option("--dedupe-key", help="Submitting twice with one key makes one task.")
    ] = None,
    max_retries: Annotated[int | None, typer.Option("--max-retries", min=0, max=100)] = None,
) -> None:
    """Submit a task; print its id."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as error:
        err.print(f"error: --payload is not valid JSON: {error}", markup=False)
        raise typer.Exit(2) from None
    start = _parse_time(run_at) if run_at else None
    task, created = _run(
        lambda service: service.submit_or_get(
            task_type, data, run_at=start, max_retries=max_retries, dedupe_key=dedupe_key
        )
    )
    print(task.id if created else f"already submitted: {task.id} ({task.status.value})")


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"error: --run-at {text!r} is not an ISO 8601 time", markup=False)
        raise typer.Exit(2) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@tasks_app.command("show")
def show(task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Show a task: status, progress, tries, error, result and checkpoints."""

    async def action(service: TaskService) -> tuple[LongTask, list[CheckpointRecord]]:
        return await service.get(task_id), await service.checkpoints(task_id)

    task, checkpoints = _run(action)
    if as_json:
        print(json.dumps(task_json(task, checkpoints), ensure_ascii=False, indent=2))
        return
    out.print(
        f"[bold]{escape(task.id)}[/bold]  {escape(task.task_type)}  [bold]{task.status.value}[/bold]",
        highlight=False,
    )
    out.print(
        f"step {task.step}, progress {_progress(task)}, retries {task.retry_count}/{task.max_retries}",
        markup=False,
    )
    if task.error:
        out.print(f"[red]error:[/red] {escape(task.error)}", highlight=False)
    if task.result is not None:
        out.print(f"result: {json.dumps(task.result, ensure_ascii=False)}", markup=False)
    for c in checkpoints:
        state = json.dumps(c.state, ensure_ascii=False)
        out.print(
            f"  checkpoint {c.step} at {c.created_at:%Y-%m-%d %H:%M:%S} ({c.duration_ms} ms): {state[:200]}",
            markup=False,
            highlight=False,
        )


@tasks_app.command("list")
def list_tasks(
    status: Annotated[TaskStatus | None, typer.Option(help="Only tasks in this status.")] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of the previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    page: TaskPage = _run(
        lambda service: service.list(status=status, task_type=task_type, limit=limit, cursor=cursor)
    )
    if as_json:
        body = {"tasks": [task_json(task) for task in page.tasks], "next_cursor": page.next_cursor}
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in ("id", "type", "status", "step", "progress", "retries", "created"):
        table.add_column(column, no_wrap=column in ("id", "type", "status", "created"))
    for task in page.tasks:
        table.add_row(
            Text(task.id),
            Text(task.task_type),
            task.status.value,
            str(task.step),
            Text(_progress(task)),
            f"{task.retry_count}/{task.max_retries}",
            f"{task.created_at:%Y-%m-%d %H:%M:%S}",
        )
    out.print(table)
    if page.next_cursor:
        out.print(f"more: --cursor '{page.next_cursor}'", markup=False)


@tasks_app.command("cancel")
def cancel(task_id: TaskId) -> None:
    """Cancel a task: a waiting one at once, a running one when its current step ends."""
    task = _run(lambda service: service.cancel(task_id))
    if task.status is TaskStatus.CANCELLED:
        out.print(f"task {task.id} is cancelled", markup=False)
    else:
        out.print(f"task {task.id} will stop when its current step ends", markup=False)


@tasks_app.command("retry")
def retry(task_id: TaskId) -> None:
    """Run a FAILED task again from its last checkpoint."""
    task = _run(lambda service: service.retry(task_id))
    out.print(f"task {task.id} is {task.status.value} again, resuming after step {task.step}", markup=False)
