"""``ai-worker``: the operators' command line (typer)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from entrypoints.cli_health import health
from entrypoints.cli_memory import memory_app
from entrypoints.cli_status import status
from entrypoints.cli_support import check_services, fail, report_problems, with_container
from entrypoints.cli_tasks import tasks_app
from entrypoints.container import Container, resolve
from entrypoints.preflight import Needs, ServiceProblem, run_preflight
from entrypoints.progress import count_lines, counted, progress
from entrypoints.settings import Settings, SettingsError, load_settings
from memory_domain.errors import MemoryDomainError
from memory_domain.recording import MessageRecorder
from memory_domain.scheduling import UpdateScheduler

T = TypeVar("T")

app = typer.Typer(
    name="ai-worker",
    help="Group-chat memory and long tasks for an AI chat service: the worker and its tools.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(memory_app, name="memory")
app.add_typer(tasks_app, name="tasks")
app.command()(health)
app.command()(status)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version("ai-service-worker")
        except PackageNotFoundError:  # run from a checkout that was never installed
            shown = "unknown (not installed)"
        print(f"ai-worker {shown}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Group-chat memory and long tasks for an AI chat service: the worker and its tools."""


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic upgrade to head), and say what was done."""
    from adapters.postgres.engine import mask_url

    settings = settings_or_exit()
    asyncio.run(check_services(settings, Needs(redis=False, schema=False)))
    try:
        before, after = asyncio.run(migrate_to_head(settings.database_dsn()))
        # Messages integrated before the search index existed (or by a worker of an older
        # release) are indexed now, so that the memory context finds them after an upgrade.
        indexed = asyncio.run(index_missing_groups(settings.database_dsn()))
    except MemoryDomainError as error:
        fail(err, error)
    where = mask_url(settings.database_dsn())
    if before is None:
        out.print(f"created the schema at revision {after}: {where}", markup=False, highlight=False)
    elif before != after:
        out.print(f"upgraded the schema from {before} to {after}: {where}", markup=False, highlight=False)
    else:
        out.print(f"the schema is already at head ({after}): {where}", markup=False, highlight=False)
    for group_id, count in indexed:
        out.print(f"search index built for {group_id}: {count} messages", markup=False)


async def migrate_to_head(dsn: str) -> tuple[str | None, str | None]:
    """Upgrade to head; the revisions before and after."""
    from adapters.postgres.migrate import current_revision, upgrade_to_head

    before = await current_revision(dsn)
    await upgrade_to_head(dsn)
    return before, await current_revision(dsn)


async def index_missing_groups(dsn: str) -> list[tuple[str, int]]:
    from adapters.postgres.engine import create_engine
    from adapters.postgres.search_index import SqlSearchIndex

    engine = create_engine(dsn)
    try:
        index = SqlSearchIndex(engine)
        return [(group_id, await index.reindex(group_id)) for group_id in await index.stale_groups()]
    finally:
        await engine.dispose()


@app.command()
def worker(
    burst: Annotated[
        bool,
        typer.Option("--burst", help="Run the jobs due now, then stop (jobs deferred to later stay queued)."),
    ] = False,
) -> None:
    """Run the worker (the same as: arq entrypoints.unified_worker.UnifiedWorkerSettings)."""
    from entrypoints.burst import due_now_worker
    from entrypoints.logging_setup import configure_logging
    from entrypoints.unified_worker import build_worker_settings

    settings = settings_or_exit()
    try:
        # A worker on PostgreSQL with a private in-process Redis would never see other programs' jobs.
        settings.require_shared_redis()
    except SettingsError as error:
        fail(err, error, code=2)
    try:
        run_preflight(settings, Needs(task_imports=True))
    except ServiceProblem as problem:
        report_problems(problem)
    configure_logging(settings)
    if settings.uses_embedded_redis:
        err.print(
            "[yellow]No REDIS_URL or REDIS_* set: using an in-process Redis. Jobs enqueued by "
            "other processes will not reach this worker.[/yellow]"
        )
    due_now_worker(build_worker_settings(settings), burst=burst).run()


@app.command()
def ingest(
    # A str, not a Path: typer (0.29) turns "-" into a Path before checking for the dash.
    file: Annotated[str, typer.Argument(metavar="FILE", help="JSONL file, or - for standard input.")],
) -> None:
    """Record the messages of a JSONL file (one message per line); bad lines are reported and skipped.

    A message id given twice keeps its first message, as a message recorded before keeps its
    recording; a repeat with other content is reported with its line.
    """
    from entrypoints.ingest import IngestReport, ingest_lines

    label = "<stdin>" if file == "-" else file
    try:
        source = nullcontext(sys.stdin.buffer) if file == "-" else Path(file).open("rb")  # noqa: SIM115
    except OSError as error:
        err.print(f"error: cannot read {file}: {error.strerror}", markup=False, highlight=False)
        raise typer.Exit(2) from None

    def report(problem: str) -> None:
        err.print(problem, markup=False, highlight=False)

    total = None if file == "-" else count_lines(Path(file))

    async def run(container: Container) -> IngestReport:
        recorder: MessageRecorder = await resolve(container.recorder)
        store = await resolve(container.store)
        with source as lines, progress(err, f"ingest {label}", total, "lines") as reporter:
            return await ingest_lines(recorder, store, counted(lines, reporter), label, report)

    result = run_with_container(run)
    out.print(
        f"recorded {result.recorded} messages ({result.duplicates} already recorded, {result.conflicts} "
        f"conflicting repeats not recorded, {result.bad} bad lines skipped); "
        f"updates enqueued for {len(result.enqueued)} groups",
        markup=False,
    )
    if not result.complete:
        raise typer.Exit(1)


@app.command("rebuild-queues")
def rebuild_queues() -> None:
    """Rebuild the pending counters and the due index in Redis from the database."""

    async def run(container: Container) -> tuple[int | None, int]:
        scheduler: UpdateScheduler = await resolve(container.scheduler)
        # Two steps of unknown length: the bar (or a plain line) names each as it starts.
        with progress(err, "rebuild-queues", 2, "steps") as reporter:
            reporter.note("rebuilding the pending counts and the due index from the database")
            groups = await scheduler.rebuild()
            reporter.advance()
            if groups is None:
                return None, 0
            reporter.note("enqueueing the updates of the groups due now")
            scan = await scheduler.scan()
            reporter.advance()
        return groups, len(scan.enqueued)

    groups, enqueued = run_with_container(run)
    if groups is None:
        err.print("a worker is rebuilding the pending index right now: nothing done", markup=False)
        raise typer.Exit(1)
    out.print(
        f"rebuilt the pending index: {groups} groups have pending messages; "
        f"updates enqueued for {enqueued} groups due now",
        markup=False,
    )


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Keep the demo's SQLite database at this path.")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Run on the configured database and Redis (DATABASE_URL, POSTGRES_*, REDIS_*): "
            "the demo writes its sample chats there. Without it, they are left alone.",
        ),
    ] = False,
) -> None:
    """Run the whole pipeline on the bundled sample chats and print the resulting topics."""
    from entrypoints.demo import run_demo

    try:
        asyncio.run(run_demo(out, keep, force))
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    except MemoryDomainError as error:
        fail(err, error)


def run_with_container(action: Callable[[Container], Awaitable[T]]) -> T:
    settings = settings_or_exit()
    try:
        return asyncio.run(with_container(settings, action))
    except MemoryDomainError as error:
        fail(err, error)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return app(args=argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
