"""Progress of long commands without a terminal (plain lines), `tasks show --follow` on the
in-memory adapters, and the consistency of every command's --help."""

from __future__ import annotations

import asyncio
import io

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from entrypoints import cli_tasks
from entrypoints.cli import app
from entrypoints.progress import counted, progress
from entrypoints.task_follow import follow_task
from long_tasks_domain.model import TaskStatus
from tests.support.task_world import TaskWorld


def plain_console() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, force_terminal=False, width=200), sink


def test_plain_progress_prints_one_line_per_tenth_and_none_in_between() -> None:
    console, sink = plain_console()
    with progress(console, "ingest chat.jsonl", 1000, "lines") as reporter:
        for _ in range(1000):
            reporter.advance()
    shares = [line.split(": ", 1)[1].split(" (")[0] for line in sink.getvalue().splitlines()]
    assert shares == [f"{tenth * 10}%" for tenth in range(1, 11)]
    assert "\x1b" not in sink.getvalue()


def test_plain_progress_without_a_total_counts_in_blocks_and_ends_with_the_count() -> None:
    console, sink = plain_console()
    with progress(console, "ingest <stdin>", None, "lines", every=100) as reporter:
        list(counted(iter([b"x"] * 250), reporter, every=10))
    counts = [line.split(": ", 1)[1].split(" (")[0] for line in sink.getvalue().splitlines()]
    assert counts == ["100 lines", "200 lines", "250 lines"]


def test_progress_text_is_never_read_as_markup_nor_passes_control_characters() -> None:
    console, sink = plain_console()
    with progress(console, "demo [bold]x[/bold]", 1, "steps") as reporter:
        reporter.note("step \x1b[31m [/]")
        reporter.advance()
    assert "demo [bold]x[/bold]: step \\x1b[31m [/]" in sink.getvalue()


async def test_follow_prints_each_change_until_the_task_ends() -> None:
    world = TaskWorld()
    task = await world.service.submit("test.count", {"steps": 3})
    console, sink = plain_console()

    async def run_steps() -> None:
        executor = world.executor()
        while (await world.status(task.id)) is not TaskStatus.DONE:
            await asyncio.sleep(0.03)
            await executor.run(task.id)

    followed, _ = await asyncio.gather(
        follow_task(lambda: world.service.get(task.id), console, 0.01), run_steps()
    )
    assert followed.status is TaskStatus.DONE
    lines = sink.getvalue().splitlines()
    assert lines[0] == f"task {task.id} (test.count): PENDING, step 0"
    assert lines[-1].startswith(f"task {task.id} (test.count): DONE") and "100%: step 3" in lines[-1]
    assert len(lines) == len(set(lines))  # a line per change, not per read


@pytest.mark.parametrize("end", ["cancel", "done"])
def test_follow_exits_0_for_done_and_1_naming_the_status_otherwise(
    monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    world = TaskWorld()

    async def prepare() -> str:
        task = await world.service.submit("test.count", {"steps": 1})
        if end == "cancel":
            await world.service.cancel(task.id)
        else:
            await world.executor().run(task.id)
        return task.id

    task_id = asyncio.run(prepare())
    monkeypatch.setattr(cli_tasks, "_run", lambda action: asyncio.run(action(world.service)))
    result = CliRunner().invoke(cli_tasks.tasks_app, ["show", task_id, "--follow"], env={"COLUMNS": "300"})
    if end == "done":
        assert result.exit_code == 0, result.output
        assert f"task {task_id} is DONE" in result.stdout
    else:
        assert result.exit_code == 1
        assert f"task {task_id} ended CANCELLED" in result.stderr


def test_every_command_and_option_has_help_in_one_style_without_literal_markup() -> None:
    root = typer.main.get_command(app)
    problems = []

    def walk(command: object, path: str) -> None:
        text = (getattr(command, "help", None) or "").strip().split("\n\n")[0]
        if not text[:1].isupper() or not text.endswith(".") or "``" in text or "[/" in text:
            problems.append(f"{path}: {text!r}")
        for param in getattr(command, "params", []):
            if param.name == "help":
                continue
            helped = getattr(param, "help", None) or ""
            if not helped[:1].isupper() or not helped.endswith(".") or "``" in helped:
                problems.append(f"{path} {param.name}: {helped!r}")
            if getattr(param, "param_type_name", "") == "argument" and not (param.metavar or "").isupper():
                problems.append(f"{path} {param.name}: argument shown as {param.metavar!r}, not in capitals")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "ai-worker")
    assert problems == []


def test_a_terminal_gets_a_bar_with_the_counts() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=120)
    with progress(console, "ingest chat.jsonl", 3, "lines") as reporter:
        reporter.advance(3)
    shown = sink.getvalue()
    assert "ingest chat.jsonl" in shown and "3/3" in shown and "100%" in shown
    assert "━" in shown  # the bar itself, not the plain lines
    assert "ingest chat.jsonl: 100% (3 of 3 lines" not in shown
