"""Making and inspecting the schema with the Alembic migrations, from a program.

The migrations are the only way the schema is made. Their files ship inside the package and
are found next to this module, so this works from an installed wheel as well as a checkout.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from adapters.postgres.engine import create_engine, storage_errors

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"

# Alembic keeps the running migration in module globals (``alembic.context``, ``alembic.op``),
# so two upgrades in one process must not interleave; processes take turns on an advisory lock
# in env.py. One lock per event loop, since an asyncio.Lock is bound to the loop it is used on.
_upgrade_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def alembic_config() -> Config:
    """The Alembic configuration of this schema (its ``script_location`` is beside the ini)."""
    return Config(str(ALEMBIC_INI))


async def upgrade_to_head(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; a no-op when it is there already.

    Safe to call concurrently, from one process or several (on PostgreSQL they take turns on
    an advisory lock). Raises :class:`~memory_domain.errors.StorageUnavailable` when the database cannot be
    reached.
    """
    engine = create_engine(url)
    try:
        async with _upgrade_lock():
            with storage_errors(engine.url, "migrate the schema"):
                async with engine.begin() as connection:
                    await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The schema revision the database at ``url`` is at, or None when it was never migrated."""
    engine = create_engine(url)
    try:
        with storage_errors(engine.url, "read the schema revision"):
            async with engine.connect() as connection:
                return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def head_revision() -> str:
    """The newest revision the shipped migrations define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found beside {ALEMBIC_INI}")
    return head


def _upgrade_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _upgrade_locks.get(loop)
    if lock is None:
        lock = _upgrade_locks[loop] = asyncio.Lock()
    return lock


def _upgrade(connection: sa.Connection) -> None:
    config = alembic_config()
    # env.py runs on this connection instead of building an engine and an event loop.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
