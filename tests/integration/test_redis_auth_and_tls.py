"""Redis AUTH and TLS, PostgreSQL sslmode, through the settings, against servers this test starts
(Redis) or the machine's (PostgreSQL, whose ``SHOW ssl`` is off here): what works works, and what
is refused is one line that names the server and not the password (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from entrypoints import create_pool
from entrypoints.settings import Settings
from tests.support.databases import fresh_postgres_database
from tests.support.processes import Completed, ai_worker, service_env
from tests.support.redis_server import running_redis

pytestmark = pytest.mark.integration

PASSWORD = "Pw-7f3@x/y:z%q"  # every character a URL would need encoded


def chat_file(folder: Path, count: int = 12) -> Path:
    source = folder / "chat.jsonl"
    lines = [
        {"message_id": f"m{i}", "group_id": "team", "sender_id": "u1", "content": f"the deploy plan, step {i}",
         "sent_at": f"2026-11-02T09:{i:02d}:00Z"}
        for i in range(count)
    ]  # fmt: skip
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return source


async def ingest_and_work(env: dict[str, str], folder: Path) -> Completed:
    assert (await ai_worker("migrate", env=env)).returncode == 0
    ingested = await ai_worker("ingest", str(chat_file(folder)), env=env)
    assert ingested.returncode == 0, ingested
    assert "updates enqueued for 1 groups" in ingested.stdout
    worked = await ai_worker("worker", "--burst", env=env, timeout=90)
    assert worked.returncode == 0, worked
    return await ai_worker("memory", "show", "team", "--json", env=env)


def assert_secret_free(*outputs: Completed) -> None:
    for output in outputs:
        text = output.stdout + output.stderr
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text, text


async def test_the_worker_and_the_commands_work_through_redis_password(tmp_path: Path) -> None:
    with running_redis(tmp_path, password=PASSWORD) as server:
        env = service_env(
            SQLITE_PATH=str(tmp_path / "m.db"), REDIS_HOST="127.0.0.1", REDIS_PORT=str(server.port),
            REDIS_PASSWORD=PASSWORD,
        )  # fmt: skip
        shown = await ingest_and_work(env, tmp_path)
        assert shown.returncode == 0 and shown.json()["pending_messages"] == 0, shown
        status = await ai_worker("status", env=env)
        assert status.returncode == 0, status
        pool = await create_pool(
            Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=server.port, REDIS_PASSWORD=PASSWORD)
        )
        try:
            assert await pool.enqueue_job("task_update_topic_memory", "team") is not None
        finally:
            await pool.aclose()
    assert_secret_free(shown, status)


async def test_the_commands_work_through_a_redis_url_holding_the_password(tmp_path: Path) -> None:
    with running_redis(tmp_path, password=PASSWORD) as server:
        url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/0"
        env = service_env(SQLITE_PATH=str(tmp_path / "m.db"), REDIS_URL=url)
        shown = await ingest_and_work(env, tmp_path)
        assert shown.returncode == 0 and shown.json()["pending_messages"] == 0, shown
    assert_secret_free(shown)


async def test_a_wrong_redis_password_is_one_line_naming_the_server_not_the_password(tmp_path: Path) -> None:
    with running_redis(tmp_path, password="the-right-one") as server:
        base = service_env(
            SQLITE_PATH=str(tmp_path / "m.db"), REDIS_HOST="127.0.0.1", REDIS_PORT=str(server.port)
        )
        assert (await ai_worker("migrate", env=base)).returncode == 0
        wrong = {**base, "REDIS_PASSWORD": PASSWORD}
        none = dict(base)
        results = [
            await ai_worker(*command, env=env)
            for env in (wrong, none)
            for command in (["status"], ["worker"])
        ]
    for done in results:
        assert done.returncode != 0, done
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) <= 2 and "Traceback" not in done.stderr, done.stderr
        assert f"127.0.0.1:{server.port}" in done.stderr, done.stderr
    assert_secret_free(*results)


async def test_a_rediss_url_reaches_a_tls_redis_and_plain_redis_is_refused_there(tmp_path: Path) -> None:
    with running_redis(tmp_path, password=PASSWORD, tls=True) as server:
        assert server.ca_file is not None
        auth = f":{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/0"
        tls_url = f"rediss://{auth}?ssl_ca_certs={server.ca_file}&ssl_cert_reqs=required"
        env = service_env(SQLITE_PATH=str(tmp_path / "m.db"), REDIS_URL=tls_url)
        shown = await ingest_and_work(env, tmp_path)
        assert shown.returncode == 0 and shown.json()["pending_messages"] == 0, shown
        plain = await ai_worker("status", env={**env, "REDIS_URL": f"redis://{auth}"}, timeout=60)
        assert plain.returncode != 0 and "Traceback" not in plain.stderr, plain
        untrusted = await ai_worker("status", env={**env, "REDIS_URL": f"rediss://{auth}"}, timeout=60)
        assert untrusted.returncode != 0 and "Traceback" not in untrusted.stderr, untrusted
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr or "certificate" in untrusted.stderr.lower()
    assert_secret_free(shown, plain, untrusted)


async def test_postgres_sslmode_reaches_the_server_from_the_url_and_from_postgres_sslmode(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database() as database_url:
        # The machine's PostgreSQL runs without TLS (SHOW ssl: off): disable works, require is
        # refused by the server, which shows the mode reached the driver.
        with_password = database_url.replace("postgres@", f"postgres:{quote(PASSWORD, safe='')}@")
        with running_redis(tmp_path) as server:
            redis = f"redis://127.0.0.1:{server.port}/0"
            disabled = await ai_worker(
                "status", env=service_env(DATABASE_URL=f"{with_password}?sslmode=disable", REDIS_URL=redis)
            )
            required = await ai_worker(
                "status", env=service_env(DATABASE_URL=f"{with_password}?sslmode=require", REDIS_URL=redis)
            )
            by_setting = await ai_worker(
                "status",
                env=service_env(DATABASE_URL=with_password, POSTGRES_SSLMODE="require", REDIS_URL=redis),
            )
    assert disabled.returncode == 0, disabled
    for refused in (required, by_setting):
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused
        assert "SSL" in refused.stderr and "127.0.0.1:5432" in refused.stderr, refused.stderr
    assert_secret_free(disabled, required, by_setting)
