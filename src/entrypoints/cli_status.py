"""The ``ai-worker status`` command: :mod:`entrypoints.status` on the real services, as tables or JSON."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from entrypoints.cli_support import check_services, fail, json_text, printable
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.status import DEFAULT_TOP, StatusReport, gather_status
from memory_domain.errors import MemoryDomainError


async def _read(settings: Settings, top: int) -> StatusReport:
    # Imported here: the drivers are not needed to parse the command line.
    from adapters.postgres.status_reads import SqlStatusReads
    from adapters.redis.status_reads import RedisStatusReads
    from entrypoints.container import build_container, close_container, resolve
    from entrypoints.group_memory_wiring import consensus_schedule
    from entrypoints.unified_worker import build_worker_settings

    container = build_container(settings)
    try:
        redis = RedisStatusReads(await resolve(container.redis), settings.redis_key_prefix)
        database = SqlStatusReads(await resolve(container.engine))
        jobs = build_worker_settings(settings).cron_jobs  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        return await gather_status(redis, database, jobs, consensus_schedule(settings), now, top)
    finally:
        await close_container(container)


def _cell(value: Any) -> Text:
    return Text("–" if value is None else printable(str(value)))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{sign}{seconds / size:.1f}{unit}"
    return f"{sign}{seconds:.0f}s"


def _groups_table(title: str, groups: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("group", "pending", "oldest", "due in", "failures", "last error"):
        table.add_column(column, no_wrap=column != "last error")
    for group in groups:
        table.add_row(
            _cell(group["group_id"]),
            str(group["pending"]),
            _age(group["oldest_age_seconds"]),
            _age(group["due_in_seconds"]),
            str(group["failures"]),
            _cell(group["last_error"]),
        )
    return table


def print_status(out: Console, data: dict[str, Any]) -> None:
    pending, updates, backoff = data["pending"], data["updates"], data["backoff"]
    built = "" if pending["index_built"] else " (index not built: run ai-worker rebuild-queues)"
    out.print(
        f"pending: {pending['messages']} messages in {pending['groups']} groups, "
        f"{pending['groups_due']} due now{built}"
    )
    if pending["top"]:
        out.print(_groups_table(f"top {len(pending['top'])} groups by backlog", pending["top"]))
    out.print(
        f"arq queue: {updates['jobs_queued']} jobs; running: {updates['updates_running']} topic updates, "
        f"{updates['evolutions_running']} evolutions"
    )
    out.print(f"failure backoff: {backoff['groups']} groups")
    if backoff["top"]:
        out.print(_groups_table("groups whose last updates failed", backoff["top"]))
    quarantine = data["quarantine"]
    shown = ", ".join(f"{printable(q['group_id'])}={q['messages']}" for q in quarantine["top"])
    out.print(
        f"quarantined: {quarantine['messages']} messages in {quarantine['groups']} groups {shown}".rstrip()
    )
    tasks = data["long_tasks"]
    counts = ", ".join(f"{status} {count}" for status, count in tasks["by_status"].items())
    out.print(f"long tasks: {counts}")
    if (running := tasks["oldest_running"]) is not None:
        progress = "–" if running["progress"] is None else f"{running['progress']:.0%}"
        out.print(
            f"  oldest running: {running['task_id']} ({printable(running['task_type'])}) step {running['step']}, "
            f"{progress}, for {_age(running['running_seconds'])}",
            markup=False,
        )
    crons = Table(title="crons", title_justify="left")
    for column in ("cron", "last run", "next run"):
        crons.add_column(column, no_wrap=True)
    for cron in data["crons"]:
        crons.add_row(cron["name"], cron["last_run"] or "unknown", cron["next_run"])
    out.print(crons)
    workers = data["workers"]
    out.print(f"worker: {'alive: ' + workers['info'] if workers['alive'] else 'none alive'}", markup=False)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Groups listed per section.")] = DEFAULT_TOP,
) -> None:
    """Show the backlog, running work, failures, quarantine, long tasks, crons and workers."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        settings = load_settings()
        settings.require_shared_redis()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    asyncio.run(check_services(settings))  # one line per unusable service, within seconds
    try:
        report = asyncio.run(_read(settings, top))
    except MemoryDomainError as error:
        fail(err, error)
    data = report.as_dict()
    if as_json:
        print(json_text(data))
    else:
        print_status(Console(soft_wrap=True, highlight=False), data)
