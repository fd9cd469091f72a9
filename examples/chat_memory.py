"""Use the product from another Python program: record chat, let the worker fold it into memory,
read the memory context for a reply prompt, and run a long task.

    python examples/chat_memory.py

With REDIS_*/POSTGRES_* (or REDIS_URL/DATABASE_URL) in the environment it uses those services
(run `ai-worker migrate` first, and a worker: `ai-worker worker`); without them it runs on the
embedded default (a fresh SQLite file and an in-process Redis), running the worker itself.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.message_io import parse_message
from entrypoints.settings import Settings, load_settings

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CHAT = [
    ("u1", "Maya", "I adopted a beagle yesterday, her name is Pepper"),
    ("u2", "Tom", "Maya: congrats! how old is she?"),
    ("u1", "Maya", "Tom: two years, and she already chewed my running shoes"),
    ("u3", "小王", "@老李 数据库迁移定在周六晚上十一点"),
    ("u4", "老李", "小王：好的，我来准备回滚脚本"),
]


async def main() -> None:
    settings = load_settings()
    embedded = settings.uses_embedded_redis and not settings.uses_postgres and settings.database_url is None
    with tempfile.TemporaryDirectory() as folder:
        if embedded:
            from adapters.postgres.migrate import upgrade_to_head

            settings = settings.model_copy(update={"sqlite_path": Path(folder) / "example.db"})
            await upgrade_to_head(settings.database_dsn())
        container = build_container(settings)
        await open_container(container)
        try:
            await use_it(container, settings, embedded)
        finally:
            await close_container(container)


async def use_it(container: Container, settings: Settings, embedded: bool) -> None:
    # 1. Record messages (one call for a batch; recording the same message again stores it once).
    recorder = await resolve(container.recorder)
    messages = [
        parse_message(
            {
                "message_id": f"example-{i}",
                "group_id": "example-group",
                "sender_id": sender,
                "sender_name": name,
                "content": text,
                "sent_at": (START + timedelta(minutes=i)).isoformat(),
            }
        )
        for i, (sender, name, text) in enumerate(CHAT)
    ]
    result = await recorder.record_many(messages)
    print(f"recorded {result.recorded} messages")

    # 2. Fold them into topics now (a worker does it by itself once 10 are pending or after an hour).
    scheduler = await resolve(container.scheduler)
    await scheduler.enqueue("example-group")
    if embedded:
        await run_worker_until_idle(settings, container)
    else:
        await asyncio.sleep(3)  # the running worker picks it up
    queries = await resolve(container.queries)
    view = await queries.show("example-group")
    print(f"topics: {[topic.title for topic in view.topics]}")

    # 3. The memory context a reply prompt gets: what matters for the question, within a budget.
    reader = await resolve(container.memory_context)
    context = await reader.context("example-group", budget_chars=600, query="When did Maya adopt her dog?")
    print("memory context:")
    print(context.text)

    # 4. A long task: checkpointed, retried, resumed by another worker if this one dies.
    tasks = await resolve(container.task_service)
    task = await tasks.submit("memory.rebuild_group", {"group_id": "example-group"})
    if embedded:
        await run_worker_until_idle(settings, container)
    else:
        await asyncio.sleep(3)
    print(f"long task {task.task_type}: {(await tasks.get(task.id)).status.value}")


if __name__ == "__main__":
    asyncio.run(main())
