"""``ai-worker memory ...``: read a group's memory, its history; update it now."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from entrypoints.cli_support import fail, with_container
from entrypoints.container import Container, resolve
from entrypoints.settings import SettingsError, load_settings
from memory_domain.errors import MemoryDomainError
from memory_domain.model import Topic, TopicRevision
from memory_domain.queries import GroupMemoryView, MemoryQueries
from memory_domain.scheduling import UpdateScheduler

memory_app = typer.Typer(help="Read and manage a group's memory.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def topic_json(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.topic_id,
        "title": topic.title,
        "summary": topic.summary,
        "message_ids": list(topic.message_ids),
        "status": topic.status.value,
        "created_at": topic.created_at.isoformat(),
        "updated_at": topic.updated_at.isoformat(),
    }


def view_json(view: GroupMemoryView) -> dict[str, Any]:
    failure = view.last_failure
    return {
        "group_id": view.group_id,
        "version": view.version,
        "pending_messages": view.pending_messages,
        "topics": [topic_json(topic) for topic in view.topics],
        "last_error": None
        if failure is None
        else {"at": failure.created_at.isoformat(), "error": failure.error},
    }


def revision_json(revision: TopicRevision) -> dict[str, Any]:
    return {
        "kind": "topics",
        "revision": revision.revision,
        "created_at": revision.created_at.isoformat(),
        "message_ids": list(revision.message_ids),
        "model": revision.model,
        "prompt_tokens": revision.prompt_tokens,
        "completion_tokens": revision.completion_tokens,
        "duration_ms": revision.duration_ms,
        "diff": revision.diff,
    }


def print_view(console: Console, view: GroupMemoryView) -> None:
    console.print(
        f"[bold]{view.group_id}[/bold]  version {view.version}, "
        f"{len(view.topics)} topics, {view.pending_messages} messages pending",
        highlight=False,
    )
    if view.last_failure is not None:
        console.print(f"[red]last update failed:[/red] {view.last_failure.error}", highlight=False)
    table = Table(show_lines=True)
    table.add_column("topic", no_wrap=True)
    table.add_column("title")
    table.add_column("summary")
    table.add_column("messages", justify="right")
    for topic in view.topics:
        table.add_row(topic.topic_id[:8], topic.title, topic.summary, str(len(topic.message_ids)))
    console.print(table)


def run(action: Any) -> Any:
    try:
        settings = load_settings()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    try:
        return asyncio.run(with_container(settings, action))
    except MemoryDomainError as error:
        fail(err, error)


@memory_app.command("show")
def show(group: Annotated[str, typer.Argument(help="The group id.")], as_json: JsonFlag = False) -> None:
    """Show a group's topics and its pending backlog."""

    async def action(container: Container) -> GroupMemoryView:
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.show(group)

    view = run(action)
    if as_json:
        print(json.dumps(view_json(view), ensure_ascii=False, indent=2))
    else:
        print_view(out, view)


@memory_app.command("history")
def history(
    group: Annotated[str, typer.Argument(help="The group id.")],
    as_json: JsonFlag = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List a group's memory revisions, newest first."""

    async def action(container: Container) -> list[TopicRevision]:
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.history(group, limit)

    revisions = run(action)
    if as_json:
        print(json.dumps([revision_json(r) for r in revisions], ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in ("kind", "revision", "created", "messages", "model", "tokens in/out", "ms"):
        table.add_column(column)
    for r in revisions:
        table.add_row(
            "topics",
            str(r.revision),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(len(r.message_ids)),
            r.model,
            f"{r.prompt_tokens}/{r.completion_tokens}",
            str(r.duration_ms),
        )
    out.print(table)


@memory_app.command("groups")
def groups() -> None:
    """List the groups that have messages."""

    async def action(container: Container) -> list[str]:
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.groups()

    for group_id in run(action):
        print(group_id)


@memory_app.command("update")
def update(group: Annotated[str, typer.Argument(help="The group id.")]) -> None:
    """Enqueue the group's topic update now, whatever its backlog."""

    async def action(container: Container) -> bool:
        scheduler: UpdateScheduler = await resolve(container.scheduler)
        return await scheduler.enqueue(group)

    if run(action):
        out.print(f"update of {group} enqueued", markup=False)
    else:
        out.print(f"an update of {group} is already queued or running", markup=False)
