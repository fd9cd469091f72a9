"""The ``ai-worker health`` command: the checks of :mod:`entrypoints.health` on the real services."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console

from entrypoints.health import (
    DEFAULT_TIMEOUT_SECONDS,
    WORKER_HEALTH_KEY,
    DatabaseAnswer,
    HealthReport,
    RedisAnswer,
    check_health,
)
from entrypoints.settings import Settings, SettingsError, load_settings


class LiveProbes:
    """The :class:`~entrypoints.health.HealthProbes` of the configured Redis and database."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        # Imported here: the drivers are not needed to parse the command line.
        from adapters.postgres.probe import database_target
        from adapters.redis.probe import redis_target

        self._settings = settings
        self._timeout = timeout
        self.redis_target = None if settings.uses_embedded_redis else redis_target(settings.redis_dsn())
        self.database_target = database_target(settings.database_dsn())

    async def redis(self) -> RedisAnswer:
        from adapters.redis.probe import probe_redis

        probe = await probe_redis(self._settings.redis_dsn(), WORKER_HEALTH_KEY, self._timeout)
        return RedisAnswer(latency_ms=probe.latency_ms, worker_info=probe.value)

    async def database(self) -> DatabaseAnswer:
        from adapters.postgres.probe import probe_database

        probe = await probe_database(self._settings.database_dsn(), self._timeout)
        return DatabaseAnswer(latency_ms=probe.latency_ms, revision=probe.revision)

    def head_revision(self) -> str:
        from adapters.postgres.migrate import head_revision

        return head_revision()


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, max=60, help="Seconds each check may take (they run at once).")
    ] = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Check Redis, the database, its migrations and that a worker is alive; exit 1 naming what failed."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        settings = load_settings()
    except SettingsError as error:
        err.print(str(error), markup=False)
        raise typer.Exit(2) from None
    report: HealthReport = asyncio.run(check_health(LiveProbes(settings, timeout), timeout))
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        out = Console(soft_wrap=True, highlight=False)
        for line in report.lines():
            out.print(line, markup=False)
    if not report.healthy:
        raise typer.Exit(1)
