"""Memory quality on real annotated conversations, beside what a user gets without the product.

    python bench/memory_quality.py ../shared/data/irc-dev        # topics: disentanglement
    python bench/memory_quality.py ../shared/data/locomo-dev     # the memory context
    python bench/memory_quality.py --quick                       # the tiny samples in tests/

It runs the real pipeline: messages are recorded in slices as a live chat delivers them, the
real arq worker folds them into topics (and group memory), and the real memory-context service
answers each question. Without REDIS_*/POSTGRES_* (or DATABASE_URL) in the environment it runs
on the embedded default (SQLite in a temporary folder, an in-process Redis); given them, on the
real services. ``--json`` prints one JSON object for machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

from bench.quality_baselines import (
    Bm25,
    each_message_alone,
    one_topic_per_group,
    recent_context,
    time_windows,
)
from bench.quality_data import (
    Conversation,
    gold_key,
    kind_of,
    load_conversations,
    load_disentanglement,
)
from bench.quality_metrics import partition_scores, token_recall
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.settings import Settings, load_settings
from memory_domain.model import ChatMessage

QUICK_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "quality"
SLICE = 10
BUDGET = 2_000


@asynccontextmanager
async def pipeline() -> AsyncIterator[tuple[Settings, Container]]:
    """A fresh store (embedded SQLite, or the configured services) with the container open."""
    from adapters.postgres.migrate import upgrade_to_head

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="ai-worker-quality-") as folder:
        if not settings.uses_postgres and settings.database_url is None:
            settings = settings.model_copy(update={"sqlite_path": Path(folder) / "quality.db"})
        await upgrade_to_head(settings.database_dsn())
        container = build_container(settings)
        await open_container(container)
        try:
            yield settings, container
        finally:
            await close_container(container)


async def integrate(
    settings: Settings, container: Container, messages: Sequence[ChatMessage], slice_size: int | None
) -> None:
    """Record ``messages`` (slices per group, or all at once), run the worker, then flush the rest."""
    recorder = await resolve(container.recorder)
    scheduler = await resolve(container.scheduler)
    by_group: dict[str, list[ChatMessage]] = {}
    for message in messages:
        by_group.setdefault(message.group_id, []).append(message)
    longest = max((len(group) for group in by_group.values()), default=0)
    step = slice_size or max(1, longest)
    for start in range(0, longest, step):
        await recorder.record_many([m for group in by_group.values() for m in group[start : start + step]])
        await run_worker_until_idle(settings, container, max_rounds=1_000)
    # What stays pending is below the threshold: the age trigger would fold it in later.
    for group_id in by_group:
        await scheduler.enqueue(group_id)
    await run_worker_until_idle(settings, container, max_rounds=1_000)


async def predicted_topics(container: Container, group_ids: Sequence[str]) -> dict[str, str]:
    """message (gold key) -> the topic each revision assigned it to, unique across groups."""
    queries = await resolve(container.queries)
    predicted: dict[str, str] = {}
    for group_id in group_ids:
        for revision in await queries.history(group_id, limit=1_000_000):
            for topic_id, message_ids in revision.diff.get("assignments", {}).items():
                for message_id in message_ids:
                    predicted[gold_key(group_id, message_id)] = f"{group_id}\x1f{topic_id}"
    return predicted


async def measure_topics(path: Path, limit_groups: int | None) -> dict[str, Any]:
    data = load_disentanglement(path, limit_groups)
    group_ids = list(dict.fromkeys(m.group_id for m in data.messages))
    rows: dict[str, dict[str, float]] = {}
    timings: dict[str, float] = {}
    for mode, slice_size in (("product, slices of 10", SLICE), ("product, whole backlog", None)):
        started = time.monotonic()
        async with pipeline() as (settings, container):
            await integrate(settings, container, data.messages, slice_size)
            predicted = await predicted_topics(container, group_ids)
        timings[mode] = round(time.monotonic() - started, 1)
        rows[mode] = partition_scores(data.gold, predicted)
    baselines: dict[str, Callable[[Sequence[ChatMessage]], dict[str, str]]] = {
        "one topic per group": one_topic_per_group,
        "each message alone": each_message_alone,
        "5-minute windows": lambda messages: time_windows(messages, 5),
        "15-minute windows": lambda messages: time_windows(messages, 15),
    }
    for name, baseline in baselines.items():
        rows[name] = partition_scores(data.gold, baseline(data.messages))
    return {
        "kind": "topics",
        "messages": len(data.messages),
        "groups": len(group_ids),
        "conversations": len(set(data.gold.values())),
        "scores": rows,
        "seconds": timings,
    }


async def build_memory(settings: Settings, container: Container, conversation: Conversation) -> None:
    """Session by session: the turns recorded in slices, topics updated, then group memory evolved."""
    consensus = await resolve(container.consensus)
    for session in conversation.sessions:
        await integrate(settings, container, session, SLICE)
        await consensus.enqueue(conversation.group_id)
        await run_worker_until_idle(settings, container, max_rounds=1_000)


async def measure_context(path: Path, limit: int | None, budget: int) -> dict[str, Any]:
    conversations = load_conversations(path, limit)
    per_system: dict[str, list[float]] = {
        "product": [],
        "product, no query": [],
        "recent messages": [],
        "BM25 over raw messages": [],
    }
    by_category: dict[str, dict[int, list[float]]] = {name: {} for name in per_system}
    latencies: list[float] = []
    started = time.monotonic()
    async with pipeline() as (settings, container):
        reader = await resolve(container.memory_context)
        for conversation in conversations:
            await build_memory(settings, container, conversation)
            messages = [m for session in conversation.sessions for m in session]
            bm25 = Bm25(messages)
            recent = recent_context(messages, budget)
            plain = (await reader.context(conversation.group_id, budget)).text
            for question in conversation.questions:
                asked = time.perf_counter()
                text = (await reader.context(conversation.group_id, budget, query=question.question)).text
                latencies.append(time.perf_counter() - asked)
                contexts = {
                    "product": text,
                    "product, no query": plain,
                    "recent messages": recent,
                    "BM25 over raw messages": bm25.context(question.question, budget),
                }
                for name, context in contexts.items():
                    assert len(context) <= budget, (name, len(context))
                    recall = token_recall(question.answer, context)
                    per_system[name].append(recall)
                    by_category[name].setdefault(question.category, []).append(recall)

    def mean(values: Sequence[float]) -> float:
        return 100.0 * sum(values) / len(values) if values else 0.0

    latencies.sort()
    return {
        "kind": "context",
        "conversations": len(conversations),
        "questions": len(per_system["product"]),
        "budget_chars": budget,
        "recall": {name: mean(values) for name, values in per_system.items()},
        "recall_by_category": {
            name: {str(c): mean(v) for c, v in sorted(cats.items())} for name, cats in by_category.items()
        },
        "context_ms": {
            "median": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
            "p95": 1000 * latencies[int(len(latencies) * 0.95)] if latencies else 0.0,
        },
        "seconds": round(time.monotonic() - started, 1),
    }


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if report["kind"] == "topics":
        table = Table(
            title=f"Topics: {report['messages']} messages, {report['groups']} groups, "
            f"{report['conversations']} gold conversations"
        )
        for column in ("system", "1-VI", "1-1", "ARI"):
            table.add_column(column, justify="left" if column == "system" else "right")
        for name, scores in report["scores"].items():
            table.add_row(name, *(f"{scores[m]:.1f}" for m in ("1-VI", "1-1", "ARI")))
        console.print(table)
        console.print(f"seconds per product run: {report['seconds']}")
        return
    table = Table(
        title=f"Memory context: {report['questions']} questions over {report['conversations']} "
        f"conversations, budget {report['budget_chars']} characters"
    )
    categories = sorted({c for cats in report["recall_by_category"].values() for c in cats})
    for column in ("system", "answer-token recall %", *(f"cat {c}" for c in categories)):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, recall in report["recall"].items():
        cats = report["recall_by_category"][name]
        table.add_row(name, f"{recall:.1f}", *(f"{cats.get(c, 0.0):.1f}" for c in categories))
    console.print(table)
    base = report["recall"]["BM25 over raw messages"]
    ratio = report["recall"]["product"] / base if base else float("inf")
    console.print(
        f"product / BM25: {ratio:.2f}x; context latency median {report['context_ms']['median']:.1f} ms, "
        f"p95 {report['context_ms']['p95']:.1f} ms; {report['seconds']} s in all"
    )


async def run(paths: Sequence[Path], limit: int | None, budget: int) -> list[dict[str, Any]]:
    reports = []
    for path in paths:
        kind = kind_of(path)
        report = await (
            measure_topics(path, limit) if kind == "topics" else measure_context(path, limit, budget)
        )
        report["data"] = str(path)
        reports.append(report)
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "paths", nargs="*", type=Path, help="dataset folders (disentanglement or long conversations)"
    )
    parser.add_argument("--quick", action="store_true", help="the tiny samples bundled in tests/data/quality")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--limit", type=int, default=None, help="only the first N groups / conversations")
    parser.add_argument("--budget", type=int, default=BUDGET, help="context budget in characters")
    args = parser.parse_args(argv)
    paths = list(args.paths)
    if args.quick:
        paths += sorted(p for p in QUICK_DATA.iterdir() if p.is_dir())
    if not paths:
        parser.error("give a dataset folder, or --quick")
    for path in paths:
        if not path.is_dir():
            parser.error(f"{path} is not a folder")
    reports = asyncio.run(run(paths, args.limit, args.budget))
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.python_implementation()} {platform.python_version()}",
    }
    if args.json:
        print(json.dumps({**meta, "reports": reports}, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
