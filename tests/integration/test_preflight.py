"""The checks before a command or the worker opens its services (entrypoints.preflight), on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.postgres.migrate import upgrade_to_head
from entrypoints.preflight import EVERYTHING, Needs, ServiceProblem, preflight
from entrypoints.settings import Settings

pytestmark = pytest.mark.integration


async def problems(settings: Settings, needs: Needs = EVERYTHING) -> list[str]:
    try:
        await preflight(settings, needs)
    except ServiceProblem as problem:
        return str(problem).splitlines()
    return []


async def test_a_missing_sqlite_file_asks_for_migrate_except_from_migrate_itself(tmp_path: Path) -> None:
    settings = Settings(SQLITE_PATH=str(tmp_path / "none.db"))
    assert await problems(settings) == [
        f"the SQLite database {tmp_path / 'none.db'} does not exist: run `ai-worker migrate`"
    ]
    assert await problems(settings, Needs(redis=False, schema=False)) == []
    assert not (tmp_path / "none.db").exists()  # looking never creates it


async def test_an_empty_database_asks_for_migrate_and_a_migrated_one_passes(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    path.touch()
    settings = Settings(SQLITE_PATH=str(path))
    assert await problems(settings) == ["the database schema is not created: run `ai-worker migrate`"]
    await upgrade_to_head(settings.database_dsn())
    assert await problems(settings) == []


async def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    settings = Settings(SQLITE_PATH=str(tmp_path / "none.db"), LONG_TASK_IMPORTS="myapp.tasks, os:path")
    found = await problems(settings, Needs(task_imports=True))
    assert found == [
        "LONG_TASK_IMPORTS: cannot import 'myapp.tasks': No module named 'myapp'",
        f"the SQLite database {tmp_path / 'none.db'} does not exist: run `ai-worker migrate`",
    ]
