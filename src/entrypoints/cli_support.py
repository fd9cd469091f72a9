"""What the CLI's commands share: opening the container around one action, printing errors."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from entrypoints.container import Container, build_container, close_container, open_container
from entrypoints.preflight import EVERYTHING, Needs, ServiceProblem, preflight
from entrypoints.settings import Settings, SettingsError

T = TypeVar("T")

# What chat text must not send to an operator's terminal: C0 controls but newline and tab (ESC
# starts escape sequences that recolour, move the cursor, retitle the window, ...), DEL, C1
# controls (U+009B is a one-character CSI), and the bidirectional overrides and isolates that
# make a line read in another order than it is written.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with the characters that would act on a terminal shown escaped, as ``\\x1b``."""
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_text(data: Any) -> str:
    """``data`` as indented JSON for a terminal: exact, with every character above escaped.

    JSON escapes C0 controls itself; the others would travel raw with ``ensure_ascii=False``.
    They can only stand inside strings, where ``\\u009b`` reads back as the same character.
    """
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


async def with_container(settings: Settings, action: Callable[[Container], Awaitable[T]]) -> T:
    """Open the container's resources, run ``action``, close them whatever happens.

    PostgreSQL without Redis is refused before anything opens (see
    :meth:`Settings.require_shared_redis`): the commands' jobs would be lost. A service that
    cannot be reached, or a schema not at head, is one line each within seconds (see
    :mod:`entrypoints.preflight`), not arq's 10 s of retries and a traceback.
    """
    try:
        settings.require_shared_redis()
    except SettingsError as error:
        fail(Console(stderr=True, soft_wrap=True), error, code=2)
    await check_services(settings)
    container = build_container(settings)
    try:
        await open_container(container)
        return await action(container)
    finally:
        await close_container(container)


async def check_services(settings: Settings, needs: Needs = EVERYTHING) -> None:
    """Exit 1 with one ``error:`` line per problem when the services are not usable."""
    try:
        await preflight(settings, needs)
    except ServiceProblem as problem:
        report_problems(problem)


def report_problems(problem: ServiceProblem) -> NoReturn:
    console = Console(stderr=True, soft_wrap=True)
    for line in str(problem).splitlines():
        console.print(f"error: {line}", markup=False, highlight=False)
    raise typer.Exit(1)


def fail(console: Console, error: BaseException, code: int = 1) -> NoReturn:
    """Print a domain error as one line and exit with ``code``."""
    console.print(f"error: {error}", markup=False)
    raise typer.Exit(code)
