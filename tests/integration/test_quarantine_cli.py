"""``ai-worker memory show`` lists a group's quarantined messages; ``memory requeue`` re-admits one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from arq.constants import job_key_prefix

from adapters.postgres.engine import create_engine
from adapters.postgres.store import SqlMemoryStore
from adapters.redis.arq_queue import update_job_id
from tests.contracts.memory_store_builders import T0
from tests.support.databases import fresh_postgres_database
from tests.support.processes import ai_worker, service_env
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

ERROR = "ModelError: the model server answered HTTP 400: 内容审核未通过"


async def quarantine(database_url: str, message_id: str) -> None:
    """What the worker does after the message failed alone L2_QUARANTINE_AFTER_FAILURES times."""
    engine = create_engine(database_url)
    try:
        assert await SqlMemoryStore(engine).quarantine_message("ops", message_id, ERROR, T0)
    finally:
        await engine.dispose()


async def test_show_lists_a_quarantined_message_and_requeue_makes_it_pending_again(tmp_path: Path) -> None:
    async with fresh_postgres_database(migrate=False) as database_url, empty_redis() as redis:
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_test_url(), L2_QUEUE_TRIGGER_THRESHOLD="50"
        )
        assert (await ai_worker("migrate", env=env)).returncode == 0
        source = tmp_path / "ops.jsonl"
        lines = [
            {"message_id": f"ops-{i}", "group_id": "ops", "sender_id": "u1", "content": f"deploy step {i}"}
            | {"sent_at": f"2026-11-02T09:0{i}:00+00:00"}
            for i in range(3)
        ]
        source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        assert (await ai_worker("ingest", str(source), env=env)).returncode == 0
        await quarantine(database_url, "ops-1")

        shown = (await ai_worker("memory", "show", "ops", "--json", env=env)).json()
        assert shown["pending_messages"] == 2
        assert shown["quarantined"] == [
            {
                "message_id": "ops-1",
                "sender_id": "u1",
                "sent_at": "2026-11-02T09:01:00+00:00",
                "quarantined_at": T0.isoformat(),
                "error": ERROR,
            }
        ]
        table = await ai_worker("memory", "show", "ops", env=env)
        assert table.returncode == 0, table.stderr
        assert "1 messages quarantined" in table.stdout and "memory requeue" in table.stdout
        assert "ops-1" in table.stdout and "内容审核未通过" in table.stdout

        requeued = await ai_worker("memory", "requeue", "ops", "ops-1", env=env)
        assert requeued.returncode == 0, requeued.stderr
        assert requeued.stdout.strip() == "message ops-1 of ops is pending again; update enqueued"
        assert await redis.exists(job_key_prefix + update_job_id("ops"))
        shown = (await ai_worker("memory", "show", "ops", "--json", env=env)).json()
        assert (shown["pending_messages"], shown["quarantined"]) == (3, [])

        await expect_error(env, ["ops", "ops-1"], "message 'ops-1' of group 'ops' is not quarantined")
        await expect_error(env, ["ops", "ghost"], "message 'ghost' of group 'ops' does not exist")
        await expect_error(env, ["nobody", "ops-1"], "no such group: nobody")

        worked = await ai_worker("worker", "--burst", env=env)
        assert worked.returncode == 0, worked.stderr
        shown = (await ai_worker("memory", "show", "ops", "--json", env=env)).json()
        assert shown["pending_messages"] == 0
        assert sorted(m for t in shown["topics"] for m in t["message_ids"]) == ["ops-0", "ops-1", "ops-2"]


async def expect_error(env: dict[str, str], args: list[str], error: str) -> None:
    refused = await ai_worker("memory", "requeue", *args, env=env)
    assert refused.returncode == 1, refused.stdout
    assert error in refused.stderr
