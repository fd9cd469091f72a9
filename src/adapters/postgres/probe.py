"""One quick look at the database for a health check: ``SELECT 1`` and the schema's revision."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from adapters.postgres.engine import async_url, create_engine, mask_url, storage_errors
from memory_domain.errors import StorageUnavailable


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    latency_ms: float
    revision: str | None  # the Alembic revision the schema is at; None when never migrated


def database_target(url: str) -> str:
    """The URL with its password masked."""
    return mask_url(url)


async def probe_database(url: str, timeout: float) -> DatabaseProbe:
    """Connect (within ``timeout`` on PostgreSQL), run ``SELECT 1`` and read the revision.

    Raises :class:`StorageUnavailable`, with the password masked, when the database cannot be
    reached. A SQLite file that does not exist is reported as such, not created.
    """
    target = async_url(url)
    options: dict[str, object] = {}
    if target.get_backend_name() == "sqlite":
        path = target.database
        if path and path != ":memory:" and not await asyncio.to_thread(Path(path).exists):
            raise StorageUnavailable(f"the SQLite database {path} does not exist (run ai-worker migrate)")
    else:
        options["connect_args"] = {"timeout": timeout}
    engine = create_engine(target.render_as_string(hide_password=False), **options)
    try:
        with storage_errors(engine.url, "run the health check"):
            async with engine.connect() as connection:
                started = time.perf_counter()
                await connection.execute(sa.text("SELECT 1"))
                latency_ms = (time.perf_counter() - started) * 1000
                revision = await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
    finally:
        await engine.dispose()
    return DatabaseProbe(latency_ms=latency_ms, revision=revision)
