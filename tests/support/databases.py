"""Throwaway databases for integration tests, made by the real migrations.

PostgreSQL comes from ``TEST_DATABASE_URL``, else a testcontainers container when Docker is
reachable, else the local server with trust auth (see :mod:`tests.support.service_choice`). Each
use creates a uniquely named database, so tests never see each other's rows, and drops it
afterwards. When the server cannot be reached the test is skipped, naming the URL tried.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.postgres.engine import async_url, create_engine, mask_url
from adapters.postgres.migrate import upgrade_to_head
from tests.support.service_choice import choose_service, docker_reachable, postgres_container_url

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def admin_database_url() -> str:
    """The URL of the PostgreSQL database the throwaway databases are created from."""
    choice = choose_service(os.environ.get("TEST_DATABASE_URL"), docker_reachable, DEFAULT_TEST_DATABASE_URL)
    return choice.url or postgres_container_url()


@asynccontextmanager
async def fresh_postgres_database(*, migrate: bool = True) -> AsyncIterator[str]:
    """Yield the URL of a new, empty PostgreSQL database (migrated to head unless told not to)."""
    admin_url = async_url(admin_database_url())
    # CREATE / DROP DATABASE cannot run inside a transaction.
    admin = create_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    name = f"test_{secrets.token_hex(8)}"
    try:
        connection = admin.connect()
        try:
            await connection.start()
        except (OSError, sa.exc.DBAPIError) as error:
            pytest.skip(f"PostgreSQL is unreachable at {mask_url(admin_url)} (TEST_DATABASE_URL): {error}")
        try:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            await connection.close()
        try:
            url = admin_url.set(database=name).render_as_string(hide_password=False)
            if migrate:
                await upgrade_to_head(url)
            yield url
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def sqlite_url(directory: Path, name: str = "memory.db") -> str:
    """The URL of a SQLite database file in ``directory`` (not created yet)."""
    return f"sqlite+aiosqlite:///{directory / name}"


async def migrated_sqlite_url(directory: Path) -> str:
    """The URL of a new SQLite database file in ``directory``, migrated to head."""
    url = sqlite_url(directory)
    await upgrade_to_head(url)
    return url
