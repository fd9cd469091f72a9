"""Secrets: no pickle anywhere, and with a known password in every secret setting, a whole run
(worker, a failing model job with its traceback, the commands, failing ones included, health,
status, the demo, the metrics endpoint, a refused connection, bad settings) never prints one of them
(docs/RELIABILITY.md)."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from adapters.redis.serialization import PickledJobRefused, deserialize, serialize
from entrypoints.settings import Settings
from entrypoints.unified_worker import build_worker_settings
from tests.support.databases import fresh_postgres_database
from tests.support.openai_server import running_openai_server
from tests.support.processes import Completed, ai_worker, service_env, start_worker, stop, wait_until
from tests.support.redis_server import free_port, running_redis

pytestmark = pytest.mark.integration

SRC = Path(__file__).resolve().parents[2] / "src"
REDIS_SECRET = "redis-Secret-4417@/"
POSTGRES_SECRET = "pg-Secret-9921:%"
LLM_SECRET = "sk-llm-Secret-5530"
EMBEDDINGS_SECRET = "sk-emb-Secret-7712"
SECRETS = [REDIS_SECRET, POSTGRES_SECRET, LLM_SECRET, EMBEDDINGS_SECRET]


def test_no_module_of_the_package_uses_pickle_or_its_kin() -> None:
    used = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|shelve|marshal)\b", re.MULTILINE)
    offenders = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if used.search(path.read_text())]
    assert offenders == []


def test_the_worker_reads_and_writes_jobs_as_json_and_refuses_a_pickle() -> None:
    worker = build_worker_settings(Settings())
    assert (worker.job_serializer, worker.job_deserializer) == (serialize, deserialize)
    job = {"t": 1, "f": "task_update_topic_memory", "a": ["g1"], "k": {}, "et": 0}
    assert json.loads(serialize(job)) == job and deserialize(serialize(job)) == job
    with pytest.raises(PickledJobRefused, match="refused a pickled job"):
        deserialize(pickle.dumps(job))


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or quote(s, safe="") in text]


@pytest.mark.timeout(300)  # about twenty processes, each paying its start-up
async def test_a_whole_run_never_prints_a_secret(tmp_path: Path) -> None:
    captured: list[Completed] = []
    scraped: list[str] = []
    log = tmp_path / "worker.log"
    async with fresh_postgres_database() as database_url:
        # The machine's PostgreSQL trusts local users: the password is sent, and accepted.
        dsn = database_url.replace("postgres@", f"postgres:{quote(POSTGRES_SECRET, safe='')}@")
        with running_redis(tmp_path, password=REDIS_SECRET) as redis, running_openai_server() as model:
            metrics_port = free_port()
            env = service_env(
                DATABASE_URL=dsn,
                POSTGRES_PASSWORD=POSTGRES_SECRET,
                REDIS_HOST="127.0.0.1",
                REDIS_PORT=str(redis.port),
                REDIS_PASSWORD=REDIS_SECRET,
                LLM_BASE_URL=model.base_url,
                LLM_MODEL="m",
                LLM_API_KEY=LLM_SECRET,
                LLM_MAX_ATTEMPTS="1",
                LLM_TIMEOUT_SECONDS="2",
                EMBEDDINGS_BASE_URL=model.base_url,
                EMBEDDINGS_MODEL="e",
                EMBEDDINGS_API_KEY=EMBEDDINGS_SECRET,
                METRICS_PORT=str(metrics_port),
                LOG_LEVEL="DEBUG",
                L2_QUEUE_TRIGGER_THRESHOLD="10",
            )
            source = tmp_path / "chat.jsonl"
            source.write_text(
                "".join(
                    json.dumps({"message_id": f"m{i}", "group_id": "team", "sender_id": "u1",
                                "content": f"deploy step {i}", "sent_at": "2026-11-02T09:15:00Z"}) + "\n"
                    for i in range(12)
                )
            )  # fmt: skip
            worker = await start_worker(env, log)
            try:
                captured.append(await ai_worker("ingest", str(source), env=env))

                async def update_failed() -> bool:
                    # The test model answers HTTP 500: the update fails, with its traceback logged.
                    shown = await ai_worker("memory", "show", "team", "--json", env=env)
                    return shown.returncode == 0 and bool(json.loads(shown.stdout).get("last_error"))

                await wait_until(update_failed, 60, "the topic update to fail on the model's 500")

                def scrape() -> str:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{metrics_port}/metrics", timeout=5
                    ) as page:
                        return str(page.read().decode())

                scraped.append(await asyncio.to_thread(scrape))
                for command in (
                    ["memory", "show", "team"],
                    ["memory", "show", "team", "--json"],
                    ["memory", "context", "team", "--query", "deploy"],
                    ["memory", "show", "no-such-group"],
                    ["memory", "rollback", "team", "--to", "5"],
                    ["tasks", "show", "no-such-task"],
                    ["tasks", "submit", "memory.rebuild_group", "--payload", "{bad"],
                    ["status"],
                    ["status", "--json"],
                    ["health"],
                ):
                    captured.append(await ai_worker(*command, env=env))
                # The demo, with every secret in its environment (the offline model: the test server
                # answers 500s; it may keep to its own embedded services, and says so).
                offline = {
                    k: v for k, v in env.items() if not k.startswith(("LLM_", "EMBEDDINGS_", "METRICS_"))
                }
                demo = await ai_worker("demo", env=offline, timeout=180)
                assert demo.returncode == 0, demo
                captured.append(demo)
                # A refused connection, a wrong password, bad settings holding a secret.
                captured.append(await ai_worker("status", env={**env, "REDIS_PORT": str(free_port())}))
                captured.append(await ai_worker("status", env={**env, "REDIS_PASSWORD": f"x{REDIS_SECRET}"}))
                captured.append(
                    await ai_worker("status", env={**env, "DATABASE_URL": dsn.replace("5432", "9")})
                )
                captured.append(
                    await ai_worker(
                        "status", env={**env, "DATABASE_URL": f"mysql://u:{POSTGRES_SECRET}@h/db"}
                    )
                )
            finally:
                await stop(worker)
    text = log.read_text() + "".join(c.stdout + c.stderr for c in captured) + "".join(scraped)
    assert "Traceback" in log.read_text()  # the failed job's traceback was captured, and checked
    assert "ai_worker_" in scraped[0]
    assert all(c.returncode != 0 for c in captured[-4:]), captured[-4:]  # each failure was a failure
    assert leaks(text) == []
