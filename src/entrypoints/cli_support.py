"""What the CLI's commands share: opening the container around one action, printing errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from entrypoints.container import Container, build_container, close_container, open_container
from entrypoints.settings import Settings

T = TypeVar("T")


async def with_container(settings: Settings, action: Callable[[Container], Awaitable[T]]) -> T:
    """Open the container's resources, run ``action``, close them whatever happens."""
    container = build_container(settings)
    try:
        await open_container(container)
        return await action(container)
    finally:
        await close_container(container)


def fail(console: Console, error: BaseException, code: int = 1) -> NoReturn:
    """Print a domain error as one line and exit with ``code``."""
    console.print(f"error: {error}", markup=False)
    raise typer.Exit(code)
