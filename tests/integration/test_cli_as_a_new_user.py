"""``ai-worker`` as a process, tried the way a new user tries it (issue 10): bad input files, a half
configured setup, mistyped groups, and chat text that is hostile to the operator's terminal.

These run on the all-embedded default (SQLite, an in-process Redis), or are refused before
anything connects; only the demo on PostgreSQL needs a service.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.processes import AI_WORKER, Completed, ai_worker, service_env

pytestmark = pytest.mark.integration

UNREACHABLE_POSTGRES = "postgresql+asyncpg://worker@127.0.0.1:9/memory"
NO_SHARED_REDIS = "PostgreSQL is configured (DATABASE_URL or POSTGRES_*) but Redis is not: set REDIS_URL"
HOSTILE = "deploy \x1b[31mRED\x1b[0m plan \x07 bell \x9b2J \x1b]0;owned\x07 [bold]not bold[/bold] [/]"


def record(message_id: str, content: str = "the deploy plan", group_id: str = "g1", **extra: object) -> bytes:
    line = {
        "message_id": message_id,
        "group_id": group_id,
        "sender_id": "u1",
        "sender_name": "Maya",
        "content": content,
        "sent_at": "2026-11-02T09:15:00+08:00",
        **extra,
    }
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def sqlite_env(folder: Path, **overrides: str) -> dict[str, str]:
    return service_env(SQLITE_PATH=str(folder / "memory.db"), COLUMNS="400", **overrides)


def stored_contents(folder: Path) -> dict[str, str]:
    with sqlite3.connect(folder / "memory.db") as connection:
        return dict(connection.execute("SELECT message_id, content FROM chat_messages").fetchall())


async def migrated(folder: Path) -> dict[str, str]:
    env = sqlite_env(folder)
    done = await ai_worker("migrate", env=env)
    assert done.returncode == 0, done.stderr
    return env


async def test_ingest_records_the_good_lines_of_a_file_with_a_bom_and_reports_a_bad_byte_with_its_line(
    tmp_path: Path,
) -> None:
    env = await migrated(tmp_path)
    source = tmp_path / "chat.jsonl"
    bad_byte = record("m2", "caf\u00e9 talk").replace("é".encode(), b"\xe9")
    source.write_bytes(codecs.BOM_UTF8 + record("m1") + bad_byte + record("m3") + b"\n")
    ingested = await ai_worker("ingest", str(source), env=env)
    assert ingested.returncode == 1, ingested.stderr
    assert f"{source}:2: skipped: not valid UTF-8 (byte 0xe9 at byte" in ingested.stderr
    assert ingested.stderr.count("skipped") == 1 and "Traceback" not in ingested.stderr
    assert "recorded 2 messages" in ingested.stdout
    assert stored_contents(tmp_path).keys() == {"m1", "m3"}


async def test_ingest_reads_standard_input_given_as_a_dash(tmp_path: Path) -> None:
    env = await migrated(tmp_path)
    given = record("m1") + b"{not json\n" + record("m2")
    ingested = await ai_worker("ingest", "-", env=env, stdin=given)
    assert ingested.returncode == 1
    assert "<stdin>:2: skipped: not valid JSON" in ingested.stderr
    assert "recorded 2 messages" in ingested.stdout
    assert stored_contents(tmp_path).keys() == {"m1", "m2"}


async def test_ingest_refuses_a_sent_at_given_as_a_number_naming_the_field(tmp_path: Path) -> None:
    env = await migrated(tmp_path)
    source = tmp_path / "epoch.jsonl"
    source.write_bytes(record("m1", sent_at=1762074900) + record("m2", sent_at="2026-11-02T09:15:00"))
    ingested = await ai_worker("ingest", str(source), env=env)
    assert ingested.returncode == 1
    assert f"{source}:1: skipped: sent_at: 1762074900 is a number; give an ISO 8601" in ingested.stderr
    assert "recorded 1 messages" in ingested.stdout  # a time without a zone stays accepted, as UTC


async def test_ingest_keeps_the_first_of_two_messages_under_one_id_and_reports_the_other(
    tmp_path: Path,
) -> None:
    env = await migrated(tmp_path)
    first = tmp_path / "first.jsonl"
    first.write_bytes(record("m1", "first words") + record("m2") + record("m1", "second words"))
    ingested = await ai_worker("ingest", str(first), env=env)
    assert ingested.returncode == 1
    assert (
        f"{first}:3: message id 'm1' of group g1 was already given on line 1 with other content; "
        "the first is kept"
    ) in ingested.stderr
    assert "recorded 2 messages (0 already recorded, 1 conflicting repeats" in ingested.stdout

    again = tmp_path / "again.jsonl"
    again.write_bytes(record("m2") + record("m1", "edited words"))
    second = await ai_worker("ingest", str(again), env=env)
    assert second.returncode == 1
    assert (
        f"{again}:2: message id 'm1' of group g1 is already recorded with other content; "
        "the recorded one is kept"
    ) in second.stderr
    assert "recorded 0 messages (1 already recorded, 1 conflicting repeats" in second.stdout
    assert stored_contents(tmp_path) == {"m1": "first words", "m2": "the deploy plan"}


async def test_postgresql_without_redis_is_refused_by_the_commands_and_the_worker_naming_the_reason(
    tmp_path: Path,
) -> None:
    source = tmp_path / "chat.jsonl"
    source.write_bytes(record("m1"))
    env = service_env(DATABASE_URL=UNREACHABLE_POSTGRES)
    commands = [
        ("ingest", str(source)),
        ("memory", "update", "g1"),
        ("memory", "evolve", "g1"),
        ("tasks", "submit", "memory.rebuild_group", "--payload", '{"group_id": "g1"}'),
        ("worker",),
    ]
    results = await asyncio.gather(*(ai_worker(*command, env=env) for command in commands))
    arq = await asyncio.create_subprocess_exec(
        str(Path(AI_WORKER).with_name("arq")),
        "entrypoints.unified_worker.UnifiedWorkerSettings",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(arq.communicate(), 60)
    assert arq.returncode is not None
    results.append(Completed(arq.returncode, stdout.decode(), stderr.decode()))
    for command, result in zip([*commands, ("arq",)], results, strict=True):
        assert result.returncode == 2, (command, result)
        assert NO_SHARED_REDIS in result.stderr.replace("\n", " "), (command, result)
        assert "enqueued" not in result.stdout and "Traceback" not in result.stderr, (command, result)


async def test_the_demo_alone_runs_on_postgresql_with_the_in_process_redis() -> None:
    # Its worker runs in its own process, on the same in-process Redis: no job is lost. It uses
    # a configured database only when forced (tests/integration/test_cli_first_run.py).
    async with fresh_postgres_database(migrate=False) as database_url:
        demo = await ai_worker("demo", "--force", env=service_env(DATABASE_URL=database_url), timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "redis: in-process (fakeredis)" in demo.stdout and "memory context" in demo.stdout


async def test_update_and_evolve_of_a_group_that_does_not_exist_say_so_and_fail(tmp_path: Path) -> None:
    env = await migrated(tmp_path)
    source = tmp_path / "chat.jsonl"
    source.write_bytes(record("m1", group_id="team"))
    assert (await ai_worker("ingest", str(source), env=env)).returncode == 0
    for command in ("update", "evolve"):
        missing = await ai_worker("memory", command, "teem", env=env)
        assert missing.returncode == 1, missing
        assert "error: no such group: teem (no message of it was ever recorded)" in missing.stderr
        assert "enqueued" not in missing.stdout
    assert (await ai_worker("memory", "update", "team", env=env)).stdout.strip() == "update of team enqueued"


@pytest.fixture(scope="module")
def hostile_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SQLite database whose group "evil" has topics made of chat text full of terminal escapes."""
    folder = tmp_path_factory.mktemp("hostile")

    async def prepare() -> dict[str, str]:
        env = await migrated(folder)
        env["L2_FORCE_UPDATE_AFTER_MINUTES"] = "0"  # due at once: the worker's start-up scan folds it
        source = folder / "hostile.jsonl"
        source.write_bytes(
            record("m1", HOSTILE, group_id="evil") + record("m2", "the deploy plan is fine", group_id="evil")
        )
        assert (await ai_worker("ingest", str(source), env=env)).returncode == 0
        worked = await ai_worker("worker", "--burst", env=env)
        assert worked.returncode == 0, worked.stderr
        return env

    yield asyncio.run(prepare())


def assert_no_raw_controls(output: str) -> None:
    raw = sorted(
        {hex(ord(c)) for c in output if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F}
    )
    assert raw == [], (raw, output)


async def test_memory_show_prints_control_characters_of_chat_text_escaped(
    hostile_group: dict[str, str],
) -> None:
    shown = await ai_worker("memory", "show", "evil", env=hostile_group)
    assert shown.returncode == 0, shown.stderr
    assert_no_raw_controls(shown.stdout)
    assert "deploy \\x1b[31mRED\\x1b[0m plan \\x07 bell \\x9b2J \\x1b]0;owned\\x07" in shown.stdout


async def test_memory_show_prints_rich_markup_of_chat_text_literally(hostile_group: dict[str, str]) -> None:
    shown = await ai_worker("memory", "show", "evil", env=hostile_group)
    assert "[bold]not bold[/bold] [/]" in shown.stdout


async def test_memory_context_prints_control_characters_of_chat_text_escaped(
    hostile_group: dict[str, str],
) -> None:
    context = await ai_worker("memory", "context", "evil", "--query", "deploy plan", env=hostile_group)
    assert context.returncode == 0, context.stderr
    assert_no_raw_controls(context.stdout)
    assert "\\x1b[31mRED\\x1b[0m plan \\x07 bell \\x9b2J" in context.stdout
    assert "[bold]not bold[/bold] [/]" in context.stdout


async def test_json_output_stays_exact_with_every_control_character_escaped(
    hostile_group: dict[str, str],
) -> None:
    shown = await ai_worker("memory", "show", "evil", "--json", env=hostile_group)
    context = await ai_worker(
        "memory", "context", "evil", "--query", "deploy plan", "--json", env=hostile_group
    )
    for result in (shown, context):
        assert result.returncode == 0, result.stderr
        assert_no_raw_controls(result.stdout)
    assert any(HOSTILE in topic["summary"] for topic in shown.json()["topics"]), shown.stdout
    assert any(HOSTILE in entry["text"] for entry in context.json()["entries"]), context.stdout
    assert "\\u009b2J" in shown.stdout  # JSON leaves C1 controls raw; the CLI escapes them too
