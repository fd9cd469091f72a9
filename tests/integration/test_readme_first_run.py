"""The README's "Run it for real", run as written: `.env.example` copied to `.env`, a role and a
database of their own, `migrate`, `health`, then the example commands, rollbacks included."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.postgres.engine import async_url, create_engine
from tests.support.databases import admin_database_url
from tests.support.processes import AI_WORKER, Completed, service_env
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "src" / "entrypoints" / "demo_data" / "team-backend-cn.jsonl"
GROUP = "team-backend-cn"


async def in_folder(folder: Path, *args: str, env: dict[str, str]) -> Completed:
    """``ai-worker ARGS`` run from ``folder``, where it finds the ``.env`` file."""
    process = await asyncio.create_subprocess_exec(
        AI_WORKER, *args, env=env, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


def env_example() -> dict[str, str]:
    settings = {}
    for line in (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


@asynccontextmanager
async def role_and_database(password: str) -> AsyncIterator[str]:
    """What the README's createuser/createdb make, under a name of the test's own."""
    name = f"readme_{secrets.token_hex(6)}"
    admin = create_engine(
        async_url(admin_database_url()).render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        try:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'"))
                await connection.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{name}"'))
        except (OSError, sa.exc.DBAPIError) as error:
            pytest.skip(f"PostgreSQL is unreachable or refuses to create a role: {error}")
        yield name
    finally:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(sa.text(f'DROP ROLE IF EXISTS "{name}"'))
        await admin.dispose()


async def test_run_it_for_real_as_the_readme_writes_it(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    given = env_example()
    admin = async_url(admin_database_url())
    async with role_and_database(given["POSTGRES_PASSWORD"]) as name, empty_redis():
        # The .env as written, but for the name of the role and database and the host and port
        # of the test services (environment variables override .env, as the README says).
        env = service_env(
            POSTGRES_USER=name,
            POSTGRES_DB=name,
            POSTGRES_HOST=admin.host or "localhost",
            POSTGRES_PORT=str(admin.port or 5432),
            REDIS_URL=redis_test_url(),
        )

        async def run(*args: str) -> str:
            done = await in_folder(tmp_path, *args, env=env)
            assert done.returncode == 0, (args, done)
            return done.stdout

        assert "created the schema at revision" in await run("migrate")
        health = await in_folder(tmp_path, "health", env=env)
        assert health.returncode == 1 and health.stdout.splitlines()[-1] == "unhealthy: worker", health
        assert "recorded 134 messages" in await run("ingest", str(SAMPLE))
        assert GROUP in await run("memory", "groups")
        await run("worker", "--burst")
        assert "topics" in await run("memory", "show", GROUP)
        await run("memory", "history", GROUP)
        assert "enqueued" in await run("memory", "evolve", GROUP)
        await run("worker", "--burst")
        await run("memory", "context", GROUP, "--query", "切库时间", "--budget", "1500")
        await run("memory", "rollback", GROUP, "--to", "0")
        await run("memory", "rollback", GROUP, "--to", "1")
        history = await run("memory", "history", GROUP, "--json")
    assert history.count('"group_memory"') >= 3  # the evolution and the two rollbacks
