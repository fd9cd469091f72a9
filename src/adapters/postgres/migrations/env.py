"""Alembic environment of the source-of-truth schema.

Runs in three ways: on a connection handed over in ``config.attributes["connection"]`` (what
``adapters.postgres.migrate`` does, inside its own event loop); on an async engine built from
a URL (the alembic CLI), taken from ``config.attributes["url"]``, ``-x url=...``, the
``sqlalchemy.url`` option or ``DATABASE_URL``, in that order; or offline (``--sql``), printing
the SQL for a DBA.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from adapters.postgres.engine import async_url, create_engine
from adapters.postgres.schema import metadata

# Any constant works, as long as every migrating process uses the same one.
MIGRATION_LOCK_KEY = 0x6D656D6F7279  # "memory"

config = context.config


def _url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=..., set sqlalchemy.url, or set DATABASE_URL")
    return str(url)


def _run_on(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Workers that start together would otherwise race to create the same tables;
            # the lock is held until the migration's transaction ends.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    url = async_url(_url())
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    _run_on(shared)
else:
    # Only the CLI configures logging from the ini file; a program that calls the migrations
    # keeps its own logging setup.
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_online(_url()))
