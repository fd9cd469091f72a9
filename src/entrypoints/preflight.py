"""Before a command or the worker opens its services: can they be reached, is the schema there?

Each problem becomes one line that names its cause (``Redis at 127.0.0.1:6390/0 is unreachable:
...``, ``the database schema is not created: run `ai-worker migrate```), found within a few
seconds: one connection attempt each, with short timeouts, both at once. Without this, arq's pool
retries for 10 s and a missing schema surfaces as an SQL error deep in a traceback.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from entrypoints.settings import Settings

PREFLIGHT_TIMEOUT_SECONDS = 3.0
MIGRATE_HINT = "run `ai-worker migrate`"


class ServiceProblem(Exception):
    """A service cannot be used; the message is one line naming the cause (no password)."""


@dataclass(frozen=True, slots=True)
class Needs:
    """What a command needs beyond reaching its services."""

    redis: bool = True  # Redis answers (when one is configured)
    schema: bool = True  # the database at the shipped head revision
    task_imports: bool = False  # the LONG_TASK_IMPORTS modules importable (the worker)


EVERYTHING = Needs()  # what most commands need: both services, the schema at head


async def preflight(
    settings: Settings, needs: Needs = EVERYTHING, timeout: float = PREFLIGHT_TIMEOUT_SECONDS
) -> None:
    """Raise :class:`ServiceProblem` naming every problem found (one line each, joined by newlines)."""
    problems: list[str] = []
    if needs.task_imports:
        problems.extend(_task_import_problems(settings))
    found = await asyncio.gather(
        _redis_problem(settings, timeout) if needs.redis else _nothing(),
        _database_problem(settings, needs, timeout),
    )
    problems.extend(problem for problem in found if problem)
    if problems:
        raise ServiceProblem("\n".join(problems))


def run_preflight(settings: Settings, needs: Needs = EVERYTHING) -> None:
    """:func:`preflight` from synchronous code (a command, arq's settings lookup)."""
    asyncio.run(preflight(settings, needs))


def one_line(text: str) -> str:
    return " ".join(text.split())


async def _nothing() -> None:
    return None


async def _redis_problem(settings: Settings, timeout: float) -> str | None:
    if settings.uses_embedded_redis:
        return None
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    from adapters.redis.probe import probe_redis, redis_target

    url = settings.redis_dsn()
    target = redis_target(url)
    try:
        await asyncio.wait_for(probe_redis(url, "-", timeout), timeout + 1)
    except TimeoutError:
        return f"Redis at {target} gave no answer within {timeout:g} s (REDIS_URL / REDIS_HOST, REDIS_PORT)"
    except (AuthenticationError, ResponseError) as error:
        if "without any password" in str(error):  # AUTH sent to a Redis that has no password
            return (
                f"Redis at {target} has no password, but one is given (REDIS_PASSWORD or in REDIS_URL): "
                "remove it, or give Redis one (requirepass)"
            )
        if isinstance(error, AuthenticationError) or "NOAUTH" in str(error):
            return f"Redis at {target} refused the password ({one_line(str(error))}): check REDIS_PASSWORD"
        return f"Redis at {target} refused the connection ({one_line(str(error))})"
    except (RedisError, OSError) as error:
        return (
            f"Redis at {target} is unreachable: {one_line(str(error))} (REDIS_URL / REDIS_HOST, REDIS_PORT)"
        )
    return None


async def _database_problem(settings: Settings, needs: Needs, timeout: float) -> str | None:
    from adapters.postgres.migrate import head_revision
    from adapters.postgres.probe import probe_database
    from memory_domain.errors import StorageUnavailable

    if not needs.schema and settings.database_dsn().startswith("sqlite"):
        return None  # a local file that `migrate` creates: nothing to reach
    try:
        probe = await asyncio.wait_for(probe_database(settings.database_dsn(), timeout), timeout + 1)
    except TimeoutError:
        return (
            f"the database gave no answer within {timeout:g} s (DATABASE_URL / POSTGRES_HOST, POSTGRES_PORT)"
        )
    except StorageUnavailable as error:
        text = one_line(str(error)).replace("cannot run the health check: ", "")
        if "does not exist" in text and "SQLite" in text:
            return f"{text.removesuffix(' (run ai-worker migrate)')}: {MIGRATE_HINT}"
        if "does not exist" in text:
            return f"{text}: create it (see the README's 'Run it for real'), then {MIGRATE_HINT}"
        return text
    if not needs.schema:
        return None
    head = head_revision()
    if probe.revision is None:
        return f"the database schema is not created: {MIGRATE_HINT}"
    if probe.revision != head:
        return (
            f"the database schema is at revision {probe.revision}, this release needs {head}: {MIGRATE_HINT}"
        )
    return None


def _task_import_problems(settings: Settings) -> list[str]:
    from entrypoints.long_task_wiring import imported_registries

    try:
        imported_registries(settings.long_task_imports)
    except ValueError as error:
        return [one_line(str(error))]
    return []
