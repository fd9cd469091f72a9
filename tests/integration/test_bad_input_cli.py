"""Bad command-line arguments and bad settings, given to ``ai-worker`` as a process: each answered
with one ``error:`` line naming the problem and a non-zero exit, nothing recorded or changed
(docs/RELIABILITY.md, the bad-input table).

On the all-embedded default (SQLite, an in-process Redis): nothing to reach but a file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ai_worker, service_env

pytestmark = pytest.mark.integration

LONG_ID = "x" * 5_000


def sqlite_env(folder: Path) -> dict[str, str]:
    return service_env(SQLITE_PATH=str(folder / "memory.db"), COLUMNS="400")


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated SQLite database holding one message of group "team"."""
    folder = tmp_path_factory.mktemp("bad-cli")
    env = sqlite_env(folder)

    async def prepare() -> None:
        assert (await ai_worker("migrate", env=env)).returncode == 0
        source = folder / "chat.jsonl"
        line = {"message_id": "m1", "group_id": "team", "sender_id": "u1", "content": "the deploy plan"}
        source.write_text(json.dumps({**line, "sent_at": "2026-11-02T09:15:00Z"}) + "\n")
        assert (await ai_worker("ingest", str(source), env=env)).returncode == 0

    asyncio.run(prepare())
    yield env


def message_count(env: dict[str, str]) -> int:
    with sqlite3.connect(env["SQLITE_PATH"]) as connection:
        return int(connection.execute("SELECT count(*) FROM chat_messages").fetchone()[0])


def task_count(env: dict[str, str]) -> int:
    with sqlite3.connect(env["SQLITE_PATH"]) as connection:
        return int(connection.execute("SELECT count(*) FROM long_tasks").fetchone()[0])


# (arguments, the exit code, what the one error line says)
BAD_ARGUMENTS = [
    (["memory", "show", "teem"], 1, "error: no such group: teem"),
    (["memory", "history", "teem"], 1, "error: no such group: teem"),
    (["memory", "context", "teem", "--query", "deploy"], 1, "error: no such group: teem"),
    (["memory", "rollback", "teem", "--to", "0"], 1, "error: no such group: teem"),
    (["memory", "requeue", "teem", "m1"], 1, "error: no such group: teem"),
    (["memory", "show", "team chat"], 1, "error: group_id 'team chat' is invalid"),
    (["memory", "show", LONG_ID], 1, "is invalid: 1-128 characters"),
    (["memory", "update", "team\x1b[2J"], 1, "error: group_id 'team\\x1b[2J' is invalid"),
    (
        ["memory", "rollback", "team", "--to", "3"],
        1,
        "cannot roll back to revision 3; its group memory has no revision",
    ),
    (["memory", "rollback", "team", "--to", "-1"], 2, "Invalid value for '--to'"),
    (["memory", "requeue", "team", "m404"], 1, "error:"),
    (
        ["tasks", "show", "3f1e0000-0000-4000-8000-000000000000"],
        1,
        "error: no task '3f1e0000-0000-4000-8000-000000000000'",
    ),
    (["tasks", "cancel", "no-such-task"], 1, "error: no task 'no-such-task'"),
    (["tasks", "retry", "no-such-task"], 1, "error: no task 'no-such-task'"),
    (["tasks", "show", "task id"], 2, "error: bad task id 'task id'"),
    (["tasks", "show", LONG_ID], 2, "error: bad task id 'xxxxxxxx"),
    (["tasks", "submit", "no.such_type"], 1, "error: unknown task type 'no.such_type' (registered: "),
    (
        ["tasks", "submit", "memory.rebuild_group", "--payload", "{group"],
        2,
        "error: --payload is not valid JSON",
    ),
    (
        ["tasks", "submit", "memory.rebuild_group", "--payload", "[1]"],
        1,
        "bad payload for task type 'memory.rebuild_group'",
    ),
    (["tasks", "submit", "memory.rebuild_group", "--payload", "{}"], 1, "group_id: Field required"),
    (
        ["tasks", "submit", "memory.rebuild_group", "--payload", '{"group_id": 7}'],
        1,
        "group_id: Input should be a valid string",
    ),
    (
        ["tasks", "submit", "memory.rebuild_group", "--run-at", "tomorrow-ish"],
        2,
        "error: --run-at 'tomorrow-ish' is not an ISO 8601 time",
    ),
    (["ingest", "/no/such/file.jsonl"], 2, "error: cannot read /no/such/file.jsonl"),
]


@pytest.mark.parametrize(("arguments", "code", "problem"), BAD_ARGUMENTS, ids=lambda value: str(value)[:40])
async def test_a_bad_argument_is_one_clear_error_and_changes_nothing(
    team: dict[str, str], arguments: list[str], code: int, problem: str
) -> None:
    done = await ai_worker(*arguments, env=team)
    assert done.returncode == code, done
    assert problem in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 6, done.stderr
    assert LONG_ID not in done.stderr  # an id of thousands of characters is not echoed whole
    assert "enqueued" not in done.stdout and "restored" not in done.stdout
    assert (message_count(team), task_count(team)) == (1, 0)


async def test_bad_settings_stop_the_worker_at_start_naming_every_bad_variable(tmp_path: Path) -> None:
    env = {
        **sqlite_env(tmp_path),
        "L2_QUEUE_TRIGGER_THRESHOLD": "many",
        "L2_SCAN_INTERVAL_MINUTES": "7",
        "MEMORY_TIMEZONE": "Atlantis/Capital",
        "REDIS_PORT": "-1",
    }
    for command in (["worker"], ["status"], ["ingest", "-"]):
        done = await ai_worker(*command, env=env, stdin=b"")
        assert done.returncode == 2, done
        assert done.stderr.startswith("bad settings, the worker cannot start:"), done.stderr
        for variable in (
            "L2_QUEUE_TRIGGER_THRESHOLD",
            "L2_SCAN_INTERVAL_MINUTES",
            "MEMORY_TIMEZONE",
            "REDIS_PORT",
        ):
            assert f"  {variable}: " in done.stderr
        assert "Traceback" not in done.stderr


async def test_a_database_never_migrated_is_named_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    for command in (["worker", "--burst"], ["memory", "show", "team"], ["tasks", "list"]):
        done = await ai_worker(*command, env=env)
        assert done.returncode != 0, done
        assert "migrate" in done.stderr and "Traceback" not in done.stderr, done.stderr


async def test_a_database_ahead_of_this_release_is_refused_naming_its_revision(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    assert (await ai_worker("migrate", env=env)).returncode == 0
    with sqlite3.connect(env["SQLITE_PATH"]) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    for command in (["worker", "--burst"], ["health"]):
        done = await ai_worker(*command, env=env)
        assert done.returncode != 0, done
        assert "f00dfeedbeef" in done.stderr + done.stdout and "Traceback" not in done.stderr, done


async def test_unreachable_servers_stop_the_worker_with_one_line_each_and_no_password(tmp_path: Path) -> None:
    from tests.support.redis_server import free_port

    env = service_env(
        DATABASE_URL=f"postgresql://worker:Sekr1t-pw@127.0.0.1:{free_port()}/memory",
        REDIS_URL=f"redis://:Sekr1t-pw@127.0.0.1:{free_port()}/0",
    )
    for command in (["worker"], ["memory", "show", "team"], ["tasks", "list"]):
        done = await ai_worker(*command, env=env, timeout=60)
        assert done.returncode != 0, done
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert any("Redis" in line and "unreachable" in line for line in lines), done.stderr
        assert any("database" in line and "unreachable" in line for line in lines), done.stderr
        assert len(lines) <= 3 and "Traceback" not in done.stderr and "Sekr1t" not in done.stderr, done.stderr
