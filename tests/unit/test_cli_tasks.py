"""``ai-worker tasks``: task data is printed as text, never read as Rich markup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from entrypoints import cli_tasks
from long_tasks_domain.registry import Checkpoint, Completed, TaskStep
from long_tasks_domain.service import TaskService
from tests.support.task_world import Empty, TaskWorld

MARKUP = "[/x] [bold]not bold[/bold] [red]"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> TaskWorld:
    world = TaskWorld()

    async def step(ctx: TaskStep[Empty]) -> Checkpoint | Completed:
        await ctx.report_progress(0.5, MARKUP)
        if ctx.step == 0:
            return Checkpoint({"note": MARKUP})
        raise RuntimeError(MARKUP)

    world.registry.register("t.markup", Empty, step, description=f"renders {MARKUP}")

    def run(action: Callable[[TaskService], Awaitable[Any]]) -> Any:
        return asyncio.run(action(world.service))

    monkeypatch.setattr(cli_tasks, "_run", run)
    return world


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli_tasks.tasks_app, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_show_list_and_types_print_markup_in_task_data_as_it_is(world: TaskWorld) -> None:
    async def submit_and_run() -> str:
        task = await world.service.submit("t.markup", max_retries=0)
        await world.executor().run(task.id)
        return task.id

    task_id = asyncio.run(submit_and_run())
    shown = invoke("show", task_id)
    assert f"error: RuntimeError: {MARKUP}" in shown
    assert f'checkpoint 1 at 2026-11-02 09:00:00 (0 ms): {{"note": "{MARKUP}"}}' in shown
    assert f"50% {MARKUP}" in invoke("list")
    assert f"renders {MARKUP}" in invoke("types")


def test_submitting_again_with_a_taken_dedupe_key_says_so(world: TaskWorld) -> None:
    first = invoke("submit", "test.count", "--payload", '{"steps": 1}', "--dedupe-key", "nightly").strip()
    again = invoke("submit", "test.count", "--payload", '{"steps": 1}', "--dedupe-key", "nightly").strip()
    assert again == f"already submitted: {first} (PENDING)"
