"""A first run, tried as a new user tries it (issue 9, item 7): wrong or missing services, a
database never migrated, a missing LONG_TASK_IMPORTS module, the demo beside a configured
database, a burst worker beside work scheduled for later, and what long commands print."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.postgres.engine import create_engine
from tests.support.databases import fresh_postgres_database
from tests.support.processes import ai_worker, service_env, start_worker, stop
from tests.support.redis_space import empty_redis, redis_test_url

pytestmark = pytest.mark.integration

ARQ = str(Path(sys.executable).with_name("arq"))
NO_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there
NO_POSTGRES = "postgresql://postgres@127.0.0.1:5999/x"
HANDLERS = "tests.support.long_task_handlers"
# The worker and the commands import the test handlers (LONG_TASK_IMPORTS) from this checkout.
REPO_ROOT = str(Path(__file__).resolve().parents[2])
MIGRATE_HINT = "run `ai-worker migrate`"
READ_COMMANDS = [("status",), ("memory", "groups"), ("tasks", "list"), ("memory", "show", "g1")]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


async def timed(*args: str, env: dict[str, str]) -> tuple[float, int, str, str]:
    started = time.monotonic()
    done = await ai_worker(*args, env=env)
    return time.monotonic() - started, done.returncode, done.stdout, done.stderr


async def arq_worker(env: dict[str, str], as_module: bool = False) -> tuple[int, str]:
    """arq's CLI on the worker's settings: ``arq ...``, or ``python -m arq ...`` as compose runs it."""
    program = [sys.executable, "-m", "arq"] if as_module else [ARQ]
    process = await asyncio.create_subprocess_exec(
        *program,
        "entrypoints.unified_worker.UnifiedWorkerSettings",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_an_unreachable_redis_is_one_line_within_seconds_for_every_read_command() -> None:
    async with fresh_postgres_database() as database_url:
        env = service_env(DATABASE_URL=database_url, REDIS_URL=NO_REDIS)
        for command in READ_COMMANDS:
            elapsed, code, stdout, stderr = await timed(*command, env=env)
            assert code == 1, (command, stdout, stderr)
            assert error_lines(stderr) == [error_lines(stderr)[0]], (command, stderr)  # one line
            assert stderr.startswith("error: Redis at 127.0.0.1:6390/0 is unreachable"), (command, stderr)
            assert elapsed < 8, (command, elapsed)  # no 10 s of connection retries


async def test_an_unreachable_database_and_a_password_redis_does_not_want_are_named_on_one_line_each() -> (
    None
):
    async with empty_redis():
        with_password = redis_test_url().replace("redis://", "redis://:not-wanted@", 1)
        env = service_env(DATABASE_URL=NO_POSTGRES, REDIS_URL=with_password)
        elapsed, code, _, stderr = await timed("memory", "groups", env=env)
    assert code == 1 and elapsed < 8
    lines = error_lines(stderr)
    assert len(lines) == 2 and "Traceback" not in stderr, stderr
    assert any(
        "has no password, but one is given (REDIS_PASSWORD or in REDIS_URL)" in line for line in lines
    ), lines
    assert any("127.0.0.1:5999/x is unreachable" in line for line in lines), lines
    assert "not-wanted" not in stderr  # the password is never printed


@pytest.fixture
async def redis_with_a_password(tmp_path: Path) -> AsyncIterator[str]:
    """A private redis-server that wants a password (the shared one has none); its URL without it."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server binary to start a Redis with a password")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        server,
        "--port",
        str(port),
        "--requirepass",
        "the-right-one",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        await stop(process)


async def test_a_wrong_or_missing_redis_password_is_named_without_showing_it(
    redis_with_a_password: str,
) -> None:
    async with fresh_postgres_database() as database_url:
        wrong = redis_with_a_password.replace("redis://", "redis://:the-wrong-one@", 1)
        refused = await ai_worker(
            "memory", "groups", env=service_env(DATABASE_URL=database_url, REDIS_URL=wrong)
        )
        missing = await ai_worker(
            "memory", "groups", env=service_env(DATABASE_URL=database_url, REDIS_URL=redis_with_a_password)
        )
    port = redis_with_a_password.split(":")[2].split("/")[0]
    for result in (refused, missing):
        assert result.returncode == 1, result
        assert len(error_lines(result.stderr)) == 1, result.stderr
        assert result.stderr.startswith(f"error: Redis at 127.0.0.1:{port}/0 refused the password"), (
            result.stderr
        )
        assert "check REDIS_PASSWORD" in result.stderr and "the-wrong-one" not in result.stderr


async def test_a_database_never_migrated_says_run_migrate_in_the_cli_and_both_worker_commands() -> None:
    async with fresh_postgres_database(migrate=False) as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url())
        results = [await ai_worker(*command, env=env) for command in (*READ_COMMANDS, ("worker",))]
        arq_runs = [await arq_worker(env), await arq_worker(env, as_module=True)]
    expected = f"error: the database schema is not created: {MIGRATE_HINT}"
    for result in results:
        assert result.returncode == 1, result
        assert result.stderr.strip() == expected, result
    for arq_code, arq_stderr in arq_runs:
        assert arq_code == 1 and arq_stderr.strip() == expected, arq_stderr


async def test_a_missing_long_task_imports_module_stops_the_worker_with_one_line() -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_test_url(), LONG_TASK_IMPORTS="myapp.not_there"
        )
        worker = await ai_worker("worker", env=env)
        arq_code, arq_stderr = await arq_worker(env)
    expected = "error: LONG_TASK_IMPORTS: cannot import 'myapp.not_there': No module named 'myapp'"
    assert worker.returncode == 1 and worker.stderr.strip() == expected, worker
    assert arq_code == 1 and arq_stderr.strip() == expected


async def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    env = service_env(SQLITE_PATH=str(tmp_path / "memory.db"))
    first = await ai_worker("migrate", env=env)
    again = await ai_worker("migrate", env=env)
    assert first.returncode == 0 and again.returncode == 0, (first, again)
    head = re.search(r"created the schema at revision (\w+): ", first.stdout)
    assert head is not None, first.stdout
    assert f"the schema is already at head ({head.group(1)})" in again.stdout


async def test_the_demo_leaves_a_configured_database_alone_unless_forced() -> None:
    async with fresh_postgres_database(migrate=False) as database_url:
        demo = await ai_worker("demo", env=service_env(DATABASE_URL=database_url), timeout=300)
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        finally:
            await engine.dispose()
    assert demo.returncode == 0, demo.stderr
    assert "DATABASE_URL set: not used" in demo.stdout and "database: sqlite+aiosqlite:" in demo.stdout
    # Its long steps show progress: plain lines on standard error, as no terminal is attached.
    assert "demo: distilling each group's topics into its group memory" in demo.stderr
    assert re.search(r"^demo: 100% \((\d+) of \1 steps, ", demo.stderr, re.MULTILINE), demo.stderr
    assert tables == []


async def test_a_burst_worker_ends_beside_work_for_later_and_a_cancel_empties_the_queue(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database() as database_url, empty_redis() as redis:
        env = service_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_test_url(),
            LONG_TASK_IMPORTS=HANDLERS,
            PYTHONPATH=REPO_ROOT,
        )
        later = ["--run-at", "2099-01-01T00:00:00"]
        kept = await ai_worker("tasks", "submit", "test.count", "--payload", '{"steps": 1}', *later, env=env)
        dropped = await ai_worker(
            "tasks", "submit", "test.count", "--payload", '{"steps": 2}', *later, env=env
        )
        kept_id, dropped_id = kept.stdout.strip(), dropped.stdout.strip()
        assert await redis.zcard("arq:queue") == 2

        cancelled = await ai_worker("tasks", "cancel", dropped_id, env=env)
        assert cancelled.returncode == 0, cancelled
        assert f"task {dropped_id} is cancelled; 1 queued jobs of it removed" in cancelled.stdout
        queued = [member.decode() for member in await redis.zrange("arq:queue", 0, -1)]
        assert not any(dropped_id in member for member in queued) and any(kept_id in m for m in queued)

        burst = await ai_worker("worker", "--burst", env=env, timeout=60)
        assert burst.returncode == 0, burst.stderr
        assert any(kept_id in member.decode() for member in await redis.zrange("arq:queue", 0, -1))


async def test_tasks_list_never_cuts_an_id_in_a_narrow_terminal() -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), COLUMNS="60")
        submitted = await ai_worker(
            "tasks", "submit", "maintenance.prune_tasks", "--run-at", "2099-01-01", env=env
        )
        assert submitted.returncode == 0, submitted
        listed = await ai_worker("tasks", "list", env=env)
    assert submitted.stdout.strip() in listed.stdout, listed.stdout


async def test_ingest_and_rebuild_queues_print_plain_progress_lines_when_not_on_a_terminal(
    tmp_path: Path,
) -> None:
    env = service_env(SQLITE_PATH=str(tmp_path / "memory.db"))
    assert (await ai_worker("migrate", env=env)).returncode == 0
    source = tmp_path / "chat.jsonl"
    lines = [
        {
            "message_id": f"m{n}",
            "group_id": "g1",
            "sender_id": "u1",
            "content": f"line {n}",
            "sent_at": "2026-11-02T09:15:00",
        }
        for n in range(250)
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines))  # no newline after the last
    ingested = await ai_worker("ingest", str(source), env=env)
    assert ingested.returncode == 0, ingested.stderr
    progress = [line for line in ingested.stderr.splitlines() if line.startswith(f"ingest {source}: ")]
    assert [line.split(": ", 1)[1].split(",")[0] for line in progress] == [
        "40% (100 of 250 lines",
        "80% (200 of 250 lines",
        "100% (250 of 250 lines",
    ]
    assert "\x1b" not in ingested.stderr  # no bar, no colours: a log stays readable
    assert ingested.stdout.startswith("recorded 250 messages")

    rebuilt = await ai_worker("rebuild-queues", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuild-queues: rebuilding the pending counts" in rebuilt.stderr
    assert "rebuild-queues: 100% (2 of 2 steps" in rebuilt.stderr
    assert "rebuilt the pending index: 1 groups have pending messages" in rebuilt.stdout


async def test_tasks_show_follow_shows_a_running_task_until_it_ends_and_exits_by_its_status(
    tmp_path: Path,
) -> None:
    async with fresh_postgres_database() as database_url, empty_redis():
        env = service_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_test_url(),
            LONG_TASK_IMPORTS=HANDLERS,
            PYTHONPATH=REPO_ROOT,
        )
        payload = json.dumps({"steps": 3, "sleep": 0.5})
        task_id = (
            await ai_worker("tasks", "submit", "test.count", "--payload", payload, env=env)
        ).stdout.strip()
        cancelled_id = (
            await ai_worker(
                "tasks", "submit", "test.count", "--payload", payload, "--run-at", "2099-01-01", env=env
            )
        ).stdout.strip()
        worker = await start_worker(env, tmp_path / "worker.log")
        try:
            followed = await ai_worker("tasks", "show", task_id, "--follow", "--interval", "0.2", env=env)
        finally:
            await stop(worker)
        assert (await ai_worker("tasks", "cancel", cancelled_id, env=env)).returncode == 0
        ended = await ai_worker("tasks", "show", cancelled_id, "--follow", env=env)
    assert followed.returncode == 0, followed
    label = f"task {task_id} (test.count): "
    shown = [line.removeprefix(label) for line in followed.stderr.splitlines() if line.startswith(label)]
    assert shown[-1].startswith("DONE, step ") and shown[-1].endswith(", 100%: step 3"), shown
    assert any(line.startswith("RUNNING") or line.startswith("COMMIT") for line in shown), shown
    done, _, result = followed.stdout.strip().partition(": ")
    assert done == f"task {task_id} is DONE" and json.loads(result) == {"counted": 3, "seen": [1, 2, 3]}
    assert ended.returncode == 1 and f"task {cancelled_id} ended CANCELLED" in ended.stderr


async def test_version_is_printed() -> None:
    version = await ai_worker("--version", env=service_env())
    assert version.returncode == 0 and re.fullmatch(r"ai-worker \d+\.\d+\.\d+\S*\n", version.stdout)


async def test_a_metrics_port_in_use_stops_the_worker_with_one_line_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with fresh_postgres_database() as database_url, empty_redis():
            env = service_env(DATABASE_URL=database_url, REDIS_URL=redis_test_url(), METRICS_PORT=str(port))
            worker = await ai_worker("worker", env=env)
            arq_code, arq_stderr = await arq_worker(env)
    expected = f"error: cannot serve metrics on 127.0.0.1:{port} (METRICS_HOST, METRICS_PORT): Address already in use"
    for code, stderr in ((worker.returncode, worker.stderr), (arq_code, arq_stderr)):
        assert code == 1, stderr
        assert stderr.splitlines()[-1] == expected and "Traceback" not in stderr, stderr
