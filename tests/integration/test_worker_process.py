"""``ai-worker worker`` as a separate process, driven through the CLI, and killed mid-update."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.openai_server import ScriptedResponse, running_openai_server
from tests.support.processes import ai_worker, service_env, start_worker, stop, wait_until
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration


def jsonl_line(group_id: str, index: int, content: str, **extra: object) -> str:
    record = {
        "message_id": f"{group_id}-{index}",
        "group_id": group_id,
        "sender_id": f"u{index % 3}",
        "sender_name": f"User{index % 3}",
        "content": content,
        "sent_at": f"2026-11-02T09:{index:02d}:00+08:00",
        **extra,
    }
    return json.dumps(record, ensure_ascii=False)


async def test_migrate_worker_ingest_and_show_as_an_operator_runs_them(tmp_path: Path) -> None:
    async with fresh_postgres_database(migrate=False) as database_url, empty_redis():
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_test_url(), L2_QUEUE_TRIGGER_THRESHOLD="5"
        )
        migrated = await ai_worker("migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        lines = [jsonl_line("cn-group", i, f"数据库 迁移 计划 第{i}步") for i in range(12)]
        lines += [jsonl_line("en-group", i, f"hiking trip plan, part {i}") for i in range(8)]
        lines.insert(3, "{not json")
        lines.insert(7, json.dumps({"message_id": "x", "group_id": "cn-group"}))
        source = tmp_path / "messages.jsonl"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")

        worker = await start_worker(env, tmp_path / "worker.log")
        try:
            ingested = await ai_worker("ingest", str(source), env=env)
            assert ingested.returncode == 1  # some lines were bad
            assert f"{source}:4: skipped: not valid JSON" in ingested.stderr
            assert f"{source}:8: skipped:" in ingested.stderr and "content" in ingested.stderr
            assert "recorded 20 messages" in ingested.stdout

            async def integrated() -> bool:
                shown = [
                    (await ai_worker("memory", "show", g, "--json", env=env)).json()
                    for g in ("cn-group", "en-group")
                ]
                return all(s["pending_messages"] == 0 and s["topics"] for s in shown)

            await wait_until(integrated, 30, "both groups to be folded into topics")
        finally:
            await stop(worker)
        log = (tmp_path / "worker.log").read_text()
        cn = (await ai_worker("memory", "show", "cn-group", "--json", env=env)).json()
        assert cn["group_id"] == "cn-group"
        assert sorted(m for t in cn["topics"] for m in t["message_ids"]) == sorted(
            f"cn-group-{i}" for i in range(12)
        )
        assert all({"id", "title", "summary", "message_ids"} <= set(t) for t in cn["topics"])
        assert any("迁移" in t["title"] or "数据库" in t["title"] for t in cn["topics"]), cn
        history = (await ai_worker("memory", "history", "cn-group", "--json", env=env)).json()
        # Topic revisions, and (when the worker's first consensus check ran after them) an evolution.
        assert any(h["kind"] == "topics" and h["model"] for h in history), history
        rebuilt = await ai_worker("rebuild-queues", env=env)
        assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stdout
        assert "Traceback" not in log, log


async def test_bad_settings_stop_the_worker_naming_every_bad_variable() -> None:
    env = service_env(REDIS_PORT="not-a-port", L2_QUEUE_MAX_LEN="0", POSTGRES_PASSWORD="hunter2-secret")
    result = await ai_worker("worker", env=env, timeout=30)
    assert result.returncode == 2
    assert "REDIS_PORT" in result.stderr and "L2_QUEUE_MAX_LEN" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout


async def test_a_worker_killed_mid_update_holds_its_group_up_for_less_than_a_minute(tmp_path: Path) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        base = dict(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), L2_LEASE_SECONDS="3")
        lines = [jsonl_line("g-kill", i, f"the deploy plan, step {i}") for i in range(10)]
        source = tmp_path / "kill.jsonl"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with running_openai_server() as server:
            server.enqueue(ScriptedResponse.slow(120))  # the first worker hangs in the model call
            doomed_env = service_env(**base, LLM_BASE_URL=server.base_url, LLM_MODEL="slow", LLM_API_KEY="k")
            doomed = await start_worker(doomed_env, tmp_path / "doomed.log")
            try:
                assert (await ai_worker("ingest", str(source), env=service_env(**base))).returncode == 0

                async def model_called() -> bool:
                    return len(server.requests) >= 1

                await wait_until(model_called, 30, "the first worker to call the model")
                doomed.send_signal(signal.SIGKILL)
                await doomed.wait()
            finally:
                await stop(doomed)
            survivor = await start_worker(service_env(**base), tmp_path / "survivor.log")
            try:

                async def integrated() -> bool:
                    shown = (
                        await ai_worker("memory", "show", "g-kill", "--json", env=service_env(**base))
                    ).json()
                    return bool(shown["pending_messages"] == 0 and shown["topics"])

                took = await wait_until(integrated, 60, "the survivor to take the group over")
            finally:
                await stop(survivor)
        assert took < 60
        shown = (await ai_worker("memory", "show", "g-kill", "--json", env=service_env(**base))).json()
        assert sorted(m for t in shown["topics"] for m in t["message_ids"]) == sorted(
            f"g-kill-{i}" for i in range(10)
        )
