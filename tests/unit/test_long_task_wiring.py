"""The worker's long-task jobs, crons and handler imports, as composed in entrypoints."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.in_memory.long_tasks import InMemoryTaskRepository
from adapters.system import ManualClock
from entrypoints.long_task_jobs import task_run_long_task
from entrypoints.long_task_wiring import build_task_registry, executor_options
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.unified_worker import build_worker_settings


def test_the_worker_runs_long_tasks_within_a_timeout_longer_than_a_step_and_polls_each_minute() -> None:
    settings = Settings(LONG_TASK_LOCK_TIMEOUT_SECONDS=1800, LONG_TASK_LEASE_SECONDS=30)
    worker: Any = build_worker_settings(settings)
    functions = {f.name: f for f in worker.functions}
    assert functions["task_run_long_task"].timeout_s >= 1800 + executor_options(settings).slice_seconds
    crons = {c.name: c for c in worker.cron_jobs}
    assert crons["cron_poll_long_tasks"].second == 0 and crons["cron_poll_long_tasks"].minute is None
    assert crons["cron_poll_long_tasks"].run_at_startup
    assert len(crons["cron_recover_long_tasks"].second) == 4


def test_executor_options_follow_the_settings() -> None:
    options = executor_options(
        Settings(
            LONG_TASK_LEASE_SECONDS=12,
            LONG_TASK_LOCK_TIMEOUT_SECONDS=60,
            LONG_TASK_RETRY_BACKOFF_SECONDS=2,
            LONG_TASK_RETRY_BACKOFF_MAX_SECONDS=1,
        )
    )
    assert (options.lease_seconds, options.heartbeat, options.step_timeout_seconds) == (12, 4, 60)
    assert (options.backoff.base_seconds, options.backoff.max_seconds) == (2, 2)  # max below base: base


def test_long_tasks_leave_job_slots_to_the_other_jobs_of_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    assert executor_options(Settings()).max_concurrent == 5  # WORKER_MAX_JOBS=10 by default
    assert executor_options(Settings(WORKER_MAX_JOBS=3)).max_concurrent == 1
    assert executor_options(Settings(WORKER_MAX_JOBS=1)).max_concurrent == 1
    assert executor_options(Settings(WORKER_MAX_JOBS=20, LONG_TASK_CONCURRENCY=12)).max_concurrent == 12
    monkeypatch.setenv("WORKER_MAX_JOBS", "8")
    monkeypatch.setenv("LONG_TASK_CONCURRENCY", "8")
    with pytest.raises(
        SettingsError, match=r"LONG_TASK_CONCURRENCY \(8\) must be below WORKER_MAX_JOBS \(8\)"
    ):
        load_settings()


def test_handlers_of_other_programs_are_imported_by_name() -> None:
    registry = build_task_registry(
        InMemoryTaskRepository(), ManualClock(), " tests.support.long_task_handlers, "
    )
    assert [h.task_type for h in registry] == ["maintenance.prune_tasks", "test.count", "test.fail_once"]
    for bad, message in [
        ("no_such_module_xyz", "cannot import"),
        ("tests.support.task_world:START", "'tests.support.task_world:START' is not a"),
    ]:
        with pytest.raises(ValueError, match=f"LONG_TASK_IMPORTS: {message}"):
            build_task_registry(InMemoryTaskRepository(), ManualClock(), bad)


async def test_a_bad_task_id_argument_fails_that_job_alone() -> None:
    for argument in ({"not": "an id"}, "../etc/passwd", ""):
        with pytest.raises(ValueError, match="task_run_long_task: bad task_id argument"):
            await task_run_long_task({}, argument)  # type: ignore[arg-type]
