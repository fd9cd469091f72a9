"""Migration 0009 moves which topic holds a message onto the message and cuts topic rows short.

A topic row used to list every message it ever held; the migration files each listed message in
its topic, keeps the newest 50 ids on the row with the count of all, and its downgrade gives
the rows their full lists back. Run on both databases, from rows as 0008 left them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from adapters.postgres.engine import create_engine
from adapters.postgres.migrate import alembic_config
from tests.support.databases import fresh_postgres_database, sqlite_url

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _migrate(connection: sa.Connection, verb: str, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, verb)(config, target)


def _json(connection: sa.Connection, name: str) -> str:
    return f"CAST(:{name} AS jsonb)" if connection.dialect.name == "postgresql" else f":{name}"


def _old_rows(connection: sa.Connection) -> None:
    """One group as release 0008 wrote it: t1 lists m000..m099, t2 lists m100..m119."""
    connection.execute(
        sa.text("INSERT INTO topic_memories (group_id, version, updated_at) VALUES ('g1', 1, :at)"),
        {"at": T0},
    )
    ids = [f"m{i:03d}" for i in range(120)]
    connection.execute(
        sa.text(
            "INSERT INTO topic_revisions (group_id, revision, created_at, message_ids, model, prompt_tokens,"
            f" completion_tokens, duration_ms, diff) VALUES ('g1', 1, :at, {_json(connection, 'ids')},"
            f" 'offline', 0, 0, 0, {_json(connection, 'diff')})"
        ),
        {"at": T0, "ids": json.dumps(ids), "diff": "{}"},
    )
    connection.execute(
        sa.text(
            "INSERT INTO chat_messages (group_id, message_id, sender_id, sender_name, role, content, sent_at,"
            " recorded_at, revision) VALUES ('g1', :id, 'u1', 'Alice', 'user', 'hello', :sent, :at, 1)"
        ),
        [{"id": message_id, "sent": T0 + timedelta(minutes=i), "at": T0} for i, message_id in enumerate(ids)],
    )
    for topic_id, listed in (("t1", ids[:100]), ("t2", ids[100:])):
        connection.execute(
            sa.text(
                "INSERT INTO topics (group_id, topic_id, title, summary, message_ids, status, created_at,"
                f" updated_at, revision) VALUES ('g1', :topic, 'title', 'summary', {_json(connection, 'ids')},"
                " 'active', :at, :at, 1)"
            ),
            {"topic": topic_id, "ids": json.dumps(listed), "at": T0},
        )


def _topic_rows(connection: sa.Connection) -> dict[str, tuple[list[str], int | None]]:
    columns = "topic_id, message_ids" + (", message_count" if "message_count" in _columns(connection) else "")
    rows = connection.execute(sa.text(f"SELECT {columns} FROM topics ORDER BY topic_id")).all()
    return {
        row.topic_id: (
            list(row.message_ids if isinstance(row.message_ids, list) else json.loads(row.message_ids)),
            getattr(row, "message_count", None),
        )
        for row in rows
    }


def _columns(connection: sa.Connection) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns("topics")}


def _check(connection: sa.Connection) -> None:
    _migrate(connection, "upgrade", "0008")
    _old_rows(connection)
    _migrate(connection, "upgrade", "head")
    topics = _topic_rows(connection)
    assert topics["t1"] == ([f"m{i:03d}" for i in range(50, 100)], 100)
    assert topics["t2"] == ([f"m{i:03d}" for i in range(100, 120)], 20)
    filed = dict(connection.execute(sa.text("SELECT message_id, topic_id FROM chat_messages")).all())
    assert filed == {f"m{i:03d}": "t1" if i < 100 else "t2" for i in range(120)}
    _migrate(connection, "downgrade", "0008")
    topics = _topic_rows(connection)
    assert topics["t1"] == ([f"m{i:03d}" for i in range(100)], None)
    assert topics["t2"] == ([f"m{i:03d}" for i in range(100, 120)], None)


async def _run(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_check)
    finally:
        await engine.dispose()


async def test_sqlite_topics_are_cut_to_their_newest_ids_and_messages_know_their_topic(
    tmp_path: Path,
) -> None:
    await _run(sqlite_url(tmp_path))


async def test_postgres_topics_are_cut_to_their_newest_ids_and_messages_know_their_topic() -> None:
    async with fresh_postgres_database(migrate=False) as url:
        await _run(url)
