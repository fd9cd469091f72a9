"""``ai-worker demo``: the real pipeline on the bundled sample chats, in one process.

Without REDIS_*/POSTGRES_* it runs on SQLite (a fresh file) and an in-process Redis; given them,
on the real services. Messages are recorded in chronological slices, as a live chat would
deliver them, and the real arq worker folds them into topics between slices.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from arq.worker import get_kwargs
from rich.console import Console
from rich.markup import escape

from adapters.postgres.engine import mask_url
from adapters.postgres.migrate import upgrade_to_head
from entrypoints.burst import DueNowWorker
from entrypoints.cli_memory import print_view
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.message_io import parse_message
from entrypoints.progress import progress
from entrypoints.settings import POSTGRES_PART_NAMES, REDIS_PART_NAMES, Settings, load_settings
from entrypoints.unified_worker import build_worker_settings
from memory_domain.consensus import ConsensusScheduler
from memory_domain.memory_context import MemoryContextReader
from memory_domain.model import ChatMessage
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from memory_domain.scheduling import UpdateScheduler

SLICE = 25
# What a chat service might be answering in each sample group: the demo prints the memory
# context a reply prompt would get for it.
DEMO_QUESTIONS = {
    "family-zhang-cn": "奶奶八十大寿是哪天？",
    "hiking-club-en": "Where did Jordan move from?",
    "product-launch-mixed": "When is the Smart Reply 2.0 launch?",
    "team-backend-cn": "数据库什么时候切换？",
}
CONTEXT_BUDGET = 800


def load_demo_messages() -> list[ChatMessage]:
    """The bundled sample: every message of every demo group, oldest first."""
    messages: list[ChatMessage] = []
    folder = resources.files("entrypoints").joinpath("demo_data")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".jsonl"):
            continue
        for line in entry.read_text(encoding="utf-8").splitlines():
            if line.strip():
                messages.append(parse_message(json.loads(line)))
    return sorted(messages, key=lambda m: (m.sent_at, m.group_id, m.message_id))


async def run_worker_until_idle(settings: Settings, container: Container, max_rounds: int = 50) -> int:
    """Run the real arq worker in burst mode until no job is queued; return jobs completed."""
    completed = 0
    for _ in range(max_rounds):
        worker_settings = build_worker_settings(settings)
        kwargs: dict[str, Any] = get_kwargs(worker_settings)
        kwargs.update(
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            ctx={"settings": settings, "container": container},
        )
        worker = DueNowWorker(**kwargs)
        try:
            await worker.main()
            completed += worker.jobs_complete
            queued = await worker.due_now()
        finally:
            await worker.close()
        if queued == 0:
            break
    return completed


def configured_services(settings: Settings) -> list[str]:
    """The services the environment (or .env) configures, by the variables that name them."""
    named = []
    if settings.database_url is not None or settings.uses_postgres:
        named.append("DATABASE_URL" if settings.database_url is not None else "POSTGRES_*")
    if not settings.uses_embedded_redis:
        named.append("REDIS_URL" if settings.redis_url is not None else "REDIS_*")
    return named


def embedded_settings(settings: Settings, sqlite_path: Path) -> Settings:
    """``settings`` with every service setting dropped: a SQLite file and an in-process Redis."""
    service_fields = {name.lower() for name in (*REDIS_PART_NAMES, *POSTGRES_PART_NAMES)}
    embedded = settings.model_copy(
        update={"redis_url": None, "database_url": None, "sqlite_path": sqlite_path}
    )
    # Which fields were *given* decides embedded or not (see Settings.uses_postgres): forget them.
    object.__setattr__(embedded, "__pydantic_fields_set__", embedded.model_fields_set - service_fields)
    return embedded


async def run_demo(console: Console, keep: Path | None = None, force: bool = False) -> None:
    """The demo; on the configured services only with ``force`` (it writes its sample chats there)."""
    settings = load_settings()
    configured = configured_services(settings)
    if configured and not force:
        console.print(
            f"{' and '.join(configured)} set: not used (the demo would write its sample chats there; "
            "--force uses them). Running on a fresh SQLite file and an in-process Redis.",
            markup=False,
            highlight=False,
        )
    if not configured or not force:
        path = keep or Path(tempfile.mkdtemp(prefix="ai-worker-demo-")) / "demo.db"
        settings = embedded_settings(settings, path)
    elif not settings.uses_postgres and settings.database_url is None:
        path = keep or Path(tempfile.mkdtemp(prefix="ai-worker-demo-")) / "demo.db"
        settings = settings.model_copy(update={"sqlite_path": path})
    console.print(f"database: {mask_url(settings.database_dsn())}", markup=False, highlight=False)
    console.print(
        "redis: " + ("in-process (fakeredis)" if settings.uses_embedded_redis else "server"),
        highlight=False,
    )
    await upgrade_to_head(settings.database_dsn())
    container = build_container(settings)
    await open_container(container)
    try:
        await _demo(console, settings, container)
    finally:
        await close_container(container)


async def _demo(console: Console, settings: Settings, container: Container) -> None:
    recorder: MessageRecorder = await resolve(container.recorder)
    scheduler: UpdateScheduler = await resolve(container.scheduler)
    queries: MemoryQueries = await resolve(container.queries)
    model = await resolve(container.topic_model)
    messages = load_demo_messages()
    by_group: dict[str, list[ChatMessage]] = defaultdict(list)
    for message in messages:
        by_group[message.group_id].append(message)
    console.print(
        f"sample: {len(messages)} messages in {len(by_group)} groups; model: {model.name}",
        highlight=False,
    )
    started = time.monotonic()
    jobs = 0
    slices = range(0, max(len(group) for group in by_group.values()), SLICE)
    # The long part: one step per slice, then the last updates, then the group memories. The
    # progress goes to standard error, so standard output holds the demo's result alone.
    with progress(Console(stderr=True), "demo", len(slices) + 2, "steps", every=1) as reporter:
        for start in slices:
            reporter.note(f"recording messages {start + 1}-{start + SLICE} of each group, running the worker")
            batch = [m for group in by_group.values() for m in group[start : start + SLICE]]
            result = await recorder.record_many(batch)
            jobs += await run_worker_until_idle(settings, container)
            reporter.advance()
            console.print(
                f"  recorded {result.recorded:3d} messages, updates enqueued at once for "
                f"{len(result.enqueued_groups)} groups",
                highlight=False,
            )
        # What is left is below the threshold and not old yet: flush it, as `memory update` does.
        reporter.note("updating the topics of every group with what is still pending")
        for group_id in sorted(by_group):
            await scheduler.enqueue(group_id)
        jobs += await run_worker_until_idle(settings, container)
        reporter.advance()
        # Then what the daily consensus does, at once: each group's topics distilled into group memory.
        reporter.note("distilling each group's topics into its group memory")
        consensus: ConsensusScheduler = await resolve(container.consensus)
        for group_id in sorted(by_group):
            await consensus.enqueue(group_id)
        jobs += await run_worker_until_idle(settings, container)
        reporter.advance()
    elapsed = time.monotonic() - started
    console.print(f"worker jobs completed: {jobs} in {elapsed:.1f} s\n", highlight=False)
    for group_id in sorted(by_group):
        view = await queries.show(group_id)
        revisions = await queries.history(group_id, limit=1000)
        print_view(console, view)
        console.print(f"  revisions: {len(revisions)}\n", highlight=False)
    reader: MemoryContextReader = await resolve(container.memory_context)
    for group_id in sorted(by_group):
        question = DEMO_QUESTIONS.get(group_id)
        if question is None:
            continue
        context = await reader.context(group_id, CONTEXT_BUDGET, query=question)
        console.print(
            f"[bold]memory context[/bold] of {escape(group_id)} for {escape(question)!r} "
            f"({len(context.text)} of {CONTEXT_BUDGET} characters):",
            highlight=False,
        )
        console.print(context.text + "\n", markup=False, highlight=False)
