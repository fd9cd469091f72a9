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
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from entrypoints.cli_support import fail, json_text, printable, with_container
from entrypoints.container import Container, resolve
from entrypoints.settings import SettingsError, load_settings
from entrypoints.task_follow import DEFAULT_INTERVAL_SECONDS, follow_task
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
RESULT_SHOWN = 200  # characters of a followed task's result shown; --json prints it whole
TaskId = Annotated[str, typer.Argument(metavar="ID", help="The task id, in full.")]


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
    async def with_service(container: Container) -> T:
        return await action(await resolve(container.task_service))

    return _run_in_container(with_service)


def _run_in_container(action: Callable[[Container], Awaitable[T]]) -> T:
    try:
        settings = load_settings()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    try:
        return asyncio.run(with_container(settings, action))
    except (LongTaskError, MemoryDomainError) as error:
        fail(err, error)
    except ValueError as error:
        fail(err, error, code=2)


async def _cancel(container: Container, task_id: str) -> tuple[LongTask, int]:
    from entrypoints.task_jobs import drop_queued_jobs

    service: TaskService = await resolve(container.task_service)
    task = await service.cancel(task_id)
    if task.status is not TaskStatus.CANCELLED:
        return task, 0
    return task, await drop_queued_jobs(await resolve(container.redis), task.id)


def _progress(task: LongTask) -> str:
    shown = f"{task.progress:.0%}" if task.progress is not None else "–"
    # Handlers' text is shown with terminal controls escaped, as chat text is (cli_support.printable).
    return f"{shown} {printable(task.progress_message)}" if task.progress_message else shown


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
    max_retries: Annotated[
        int | None,
        typer.Option(
            "--max-retries", min=0, max=100, help="Retries of a failed step (default: LONG_TASK_MAX_RETRIES)."
        ),
    ] = None,
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
def show(
    task_id: TaskId,
    as_json: JsonFlag = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Show the task's progress live until it ends; exit 0 when DONE, 1 when FAILED or CANCELLED.",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, max=60, help="With --follow: seconds between two reads of the task.")
    ] = DEFAULT_INTERVAL_SECONDS,
) -> None:
    """Show a task: status, progress, tries, error, result and checkpoints."""
    if follow:
        _follow(task_id, interval, as_json)
        return

    async def action(service: TaskService) -> tuple[LongTask, list[CheckpointRecord]]:
        return await service.get(task_id), await service.checkpoints(task_id)

    task, checkpoints = _run(action)
    if as_json:
        print(json_text(task_json(task, checkpoints)))
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
        out.print(f"[red]error:[/red] {escape(printable(task.error))}", highlight=False)
    if task.result is not None:
        out.print(f"result: {printable(json.dumps(task.result, ensure_ascii=False))}", markup=False)
    for c in checkpoints:
        state = printable(json.dumps(c.state, ensure_ascii=False))
        out.print(
            f"  checkpoint {c.step} at {c.created_at:%Y-%m-%d %H:%M:%S} ({c.duration_ms} ms): {state[:200]}",
            markup=False,
            highlight=False,
        )


def _follow(task_id: str, interval: float, as_json: bool) -> None:
    # Progress goes to standard error, as ingest's does: standard output keeps the result.
    task: LongTask = _run(lambda service: follow_task(lambda: service.get(task_id), err, interval))
    if as_json:
        print(json_text(task_json(task)))
    if task.status is TaskStatus.DONE:
        if not as_json:
            result = "" if task.result is None else json.dumps(task.result, ensure_ascii=False)
            if len(result) > RESULT_SHOWN:  # the whole of it: tasks show ID --json
                result = result[: RESULT_SHOWN - 1] + "…"
            shown = f": {printable(result)}" if result else ""
            out.print(f"task {task.id} is DONE{shown}", markup=False, highlight=False)
        return
    reason = f": {printable(task.error)}" if task.error else ""
    err.print(f"task {task.id} ended {task.status.value}{reason}", markup=False, highlight=False)
    raise typer.Exit(1)


@tasks_app.command("list")
def list_tasks(
    status: Annotated[TaskStatus | None, typer.Option(help="Only tasks in this status.")] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="Only tasks of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Tasks listed at most.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of the previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    page: TaskPage = _run(
        lambda service: service.list(status=status, task_type=task_type, limit=limit, cursor=cursor)
    )
    if as_json:
        body = {"tasks": [task_json(task) for task in page.tasks], "next_cursor": page.next_cursor}
        print(json_text(body))
        return
    table = Table(box=box.SIMPLE_HEAD)
    # An id is never cut: `tasks show ID` must work with what the table shows.
    id_width = max((len(task.id) for task in page.tasks), default=2)
    table.add_column("id", no_wrap=True, min_width=id_width)
    table.add_column("type", overflow="fold", min_width=12)
    table.add_column("status", no_wrap=True, min_width=len(TaskStatus.CANCELLED.value))
    table.add_column("step", no_wrap=True)
    table.add_column("progress", overflow="fold", min_width=8)
    table.add_column("retries", no_wrap=True)
    table.add_column("created", no_wrap=True, min_width=16)
    for task in page.tasks:
        table.add_row(
            Text(task.id),
            Text(task.task_type),
            task.status.value,
            str(task.step),
            Text(_progress(task)),
            f"{task.retry_count}/{task.max_retries}",
            f"{task.created_at:%Y-%m-%d %H:%M}",
        )
    # Wider than a narrow terminal rather than cut: the terminal wraps, the id stays whole.
    Console(soft_wrap=True, width=max(out.width, id_width + 80)).print(table)
    if page.next_cursor:
        out.print(f"more: --cursor '{page.next_cursor}'", markup=False)


@tasks_app.command("cancel")
def cancel(task_id: TaskId) -> None:
    """Cancel a task: a waiting one at once, a running one when its current step ends."""
    task, dropped = _run_in_container(lambda container: _cancel(container, task_id))
    if task.status is TaskStatus.CANCELLED:
        left = f"; {dropped} queued jobs of it removed" if dropped else ""
        out.print(f"task {task.id} is cancelled{left}", markup=False)
    else:
        out.print(f"task {task.id} will stop when its current step ends", markup=False)


@tasks_app.command("retry")
def retry(task_id: TaskId) -> None:
    """Run a FAILED task again from its last checkpoint."""
    task = _run(lambda service: service.retry(task_id))
    out.print(f"task {task.id} is {task.status.value} again, resuming after step {task.step}", markup=False)
