"""Which PostgreSQL and Redis the integration tests use (tests/support/service_choice.py)."""

from __future__ import annotations

import pytest

from tests.support import databases, redis_space
from tests.support.service_choice import ServiceChoice, choose_service

LOCAL = "redis://127.0.0.1:6379"


def never() -> bool:
    raise AssertionError("Docker must not be asked when a URL is given")


def test_a_given_url_is_used_as_given_without_asking_docker() -> None:
    assert choose_service("redis://ci:6379/3", never, LOCAL) == ServiceChoice("env", "redis://ci:6379/3")


def test_without_a_url_a_reachable_docker_engine_means_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AI_WORKER_TESTCONTAINERS", raising=False)
    assert choose_service(None, lambda: True, LOCAL) == ServiceChoice("container", None)
    assert choose_service("", lambda: True, LOCAL) == ServiceChoice("container", None)


def test_without_a_url_nor_docker_the_local_default_is_used() -> None:
    assert choose_service(None, lambda: False, LOCAL) == ServiceChoice("local", LOCAL)


def test_containers_can_be_turned_off_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_WORKER_TESTCONTAINERS", "0")
    assert choose_service(None, lambda: True, LOCAL) == ServiceChoice("local", LOCAL)


def test_the_database_and_redis_helpers_follow_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AI_WORKER_TESTCONTAINERS", raising=False)
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql+asyncpg://ci@db:5432/postgres")
    monkeypatch.setenv("TEST_REDIS_URL", "redis://ci:6379/4")
    assert databases.admin_database_url() == "postgresql+asyncpg://ci@db:5432/postgres"
    assert redis_space.redis_test_url() == "redis://ci:6379/4"

    monkeypatch.delenv("TEST_DATABASE_URL")
    monkeypatch.delenv("TEST_REDIS_URL")
    monkeypatch.setattr(databases, "docker_reachable", lambda: True)
    monkeypatch.setattr(redis_space, "docker_reachable", lambda: True)
    monkeypatch.setattr(
        databases, "postgres_container_url", lambda: "postgresql+asyncpg://test@10.0.0.9:32768/x"
    )
    monkeypatch.setattr(redis_space, "redis_container_base", lambda: "redis://10.0.0.9:32769")
    assert databases.admin_database_url() == "postgresql+asyncpg://test@10.0.0.9:32768/x"
    assert redis_space.redis_test_url().startswith("redis://10.0.0.9:32769/")

    monkeypatch.setattr(databases, "docker_reachable", lambda: False)
    monkeypatch.setattr(redis_space, "docker_reachable", lambda: False)
    assert databases.admin_database_url() == databases.DEFAULT_TEST_DATABASE_URL
    assert redis_space.redis_test_url().startswith(f"{redis_space.DEFAULT_TEST_REDIS_BASE}/")
