"""The engine factory, driver-error translation, and the migrations as the schema's only maker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.postgres.engine import create_engine
from adapters.postgres.migrate import (
    ALEMBIC_INI,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from adapters.postgres.schema import metadata
from adapters.postgres.store import SqlMemoryStore
from memory_domain.errors import StorageUnavailable
from tests.support.databases import fresh_postgres_database, sqlite_url

pytestmark = pytest.mark.integration

SCHEMA_TABLES = {"chat_messages", "topic_memories", "topics", "topic_revisions", "topic_update_failures"}


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://worker:pw@db:5432/memory", "postgresql+asyncpg"),
        ("postgres://worker:pw@db/memory", "postgresql+asyncpg"),
        ("postgresql+psycopg2://worker@db/memory", "postgresql+asyncpg"),
        ("postgresql+asyncpg://worker@db/memory", "postgresql+asyncpg"),
        ("sqlite:///var/memory.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///var/memory.db", "sqlite+aiosqlite"),
    ],
)
async def test_sync_urls_get_the_async_driver(url: str, driver: str) -> None:
    engine = create_engine(url)
    assert engine.url.drivername == driver
    await engine.dispose()


def test_an_unsupported_database_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="unsupported database") as refused:
        create_engine("mysql://worker:topsecret@db/memory")
    assert "topsecret" not in str(refused.value)


async def test_unreachable_postgres_raises_storage_unavailable_without_the_password() -> None:
    engine = create_engine("postgresql://worker:s3cret-pw@127.0.0.1:1/memory")
    try:
        with pytest.raises(StorageUnavailable) as unavailable:
            await SqlMemoryStore(engine).pending_state("g1")
    finally:
        await engine.dispose()
    message = str(unavailable.value)
    assert "127.0.0.1:1" in message and "read the pending state" in message
    assert "s3cret-pw" not in message and "***" in message


async def test_migrating_an_unreachable_database_raises_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="migrate the schema"):
        await upgrade_to_head("postgresql://worker:s3cret-pw@127.0.0.1:1/memory")


async def test_an_unmigrated_database_names_the_missing_schema(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        with pytest.raises(StorageUnavailable, match="run the migrations"):
            await SqlMemoryStore(engine).group_ids()
    finally:
        await engine.dispose()


async def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
    finally:
        await engine.dispose()
    assert pragmas == ["wal", 5000, 1]


async def test_sqlite_upgrade_reaches_head_once_and_again_changes_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert await current_revision(url) is None
    await upgrade_to_head(url)
    await upgrade_to_head(url)
    assert await current_revision(url) == head_revision()


async def test_concurrent_upgrades_in_one_process_take_turns() -> None:
    async with fresh_postgres_database(migrate=False) as url:
        await asyncio.gather(*(upgrade_to_head(url) for _ in range(3)))
        assert await current_revision(url) == head_revision()


async def test_concurrent_upgrades_from_several_processes_take_turns() -> None:
    async with fresh_postgres_database(migrate=False) as url:
        workers = [
            await asyncio.create_subprocess_exec(
                *_alembic_command("-x", f"url={url}", "upgrade", "head"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outputs = [await worker.communicate() for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0, 0], [err.decode() for _, err in outputs]
        assert await current_revision(url) == head_revision()


def _schema_drift(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables_after_downgrade(connection: sa.Connection) -> set[str]:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")
    return set(sa.inspect(connection).get_table_names())


async def _check_migrations(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(_schema_drift) == []
            assert await connection.run_sync(_tables_after_downgrade) <= {"alembic_version"}
    finally:
        await engine.dispose()


async def test_sqlite_migrations_make_exactly_the_tables_and_are_reversible(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_to_head(url)
    await _check_migrations(url)


async def test_postgres_migrations_make_exactly_the_tables_and_are_reversible() -> None:
    async with fresh_postgres_database() as url:
        await _check_migrations(url)


def _alembic_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "alembic", "-c", str(ALEMBIC_INI), *args]


def _alembic_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _alembic_command(*args),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_alembic_cli_migrates_a_database_given_by_x_url(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    result = _alembic_cli("-x", f"url=sqlite:///{database}", "upgrade", "head")
    assert result.returncode == 0, result.stderr
    with sa.create_engine(f"sqlite:///{database}").connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) >= SCHEMA_TABLES


def test_the_alembic_cli_prints_the_postgres_ddl_offline() -> None:
    result = _alembic_cli("-x", "url=postgresql://worker@db/memory", "upgrade", "head", "--sql")
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE chat_messages" in result.stdout
    assert "WHERE revision IS NULL" in result.stdout


async def test_pooled_connections_the_server_closed_are_replaced_without_a_ping() -> None:
    """After a server restart every pooled connection is dead: the next use gets a new one.

    The engine pings nothing before use (a round trip per checkout); a connection the server
    closed is known closed and replaced at checkout, so no statement fails.
    """
    async with fresh_postgres_database() as url:
        engine = create_engine(url, pool_size=3)
        pings: list[str] = []
        sa.event.listen(
            engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: (
                pings.append(statement) if statement.strip() == "SELECT 1" else None
            ),
        )
        store = SqlMemoryStore(engine)
        try:
            await asyncio.gather(*(store.pending_state("g1") for _ in range(3)))  # three pooled connections
            admin = create_engine(url)
            async with admin.connect() as connection:
                killed = await connection.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            await admin.dispose()
            assert killed >= 1
            await asyncio.sleep(0.2)  # the event loop reads each closed socket's end
            for _ in range(3):
                assert (await store.pending_state("g1")).count == 0
            assert pings == []
        finally:
            await engine.dispose()
