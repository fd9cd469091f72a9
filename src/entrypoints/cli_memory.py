"""``ai-worker memory ...``: read a group's memories and history; update, requeue, evolve, roll back."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from adapters.postgres.search_index import SqlSearchIndex
from entrypoints.cli_group_memory import (
    TOPICS_CANNOT_ROLL_BACK,
    MemoryKind,
    context_json,
    group_memory_json,
    history_json,
    print_group_memory,
    print_history,
)
from entrypoints.cli_quarantine import print_quarantined, quarantined_json
from entrypoints.cli_support import fail, json_text, printable, with_container
from entrypoints.container import Container, resolve
from entrypoints.settings import SettingsError, load_settings
from memory_domain.consensus import ConsensusScheduler
from memory_domain.errors import MemoryDomainError
from memory_domain.group_model import GroupMemoryRevision
from memory_domain.group_rollback import GroupMemoryRollback
from memory_domain.memory_context import MemoryContext, MemoryContextReader
from memory_domain.model import Topic
from memory_domain.quarantine import MessageQuarantine
from memory_domain.queries import GroupMemoryView, HistoryEntry, MemoryQueries
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
        # The newest ids only (a topic keeps at most 50); message_count counts all of them.
        "message_ids": list(topic.message_ids),
        "message_count": topic.message_count,
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
        "group_memory": None
        if view.group_memory is None
        else group_memory_json(view.group_memory, view.last_evolution_failure),
        "quarantined": [quarantined_json(held) for held in view.quarantined],
    }


def print_view(console: Console, view: GroupMemoryView) -> None:
    # Chat text is data: escaped, so that "[/]" in a summary is printed, not parsed as markup,
    # and printable(), so that its control characters are shown, not sent to the terminal.
    console.print(
        f"[bold]{escape(view.group_id)}[/bold]  version {view.version}, "
        f"{len(view.topics)} topics, {view.pending_messages} messages pending",
        highlight=False,
    )
    if view.last_failure is not None:
        console.print(
            f"[red]last update failed:[/red] {escape(printable(view.last_failure.error))}", highlight=False
        )
    table = Table(show_lines=True)
    table.add_column("topic", no_wrap=True)
    table.add_column("title")
    table.add_column("summary")
    table.add_column("messages", justify="right")
    for topic in view.topics:
        table.add_row(
            escape(printable(topic.topic_id[:8])),
            Text(printable(topic.title)),
            Text(printable(topic.summary)),
            str(topic.message_count),
        )
    console.print(table)
    if view.group_memory is not None:
        print_group_memory(console, view.group_memory, view.last_evolution_failure)
    print_quarantined(console, view.quarantined)


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
def show(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")],
    as_json: JsonFlag = False,
    superseded: Annotated[
        bool, typer.Option("--superseded", help="Also list the group-memory items superseded.")
    ] = False,
) -> None:
    """Show a group's topics, its pending backlog and its group memory."""

    async def action(container: Container) -> GroupMemoryView | None:
        if not await group_exists(container, group):
            return None
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.show(group, include_superseded=superseded)

    view = run(action)
    if view is None:
        no_such_group(group)
    if as_json:
        print(json_text(view_json(view)))
    else:
        print_view(out, view)


@memory_app.command("history")
def history(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")],
    as_json: JsonFlag = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Revisions listed at most.")] = 50,
) -> None:
    """List the revisions of the group's topics and group memory, newest first."""

    async def action(container: Container) -> list[HistoryEntry] | None:
        if not await group_exists(container, group):
            return None
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.timeline(group, limit)

    entries = run(action)
    if entries is None:
        no_such_group(group)
    if as_json:
        print(json_text([history_json(entry) for entry in entries]))
    else:
        print_history(out, entries)


@memory_app.command("groups")
def groups() -> None:
    """List the groups that have messages."""

    async def action(container: Container) -> list[str]:
        queries: MemoryQueries = await resolve(container.queries)
        return await queries.groups()

    for group_id in run(action):
        print(group_id)


async def group_exists(container: Container, group: str) -> bool:
    queries: MemoryQueries = await resolve(container.queries)
    return await queries.exists(group)


def no_such_group(group: str) -> NoReturn:
    # A mistyped id must not read as work done: nothing would ever run for it.
    err.print(f"error: no such group: {group} (no message of it was ever recorded)", markup=False)
    raise typer.Exit(1)


@memory_app.command("update")
def update(group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")]) -> None:
    """Enqueue the group's topic update now, whatever its backlog."""

    async def action(container: Container) -> bool | None:
        if not await group_exists(container, group):
            return None
        scheduler: UpdateScheduler = await resolve(container.scheduler)
        return await scheduler.enqueue(group)

    enqueued = run(action)
    if enqueued is None:
        no_such_group(group)
    if enqueued:
        out.print(f"update of {group} enqueued", markup=False)
    else:
        out.print(f"an update of {group} is already queued or running", markup=False)


@memory_app.command("requeue")
def requeue(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")],
    message: Annotated[str, typer.Argument(metavar="MESSAGE_ID", help="The id of the quarantined message.")],
) -> None:
    """Make a quarantined message pending again and enqueue its group's update."""

    async def action(container: Container) -> bool | None:
        if not await group_exists(container, group):
            return None
        quarantine: MessageQuarantine = await resolve(container.quarantine)
        return await quarantine.requeue(group, message)

    enqueued = run(action)
    if enqueued is None:
        no_such_group(group)
    then = "update enqueued" if enqueued else "an update is already queued or running"
    out.print(f"message {message} of {group} is pending again; {then}", markup=False)


@memory_app.command("evolve")
def evolve(group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")]) -> None:
    """Enqueue the evolution of the group's memory from its changed topics now."""

    async def action(container: Container) -> bool | None:
        if not await group_exists(container, group):
            return None
        consensus: ConsensusScheduler = await resolve(container.consensus)
        return await consensus.enqueue(group)

    enqueued = run(action)
    if enqueued is None:
        no_such_group(group)
    if enqueued:
        out.print(f"evolution of {group} enqueued", markup=False)
    else:
        out.print(f"an evolution of {group} is already queued or running", markup=False)


@memory_app.command("rollback")
def rollback(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")],
    to: Annotated[int, typer.Option("--to", min=0, help="The group-memory revision to restore (0: empty).")],
    kind: Annotated[MemoryKind, typer.Option(help="Which memory to roll back.")] = MemoryKind.GROUP_MEMORY,
) -> None:
    """Restore an earlier version of the group memory as a new revision; nothing is erased."""
    if kind is MemoryKind.TOPICS:
        err.print(f"error: {TOPICS_CANNOT_ROLL_BACK}", markup=False)
        raise typer.Exit(2)

    async def action(container: Container) -> GroupMemoryRevision | None:
        if not await group_exists(container, group):
            return None
        restorer: GroupMemoryRollback = await resolve(container.rollback)
        return await restorer.rollback(group, to)

    revision: GroupMemoryRevision | None = run(action)
    if revision is None:
        no_such_group(group)
    out.print(
        f"group memory of {group} restored to revision {to} as revision {revision.revision} "
        f"({len(revision.diff['updated'])} items restored, {len(revision.diff['superseded'])} superseded)",
        markup=False,
    )


@memory_app.command("context")
def context(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The group id.")],
    query: Annotated[str | None, typer.Option(help="What the reply is about: relevant memory first.")] = None,
    budget: Annotated[int, typer.Option(min=0, max=1_000_000, help="At most this many characters.")] = 2000,
    as_json: JsonFlag = False,
) -> None:
    """Print the memory context a reply prompt gets, cut to a budget.

    The group memory, topics and messages that matter most for the query, each message with
    who said it and when.
    """

    async def action(container: Container) -> MemoryContext | None:
        if not await group_exists(container, group):
            return None
        reader: MemoryContextReader = await resolve(container.memory_context)
        return await reader.context(group, budget, query)

    result: MemoryContext | None = run(action)
    if result is None:
        no_such_group(group)
    if as_json:
        print(json_text(context_json(result)))
    else:
        print(printable(result.text))


@memory_app.command("reindex")
def reindex(
    group: Annotated[
        str | None, typer.Argument(metavar="GROUP", help="The group id (omit with --all or --stale).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Reindex every group.")] = False,
    stale: Annotated[
        bool, typer.Option("--stale", help="Reindex the groups whose messages are not all indexed.")
    ] = False,
) -> None:
    """Rebuild the search index behind the memory context from the integrated messages."""
    if (group is not None) + every + stale != 1:
        err.print("error: give a group id, --all or --stale (one of them)", markup=False)
        raise typer.Exit(2)

    async def action(container: Container) -> list[tuple[str, int]]:
        index: SqlSearchIndex = await resolve(container.search_index)
        queries: MemoryQueries = await resolve(container.queries)
        if group is not None:
            groups = [group]
        else:
            groups = await index.stale_groups() if stale else await queries.groups()
        done = []
        for group_id in groups:
            done.append((group_id, await index.reindex(group_id)))
        return done

    for group_id, count in run(action):
        out.print(f"{group_id}: {count} messages indexed", markup=False)
