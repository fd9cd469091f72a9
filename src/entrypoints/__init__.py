"""Entry points: settings, the container, the arq worker and the CLI.

Other programs enqueue jobs as the seed's README showed, with JSON jobs::

    from entrypoints import create_pool

    pool = await create_pool()
    await pool.enqueue_job("task_update_topic_memory", "group-1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.redis.serialization import JobRefused

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from entrypoints.settings import Settings

__all__ = ["JOB_FUNCTIONS", "JobRefused", "create_pool"]

# The worker's job functions that other programs enqueue (its crons are its own business).
JOB_FUNCTIONS = frozenset({"task_update_topic_memory", "task_evolve_memory", "task_run_long_task"})


async def create_pool(settings: Settings | None = None) -> ArqRedis:
    """An arq pool on the configured Redis that enqueues JSON jobs the worker accepts.

    ``enqueue_job`` raises ``JobRefused`` (a ``ValueError``) for a function the worker does not
    have or an argument that is not JSON, and ``SettingsError`` is raised here for PostgreSQL
    without Redis: the jobs would go to an in-process Redis that no worker sees.
    """
    from adapters.redis.connection import open_checked_pool
    from entrypoints.settings import load_settings

    settings = settings or load_settings()
    settings.require_shared_redis()
    url = None if settings.uses_embedded_redis else settings.redis_dsn()
    return await open_checked_pool(url, JOB_FUNCTIONS)
