"""Which PostgreSQL and Redis the integration tests use: the given ones, containers, or the local ones.

1. ``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` given: that service, as given (CI, your own servers).
2. Otherwise, a Docker engine reachable: a throwaway container started with testcontainers,
   once per test process, stopped when the process ends.
3. Otherwise: the local server on its default port (PostgreSQL with trust auth, Redis), or the
   tests that need it are skipped, naming the URL tried.

``AI_WORKER_TESTCONTAINERS=0`` never starts containers (a developer's local servers win).
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

POSTGRES_IMAGE = "postgres:15-alpine"
REDIS_IMAGE = "redis:7-alpine"
DOCKER_PING_TIMEOUT_SECONDS = 2
DOCKER_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class ServiceChoice:
    """Where a service comes from; ``url`` is None for a container (known once it runs)."""

    source: Literal["env", "container", "local"]
    url: str | None


def choose_service(
    given: str | None, docker_reachable: Callable[[], bool], local_default: str
) -> ServiceChoice:
    """The given URL, else a container when Docker answers, else the local default."""
    if given:
        return ServiceChoice("env", given)
    if os.environ.get("AI_WORKER_TESTCONTAINERS") != "0" and docker_reachable():
        return ServiceChoice("container", None)
    return ServiceChoice("local", local_default)


@functools.cache
def docker_reachable() -> bool:
    """Whether a Docker engine answers a ping (DOCKER_HOST, or the local socket), within 2 s."""
    if not os.environ.get("DOCKER_HOST") and not Path(DOCKER_SOCKET).exists():
        return False  # the common case without Docker: no client, no socket left to clean up
    try:
        import docker  # comes with testcontainers (the dev extra)
    except ImportError:
        return False
    # A failed ping can leave the client's socket to the garbage collector, which pytest's
    # "filterwarnings = error" would report against whichever test runs next: collect it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_SECONDS)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # docker raises its own DockerException, requests' errors, OSError
            return False
        finally:
            gc.collect()


def _stop_at_exit(container: Any) -> None:
    atexit.register(container.stop)


@functools.cache
def postgres_container_url() -> str:
    """Start PostgreSQL in a container (once per process); its admin URL for asyncpg."""
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres")
    container.start()
    _stop_at_exit(container)
    url: str = container.get_connection_url(driver="asyncpg")
    return url


@functools.cache
def redis_container_base() -> str:
    """Start Redis in a container (once per process); its URL without a database number."""
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE)
    container.start()
    _stop_at_exit(container)
    host = container.get_container_host_ip()
    return f"redis://{host}:{container.get_exposed_port(6379)}"
