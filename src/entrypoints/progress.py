"""Progress of long commands: a Rich bar on a terminal, plain lines otherwise.

A terminal gets a live bar (it redraws in place). Anything else (a log file, a pipe, CI) gets
one line whenever another tenth of the work is done (or, with no total known, every ``every``
units), so a log shows how far a job came without being flooded. Progress goes to standard
error: standard output keeps the command's result, for scripts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from entrypoints.cli_support import printable


class Reporter(Protocol):
    """Where a long command says how far it came."""

    def advance(self, units: int = 1) -> None:
        """``units`` more of the work are done."""
        ...

    def set_total(self, total: int | None) -> None:
        """The work turned out to be ``total`` units (None: unknown)."""
        ...

    def note(self, text: str) -> None:
        """What is being done now (a phase, a message); plain text, never markup."""
        ...


class PlainReporter:
    """Lines like ``ingest chat.jsonl: 40% (400 of 1000 lines)``, one per tenth of the work."""

    def __init__(self, console: Console, label: str, total: int | None, unit: str, every: int = 1000) -> None:
        self._console = console
        self._label = label
        self._total = total
        self._unit = unit
        self._every = every
        self._done = 0
        self._shown = 0  # tenths shown, or blocks of ``every`` without a total
        self._started = time.monotonic()

    def advance(self, units: int = 1) -> None:
        self._done += units
        mark = self._mark()
        if mark > self._shown:
            self._shown = mark
            self._line()

    def set_total(self, total: int | None) -> None:
        self._total = total
        self._shown = self._mark()

    def note(self, text: str) -> None:
        self._print(f"{self._label}: {text}")

    def finish(self) -> None:
        if self._total is None or self._shown < 10:
            self._line()

    def _mark(self) -> int:
        if self._total is None:
            return self._done // self._every
        if self._total <= 0:
            return 10
        return min(10, self._done * 10 // self._total)

    def _line(self) -> None:
        elapsed = time.monotonic() - self._started
        if self._total is None:
            self._print(f"{self._label}: {self._done} {self._unit} ({elapsed:.1f} s)")
            return
        share = self._done / self._total if self._total else 1.0
        self._print(
            f"{self._label}: {share:.0%} ({self._done} of {self._total} {self._unit}, {elapsed:.1f} s)"
        )

    def _print(self, text: str) -> None:
        self._console.print(printable(text), markup=False, highlight=False)


class BarReporter:
    """A Rich progress bar (a spinner while the total is unknown)."""

    def __init__(self, progress: Progress, label: str, total: int | None) -> None:
        self._progress = progress
        self._label = printable(label)
        self._task = progress.add_task(self._label, total=total)

    def advance(self, units: int = 1) -> None:
        self._progress.advance(self._task, units)

    def set_total(self, total: int | None) -> None:
        self._progress.update(self._task, total=total)

    def note(self, text: str) -> None:
        self._progress.update(self._task, description=f"{self._label}: {printable(text)}")


@contextmanager
def progress(
    console: Console, label: str, total: int | None, unit: str, every: int = 1000
) -> Iterator[Reporter]:
    """A :class:`Reporter` for ``console``: a bar on a terminal, plain lines otherwise."""
    if not console.is_terminal:
        plain = PlainReporter(console, label, total, unit, every)
        yield plain
        plain.finish()
        return
    columns = (
        SpinnerColumn(),
        # The description is chat or file text: shown as it is, never read as markup.
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        yield BarReporter(bar, label, total)


def count_lines(path: Path) -> int | None:
    """The lines of a file, for a progress bar's total (None when it cannot be read ahead)."""
    count, last = 0, b"\n"
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    return count + (last != b"\n")  # a last line without its newline is a line too


def counted(lines: Iterable[bytes], reporter: Reporter, every: int = 100) -> Iterator[bytes]:
    """``lines``, reporting them to ``reporter`` every ``every`` lines (and at the end)."""
    pending = 0
    for line in lines:
        yield line
        pending += 1
        if pending == every:
            reporter.advance(pending)
            pending = 0
    reporter.advance(pending)
