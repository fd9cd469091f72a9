"""`.env.example` names only settings the worker knows, and its values load as valid settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def _redis_url_seen_in(directory: Path, env_file: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDIS_", "AI_WORKER_ENV"))}
    if env_file is not None:
        env["AI_WORKER_ENV_FILE"] = env_file
    done = subprocess.run(
        [sys.executable, "-c", "from entrypoints.settings import Settings; print(Settings().redis_dsn())"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_dot_env_in_the_working_directory_is_read_unless_ai_worker_env_file_says_otherwise(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("REDIS_URL=redis://from-dot-env:6379/3\n", encoding="utf-8")
    (tmp_path / "other.env").write_text("REDIS_URL=redis://from-other:6379/4\n", encoding="utf-8")
    assert _redis_url_seen_in(tmp_path, None) == "redis://from-dot-env:6379/3"
    assert _redis_url_seen_in(tmp_path, "other.env") == "redis://from-other:6379/4"
    assert "from-dot-env" not in _redis_url_seen_in(tmp_path, "")  # the tests' own setting
