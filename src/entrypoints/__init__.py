"""Entry points: settings, the container, the arq worker and the CLI.

Other programs enqueue jobs as the seed's README showed, with JSON jobs::

    from entrypoints import create_pool

    pool = await create_pool()
    await pool.enqueue_job("task_update_topic_memory", "group-1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from entrypoints.settings import Settings

__all__ = ["create_pool"]


async def create_pool(settings: Settings | None = None) -> ArqRedis:
    """An arq pool on the configured Redis that enqueues JSON jobs the worker accepts."""
    from adapters.redis.connection import open_embedded_pool, open_real_pool
    from entrypoints.settings import load_settings

    settings = settings or load_settings()
    if settings.uses_embedded_redis:
        return open_embedded_pool()
    return await open_real_pool(settings.redis_dsn())
