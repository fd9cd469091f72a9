"""`.env.example` names only settings the worker knows, and its values load as valid settings."""

from __future__ import annotations

import re
from pathlib import Path

from entrypoints.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_variable_of_env_example_set_or_commented_is_a_setting() -> None:
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE))
    assert "POSTGRES_DB" in named and "REDIS_HOST" in named
    assert named - known == set()


def test_env_example_loads_as_local_postgresql_and_redis_without_a_password() -> None:
    settings = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert settings.uses_postgres and not settings.uses_embedded_redis
    assert settings.redis_dsn() == "redis://localhost:6379/0"  # no password sent to a local Redis
    assert settings.database_dsn().startswith("postgresql+asyncpg://ai_service:")
