"""The baseline of ``bench/footprint.py``: a bare arq worker importing the worker's libraries.

``arq bench.bare_arq_worker.WorkerSettings`` (Redis from ``BENCH_REDIS_URL``): one job that
does nothing, and every third-party library the real worker imports, imported and unused, so
that the difference in memory is what the worker itself holds, not its dependencies' code.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, ClassVar

from arq.connections import RedisSettings

# The runtime dependencies of pyproject.toml, as the worker imports them.
LIBRARIES = (
    "aiosqlite",
    "alembic",
    "asyncpg",
    "dependency_injector",
    "fakeredis",
    "openai",
    "prometheus_client",
    "pydantic",
    "pydantic_settings",
    "redis.asyncio",
    "rich",
    "sqlalchemy.ext.asyncio",
    "structlog",
    "tenacity",
    "typer",
)
QUEUE = "bench:bare-arq"

for _library in LIBRARIES:
    importlib.import_module(_library)


async def noop(ctx: dict[str, Any], n: int = 0) -> None:
    """Does nothing: the worker's own cost is what is measured."""


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop]
    queue_name = QUEUE
    keep_result = 0
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
